"""Workspaces: a key of workspace A cannot read, score or delete anything of workspace B, on every
endpoint; an admin key may act in another workspace, a plain key may not."""
from __future__ import annotations

import httpx
import pytest
from service_helpers import bearer, finished_job
from testkit import random_bars

from kronos_studio.service.deps import WORKSPACE_HEADER

BARS = random_bars(130, seed=21, freq="1h")


@pytest.fixture(scope="module")
def a_forecast_and_job(service, tiny_model):
    """(prediction id, job id) workspace A made: a recorded forecast of series 'iso' and a batch job."""
    base, _, tokens = service
    with httpx.Client(base_url=base, headers=bearer(tokens["a"]), timeout=300) as a:
        made = a.post("/v1/forecast", json={"bars_csv": BARS.iloc[:120].to_csv(index=False), "symbol": "iso",
                                            "model": tiny_model, "horizon": 4, "paths": 5})
        assert made.status_code == 200, made.text
        job = a.post("/v1/batch", json={"series": [{"name": "iso", "bars_csv": BARS.to_csv(index=False)}],
                                        "model": tiny_model, "horizon": 4, "paths": 5})
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        finished_job(a, job_id, 120)
    return made.json()["ledger"]["id"], job_id


def as_key(service, name, **headers):
    base, _, tokens = service
    return httpx.Client(base_url=base, headers={**bearer(tokens[name]), **headers}, timeout=300)


def prediction_ids(c) -> set[str]:
    return {p["prediction_id"] for p in c.get("/v1/ledger/predictions").json()["predictions"]}


def test_b_does_not_see_a_s_forecasts_evaluations_or_track_record(service, a_forecast_and_job):
    pid, _ = a_forecast_and_job
    with as_key(service, "a") as a, as_key(service, "b") as b:
        assert pid in prediction_ids(a)
        assert pid not in prediction_ids(b)
        assert "iso" in {s["symbol"] for s in a.get("/v1/ledger/track-record").json()["series"]}
        assert "iso" not in {s["symbol"] for s in b.get("/v1/ledger/track-record").json()["series"]}
        assert b.get("/v1/ledger/predictions", params={"symbol": "iso"}).json()["predictions"] == []


def test_b_cannot_score_a_s_forecasts_but_a_can(service, a_forecast_and_job):
    pid, _ = a_forecast_and_job
    newer = {"bars_csv": BARS.to_csv(index=False), "symbol": "iso"}
    with as_key(service, "a") as a, as_key(service, "b") as b:
        assert b.post("/v1/ledger/score", json=newer).json()["steps"] == 0
        assert b.get("/v1/ledger/evaluations").json()["evaluations"] == []
        assert a.post("/v1/ledger/score", json=newer).json()["steps"] == 4
        scored = a.get("/v1/ledger/evaluations", params={"symbol": "iso"}).json()["evaluations"]
        assert {e["prediction_id"] for e in scored} == {pid}
        assert b.get("/v1/ledger/evaluations").json()["evaluations"] == []
        models = a.get("/v1/ledger/track-record").json()["models"]
        assert models and models[0]["steps"] >= 4
        assert b.get("/v1/ledger/track-record").json()["models"] == []


def test_b_cannot_see_or_fetch_a_s_job(service, a_forecast_and_job):
    _, job_id = a_forecast_and_job
    with as_key(service, "a") as a, as_key(service, "b") as b:
        assert a.get(f"/v1/jobs/{job_id}").status_code == 200
        for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/result"):
            r = b.get(path)
            assert r.status_code == 404 and "team-b" in r.json()["detail"]


def test_a_plain_key_cannot_act_in_another_workspace_an_admin_key_can(service, a_forecast_and_job):
    pid, _ = a_forecast_and_job
    with as_key(service, "b", **{WORKSPACE_HEADER: "team-a"}) as b_as_a:
        r = b_as_a.get("/v1/ledger/predictions")
        assert r.status_code == 403 and "admin" in r.json()["detail"]
    with as_key(service, "admin", **{WORKSPACE_HEADER: "team-a"}) as admin_in_a, as_key(service, "admin") as admin:
        assert pid in prediction_ids(admin_in_a)
        assert pid not in prediction_ids(admin)  # its own workspace, 'ops'


def test_b_cannot_delete_a_s_forecast_and_a_can(service, a_forecast_and_job, tiny_model):
    base, _, tokens = service
    with as_key(service, "a") as a, as_key(service, "b") as b:
        made = a.post("/v1/forecast", json={"bars_csv": BARS.iloc[:110].to_csv(index=False), "symbol": "gone",
                                            "model": tiny_model, "horizon": 3, "paths": 5}).json()["ledger"]["id"]
        r = b.delete(f"/v1/ledger/predictions/{made}")
        assert r.status_code == 404 and "team-b" in r.json()["detail"]
        assert made in prediction_ids(a)
        assert a.delete(f"/v1/ledger/predictions/{made}").status_code == 200
        assert made not in prediction_ids(a)
        assert a.delete(f"/v1/ledger/predictions/{made}").status_code == 404


def test_the_same_forecast_in_two_workspaces_is_two_rows(service, tiny_model):
    body = {"bars_csv": BARS.iloc[:100].to_csv(index=False), "symbol": "both", "model": tiny_model, "horizon": 3,
            "paths": 5}
    with as_key(service, "a") as a, as_key(service, "b") as b:
        in_a = a.post("/v1/forecast", json=body).json()["ledger"]
        in_b = b.post("/v1/forecast", json=body).json()["ledger"]
        assert in_a["new"] and in_b["new"] and in_a["id"] != in_b["id"]
        assert a.post("/v1/forecast", json=body).json()["ledger"] == {**in_a, "new": False}


def test_the_track_record_leaves_experiments_out_unless_asked(service, tiny_model):
    """A forecast at temperature 2.0 is an experiment: the workspace's track record pools only the default run,
    says how many it left out, and pools both when asked (as the Track record page does)."""
    history = {"bars_csv": BARS.iloc[:120].to_csv(index=False), "symbol": "exp", "model": tiny_model,
               "horizon": 4, "paths": 5}
    with as_key(service, "a") as a:
        for extra in ({}, {"temperature": 2.0}):
            assert a.post("/v1/forecast", json={**history, **extra}).status_code == 200
        assert a.post("/v1/ledger/score", json={"bars_csv": BARS.to_csv(index=False), "symbol": "exp"}).json()["steps"] == 8
        default = a.get("/v1/ledger/track-record", params={"symbol": "exp"}).json()
        both = a.get("/v1/ledger/track-record", params={"symbol": "exp", "include_experiments": True}).json()
    assert default["experiments_left_out"] == 1 and [m["forecasts"] for m in default["models"]] == [1]
    assert both["experiments_left_out"] == 0 and [m["forecasts"] for m in both["models"]] == [2]
