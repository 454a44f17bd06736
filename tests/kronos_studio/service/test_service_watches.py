"""``/v1/watches``: a replayed month through HTTP keeps the rows the command line keeps for the same watchlist
(parity); a live watch is ticked on the service's job threads at its bar close, paused, resumed, deleted, per
workspace; no answer holds a webhook's token or a server path."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from service_helpers import finished_job, run_cli, running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "desk"))
from watch_kit import real_folder, rows, synthetic_folder  # noqa: E402

from kronos_studio.ledger import Ledger  # noqa: E402
from kronos_studio.service.app import ServiceConfig  # noqa: E402

FAST = {"horizon": 3, "paths": 8, "lookback": 48}
TOKEN = "T1/B2/very-secret"


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An open server (the default workspace) with a ledger of its own."""
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "storage"))
    url = f"sqlite:///{tmp_path / 'service.sqlite'}"
    with running_server(ServiceConfig(ledger_url=url, open_access=True, jobs_dir=str(tmp_path / "jobs"))) as (base, app):
        yield base, app.state.service


def csv_series(folder: Path, since: str) -> list[dict]:
    out = []
    for f in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(f)
        out.append({"name": f.stem, "bars_csv": frame[frame["timestamp"] >= since].to_csv(index=False)})
    return out


def test_a_replayed_month_keeps_the_same_rows_through_the_command_line_and_http(server, tmp_path):
    base, service = server
    folder = real_folder(tmp_path / "indices")
    for f in folder.glob("*.csv"):  # the year before the month: what the forecasts read, and less to send
        frame = pd.read_csv(f)
        frame[frame["timestamp"] >= "2017-06-01"].to_csv(f, index=False)
    sessions = pd.read_csv(next(folder.glob("*.csv")))["timestamp"].between("2018-05-01", "2018-05-31 23:59").sum()
    cli_ledger = tmp_path / "cli.sqlite"
    name = "indices 2018-05-01 to 2018-05-31"
    done = run_cli("watch", folder, "--replay-from", "2018-05-01", "--to", "2018-05-31", "--horizon", 3, "--paths", 8,
                   "--lookback", 48, "--include-training-period", "--quiet",
                   env={"KRONOS_STUDIO_DB": f"sqlite:///{cli_ledger}", "KRONOS_STUDIO_CACHE": str(tmp_path / "cli")})
    assert done.returncode == 0, done.stderr
    assert f"'{name} [in training period]'" in done.stderr and f"{sessions} ticks" in done.stderr
    body = {"name": name, "series": csv_series(folder, "2017-06-01"), "replay_from": "2018-05-01", "to": "2018-05-31",
            "include_training_period": True, **FAST}
    with httpx.Client(base_url=base, timeout=600) as c:
        answer = c.post("/v1/watches", json=body)
        assert answer.status_code == 202, answer.text
        job = answer.json()["job"]["id"]
        assert finished_job(c, job, 1800, poll_s=1.0)["status"] == "done"
        again = c.post("/v1/watches", json=body)  # the same replay again: a job that runs no tick
        assert finished_job(c, again.json()["job"]["id"], 600, poll_s=0.5)["summary"]["run"] == 0
        listed = c.get("/v1/watches").json()["watches"]
    assert [w["replay"] for w in listed] == [f"{name} [in training period]"]
    with Ledger.open(f"sqlite:///{cli_ledger}") as ledger:
        cli = rows(ledger)
    http = rows(service.ledger)
    columns = ["replay", "symbol", "last_bar_at", "last_close", "horizon", "scored_steps", "crps", "coverage"]
    assert sessions == 22  # May 2018's NYSE sessions (Memorial Day closed)
    assert len(cli) == 2 * sessions and cli.groupby("symbol").size().tolist() == [sessions, sessions]  # one per series and session
    pd.testing.assert_frame_equal(http[columns], cli[columns])


