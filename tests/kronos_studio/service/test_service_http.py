"""``kronos serve`` through a real HTTP client against a real uvicorn server: the same numbers as the
command line, batch jobs that outlive their client, one-line 4xx errors, identical requests computed once."""
from __future__ import annotations

import dataclasses
import json
import threading

import httpx
import numpy as np
import pandas as pd
import pytest
from service_helpers import bearer, finished_job, run_cli
from testkit import random_bars

from kronos.settings import ForecastSettings


def client(base, token):
    return httpx.Client(base_url=base, headers=bearer(token), timeout=300)


def test_health_and_models(service):
    from kronos.threads import budget_report

    base, _, tokens = service
    health = httpx.get(f"{base}/health").json()
    assert health["status"] == "ok"
    assert health["threads"] == {**budget_report(), "concurrency": 1}  # the budget a forecast starts from, alone
    with client(base, tokens["a"]) as c:
        kinds = {m["kind"] for m in c.get("/v1/models").json()["models"]}
    assert {"bundled", "statistical"} <= kinds


def test_the_request_schema_is_generated_from_forecast_settings(service):
    base, _, _ = service
    schema = httpx.get(f"{base}/openapi.json").json()["components"]["schemas"]["ForecastRequest"]
    for f in dataclasses.fields(ForecastSettings):
        assert f.name in schema["properties"]
        if f.default is not dataclasses.MISSING and f.default is not None:
            assert schema["properties"][f.name]["default"] == f.default
    assert schema["required"] == ["horizon"]


def test_a_forecast_equals_kronos_forecast_of_the_same_bars_and_seed(service, tiny_model, hourly_csv, tmp_path):
    base, _, tokens = service
    out = tmp_path / "q.csv"
    r = run_cli("forecast", hourly_csv, "--model", tiny_model, "--horizon", 6, "--paths", 8, "--seed", 3,
                "--temperature", 0.9, "--out", out, "--no-ledger", "--quiet")
    assert r.returncode == 0, r.stderr
    with client(base, tokens["a"]) as c:
        got = c.post("/v1/forecast", json={"bars_csv": hourly_csv.read_text(), "model": tiny_model, "horizon": 6,
                                           "paths": 8, "seed": 3, "temperature": 0.9, "return_paths": True})
    assert got.status_code == 200, got.text
    body = got.json()
    cli = pd.read_csv(out)
    api = pd.DataFrame(body["quantiles"])
    assert list(api.columns) == list(cli.columns)
    assert (pd.to_datetime(api["timestamp"]) == pd.to_datetime(cli["timestamp"])).all()
    for column in cli.columns[1:]:  # float64 text of the same float64 numbers: equal exactly
        assert np.array_equal(api[column].to_numpy(np.float64), cli[column].to_numpy(np.float64)), column
    assert np.asarray(body["paths"]["values"]).shape == (8, 6, 6)
    assert body["provenance"]["seed"] == 3 and body["ledger"]["workspace"] == "team-a"


def test_evaluate_equals_kronos_evaluate(service, tiny_model, tmp_path):
    base, _, tokens = service
    csv = tmp_path / "daily.csv"
    random_bars(400, seed=4, freq="B", start="2020-01-02").to_csv(csv, index=False)
    r = run_cli("evaluate", csv, "--model", tiny_model, "--horizon", 5, "--cutoffs", 3, "--paths", 5,
                "--json", tmp_path / "e.json")
    assert r.returncode == 0, r.stderr
    cli = json.loads((tmp_path / "e.json").read_text())
    with client(base, tokens["a"]) as c:
        got = c.post("/v1/evaluate", json={"bars_csv": csv.read_text(), "symbol": "daily", "model": tiny_model,
                                           "horizon": 5, "cutoffs": 3, "paths": 5})
    assert got.status_code == 200, got.text
    api = got.json()
    assert api["models"] == cli["models"]
    for key in ("horizon", "cutoffs", "paths", "seed", "lookback", "first_cutoff", "last_cutoff", "symbol"):
        assert api[key] == cli[key], key
    assert api["file"] is None


