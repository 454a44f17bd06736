"""The use cases issue 64 moved behind the desk, each through every face that offers it, give the same numbers for
the same request: the trust report (the desk, the app's Evaluate run, and ``Desk.evaluate``'s faces: the command
line, HTTP and MCP: one plan, a non-default knob of it asked from each), Compare's backtest (the desk and the app),
LoRA fine-tuning (the desk, ``kronos train lora`` and the app's Fine-tune run) and the ensemble fitted to a series
(the desk, ``kronos train ensemble FILE`` and the app's Evaluate page)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from testkit import random_bars

from data_sources.requests import BarsRequest
from kronos.settings import ForecastSettings
from kronos_studio.desk import Desk, EvaluateRequest

SETTINGS = {"horizon": 3, "paths": 8, "seed": 11}
PLAN = {"n_cutoffs": 3, "spacing": 5}  # the spacing: a knob of the one plan, not its default (the horizon)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(the bars file, the HTTP client with its key's header, the MCP server), one ledger and cache of their own."""
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.mcp_server import create_server

    root = tmp_path_factory.mktemp("use_cases")
    file = root / "PAR.csv"
    random_bars(400, seed=8, freq="1h", start="2026-03-02").to_csv(file, index=False)
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    mp.setenv("KRONOS_STUDIO_CHRONOS2", "off")  # the ensemble's members: the same on every face, whatever is cached
    app = create_app(ServiceConfig(ledger_url=url, jobs_dir=str(root / "jobs")))
    with TestClient(app) as client:
        token = create_key(app.state.service.ledger, "default")[1]
        yield {"file": file, "http": client, "headers": {"Authorization": f"Bearer {token}"},
               "mcp": create_server([root], ledger_url=url), "root": root}
    mp.undo()


def gated(file, **options):
    """The file's bars as the app's sidebar hands them over."""
    from kronos_studio.bars_input import quality_gate, read_bars

    return quality_gate(read_bars(file, **options))[0]


def bundled_choice():
    """The sidebar's entry of the bundled default model."""
    from kronos_studio.bundled import default_model_path
    from kronos_studio.catalog import catalog

    return next(c for c in catalog() if c.ref == str(default_model_path()))


def mcp_call(world, tool: str, arguments: dict) -> dict:
    import anyio
    from mcp import Client

    async def call():
        async with Client(world["mcp"]) as client:
            return await client.call_tool(tool, arguments)

    result = anyio.run(call)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


# -- the trust report: one plan --------------------------------------------------------------------------------------
def report_numbers(report) -> dict:
    """CRPS, MAE of the median and coverage of the model and each baseline of a ``TrustReport``."""
    results = {"model": report.model, **report.baselines}
    return {key: [r.summary()[k] for k in ("crps", "mae_median", "coverage_p10_p90")] for key, r in results.items()}


def json_numbers(out: dict) -> dict:
    """The same numbers from the ``kronos evaluate`` JSON."""
    return {key: [m["crps"], m["mae"], m["coverage_p10_p90"]] for key, m in out["models"].items()}


def cli_evaluate(world, tmp_path) -> dict:
    from kronos_studio.cli.main import main

    out = tmp_path / "e.json"
    assert main(["evaluate", str(world["file"]), "--json", str(out), "--cutoffs", str(PLAN["n_cutoffs"]),
                 "--spacing", str(PLAN["spacing"]), *[x for k, v in SETTINGS.items() for x in (f"--{k}", str(v))]]) == 0
    return json.loads(out.read_text())


