"""``POST /v1/retrain``: the gated retrain as a job, followed like a batch job, its decision kept in the
request's workspace's registry only; too few bars are a 422 with the numbers before any job starts."""
from __future__ import annotations

import httpx
from service_helpers import bearer, finished_job
from testkit import random_bars

from kronos_studio.ledger.registry import Registry
from kronos_studio.service.public_ids import AdapterNumbers

SMALL = {"horizon": 4, "window": 120, "lookback": 24, "cutoffs": 5, "steps": 4, "paths": 10}


def test_a_retrain_job_decides_and_keeps_the_decision_in_the_workspace_registry(service, tiny_model, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))  # the adapters go there (same process)
    base, svc, tokens = service
    body = {"bars_csv": random_bars(200, seed=3, freq="1h").to_csv(index=False), "symbol": "RJOB",
            "model": tiny_model, **SMALL}
    with httpx.Client(base_url=base, headers=bearer(tokens["jobs"]), timeout=300) as c:
        submitted = c.post("/v1/retrain", json=body)
        assert submitted.status_code == 202, submitted.text
        job_id = submitted.json()["id"]
        status = finished_job(c, job_id, 400, poll_s=0.5)
        assert status["status"] == "done", status
        [row] = c.get(f"/v1/jobs/{job_id}/result").json()["rows"]
    assert row["decision"] in ("promoted", "rejected") and "CRPS difference" in row["reason"]
    assert {"crps.challenger", "crps.champion", "crps.base", "coverage.challenger"} <= set(row)
    [entry] = [e for e in Registry(svc.ledger.scoped("team-a")).entries() if e.symbol == "RJOB"]
    assert AdapterNumbers(svc.ledger.scoped("team-a")).number(entry.id) == row["challenger"] and entry.status == {"promoted": "champion"}.get(row["decision"], "rejected")
    assert [e for e in Registry(svc.ledger.scoped("team-b")).entries() if e.symbol == "RJOB"] == []
    assert str(tmp_path / "cache") in entry.path
    assert entry.made_by == "POST /v1/retrain"  # the face that asked (issue 51 item 20)


def test_too_few_bars_for_a_retrain_are_a_422_with_the_numbers(service, tiny_model):
    base, _, tokens = service
    body = {"bars_csv": random_bars(100, seed=4, freq="1h").to_csv(index=False), "model": tiny_model, **SMALL}
    with httpx.Client(base_url=base, headers=bearer(tokens["b"]), timeout=60) as c:
        answer = c.post("/v1/retrain", json=body)
    assert answer.status_code == 422
    assert "100 bars cannot hold a 120-bar training window" in answer.text and "at least 140" in answer.text