def test_a_batch_job_survives_its_client_and_is_fetched_later(service, tiny_model):
    base, _, tokens = service
    series = [{"name": f"s{i}", "bars_csv": random_bars(100, seed=i, freq="1h").to_csv(index=False)} for i in range(3)]
    with client(base, tokens["a"]) as c:
        submitted = c.post("/v1/batch", json={"series": series, "model": tiny_model, "horizon": 4, "paths": 5,
                                              "levels": [0.9, 0.975]})
        refused = c.post("/v1/batch", json={"series": series, "model": tiny_model, "horizon": 4, "levels": [1.5]})
    assert submitted.status_code == 202, submitted.text
    assert refused.status_code == 422 and refused.json()["problem"].startswith("VaR/ES levels must lie between")
    job_id = submitted.json()["id"]  # the client is gone; the job runs on
    with client(base, tokens["a"]) as later:
        status = finished_job(later, job_id, 120)
        assert status["status"] == "done", status
        rows = later.get(f"/v1/jobs/{job_id}/result").json()["rows"]
        parquet = later.get(f"/v1/jobs/{job_id}/result", params={"format": "parquet"})
    assert [r["series"] for r in rows] == ["s0", "s1", "s2"] and {r["status"] for r in rows} == {"ok"}
    # the risk columns at the levels asked (issue 55); an ES of 5 paths at 0.9 rests on half a path beyond the VaR:
    # its error cannot be estimated, so it is none (not 0) and the row says why (issue 62, item 4)
    assert all(r[c] is not None for r in rows for c in ("var_long_97.5", "es_short_90", "vol_horizon"))
    assert all(r["es_short_90_se"] is None and "its error cannot be estimated" in r["risk_notes"] for r in rows)
    assert not any(k.endswith("_99") for k in rows[0])
    assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"


BAD = [
    ({"bars_csv": "a,b\n1,2\n", "horizon": 3}, 422, "cannot read"),
    ({"horizon": 0}, 422, "horizon must be at least 1 bar, got 0"),
    ({"horizon": 3, "top_p": 2}, 422, "top_p must be in (0, 1]"),
    ({}, 422, "horizon: Field required"),
    ({"horizon": 3, "horizn": 4}, 422, "horizn"),
    ({"horizon": 3, "model": "/no/such/model"}, 404, "is not a model of the catalog"),
    ({"horizon": 3, "source": "sample", "symbol": "x", "interval": "1d"}, 422, "either as bars_csv"),
    ({"horizon": 3, "quantiles": [0, 0.5]}, 422, "quantile levels must lie between 0 and 1 (exclusive)"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_bad_input_is_a_4xx_with_one_line(service, hourly_csv, body, status, message):
    base, _, tokens = service
    body = {"bars_csv": hourly_csv.read_text(), **body} if "bars_csv" not in body else body
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    assert message in detail


def test_a_bundled_model_is_named_as_the_app_lists_it(service, hourly_csv):
    """Issue 45 item 10: the names of the bundled models (studio-tiny, ...) work here as in the app."""
    from kronos_studio.bundled import bundled_models

    if "studio-tiny" not in bundled_models():
        pytest.skip("the bundled studio-tiny model is not present")
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": hourly_csv.read_text(), "model": "studio-tiny", "horizon": 3,
                                         "paths": 2, "record": False})
        chronos2 = c.post("/v1/forecast", json={"bars_csv": hourly_csv.read_text(), "model": "chronos2-small",
                                                "horizon": 3})
    assert r.status_code == 200, r.text
    assert r.json()["provenance"]["model"].startswith("studio-tiny")
    # the bundled Chronos-2 named as the model: Chronos-2 alone (issue 62, item 11), as the command line serves it
    assert chronos2.status_code == 200, chronos2.text
    assert chronos2.json()["provenance"]["conditioned_on"] == []


def test_a_three_bar_history_is_refused_and_a_short_calendar_is_said(service, tiny_model):
    """Issue 45 item 2: a 3-row bars_csv got a 200 and a 10-step forecast; now a 422 naming the numbers.
    A day of hourly bars is forecast, with the warning that no calendar can be told from it."""
    from kronos.config import MIN_HISTORY

    base, _, tokens = service
    three = random_bars(3, freq="B", start="2024-03-06").to_csv(index=False)
    day = random_bars(24, freq="1h", start="2024-03-06").to_csv(index=False)
    with client(base, tokens["a"]) as c:
        refused = c.post("/v1/forecast", json={"bars_csv": three, "model": tiny_model, "horizon": 10})
        made = c.post("/v1/forecast", json={"bars_csv": day, "model": tiny_model, "horizon": 3, "paths": 2,
                                            "record": False})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "the history has 3 bars but " in detail and f" needs at least {MIN_HISTORY} " in detail
    assert made.status_code == 200, made.text
    assert any("too few to tell a trading calendar" in w for w in made.json()["warnings"])


