"""Many series at once, every face, the same numbers (issue 64): the screen, rank evaluation and the watchlist retrain
each go to the desk directly (``Desk.screen``, ``Desk.rank``, ``Desk.retrain_watchlist``), to the command line
(``main(argv)`` in this process), to the HTTP service (a job of ``POST /v1/batch`` or ``/v1/retrain``, FastAPI's test
client), to the MCP server (the SDK's in-process client) and to the app's run of the Screener, where each face offers
the use case, and give the same numbers.

Which face offers what: the screen, every face; rank evaluation, the command line, HTTP and the app (the MCP server
has no rank tool); the watchlist retrain, the command line and HTTP (MCP's ``retrain`` retrains one series, the app's
Fine-tune page one series)."""
from __future__ import annotations

import json
import time

import anyio
import numpy as np
import pandas as pd
import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings

SETTINGS = {"horizon": 3, "paths": 8, "seed": 11, "lookback": 48}
NAMES = ("AAA", "BBB", "CCC", "DDD")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(a watchlist folder of four hourly series, the HTTP client with its key's header, the MCP server) on a
    ledger of their own, every face acting in the default workspace."""
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.mcp_server import create_server

    root = tmp_path_factory.mktemp("batch_parity")
    folder = root / "watch"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        random_bars(160, seed=20 + i, freq="1h", start="2026-03-02").to_csv(folder / f"{name}.csv", index=False)
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    app = create_app(ServiceConfig(ledger_url=url, jobs_dir=str(root / "jobs")))
    with TestClient(app) as client:
        token = create_key(app.state.service.ledger, "default")[1]
        yield {"folder": folder, "root": root, "http": client, "headers": {"Authorization": f"Bearer {token}"},
               "mcp": create_server([root], ledger_url=url)}
    mp.undo()


def series_body(world) -> list[dict]:
    return [{"name": f.stem, "bars_csv": f.read_text()} for f in sorted(world["folder"].iterdir())]


def job_result(world, path: str, body: dict, seconds: float = 600):
    """A job's result as JSON, once ``POST path`` with ``body`` has finished."""
    http, headers = world["http"], world["headers"]
    submitted = http.post(path, json=body, headers=headers)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["id"]
    deadline = time.monotonic() + seconds
    while (status := http.get(f"/v1/jobs/{job}", headers=headers).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["status"] == "done", status
    return status, http.get(f"/v1/jobs/{job}/result", headers=headers).json()


def mcp_call(world, tool: str, arguments: dict) -> dict:
    from mcp import Client

    async def call():
        async with Client(world["mcp"]) as client:
            return await client.call_tool(tool, arguments)

    result = anyio.run(call)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def app_settings(forecast: ForecastSettings):
    """The Screener's run settings for the bundled default model (as the sidebar hands them over)."""
    from app_support.screener import RunSettings
    from kronos_studio.bundled import default_model_path
    from kronos_studio.catalog import catalog

    default = next(c for c in catalog() if c.ref == str(default_model_path()))
    return RunSettings(default.key, default.label, default.ref, default.context, forecast)


# -- the screen ------------------------------------------------------------------------------------------------

def screen_numbers(rows) -> pd.DataFrame:
    """A screen's numbers by series: the screening columns and the risk columns."""
    frame = pd.DataFrame(rows).set_index("series").sort_index()
    numeric = [c for c in frame.columns if c in ("p_up", "expected_return", "close_p10", "close_p50", "close_p90",
                                                 "band_width", "expected_max_drawdown")
               or c.startswith(("var_", "es_", "vol_", "p_touch_"))]
    return frame[sorted(numeric)].astype(float)


def test_a_screen_is_the_same_through_every_face(world, tmp_path):
    from app_support import screener
    from kronos_studio.cli.main import main
    from kronos_studio.desk import BatchSettings, Desk, ScreenRequest

    forecast = ForecastSettings(**SETTINGS)
    done = Desk().screen(ScreenRequest(Desk.watchlist(world["folder"]), BatchSettings(forecast)))
    expected = screen_numbers(done.rows)
    assert list(expected.index) == list(NAMES) and (done.rows["status"] == "ok").all()
    assert {"var_long_95", "es_short_99", "vol_horizon"} <= set(expected.columns)

    out = tmp_path / "rows.parquet"
    assert main(["batch", str(world["folder"]), "--out", str(out), "--quiet",
                 *[x for k, v in SETTINGS.items() for x in (f"--{k}", str(v))]]) == 0
    status, http = job_result(world, "/v1/batch", {"series": series_body(world), **SETTINGS})
    assert status["summary"]["forecast"] == len(NAMES) and isinstance(status["summary"]["warnings"], list)
    mcp = mcp_call(world, "screen", {"files": [str(f) for f in sorted(world["folder"].iterdir())], **SETTINGS})
    app = screener.run(list(Desk.watchlist(world["folder"])), app_settings(forecast), "the test's watchlist")
    for face, rows in (("cli", pd.read_parquet(out)), ("http", http["rows"]), ("mcp", mcp["rows"]), ("app", app.rows)):
        got = screen_numbers(rows)
        assert list(got.columns) == list(expected.columns), face
        np.testing.assert_allclose(got.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=1e-5,
                                   err_msg=face)
    # the notices are the desk's on every face that shows them
    assert [n.problem for n in app.notices] == [n.problem for n in done.notices]
    assert len(mcp["warnings"]) == len(done.notices)


# -- rank evaluation ---------------------------------------------------------------------------------------------

RANK = {"horizon": 3, "seed": 0, "lookback": 48}
PLAN = {"cutoffs": 6, "paths": (2, 4), "costs_bps": 10.0}


def rank_numbers(report: dict) -> dict:
    """Each signal's (and naive ranking's) IC, rank IC, spreads and turnover, by path count."""
    keys = ("ic_mean", "rank_ic_mean", "spread_mean", "spread_after_costs_mean", "turnover")
    out = {(paths, signal, k): s[k] for paths, by in report["signals"].items() for signal, s in by.items() for k in keys}
    out |= {("naive", name, k): s[k] for name, s in report["baselines"].items() for k in keys}
    return {k: np.nan if v is None else v for k, v in out.items()}


def test_a_rank_evaluation_is_the_same_through_every_face_that_offers_it(world, tmp_path):
    from app_support import rank_skill
    from kronos_studio.cli.main import main
    from kronos_studio.desk import Desk, RankPlan, RankRequest

    plan = RankPlan(**PLAN)
    done = Desk().rank(RankRequest(Desk.watchlist(world["folder"]), ForecastSettings(**RANK), plan))
    expected = rank_numbers(done.report)
    assert done.report["dates"] == PLAN["cutoffs"] and done.report["paths"] == [2, 4]
    assert done.report["costs_bps"] == PLAN["costs_bps"]

    out = tmp_path / "rank.json"
    assert main(["batch", str(world["folder"]), "--evaluate", "--paths", "2,4", "--cutoffs", "6", "--costs", "10",
                 "--json", str(out), "--quiet", *[x for k, v in RANK.items() for x in (f"--{k}", str(v))]]) == 0
    cli = json.loads(out.read_text())
    _, http = job_result(world, "/v1/batch", {"series": series_body(world), **RANK,
                                              "evaluate": {**PLAN, "paths": list(PLAN["paths"])}})
    app = rank_skill.run(list(Desk.watchlist(world["folder"])), app_settings(ForecastSettings(**RANK, paths=30)),
                         plan, "the test's watchlist", {"fixes": (), "calendar": None})
    for face, report in (("cli", cli), ("http", http), ("app", app.result.report)):
        got = rank_numbers(report)
        assert got.keys() == expected.keys(), face
        # the app computes on one thread on a machine of two cores (docs/scale.md): sums in another order, numbers
        # equal to float32's precision
        np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-5, atol=1e-5, err_msg=face)


def test_the_rank_plans_defaults_are_one_for_every_face():
    """The faces disagreed (0 bps and 30 paths on the command line and HTTP, 5 bps and 1, 5, 10 paths in the app):
    one default each now, the rank plan's, read by every face."""
    from kronos_studio.cli.main import build_parser
    from kronos_studio.desk import RankPlan
    from kronos_studio.service.schemas import BatchEvaluate

    args = build_parser().parse_args(["batch", "w.csv", "--evaluate", "--horizon", "3"])
    http = BatchEvaluate()
    plan = RankPlan()
    assert plan.costs_bps == 5.0 and plan.paths == (ForecastSettings(horizon=1).paths,)
    assert (args.costs_bps, args.cutoffs, args.step) == (plan.costs_bps, plan.cutoffs, plan.step)
    assert (http.costs_bps, tuple(http.paths), http.cutoffs, http.step) == (plan.costs_bps, plan.paths, plan.cutoffs,
                                                                            plan.step)


# -- the watchlist retrain ----------------------------------------------------------------------------------------

RETRAIN = {"horizon": 4, "window": 120, "lookback": 24, "cutoffs": 5, "paths": 6, "steps": 2}


def decisions_by_series(rows) -> dict:
    """series -> (decision, the CRPS of the challenger, champion and base) of each series' one decision."""
    out = {}
    for r in rows:
        crps = r["crps"] if "crps" in r else {k.split(".", 1)[1]: v for k, v in r.items() if k.startswith("crps.")}
        out[r["series"]] = (r["decision"], {k: float(v) for k, v in crps.items() if v is not None})
    return out


@pytest.mark.slow
def test_a_watchlist_retrain_decides_the_same_through_every_face_that_offers_it(tmp_path, monkeypatch):
    """Each face retrains the same two series with the same settings on a ledger of its own: the same decisions on
    the same scores (the seed fixes the training and the held-out forecasts)."""
    from fastapi.testclient import TestClient

    from kronos_studio.cli.main import main
    from kronos_studio.desk import Desk, RetrainSettings, RetrainWatchlistRequest
    from kronos_studio.ledger import Ledger
    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.keys import create_key

    folder = tmp_path / "watch"
    folder.mkdir()
    for i, name in enumerate(("RA", "RB")):
        random_bars(260, seed=3 + i, freq="1h", start="2026-03-02").to_csv(folder / f"{name}.csv", index=False)
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    settings = RetrainSettings(horizon=4, window=120, lookback=24, n_cutoffs=5, paths=6, steps=2)

    with Ledger.open(f"sqlite:///{tmp_path / 'desk.sqlite'}") as ledger:
        done = Desk().retrain_watchlist(RetrainWatchlistRequest(Desk.watchlist(folder), settings, model="studio-tiny"),
                                        ledger=ledger)
    expected = decisions_by_series([{"series": o.series, **d} for o in done.outcomes for d in o.decisions])
    assert done.count("decided") == 2 and set(expected) == {"RA", "RB"}

    monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    out = tmp_path / "retrain.json"
    assert main(["retrain", str(folder), "--model", "studio-tiny", "--json", str(out),
                 *[x for k, v in RETRAIN.items() for x in (f"--{k}", str(v))]]) == 0
    cli = decisions_by_series([{"series": s["series"], **d} for s in json.loads(out.read_text())["series"]
                               for d in s["decisions"]])

    app = create_app(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'http.sqlite'}", jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app) as client:
        token = create_key(app.state.service.ledger, "default")[1]
        world = {"http": client, "headers": {"Authorization": f"Bearer {token}"}}
        series = [{"name": f.stem, "bars_csv": f.read_text()} for f in sorted(folder.iterdir())]
        _, rows = job_result(world, "/v1/retrain", {"series": series, "model": "studio-tiny", **RETRAIN})
    http = decisions_by_series(rows["rows"])

    for face, got in (("cli", cli), ("http", http)):
        assert got.keys() == expected.keys(), face
        for name, (decision, crps) in expected.items():
            assert got[name][0] == decision, (face, name)
            assert got[name][1] == pytest.approx(crps, rel=1e-5), (face, name)