def test_a_retrain_job_over_several_series_has_one_row_per_decision_named_by_its_series(service, tiny_model,
                                                                                       tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    base, svc, tokens = service
    series = [{"name": "WA", "bars_csv": random_bars(200, seed=5, freq="1h").to_csv(index=False)},
              {"name": "WB", "bars_csv": random_bars(200, seed=6, freq="1h").to_csv(index=False)},
              {"name": "WFEW", "bars_csv": random_bars(100, seed=7, freq="1h").to_csv(index=False)}]
    with httpx.Client(base_url=base, headers=bearer(tokens["jobs"]), timeout=300) as c:
        both = c.post("/v1/retrain", json={"series": series, "bars_csv": series[0]["bars_csv"], "model": tiny_model,
                                           **SMALL})
        assert both.status_code == 422 and "leave out bars_csv" in both.text
        submitted = c.post("/v1/retrain", json={"series": series, "model": tiny_model, **SMALL})
        assert submitted.status_code == 202, submitted.text
        status = finished_job(c, submitted.json()["id"], 600, poll_s=0.5)
        assert status["status"] == "done", status
        rows = c.get(f"/v1/jobs/{submitted.json()['id']}/result").json()["rows"]
    by_series = {r["series"]: r for r in rows}
    assert [r["series"] for r in rows] == ["WA", "WB", "WFEW"]
    assert all(by_series[s]["decision"] in ("promoted", "rejected") for s in ("WA", "WB"))
    assert by_series["WFEW"]["decision"] == "refused"
    assert "100 bars cannot hold a 120-bar training window" in by_series["WFEW"]["reason"]
    entries = {e.symbol: e for e in Registry(svc.ledger.scoped("team-a")).entries() if e.symbol in ("WA", "WB")}
    numbers = AdapterNumbers(svc.ledger.scoped("team-a"))  # as the service numbers a workspace's adapters
    assert {s: numbers.number(entries[s].id) for s in entries} == {s: by_series[s]["challenger"] for s in ("WA", "WB")}
    assert {e.made_by for e in entries.values()} == {"POST /v1/retrain"}


def test_a_retrain_inside_the_models_training_period_is_a_422_naming_the_switch_and_runs_with_it(
        service, tiny_model, tmp_path, monkeypatch):
    """Issue 51 item 5 over HTTP: the same guard and the same field as /v1/evaluate."""
    import json
    import shutil

    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    seen = tmp_path / "tiny-seen"
    shutil.copytree(tiny_model, seen)
    (seen / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny-seen", "data_seen_until": "2030-12-31"}))
    # a client names catalog models only (issue 53 item 1): the server lists this folder (same process)
    monkeypatch.setenv("KRONOS_STUDIO_MODELS", str(seen))
    base, _, tokens = service
    body = {"bars_csv": random_bars(200, seed=8, freq="1h").to_csv(index=False), "symbol": "RSEEN",
            "model": "tiny-seen", **SMALL}
    with httpx.Client(base_url=base, headers=bearer(tokens["jobs"]), timeout=300) as c:
        refused = c.post("/v1/retrain", json=body)
        assert refused.status_code == 422, refused.text
        assert "inside the base model's training period" in refused.json()["detail"]
        assert [f["field"] for f in refused.json()["fix"]][-1] == "include_training_period"
        accepted = c.post("/v1/retrain", json={**body, "include_training_period": True})
        assert accepted.status_code == 202, accepted.text
        status = finished_job(c, accepted.json()["id"], 400, poll_s=0.5)
        assert status["status"] == "done", status
        [row] = c.get(f"/v1/jobs/{accepted.json()['id']}/result").json()["rows"]
    assert row["in_training_period"] == SMALL["cutoffs"] and "partly measures memory" in row["reason"]


def test_a_retrain_that_cannot_run_as_asked_says_what_to_change_in_request_fields(service, tiny_model):
    """Issue 51 item 16: 'champion' is no base to train on (leave model out); a horizon too long is said as
    such; a limit names the server's setting in a sentence that reads."""
    base, _, tokens = service
    bars = random_bars(200, seed=8, freq="1h").to_csv(index=False)
    with httpx.Client(base_url=base, headers=bearer(tokens["b"]), timeout=60) as c:
        champion = c.post("/v1/retrain", json={"bars_csv": bars, "model": "champion", **SMALL})
        watchlist = c.post("/v1/retrain", json={"series": [{"name": "W", "bars_csv": bars}], "model": "champion",
                                                **SMALL})
        # a horizon inside the server's limits that the 120-bar window's validated 30 bars cannot hold
        long = c.post("/v1/retrain", json={"bars_csv": bars, "model": tiny_model, **{**SMALL, "horizon": 90,
                                                                                       "paths": 4}})
        steps = c.post("/v1/retrain", json={"bars_csv": bars, **{**SMALL, "horizon": 100000}})
        # a retrain setting below its least (checked by RetrainSettings itself, issue 52): named as its field
        none = c.post("/v1/retrain", json={"bars_csv": bars, **{**SMALL, "cutoffs": 0}})
    for answer in (champion, watchlist):
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert "'champion' is the adapter each series is served by, not a base model" in detail
        assert 'leave the field "model" out: a series is retrained on its champion\'s base by default' in detail
        assert answer.json()["fix"][0]["field"] == "model"
    assert long.status_code == 422, long.text
    assert long.json()["detail"].startswith("the 90-bar horizon is too long")
    assert 'shorten the field "horizon"; use a window of at least 456 bars ("window": 456)' in long.json()["detail"]
    assert [f["field"] for f in long.json()["fix"]] == ["horizon", "window"]
    assert steps.status_code == 413
    assert "or raise the server's max_horizon" in steps.json()["detail"]  # the horizon alone, before paths x horizon
    assert none.status_code == 422, none.text
    assert none.json()["detail"] == 'cutoffs must be at least 1, got 0: use at least 1 ("cutoffs": 1)'



def test_a_model_that_cannot_be_loaded_is_a_404_answered_as_every_refusal(service, tiny_model, monkeypatch):
    """The route's own 404 (the error's first line, no data) gave way to the service's one handler: the same status,
    the whole line, and the problem and fixes as data."""
    from kronos.checkpoints import CheckpointError
    from kronos.errors import Fix
    from kronos_studio.service.routes import retrain

    def broken(*_args):
        raise CheckpointError("the weights are unreadable\nat byte 0", fix=Fix("download it again"))

    monkeypatch.setattr(retrain, "retrain_run", broken)
    base, _, tokens = service
    body = {"bars_csv": random_bars(200, seed=4, freq="1h").to_csv(index=False), "model": tiny_model, **SMALL}
    with httpx.Client(base_url=base, headers=bearer(tokens["b"]), timeout=60) as c:
        answer = c.post("/v1/retrain", json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"] == "the weights are unreadable\\nat byte 0: download it again"
    assert [f["text"] for f in answer.json()["fix"]] == ["download it again"]