def http_evaluate(world, tmp_path) -> dict:
    body = {"bars_csv": world["file"].read_text(), "symbol": "PAR", "cutoffs": PLAN["n_cutoffs"],
            "spacing": PLAN["spacing"], **SETTINGS}
    answer = world["http"].post("/v1/evaluate", json=body, headers=world["headers"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def mcp_evaluate(world, tmp_path) -> dict:
    return mcp_call(world, "evaluate", {"file": str(world["file"]), "cutoffs": PLAN["n_cutoffs"],
                                        "spacing": PLAN["spacing"], **SETTINGS})


def test_a_trust_report_is_the_same_through_the_desk_the_app_and_every_evaluate_face(world, tmp_path):
    from app_support import trust
    from kronos_studio.desk import TrustPlan, TrustRequest

    plan = TrustPlan(**PLAN)
    done = Desk().trust(TrustRequest(BarsRequest(file=str(world["file"])), ForecastSettings(**SETTINGS), plan=plan))
    assert np.diff(done.report.model.cutoffs).tolist() == [PLAN["spacing"]] * (PLAN["n_cutoffs"] - 1)
    expected = report_numbers(done.report)
    assert {"model", "random_walk"} <= expected.keys()

    app = trust.run(gated(world["file"]), bundled_choice(), ForecastSettings(**SETTINGS), plan)
    np.testing.assert_array_equal(app.report.model.cutoffs, done.report.model.cutoffs)
    for key, numbers in report_numbers(app.report).items():
        np.testing.assert_allclose(numbers, expected[key], rtol=1e-5, err_msg=f"app {key}")
    for face in (cli_evaluate, http_evaluate, mcp_evaluate):
        out = face(world, tmp_path)
        assert out["cutoffs"] == PLAN["n_cutoffs"], face.__name__
        got = json_numbers(out)
        assert got.keys() == expected.keys(), face.__name__
        for key, numbers in got.items():
            np.testing.assert_allclose(numbers, expected[key], rtol=1e-5, err_msg=f"{face.__name__} {key}")


def test_the_app_and_desk_evaluate_keep_one_walk(world):
    """The Evaluate page's report and ``Desk.evaluate``'s JSON of the same request are one walk, kept once."""
    from kronos_studio.desk import ResultCache, TrustPlan, TrustRequest

    desk = Desk(cache=ResultCache())
    request = BarsRequest(file=str(world["file"]))
    evaluated = desk.evaluate(EvaluateRequest(request, None, ForecastSettings(**SETTINGS), plan=TrustPlan(**PLAN)))
    trusted = desk.trust(TrustRequest(request, ForecastSettings(**SETTINGS), plan=TrustPlan(**PLAN)))
    assert not evaluated.from_cache and trusted.from_cache and desk.cache.computed == 1
    assert json_numbers(evaluated.report.out) == report_numbers(trusted.report)


# -- Compare's backtest ----------------------------------------------------------------------------------------------
def test_a_compare_backtest_is_the_same_through_the_desk_and_the_app(world):
    from app_support import compare
    from kronos_studio.catalog import catalog
    from kronos_studio.desk import CompareBacktestRequest, ComparePlan

    bars = gated(world["file"])
    choices = [c for c in catalog() if c.bundled][:2]
    assert len(choices) == 2
    settings = ForecastSettings(**SETTINGS, lookback=48)
    cutoff = bars.frame["timestamp"].iloc[-10]  # the last bar the models see: 9 after it, 3 of them scored
    plan = ComparePlan(n_cutoffs=4)
    done = Desk().compare_backtest(CompareBacktestRequest(bars, tuple(choices), settings, cutoff, plan))
    assert len(done.window.history) == len(bars) - 9 and len(done.window.actual) == SETTINGS["horizon"]
    assert done.cutoffs[0] == len(done.window.history) and len(done.cutoffs) == 4 and not done.errors

    app = compare.run_backtest(compare.request(bars, choices, settings, cutoff, plan))
    assert app.cutoffs == done.cutoffs and app.results.keys() == done.results.keys() == {c.label for c in choices}
    for name in done.results:
        np.testing.assert_allclose(app.results[name].crps, done.results[name].crps, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(app.shown[name].paths, done.shown[name].paths, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(app.baseline.crps, done.baseline.crps, rtol=1e-5)


# -- LoRA fine-tuning --------------------------------------------------------------------------------------------------
def adapter_weights(folder) -> dict:
    from safetensors.numpy import load_file

    return {f.name: load_file(f) for f in sorted(folder.glob("*.safetensors")) if not f.name.startswith("train_state")}


def test_a_fine_tune_is_the_same_adapter_and_scores_through_every_face(world, tmp_path):
    from app_support import fine_tuning
    from kronos_studio.cli.main import main
    from kronos_studio.desk import FineTunePlan, FineTuneRequest
    from kronos_studio.events import bundled_calendar

    plan = FineTunePlan(steps=2, batch_size=2, window=40, eval_cutoffs=2)
    settings = ForecastSettings(horizon=4, paths=2, seed=0)
    out = {face: tmp_path / face / "ad" for face in ("desk", "cli", "app")}  # one adapter name: the tables' labels
    done = Desk().fine_tune(FineTuneRequest((BarsRequest(file=str(world["file"])),), settings, str(out["desk"]),
                                            plan=plan))
    assert main(["train", "lora", "--data", str(world["file"]), "--out", str(out["cli"]), "--steps", "2",
                 "--batch-size", "2", "--window", "40", "--eval-cutoffs", "2", "--horizon", "4", "--paths", "2",
                 "--quiet"]) == 0
    app = fine_tuning.run(gated(world["file"]), bundled_choice(), settings, plan, out["app"], bundled_calendar())

    expected = adapter_weights(out["desk"])
    assert expected
    for face in ("cli", "app"):
        got = adapter_weights(out[face])
        assert got.keys() == expected.keys(), face
        for name in expected:
            for tensor in expected[name]:
                np.testing.assert_allclose(got[name][tensor], expected[name][tensor], rtol=1e-5, err_msg=face)
    [table] = [r.table() for r in done.evaluations.values()]
    cli_table = pd.read_csv(out["cli"] / "before_after.csv").set_index("model")
    [app_table] = [r.table() for r in app.evaluations.values()]
    for got in (cli_table, app_table):
        assert list(got.index) == list(table.index)
        np.testing.assert_allclose(got[["crps_pct", "coverage_p10_p90"]].to_numpy(),
                                   table[["crps_pct", "coverage_p10_p90"]].to_numpy(), rtol=1e-5)


# -- the ensemble fitted to a series -----------------------------------------------------------------------------------
def stacking(meta) -> dict:
    groups = meta.combinations["stacking"]["weights"]
    return groups.get("all") or next(iter(groups.values()))


def test_an_ensemble_fit_is_the_same_weights_through_every_face(world, tmp_path):
    from app_support import ensemble
    from kronos_studio.cli.main import main
    from kronos_studio.desk import FitEnsembleRequest
    from kronos_studio.ensemble.meta import MetaLearner

    file = tmp_path / "walk.csv"
    random_bars(700, seed=4, freq="B", start="2023-09-01").to_csv(file, index=False)  # ~100 bars in 2026
    settings = ForecastSettings(horizon=5, paths=12)
    where = {"timezone": "UTC", "calendar": "XNYS"}
    done = Desk().fit_ensemble(FitEnsembleRequest(BarsRequest(file=str(file), **where), settings, n_cutoffs=30))
    assert done.meta.info["provenance"]["cutoffs"] == 30  # stacking needs about 30 (its validation share)
    assert main(["train", "ensemble", str(file), "--horizon", "5", "--paths", "12", "--cutoffs", "30", "--timezone",
                 "UTC", "--calendar", "XNYS", "--out", str(tmp_path / "cli")]) == 0
    cli = MetaLearner.load(tmp_path / "cli")
    choice = bundled_choice().ensemble_of()
    app = ensemble.fit(FitEnsembleRequest(gated(file, **where), settings, choice, n_cutoffs=30))

    expected = stacking(done.meta)
    assert set(expected) == set(done.members)
    for face, meta in (("cli", cli), ("app", app.meta)):
        got = stacking(meta)
        assert got.keys() == expected.keys(), face
        np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), atol=1e-6, err_msg=face)
        assert meta.info["validation_crps_pct"] == pytest.approx(done.meta.info["validation_crps_pct"], rel=1e-5)