def test_a_live_watch_is_ticked_at_its_bar_close_paused_resumed_and_deleted(server, tmp_path):
    from kronos_studio.service.watch_runner import WatchRunner

    base, service = server
    folder = synthetic_folder(tmp_path / "watchlist", end="2026-06-29", names=("AAA",))
    series = [{"name": "AAA", "bars_csv": (folder / "AAA.csv").read_text()}]
    body = {"name": "desk", "series": series, "webhook": [f"https://hooks.example.com/services/{TOKEN}"], **FAST}
    now = [pd.Timestamp("2026-06-29 19:00", tz="UTC")]
    runner = WatchRunner(service, now=lambda: now[0])  # stepped by the test: its clock, no thread
    with httpx.Client(base_url=base, timeout=300) as c:
        made = c.post("/v1/watches", json=body)
        assert made.status_code == 201, made.text
        watch = made.json()
        assert TOKEN not in made.text and str(tmp_path) not in made.text
        assert watch["request"]["channels"]["webhooks"] == ["https://hooks.example.com/…"]
        assert runner.step() == pd.Timestamp("2026-06-29 20:00", tz="UTC") and not runner.jobs  # not closed yet
        now[0] = pd.Timestamp("2026-06-29 20:05", tz="UTC")
        runner.step()
        [job] = runner.jobs.values()
        assert job.kind == "watch tick"
        while job.status not in ("done", "failed"):
            runner.stopping.wait(0.1)
        assert job.status == "done", job.error
        shown = c.get(f"/v1/watches/{watch['id']}").json()
        [tick] = shown["ticks"]
        assert tick["tick_at"].startswith("2026-06-29T20:00") and tick["status"] == "done"
        assert tick["summary"]["series"]["AAA"]["status"] == "forecast"
        # every id an answer holds is public (public_ids): the watch's, the forecast's as the ledger lists it, no
        # row id of the shared counters
        assert re.fullmatch("[0-9a-f]{16}", watch["id"]) and "id" not in tick and "watch_id" not in tick
        [listed] = c.get("/v1/ledger/predictions").json()["predictions"]
        assert tick["summary"]["series"]["AAA"]["forecast_id"] == listed["prediction_id"]
        assert c.post(f"/v1/watches/{watch['id']}/pause").json()["status"] == "paused"
        now[0] = pd.Timestamp("2026-06-30 21:00", tz="UTC")
        jobs_before = dict(runner.jobs)
        assert runner.step() is None and runner.jobs == jobs_before  # paused: no tick
        assert c.post(f"/v1/watches/{watch['id']}/resume").json()["status"] == "active"
        other = c.get("/v1/watches", headers={"X-Kronos-Workspace": "elsewhere"})  # open server: one workspace
        assert other.status_code in (200, 403)
        assert c.delete(f"/v1/watches/{watch['id']}").json() == {"deleted": watch["id"]}
        assert c.get("/v1/watches").json()["watches"] == []
        assert c.get(f"/v1/watches/{watch['id']}").status_code == 404


def test_a_watch_refused_is_a_422_naming_its_fields(server, tmp_path):
    base, _ = server
    folder = real_folder(tmp_path / "indices")
    series = csv_series(folder, "2017-06-01")
    with httpx.Client(base_url=base, timeout=300) as c:
        inside = c.post("/v1/watches", json={"name": "x", "series": series, "replay_from": "2018-05-01",
                                             "to": "2018-05-03", **FAST})
        assert inside.status_code == 422
        assert '"include_training_period": true' in inside.json()["detail"] and "training period" in inside.text
        long = c.post("/v1/watches", json={"name": "x", "series": series, "replay_from": "2018-05-01",
                                           "replay_name": "r" * 65, **FAST})  # the ledger keeps 64: never cut
        assert long.status_code == 422 and 'the field "replay_name"' in long.json()["detail"]
        ended = c.post("/v1/watches", json={"name": "x", "series": series, "to": "2018-05-03", **FAST})
        assert ended.status_code == 422 and 'give the field "replay_from" too' in ended.json()["detail"]
        bad = c.post("/v1/watches", json={"name": "y", "series": series, "price_level": ["SPX"], **FAST})
        assert bad.status_code == 422 and 'the field "price_level"' in bad.json()["detail"]
        unknown = "0123456789abcdef"  # a public id no watch of the workspace has
        assert c.get(f"/v1/watches/{unknown}").status_code == 404
        assert c.get(f"/v1/watches/{unknown}", params={"ticks": 0}).status_code == 422  # bounded, never clipped
        assert c.get("/v1/watches/12").status_code == 422  # not a public id