def test_a_refusal_names_the_request_field_and_carries_its_fix_as_data(service, hourly_csv, tmp_path):
    """Issue 46 item 3: the library's refusal names a setting; the service words it as the request field (the
    command line as its flag) and answers the problem, the numbers and the fix as JSON fields too."""
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": hourly_csv.read_text(), "model": "random_walk", "horizon": 3,
                                         "lookback": 500, "record": False})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == ('lookback is 500 bars but only 120 are available: lower the lookback (the field '
                              '"lookback") or load more history') and "--lookback" not in r.text
    assert body["problem"] == "lookback is 500 bars but only 120 are available"
    assert body["values"] == {"lookback": 500, "bars": 120}
    assert body["fix"] == [{"setting": "lookback", "field": "lookback", "value": None,
                            "text": 'lower the lookback (the field "lookback") or load more history'}]
    cli = run_cli("forecast", hourly_csv, "--model", "random_walk", "--horizon", 3, "--lookback", 500,
                  "--out", tmp_path / "o.csv", "--no-ledger")
    assert cli.returncode == 2 and "lower the lookback (--lookback) or load more history" in cli.stderr


def test_an_error_is_the_problem_the_command_line_prints(service, hourly_csv, tmp_path):
    base, _, tokens = service
    frame = pd.read_csv(hourly_csv)
    dup = tmp_path / "dup.csv"
    pd.concat([frame, frame.iloc[[50]]]).to_csv(dup, index=False)
    r = run_cli("forecast", dup, "--horizon", 3, "--out", tmp_path / "o.csv", "--no-ledger")
    assert r.returncode == 2
    with client(base, tokens["a"]) as c:
        api = c.post("/v1/forecast", json={"bars_csv": dup.read_text(), "symbol": "dup", "horizon": 3})
    assert api.status_code == 422
    body = api.json()
    # The same problem; each names the fix its own way: a flag there, the request field here.
    assert r.stderr.strip().startswith(f"kronos: error: {body['problem']}: ")
    assert "--fix drop_duplicates" in r.stderr and '"fix": "drop_duplicates"' in body["detail"]
    assert ("fix", "drop_duplicates") in [(f["field"], f["value"]) for f in body["fix"]]


def test_identical_requests_are_computed_once_even_at_the_same_time(service, tiny_model):
    base, svc, tokens = service
    body = {"bars_csv": random_bars(90, seed=77, freq="1h").to_csv(index=False), "model": tiny_model,
            "horizon": 5, "paths": 6, "seed": 11, "record": False}
    before = svc.desk.cache.computed
    answers = []

    def ask():
        with client(base, tokens["a"]) as c:
            answers.append(c.post("/v1/forecast", json=body).json())

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert svc.desk.cache.computed - before == 1
    assert all(a["quantiles"] == answers[0]["quantiles"] for a in answers)
    with client(base, tokens["a"]) as c:
        other = c.post("/v1/forecast", json={**body, "seed": 12}).json()
    assert svc.desk.cache.computed - before == 2 and other["quantiles"] != answers[0]["quantiles"]


def test_keys_are_required_and_checked(service):
    base, svc, _ = service
    from kronos_studio.service.keys import create_key, revoke_key

    assert httpx.get(f"{base}/v1/models").status_code == 401
    assert httpx.get(f"{base}/v1/models", headers=bearer("kst_nope_nope")).status_code == 401
    key_id, token = create_key(svc.ledger, "team-c")
    assert httpx.get(f"{base}/v1/models", headers=bearer(token)).status_code == 200
    revoke_key(svc.ledger, key_id)
    r = httpx.get(f"{base}/v1/models", headers=bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_a_stored_ensemble_forecast_is_not_served_once_chronos2_would_join(monkeypatch):
    """The service's store keys on the Chronos-2 the ensemble would mix in: weights that arrive on the
    machine make another ensemble, so the earlier answer must not be served for it."""
    from data_sources import Bars
    from kronos_studio.catalog.identity import model_identity
    from kronos_studio.desk import result_key
    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    bars = Bars.from_frame(random_bars(300, seed=2), source="file", symbol="X", interval="5m", calendar="24/7")
    settings = ForecastSettings(horizon=5, paths=8)

    def key():
        return result_key("forecast", bars, model_identity("ensemble", bars), settings)

    before = key()
    assert key() == before
    monkeypatch.setenv("KRONOS_STUDIO_CHRONOS2", str(BUNDLED_CHRONOS2))
    assert key() != before
