"""One use case, every face, the same numbers: the parity matrix (issue 64).

Each row of ``ROWS`` is a use case; its table of faces says how each face is asked for the request and how its
numbers are read back: the desk itself, the command line (``main(argv)`` in this process), the HTTP service
(FastAPI's test client), the MCP server (the SDK's in-process client) and the app (its ``app_support`` run, as a page
calls it). A face that does not offer the use case is ``NotOffered`` (and why); one that offers it but is tested
elsewhere is ``NotAsked`` (and where); one that offers it for some model kinds only is ``Only``. The test runs each
row for each model kind (or ask) it offers, and every face must give the desk's numbers, or the desk's refusal.

Every row acts on one world (``faces.World``: one ledger, one cache, one HTTP service with its key, one MCP server),
built once for the module. A new use case's row goes in ``ROWS``, its face callers above it."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import re
import time
from collections.abc import Callable

import anyio
import numpy as np
import pandas as pd
import pytest
from faces import (
    EARLIER,
    ORIGINS,
    SCORE_AT,
    Asked,
    NotAsked,
    NotOffered,
    Only,
    World,
    app_choice,
    bundled_choice,
    call_tool,
    cli,
    flags,
    gated,
    job_result,
    own_service,
    populate_regime,
    quantile_rows,
)
from fastapi.testclient import TestClient
from ledger_helpers import HORIZON, calm_forecast, cut, forecast, regime_series
from mcp import Client
from testkit import ROOT, random_bars

from app_support import compare, conditioned, ensemble, fine_tuning, forecasts, rank_skill, screener, trust
from app_support import ledger as app_ledger
from app_support import risk as app_risk_panel
from app_support.drift import series_drift
from app_support.lineage import lineage, retrain_now
from app_support.screener import RunSettings
from data_sources.requests import BarsRequest
from kronos.errors import InputError, UserError
from kronos.settings import ForecastSettings, knob_values, knobs
from kronos_studio.bars_input import quality_gate, read_bars
from kronos_studio.bundled import CHRONOS2_NAME
from kronos_studio.catalog import catalog
from kronos_studio.cli.errors import FLAGS, knob_flag
from kronos_studio.cli.main import build_parser, main
from kronos_studio.covariates.options import CovariateOptions
from kronos_studio.desk import (
    AdaptersRequest,
    BatchSettings,
    CompareBacktestRequest,
    ComparePlan,
    Desk,
    DriftRequest,
    EntryRequest,
    EvaluateRequest,
    FineTunePlan,
    FineTuneRequest,
    FitEnsembleRequest,
    ForecastRequest,
    LedgerQuery,
    RankPlan,
    RankRequest,
    RecordRequest,
    ResultCache,
    RetrainRequest,
    RetrainSettings,
    RetrainWatchlistRequest,
    RiskBacktestPlan,
    RiskBacktestRequest,
    RiskRequest,
    ScoreRequest,
    ScreenRequest,
    StepsRequest,
    TrackRecordRequest,
    TrustPlan,
    TrustRequest,
)
from kronos_studio.desk.ledger import open_ledger
from kronos_studio.desk.ledger_tables import SERIES, WORKSPACE, drift_table
from kronos_studio.desk.risk import Risked, backtest_body, risk_body
from kronos_studio.desk.risk_record import record_body
from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2
from kronos_studio.ensemble.meta import MetaLearner
from kronos_studio.events import bundled_calendar
from kronos_studio.forecasters.bounds import quantile_table
from kronos_studio.ledger import Ledger
from kronos_studio.risk.champion import DEFAULT_RISK_MODEL
from kronos_studio.risk.measures import RiskSettings, default_paths
from kronos_studio.service.app import ServiceConfig, create_app
from kronos_studio.service.keys import create_key
from kronos_studio.service.mcp_server import create_server
from kronos_studio.service.public_ids import forecast_ids
from kronos_studio.service.schemas import BatchEvaluate

FACES = ("desk", "cli", "http", "mcp", "app")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The one world every row acts on; its ledger and cache are the process's for the module."""
    root = tmp_path_factory.mktemp("parity")
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    mp.setenv("KRONOS_STUDIO_CHRONOS2", "off")  # the ensemble's members: the same on every face, whatever is cached
    app = create_app(ServiceConfig(ledger_url=url, jobs_dir=str(root / "jobs")))
    with TestClient(app) as http:
        yield World(root, http, create_key(app.state.service.ledger, "default")[1])
    mp.undo()


def model_flag(model) -> list[str]:
    return [] if model is None else ["--model", model]


def close_tables(got: pd.DataFrame, expected: pd.DataFrame, face: str, rtol: float = 1e-5) -> None:
    assert list(got.columns) == list(expected.columns), face
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=rtol, err_msg=face)


def same_json(a, b, where: str = "") -> None:
    """``a`` equals ``b``, floats to 1e-5 relative: the paths are float32, decoded on the thread budget each face runs
    under (kronos.threads), and a float32 sum rounds by the order its threads add in."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            same_json(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same_json(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12), (where, a, b)
    else:
        assert a == b, (where, a, b)


# == forecast: the bundled Kronos, an adapter served as ``champion``, the ensemble, a statistical model ==============
MODELS = (None, "champion", "ensemble", "garch")
SETTINGS = {"horizon": 3, "paths": 8, "seed": 11}
LEVELS = [0.1, 0.5, 0.9]


def desk_forecast(w: World, model, a: Asked) -> pd.DataFrame:
    done = w.desk("forecast", ForecastRequest(BarsRequest(file=str(w.par)), model, ForecastSettings(**SETTINGS)))
    return quantile_table(done.forecast, LEVELS).reset_index(drop=True)


def cli_forecast(w: World, model, a: Asked) -> pd.DataFrame:
    out = a.tmp_path / "q.csv"
    cli(["forecast", str(w.par), "--out", str(out), "--no-ledger", "--quiet", "--quantiles", "0.1,0.5,0.9",
         *flags(SETTINGS), *model_flag(model)])
    return pd.read_csv(out).drop(columns="timestamp")


def http_forecast(w: World, model, a: Asked) -> pd.DataFrame:
    return quantile_rows(w.post("/v1/forecast", {"bars_csv": w.par.read_text(), "symbol": "PAR", "model": model,
                                                 "quantiles": LEVELS, "record": False, **SETTINGS}))


def mcp_forecast(w: World, model, a: Asked) -> pd.DataFrame:
    return quantile_rows(w.tool_json("forecast", {"file": str(w.par), "model": model, "quantiles": LEVELS,
                                                  "record": False, **SETTINGS}))


def app_forecast(w: World, model, a: Asked) -> pd.DataFrame:
    """The Forecast page's run on the file's bars as the sidebar reads an upload, and its download."""
    fc, _ = forecasts.run(gated(w.par), app_choice(model), ForecastSettings(**SETTINGS))
    return quantile_table(fc, LEVELS).reset_index(drop=True)


# == evaluate: the walk-forward's JSON =============================================================================
CUTOFFS = 2


def evaluation_numbers(out: dict) -> dict:
    """Each scored model's CRPS, MAE and coverage in an evaluate JSON."""
    return {name: [m["crps"], m["mae"], m["coverage_p10_p90"]] for name, m in out["models"].items()}


def desk_evaluate(w: World, model, a: Asked) -> dict:
    done = w.desk("evaluate", EvaluateRequest(BarsRequest(file=str(w.par)), model, ForecastSettings(**SETTINGS),
                                              plan=TrustPlan(n_cutoffs=CUTOFFS)))
    numbers = evaluation_numbers(done.report.out)
    assert "model" in numbers and "random_walk" in numbers
    return numbers


def cli_evaluate(w: World, model, a: Asked) -> dict:
    out = a.tmp_path / "e.json"
    cli(["evaluate", str(w.par), "--json", str(out), "--cutoffs", str(CUTOFFS), *flags(SETTINGS), *model_flag(model)])
    return evaluation_numbers(json.loads(out.read_text()))


def http_evaluate(w: World, model, a: Asked) -> dict:
    return evaluation_numbers(w.post("/v1/evaluate", {"bars_csv": w.par.read_text(), "symbol": "PAR", "model": model,
                                                      "cutoffs": CUTOFFS, **SETTINGS}))


def mcp_evaluate(w: World, model, a: Asked) -> dict:
    return evaluation_numbers(w.tool_json("evaluate", {"file": str(w.par), "model": model, "cutoffs": CUTOFFS,
                                                       **SETTINGS}))


def same_scores(got: dict, expected: dict, face: str) -> None:
    assert got.keys() == expected.keys(), face
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, err_msg=f"{face} {name}")


# == trust: the walk-forward report on one plan, a non-default knob of it asked from each face =====================
PLAN = {"n_cutoffs": 3, "spacing": 5}  # the spacing: a knob of the one plan, not its default (the horizon)


def report_numbers(report) -> dict:
    """CRPS, MAE of the median and coverage of the model and each baseline of a ``TrustReport``."""
    results = {"model": report.model, **report.baselines}
    return {key: [r.summary()[k] for k in ("crps", "mae_median", "coverage_p10_p90")] for key, r in results.items()}


def desk_trust(w: World, kind, a: Asked) -> dict:
    done = Desk().trust(TrustRequest(BarsRequest(file=str(w.par)), ForecastSettings(**SETTINGS),
                                     plan=TrustPlan(**PLAN)))
    assert np.diff(done.report.model.cutoffs).tolist() == [PLAN["spacing"]] * (PLAN["n_cutoffs"] - 1)
    numbers = report_numbers(done.report)
    assert {"model", "random_walk"} <= numbers.keys()
    return {"numbers": numbers, "cutoffs": list(done.report.model.cutoffs)}


def app_trust(w: World, kind, a: Asked) -> dict:
    """The Evaluate page's run."""
    done = trust.run(gated(w.par), bundled_choice(), ForecastSettings(**SETTINGS), TrustPlan(**PLAN))
    return {"numbers": report_numbers(done.report), "cutoffs": list(done.report.model.cutoffs)}


def trust_json(out: dict) -> dict:
    """The trust report's numbers in a ``kronos evaluate`` JSON (it counts the cut-offs)."""
    return {"numbers": evaluation_numbers(out), "cutoffs": out["cutoffs"]}


def cli_trust(w: World, kind, a: Asked) -> dict:
    out = a.tmp_path / "e.json"
    cli(["evaluate", str(w.par), "--json", str(out), "--cutoffs", str(PLAN["n_cutoffs"]), "--spacing",
         str(PLAN["spacing"]), *flags(SETTINGS)])
    return trust_json(json.loads(out.read_text()))


def http_trust(w: World, kind, a: Asked) -> dict:
    return trust_json(w.post("/v1/evaluate", {"bars_csv": w.par.read_text(), "symbol": "PAR",
                                              "cutoffs": PLAN["n_cutoffs"], "spacing": PLAN["spacing"], **SETTINGS}))


def mcp_trust(w: World, kind, a: Asked) -> dict:
    return trust_json(w.tool_json("evaluate", {"file": str(w.par), "cutoffs": PLAN["n_cutoffs"],
                                               "spacing": PLAN["spacing"], **SETTINGS}))


def same_trust(got: dict, expected: dict, face: str) -> None:
    if isinstance(got["cutoffs"], list):
        assert got["cutoffs"] == expected["cutoffs"], face
    else:
        assert got["cutoffs"] == len(expected["cutoffs"]) == PLAN["n_cutoffs"], face
    same_scores(got["numbers"], expected["numbers"], face)


# == risk: VaR/ES, volatility and the stylized facts of the forecast =================================================
RISK_NUMBERS = ("var_es", "var_es_steps", "volatility", "stylized", "verdict", "paths", "last_close")
RISK_ASKED = {"horizon": 3, "paths": 60, "seed": 4, "levels": [0.9, 0.99]}
PATHS_FIX = {"cli": "--paths 2000", "http": '"paths": 2000', "mcp": '"paths": 2000'}  # each face names paths its way
BUNDLED = "studio-tiny"  # named: a request naming no model is served by the series' risk champion (test_risk_champion)


def risk_settings() -> tuple[ForecastSettings, RiskSettings]:
    return ForecastSettings(horizon=3, paths=60, seed=4), RiskSettings(levels=(0.9, 0.99))


def by_cli(args: list[str], out, capsys) -> tuple[int, dict | None, str]:
    code = main(["risk", *args, "--json", str(out)])
    err = capsys.readouterr().err
    return code, (json.loads(out.read_text()) if code == 0 else None), err


def desk_risk(w: World, model, a: Asked) -> dict:
    settings, risk = risk_settings()
    direct = Desk().risk(RiskRequest(quality_gate(read_bars(str(w.daily)), [])[0], model, settings, risk))
    body = risk_body(direct)
    assert [t["level"] for t in body["var_es"]] == [0.9, 0.99, 0.9, 0.99]  # long then short, each level asked
    # 60 paths leave 0 or 1 beyond a 99% VaR: the same flag everywhere, its fix named as each face names paths
    flag = next(n.problem for n in direct.notices if "0.99 ES rests on" in n.problem)
    return {"numbers": {k: body[k] for k in RISK_NUMBERS}, "flag": flag}


def cli_risk(w: World, model, a: Asked) -> dict:
    code, body, err = by_cli([str(w.daily), *model_flag(model), "--horizon", "3", "--paths", "60", "--seed", "4",
                              "--levels", "0.9", "--levels", "0.99"], a.tmp_path / "risk.json", a.capsys)
    assert code == 0, err
    return {"numbers": {k: body[k] for k in RISK_NUMBERS}, "said": err}


def risk_answer(body: dict) -> dict:
    return {"numbers": {k: body[k] for k in RISK_NUMBERS}, "said": "\n".join(body["warnings"])}


def http_risk(w: World, model, a: Asked) -> dict:
    return risk_answer(w.post("/v1/risk", {"bars_csv": w.daily.read_text(), **RISK_ASKED, "model": model}))


def mcp_risk(w: World, model, a: Asked) -> dict:
    return risk_answer(w.tool_json("risk", {"file": str(w.daily), **RISK_ASKED, "model": model}))


def app_risk(w: World, model, a: Asked) -> dict:
    """The Forecast page's Risk panel reading of its forecast for the bundled default model, as the JSON body the
    other faces answer (the panel words no flag of its own)."""
    settings, risk = risk_settings()
    bars = quality_gate(read_bars(str(w.daily)), [])[0]
    fc, _ = forecasts.run(bars, bundled_choice(), settings)
    body = risk_body(Risked(fc, bars, app_risk_panel.reading(fc, bars, risk), settings, risk, []))
    return {"numbers": {k: body[k] for k in RISK_NUMBERS}, "said": None}


def same_risk(got: dict, expected: dict, face: str) -> None:
    same_json(got["numbers"], expected["numbers"], face)
    if got["said"] is not None:
        assert f"{expected['flag']}: sample at least {PATHS_FIX[face]}" in got["said"], face


# == risk backtest: the asked model beside the standard risk models and Chronos-2 ====================================
BACKTEST_KEYS = ("tests", "volatility", "summary", "cutoffs", "model_key")
BACKTEST_ASKED = {"model": "garch", "horizon": 1, "seed": 2, "levels": [0.95], "positions": ["long"], "backtest": True,
                  "cutoffs": 30, "baselines": False, "beside": [CHRONOS2_NAME], "include_training_period": True}
BACKTEST_ARGV = ["--model", "garch", "--horizon", "1", "--seed", "2", "--levels", "0.95", "--positions", "long",
                 "--cutoffs", "30", "--no-baselines", "--beside", CHRONOS2_NAME, "--include-training-period"]


def desk_risk_backtest(w: World, model, a: Asked) -> dict:
    """No face is given a path count: each samples the risk's default, enough for the highest level's ES (issue 62,
    item 2), from its one home (``measures.default_paths``); the asked ``garch`` is the standard model, read from its
    own distribution under its own key. Chronos-2 runs beside it on the same cut-offs (its training period holds
    these dates: included)."""
    risk = RiskSettings(levels=(0.95,), positions=("long",))
    settings = ForecastSettings(horizon=1, paths=default_paths(risk.levels), seed=2)
    body = backtest_body(Desk().risk_backtest(RiskBacktestRequest(
        quality_gate(read_bars(str(w.daily)), [])[0], model, settings, risk,
        RiskBacktestPlan(cutoffs=30, baselines=False, beside=(CHRONOS2_NAME,), include_trained=True))))
    assert body["model_key"] == "garch" and body["cutoffs"] == 30
    summary = body["summary"]["long_0.95"]
    served = DEFAULT_RISK_MODEL  # no risk champion for this series: the default serves, and is always a row
    assert list(summary) == list(dict.fromkeys(["garch", CHRONOS2_NAME, served.model, served.label]))
    assert body["served_key"] == served.label
    assert summary[CHRONOS2_NAME]["paths"] == 400 and summary[CHRONOS2_NAME]["enough_paths"]
    assert summary["garch"]["paths"] is None  # its own distribution: no paths
    kupiec = next(t for t in body["tests"] if t["test"] == "kupiec_pof")
    assert kupiec["counts"]["observations"] == 30
    return {k: body[k] for k in BACKTEST_KEYS}


def cli_risk_backtest(w: World, model, a: Asked) -> dict:
    """``kronos risk --backtest``, and the same backtest asked from the walk-forward command, ``kronos evaluate
    --risk``: the same tests."""
    code, body, err = by_cli([str(w.daily), *BACKTEST_ARGV, "--backtest"], a.tmp_path / "bt.json", a.capsys)
    assert code == 0, err
    assert main(["evaluate", str(w.daily), *BACKTEST_ARGV, "--risk", "--json", str(a.tmp_path / "ev.json")]) == 0, \
        a.capsys.readouterr().err
    same_json({k: json.loads((a.tmp_path / "ev.json").read_text())[k] for k in BACKTEST_KEYS},
              {k: body[k] for k in BACKTEST_KEYS}, "kronos evaluate --risk")
    return {k: body[k] for k in BACKTEST_KEYS}


def http_risk_backtest(w: World, model, a: Asked) -> dict:
    body = w.post("/v1/risk", {"bars_csv": w.daily.read_text(), **BACKTEST_ASKED})
    return {k: body[k] for k in BACKTEST_KEYS}


def mcp_risk_backtest(w: World, model, a: Asked) -> dict:
    body = w.tool_json("risk", {"file": str(w.daily), **BACKTEST_ASKED})
    return {k: body[k] for k in BACKTEST_KEYS}


# == covariates: a forecast conditioned on another series (Chronos-2) ================================================
SPX = "S&P 500 index daily 1999-2018 (arch)"
CHRONOS2 = "chronos2-small"
COVARIATE_SETTINGS = {"horizon": 3, "paths": 20}


def chronos2_present() -> bool:
    return importlib.util.find_spec("chronos") is not None and BUNDLED_CHRONOS2.is_dir()


def conditioned_settings() -> ForecastSettings:
    return ForecastSettings(**COVARIATE_SETTINGS)


def desk_conditioned(w: World, model, a: Asked) -> pd.DataFrame:
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(w.nasdaq)), model, conditioned_settings(),
                                           covariates=CovariateOptions((SPX,))))
    assert done.forecast.provenance["conditioned_on"][0]["ref"] == SPX
    return quantile_table(done.forecast, LEVELS).reset_index(drop=True)


def cli_conditioned(w: World, model, a: Asked, covariates: tuple = (SPX,)) -> pd.DataFrame:
    out = a.tmp_path / "q.csv"
    code = main(["forecast", str(w.nasdaq), "--model", model, *[x for c in covariates for x in ("--with", c)],
                 *flags(COVARIATE_SETTINGS), "--out", str(out), "--no-ledger", "--quiet"])
    err = a.capsys.readouterr().err
    assert code == 0, err
    assert (f"note: Chronos-2 conditioned on {SPX}" if covariates else "note: Chronos-2 alone, conditioned on nothing"
            ) in err
    return pd.read_csv(out).drop(columns="timestamp")


def http_conditioned(w: World, model, a: Asked, covariates: tuple = (SPX,)) -> pd.DataFrame:
    body = w.post("/v1/forecast", {"bars_csv": w.nasdaq.read_text(), "model": model, "quantiles": LEVELS,
                                   "record": False, **({"covariates": list(covariates)} if covariates else {}),
                                   **COVARIATE_SETTINGS})
    assert [c["ref"] for c in body["provenance"]["conditioned_on"]] == list(covariates)
    return quantile_rows(body)


def mcp_conditioned(w: World, model, a: Asked, covariates: tuple = (SPX,)) -> pd.DataFrame:
    return quantile_rows(w.tool_json("forecast", {"file": str(w.nasdaq), "model": model, "quantiles": LEVELS,
                                                  "record": False, **COVARIATE_SETTINGS,
                                                  **({"covariates": list(covariates)} if covariates else {})}))


def app_conditioned(w: World, model, a: Asked, covariates: tuple = (SPX,)) -> pd.DataFrame:
    """Compare's conditioned forecast (``app_support.conditioned``) of the bars as the sidebar reads an upload."""
    done = conditioned.run(gated(w.nasdaq), conditioned_settings(), covariates)
    return quantile_table(done.forecast, LEVELS).reset_index(drop=True)


def same_conditioned(got: pd.DataFrame, expected: pd.DataFrame, face: str) -> None:
    close_tables(got, expected, face, rtol=1e-6)


def desk_alone(w: World, model, a: Asked) -> pd.DataFrame:
    """Issue 62, item 11: Chronos-2 alone is the desk's forecast conditioned on nothing, asked with no covariates."""
    file, settings = w.nasdaq, conditioned_settings()
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(file)), model, settings))  # no covariates named at all
    assert done.forecast.provenance["conditioned_on"] == []
    assert done.forecast.provenance["candles"]["repaired"] == 0  # through the seam: its candles are built valid
    assert any("this model forecasts no volume" in n.problem for n in done.notices)
    named_empty = Desk().forecast(ForecastRequest(BarsRequest(file=str(file)), model, settings,
                                                  covariates=CovariateOptions()))
    np.testing.assert_array_equal(named_empty.forecast.paths, done.forecast.paths)
    return quantile_table(done.forecast, LEVELS).reset_index(drop=True)


def alone(face: Callable) -> Callable:
    """``face``'s conditioned forecast asked with no covariates."""
    return lambda w, model, a: face(w, model, a, covariates=())


COVARIATE_PLAN = {"cutoffs": 4, "include_training_period": True}


def desk_conditioned_walk(w: World, model, a: Asked) -> float:
    done = Desk().evaluate(EvaluateRequest(BarsRequest(file=str(w.nasdaq)), model, conditioned_settings(),
                                           plan=TrustPlan(n_cutoffs=4, include_trained=True),
                                           covariates=CovariateOptions((SPX,))))
    assert done.report.out["conditioned_on"][0]["ref"] == SPX
    return done.report.out["models"]["model"]["crps"]


def http_conditioned_walk(w: World, model, a: Asked) -> float:
    body = w.post("/v1/evaluate", {"bars_csv": w.nasdaq.read_text(), "model": model, "covariates": [SPX],
                                   **COVARIATE_SETTINGS, **COVARIATE_PLAN})
    assert body["conditioned_on"][0]["ref"] == SPX
    return body["models"]["model"]["crps"]


def cli_conditioned_walk(w: World, model, a: Asked) -> float:
    out = a.tmp_path / "e.json"
    cli(["evaluate", str(w.nasdaq), "--model", model, "--with", SPX, *flags(COVARIATE_SETTINGS), "--cutoffs", "4",
         "--include-training-period", "--json", str(out)])
    body = json.loads(out.read_text())
    assert body["conditioned_on"][0]["ref"] == SPX
    return body["models"]["model"]["crps"]


def mcp_conditioned_walk(w: World, model, a: Asked) -> float:
    body = w.tool_json("evaluate", {"file": str(w.nasdaq), "model": model, "covariates": [SPX], **COVARIATE_SETTINGS,
                                    **COVARIATE_PLAN})
    assert body["conditioned_on"][0]["ref"] == SPX
    return body["models"]["model"]["crps"]


def same_crps(got: float, expected: float, face: str) -> None:
    assert got == pytest.approx(expected, rel=1e-9), face


# == the screen, rank evaluation, the watchlist retrain: many series at once =========================================
SCREEN = {"horizon": 3, "paths": 8, "seed": 11, "lookback": 48}


def screen_numbers(rows) -> pd.DataFrame:
    """A screen's numbers by series: the screening columns and the risk columns."""
    frame = pd.DataFrame(rows).set_index("series").sort_index()
    numeric = [c for c in frame.columns if c in ("p_up", "expected_return", "close_p10", "close_p50", "close_p90",
                                                 "band_width", "expected_max_drawdown")
               or c.startswith(("var_", "es_", "vol_", "p_touch_"))]
    return frame[sorted(numeric)].astype(float)


def series_body(folder) -> list[dict]:
    return [{"name": f.stem, "bars_csv": f.read_text()} for f in sorted(folder.iterdir())]


def app_settings(forecast: ForecastSettings, model=None):
    """The Screener's run settings for the sidebar's ``model`` (None: the bundled default), as it hands them over."""
    choice = app_choice(model)
    return RunSettings(choice.key, choice.label, choice.ref, choice.context, forecast)


def desk_screen(w: World, model, a: Asked) -> dict:
    done = Desk().screen(ScreenRequest(Desk.watchlist(w.watchlist), BatchSettings(ForecastSettings(**SCREEN)),
                                       model=model))
    numbers = screen_numbers(done.rows)
    assert list(numbers.index) == list(WATCHLIST_NAMES) and (done.rows["status"] == "ok").all()
    assert {"var_long_95", "es_short_99", "vol_horizon"} <= set(numbers.columns)
    return {"numbers": numbers, "problems": [n.problem for n in done.notices]}


def cli_screen(w: World, model, a: Asked) -> dict:
    out = a.tmp_path / "rows.parquet"
    cli(["batch", str(w.watchlist), "--out", str(out), "--quiet", *flags(SCREEN), *model_flag(model)])
    return {"numbers": screen_numbers(pd.read_parquet(out))}


def http_screen(w: World, model, a: Asked) -> dict:
    status, done = w.job("/v1/batch", {"series": series_body(w.watchlist), "model": model, **SCREEN})
    assert status["summary"]["forecast"] == len(WATCHLIST_NAMES) and isinstance(status["summary"]["warnings"], list)
    return {"numbers": screen_numbers(done["rows"])}


def mcp_screen(w: World, model, a: Asked) -> dict:
    done = w.tool_json("screen", {"files": [str(f) for f in sorted(w.watchlist.iterdir())], "model": model,
                                  **SCREEN})
    return {"numbers": screen_numbers(done["rows"]), "warnings": len(done["warnings"])}


def app_screen(w: World, model, a: Asked) -> dict:
    """The Screener's run."""
    done = screener.run(list(Desk.watchlist(w.watchlist)), app_settings(ForecastSettings(**SCREEN), model),
                        "the test's watchlist")
    return {"numbers": screen_numbers(done.rows), "problems": [n.problem for n in done.notices]}


def same_screen(got: dict, expected: dict, face: str) -> None:
    want = expected["numbers"]
    assert list(got["numbers"].columns) == list(want.columns), face
    np.testing.assert_allclose(got["numbers"].loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-5, err_msg=face)
    if "problems" in got:  # the notices are the desk's on every face that shows them
        assert got["problems"] == expected["problems"], face
    if "warnings" in got:
        assert got["warnings"] == len(expected["problems"]), face


WATCHLIST_NAMES = ("AAA", "BBB", "CCC", "DDD")
RANK = {"horizon": 3, "seed": 0, "lookback": 48}
RANK_PLAN = {"cutoffs": 6, "paths": (2, 4), "costs_bps": 10.0}


def rank_numbers(report: dict) -> dict:
    """Each signal's (and naive ranking's) IC, rank IC, spreads and turnover, by path count."""
    keys = ("ic_mean", "rank_ic_mean", "spread_mean", "spread_after_costs_mean", "turnover")
    out = {(paths, signal, k): s[k] for paths, by in report["signals"].items() for signal, s in by.items() for k in keys}
    out |= {("naive", name, k): s[k] for name, s in report["baselines"].items() for k in keys}
    return {k: np.nan if v is None else v for k, v in out.items()}


def desk_rank(w: World, model, a: Asked) -> dict:
    done = Desk().rank(RankRequest(Desk.watchlist(w.watchlist), ForecastSettings(**RANK), RankPlan(**RANK_PLAN),
                                   model=model))
    assert done.report["dates"] == RANK_PLAN["cutoffs"] and done.report["paths"] == [2, 4]
    assert done.report["costs_bps"] == RANK_PLAN["costs_bps"]
    return rank_numbers(done.report)


def cli_rank(w: World, model, a: Asked) -> dict:
    out = a.tmp_path / "rank.json"
    cli(["batch", str(w.watchlist), "--evaluate", "--paths", "2,4", "--cutoffs", "6", "--costs", "10", "--json",
         str(out), "--quiet", *flags(RANK), *model_flag(model)])
    return rank_numbers(json.loads(out.read_text()))


def http_rank(w: World, model, a: Asked) -> dict:
    _, done = w.job("/v1/batch", {"series": series_body(w.watchlist), "model": model, **RANK,
                                  "evaluate": {**RANK_PLAN, "paths": list(RANK_PLAN["paths"])}})
    return rank_numbers(done)


def app_rank(w: World, model, a: Asked) -> dict:
    """The Screener's "Does the ranking work?"."""
    done = rank_skill.run(list(Desk.watchlist(w.watchlist)), app_settings(ForecastSettings(**RANK, paths=30), model),
                          RankPlan(**RANK_PLAN), "the test's watchlist", {"fixes": (), "calendar": None})
    return rank_numbers(done.result.report)


def same_rank(got: dict, expected: dict, face: str) -> None:
    assert got.keys() == expected.keys(), face
    # the app computes on one thread on a machine of two cores (docs/scale.md): sums in another order, numbers equal
    # to float32's precision
    np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-5, atol=1e-5, err_msg=face)


RETRAIN = {"horizon": 4, "window": 120, "lookback": 24, "cutoffs": 5, "paths": 6, "steps": 2}


def retrain_settings() -> RetrainSettings:
    return RetrainSettings(horizon=4, window=120, lookback=24, n_cutoffs=5, paths=6, steps=2)


def decisions_by_series(rows) -> dict:
    """series -> (decision, the CRPS of the challenger, champion and base) of each series' one decision."""
    out = {}
    for r in rows:
        crps = r["crps"] if "crps" in r else {k.split(".", 1)[1]: v for k, v in r.items() if k.startswith("crps.")}
        out[r["series"]] = (r["decision"], {k: float(v) for k, v in crps.items() if v is not None})
    return out


def desk_retrain_watchlist(w: World, model, a: Asked) -> dict:
    """Each face retrains the same two series with the same settings on a ledger of its own: the seed fixes the
    training and the held-out forecasts."""
    with Ledger.open(f"sqlite:///{a.tmp_path / 'desk.sqlite'}") as ledger:
        done = Desk().retrain_watchlist(RetrainWatchlistRequest(Desk.watchlist(w.retrain_watchlist),
                                                                retrain_settings(), model=model), ledger=ledger)
    decided = decisions_by_series([{"series": o.series, **d} for o in done.outcomes for d in o.decisions])
    assert done.count("decided") == 2 and set(decided) == {"RA", "RB"}
    return decided


def cli_retrain_watchlist(w: World, model, a: Asked) -> dict:
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{a.tmp_path / 'cli.sqlite'}")
    out = a.tmp_path / "retrain.json"
    cli(["retrain", str(w.retrain_watchlist), "--model", model, "--json", str(out), *flags(RETRAIN)])
    return decisions_by_series([{"series": s["series"], **d} for s in json.loads(out.read_text())["series"]
                                for d in s["decisions"]])


def http_retrain_watchlist(w: World, model, a: Asked) -> dict:
    with own_service(f"sqlite:///{a.tmp_path / 'http.sqlite'}", a.tmp_path / "jobs") as (http, headers):
        _, done = job_result(http, headers, "/v1/retrain", {"series": series_body(w.retrain_watchlist),
                                                            "model": model, **RETRAIN})
    return decisions_by_series(done["rows"])


def same_decisions(got: dict, expected: dict, face: str) -> None:
    assert got.keys() == expected.keys(), face
    for name, (decision, crps) in expected.items():
        assert got[name][0] == decision, (face, name)
        assert got[name][1] == pytest.approx(crps, rel=1e-5), (face, name)


def retrain_decision(done: dict) -> dict:
    """A retrain's one decision, the numbers the gate decided on."""
    [decision] = done["decisions"]
    return {"decision": decision["decision"], "scores": {**{f"crps_{k}": v for k, v in decision["crps"].items()},
                                                          **{f"coverage_{k}": v for k, v in decision["coverage"].items()},
                                                          "diff_lo": decision["diff_ci95"][0]}}


def desk_retrain(w: World, model, a: Asked) -> dict:
    with Ledger.open(f"sqlite:///{a.tmp_path / 'desk.sqlite'}") as ledger:
        done = Desk().retrain(RetrainRequest(BarsRequest(file=str(w.retrain_file)), model, retrain_settings()),
                              ledger=ledger)
        return retrain_decision(done.run().to_dict())


def cli_retrain(w: World, model, a: Asked) -> dict:
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{a.tmp_path / 'cli.sqlite'}")
    out = a.tmp_path / "retrain.json"
    cli(["retrain", str(w.retrain_file), "--model", model, "--json", str(out), *flags(RETRAIN)])
    return retrain_decision(json.loads(out.read_text()))


def mcp_retrain(w: World, model, a: Asked) -> dict:
    server = create_server([w.root], ledger_url=f"sqlite:///{a.tmp_path / 'mcp.sqlite'}")
    return retrain_decision(w.tool_json("retrain", {"file": str(w.retrain_file), "model": model, **RETRAIN}, server))


def app_retrain(w: World, model, a: Asked) -> dict:
    """The Fine-tune page's "Retrain now" (``app_support.lineage.retrain_now``) on the sidebar's bundled model, its
    "Retrain settings" set as the other faces ask."""
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{a.tmp_path / 'app.sqlite'}")
    options = {k: v for k, v in dataclasses.asdict(retrain_settings()).items() if k not in ("horizon", "include_training_period")}
    decision = retrain_now(bundled_choice(), gated(w.retrain_file), RETRAIN["horizon"], options=options)
    return retrain_decision({"decisions": [decision]})


def same_decision(got: dict, expected: dict, face: str) -> None:
    assert got["decision"] == expected["decision"], face
    assert got["scores"].keys() == expected["scores"].keys(), face
    for name, value in expected["scores"].items():
        if isinstance(value, float):
            assert got["scores"][name] == pytest.approx(value, rel=1e-5), (face, name)


# == Compare's backtest, fine-tuning, the ensemble fitted to a series ================================================
def compare_request(w: World):
    bars = gated(w.par)
    choices = [c for c in catalog() if c.bundled][:2]
    assert len(choices) == 2
    cutoff = bars.frame["timestamp"].iloc[-10]  # the last bar the models see: 9 after it, 3 of them scored
    return bars, choices, ForecastSettings(**SETTINGS, lookback=48), cutoff, ComparePlan(n_cutoffs=4)


def desk_compare(w: World, kind, a: Asked):
    bars, choices, settings, cutoff, plan = compare_request(w)
    done = Desk().compare_backtest(CompareBacktestRequest(bars, tuple(choices), settings, cutoff, plan))
    assert len(done.window.history) == len(bars) - 9 and len(done.window.actual) == SETTINGS["horizon"]
    assert done.cutoffs[0] == len(done.window.history) and len(done.cutoffs) == 4 and not done.errors
    assert done.results.keys() == {c.label for c in choices}
    return done


def app_compare(w: World, kind, a: Asked):
    """The Compare page's backtest."""
    bars, choices, settings, cutoff, plan = compare_request(w)
    return compare.run_backtest(compare.request(bars, choices, settings, cutoff, plan))


def same_compare(got, expected, face: str) -> None:
    assert got.cutoffs == expected.cutoffs and got.results.keys() == expected.results.keys(), face
    for name in expected.results:
        np.testing.assert_allclose(got.results[name].crps, expected.results[name].crps, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(got.shown[name].paths, expected.shown[name].paths, rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(got.baseline.crps, expected.baseline.crps, rtol=1e-5)


FINE_TUNE = FineTunePlan(steps=2, batch_size=2, window=40, eval_cutoffs=2)
FINE_TUNE_SETTINGS = ForecastSettings(horizon=4, paths=2, seed=0)


def adapter_weights(folder) -> dict:
    from safetensors.numpy import load_file

    return {f.name: load_file(f) for f in sorted(folder.glob("*.safetensors")) if not f.name.startswith("train_state")}


def tuned(folder, table: pd.DataFrame) -> dict:
    return {"weights": adapter_weights(folder), "table": table}


def adapter_out(a: Asked, face: str):
    return a.tmp_path / face / "ad"  # one adapter name: the tables' labels


def desk_fine_tune(w: World, kind, a: Asked) -> dict:
    done = Desk().fine_tune(FineTuneRequest((BarsRequest(file=str(w.par)),), FINE_TUNE_SETTINGS,
                                            str(adapter_out(a, "desk")), plan=FINE_TUNE))
    [table] = [r.table() for r in done.evaluations.values()]
    got = tuned(adapter_out(a, "desk"), table)
    assert got["weights"]
    return got


def cli_fine_tune(w: World, kind, a: Asked) -> dict:
    cli(["train", "lora", "--data", str(w.par), "--out", str(adapter_out(a, "cli")), "--steps", "2", "--batch-size",
         "2", "--window", "40", "--eval-cutoffs", "2", "--horizon", "4", "--paths", "2", "--quiet"])
    return tuned(adapter_out(a, "cli"), pd.read_csv(adapter_out(a, "cli") / "before_after.csv").set_index("model"))


def app_fine_tune(w: World, kind, a: Asked) -> dict:
    """The Fine-tune page's run."""
    done = fine_tuning.run(gated(w.par), bundled_choice(), FINE_TUNE_SETTINGS, FINE_TUNE, adapter_out(a, "app"),
                           bundled_calendar())
    [table] = [r.table() for r in done.evaluations.values()]
    return tuned(adapter_out(a, "app"), table)


def same_adapter(got: dict, expected: dict, face: str) -> None:
    assert got["weights"].keys() == expected["weights"].keys(), face
    for name, tensors in expected["weights"].items():
        for tensor in tensors:
            np.testing.assert_allclose(got["weights"][name][tensor], tensors[tensor], rtol=1e-5, err_msg=face)
    assert list(got["table"].index) == list(expected["table"].index), face
    columns = ["crps_pct", "coverage_p10_p90"]
    np.testing.assert_allclose(got["table"][columns].to_numpy(), expected["table"][columns].to_numpy(), rtol=1e-5,
                               err_msg=face)


ENSEMBLE_SETTINGS = ForecastSettings(horizon=5, paths=12)
WHERE = {"timezone": "UTC", "calendar": "XNYS"}


def stacking(meta) -> dict:
    groups = meta.combinations["stacking"]["weights"]
    return {"weights": groups.get("all") or next(iter(groups.values())),
            "validation_crps_pct": meta.info["validation_crps_pct"]}


def desk_fit_ensemble(w: World, kind, a: Asked) -> dict:
    done = Desk().fit_ensemble(FitEnsembleRequest(BarsRequest(file=str(w.walk), **WHERE), ENSEMBLE_SETTINGS,
                                                  n_cutoffs=30))
    assert done.meta.info["provenance"]["cutoffs"] == 30  # stacking needs about 30 (its validation share)
    fitted = stacking(done.meta)
    assert set(fitted["weights"]) == set(done.members)
    return fitted


def cli_fit_ensemble(w: World, kind, a: Asked) -> dict:

    cli(["train", "ensemble", str(w.walk), "--horizon", "5", "--paths", "12", "--cutoffs", "30", "--timezone", "UTC",
         "--calendar", "XNYS", "--out", str(a.tmp_path / "cli")])
    return stacking(MetaLearner.load(a.tmp_path / "cli"))


def app_fit_ensemble(w: World, kind, a: Asked) -> dict:
    """The Evaluate page's fit."""
    done = ensemble.fit(FitEnsembleRequest(gated(w.walk, **WHERE), ENSEMBLE_SETTINGS, bundled_choice().ensemble_of(),
                                           n_cutoffs=30))
    return stacking(done.meta)


def same_weights(got: dict, expected: dict, face: str) -> None:
    want = expected["weights"]
    assert got["weights"].keys() == want.keys(), face
    np.testing.assert_allclose([got["weights"][k] for k in want], list(want.values()), atol=1e-6, err_msg=face)
    assert got["validation_crps_pct"] == pytest.approx(expected["validation_crps_pct"], rel=1e-5), face


# == the ledger: recording, scoring, the risk record, the track record, its forecasts and steps, drift ===============
STEP_COLUMNS = ["step", "close_p10", "close_p50", "close_p90", "actual_close", "crps", "covered", "pit"]
REALIZED = ["model", "forecasts", "scored", "steps", "coverage", "crps_pct", "direction_hit"]
EARLY = 160


def frame_of(records: list[dict], columns) -> pd.DataFrame:
    return pd.DataFrame(records)[list(columns)].reset_index(drop=True)


def same_frame(got: pd.DataFrame, expected: pd.DataFrame, columns, face: str) -> None:
    """Two tables' ``columns`` equal, rows in the same order (numbers to float precision)."""
    assert len(got) == len(expected), face
    for c in columns:
        x, y = got[c].reset_index(drop=True), expected[c].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=1e-7, err_msg=f"{face} {c}")
        else:
            assert list(x) == list(y), f"{face} {c}"


def steps_of(url: str, scored_only: bool) -> pd.DataFrame:
    with open_ledger(url) as ledger:
        table = ledger.steps_frame(scored_only=scored_only)
    return table.sort_values(["prediction_id", "step"]).reset_index(drop=True)


def own_url(a: Asked, face: str) -> str:
    return f"sqlite:///{a.tmp_path / face}.sqlite"


def record_files(a: Asked):
    """A series' early bars and its newer bars, as two files of one name."""
    early, full = a.tmp_path / "early" / "PAR.csv", a.tmp_path / "full" / "PAR.csv"
    if not full.exists():
        bars = random_bars(200, seed=8, freq="1h", start="2026-03-02")
        for path, rows in ((early, bars.head(EARLY)), (full, bars)):
            path.parent.mkdir()
            rows.to_csv(path, index=False)
    return early, full


def desk_record(w: World, model, a: Asked) -> pd.DataFrame:
    """Each face forecasts a series' early bars, then its newer bars, with the bundled model, into a ledger of its
    own: the same two forecasts kept under the series' name, and the second's bars scored the first the same way
    before it was kept (``Desk.record``)."""
    desk, url = Desk(), own_url(a, "desk")
    with open_ledger(url, "default") as ledger:
        lines = []
        for path in record_files(a):
            made = desk.forecast(ForecastRequest(BarsRequest(file=str(path)), model, ForecastSettings(**SETTINGS)),
                                 ledger=ledger)
            lines.append(desk.record(RecordRequest(made.forecast, made.bars), ledger=ledger))
    assert [r.new for r in lines] == [True, True] and lines[1].scored_forecasts == 1
    assert lines[1].scored_steps == SETTINGS["horizon"] and lines[0].symbol == "PAR"
    kept = steps_of(url, scored_only=False)
    assert set(kept["symbol"]) == {"PAR"} and kept["crps"].notna().sum() == SETTINGS["horizon"]
    return kept


def cli_record(w: World, model, a: Asked) -> pd.DataFrame:
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", own_url(a, "cli"))
    for path in record_files(a):
        cli(["forecast", str(path), "--out", str(a.tmp_path / "q.csv"), "--quiet", *flags(SETTINGS)])
    assert f"; these bars scored {SETTINGS['horizon']} steps of 1 earlier forecast" in a.capsys.readouterr().err
    return steps_of(own_url(a, "cli"), scored_only=False)


def http_record(w: World, model, a: Asked) -> pd.DataFrame:
    with own_service(own_url(a, "http"), a.tmp_path / "jobs") as (http, headers):
        for path in record_files(a):
            answer = http.post("/v1/forecast", json={"bars_csv": path.read_text(), "symbol": "PAR", **SETTINGS},
                               headers=headers)
            assert answer.status_code == 200, answer.text
    return steps_of(own_url(a, "http"), scored_only=False)


def mcp_record(w: World, model, a: Asked) -> pd.DataFrame:
    server = create_server([a.tmp_path], ledger_url=own_url(a, "mcp"))
    for path in record_files(a):
        w.tool_json("forecast", {"file": str(path), "symbol": "PAR", **SETTINGS}, server)
    return steps_of(own_url(a, "mcp"), scored_only=False)


def app_record(w: World, model, a: Asked) -> pd.DataFrame:
    """The Forecast page's run, then its recording (``app_support.ledger.record``)."""
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", own_url(a, "app"))
    for path in record_files(a):
        bars = gated(path)
        fc, _ = forecasts.run(bars, bundled_choice(), ForecastSettings(**SETTINGS))
        assert app_ledger.record(fc, bars) is not None
    return steps_of(own_url(a, "app"), scored_only=False)


def same_kept(got: pd.DataFrame, expected: pd.DataFrame, face: str) -> None:
    same_frame(got, expected, ["symbol", "model", *STEP_COLUMNS], face)


def desk_score(w: World, kind, a: Asked) -> dict:
    """The same unscored ledger, one copy per face, scored with the same newer bars: the same report and the same
    scores (each face reads the bars through the quality gate)."""
    populate_regime(url := own_url(a, "desk"), scored=False)
    [done] = w.desk("score", ScoreRequest(BarsRequest(file=str(w.regime))), url=url).series
    assert done.steps > 0 and done.predictions == len(ORIGINS) + len(EARLIER) + 1
    return {"steps": steps_of(url, scored_only=True), "done": done}


def cli_score(w: World, kind, a: Asked) -> dict:
    populate_regime(url := own_url(a, "cli"), scored=False)
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    cli(["ledger", "score", str(w.regime)])
    return {"steps": steps_of(url, scored_only=True), "said": a.capsys.readouterr().err}


def http_score(w: World, kind, a: Asked) -> dict:
    populate_regime(url := own_url(a, "http"), scored=False)
    with own_service(url, a.tmp_path / "jobs") as (http, headers):
        answer = http.post("/v1/ledger/score", json={"bars_csv": w.regime.read_text(), "symbol": "REGIME"},
                           headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {"steps": steps_of(url, scored_only=True), "counts": (body["predictions"], body["steps"], body["completed"])}


def app_score(w: World, kind, a: Asked) -> dict:
    """A page's scoring of the bars it loads (``app_support.ledger.score``)."""
    populate_regime(url := own_url(a, "app"), scored=False)
    a.monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    app_ledger.score(gated(w.regime))
    return {"steps": steps_of(url, scored_only=True)}


def same_scored(got: dict, expected: dict, face: str) -> None:
    same_frame(got["steps"], expected["steps"], ["prediction_id", *STEP_COLUMNS], face)
    done = expected["done"]
    if "said" in got:
        assert (f"REGIME.csv (REGIME 1h): scored {done.steps:,} steps of {done.predictions} forecasts "
                f"({done.completed} now scored on every step)") in got["said"], face
    if "counts" in got:
        assert got["counts"] == (done.predictions, done.steps, done.completed), face


RECORD_RISK = {"levels": [0.8, 0.95], "positions": ["long"]}
RECORD_NUMBERS = ("levels", "positions", "experiments_left_out", "tests", "forecasts")


def desk_risk_record(w: World, kind, a: Asked) -> dict:
    """The ledger's risk record of the AAPL forecasts: 30 scored, every other one overlapping."""
    with Ledger.open(w.url) as ledger:
        direct = Desk.risk_record(ledger, RiskSettings(levels=(0.8, 0.95), positions=("long",)), symbol=w.aapl)
    body = record_body(direct)
    assert body["tests"][0]["scored"] == 30 and body["tests"][0]["used"] == 15  # every other one overlaps
    with Ledger.open(w.url) as ledger:  # the service names forecasts by their public ids, the desk by the ledger's
        public = forecast_ids(ledger, [f["prediction_id"] for f in body["forecasts"]])
    # 30 paths leave 1 or 2 beyond a 0.95 VaR: the same flag on every face, the fix naming paths its own way
    return {"numbers": {k: body[k] for k in RECORD_NUMBERS}, "public": public,
            "flag": next(n.problem for n in direct.notices if "0.95 ES rests on" in n.problem)}


def cli_risk_record(w: World, kind, a: Asked) -> dict:
    out = a.tmp_path / "exceptions.json"
    code = main(["ledger", "exceptions", "--levels", "0.8", "--levels", "0.95", "--positions", "long", "--symbol",
                 w.aapl, "--json", str(out)])
    printed = a.capsys.readouterr()
    assert code == 0, printed.err
    body = json.loads(out.read_text())
    # stdout: the desk's worded table (``ledger_tables.exceptions_table``), a row per position and level
    header, *rows = [re.split(r"\s{2,}", line.strip()) for line in printed.out.splitlines()
                     if line.startswith(("workspace ", "default "))]
    rows = sorted((dict(zip(header, r, strict=True)) for r in rows), key=lambda r: r["VaR level"])
    assert [(r["position"], r["VaR level"], r["exceptions / forecasts"], r["expected"], r["left out for overlap"])
            for r in rows] == [("long", f"{t['level']:g}", f"{t['exceptions']} / 15", f"{t['expected']:.2f}", "15")
                               for t in sorted(body["tests"], key=lambda t: t["level"])]
    return {"numbers": {k: body[k] for k in RECORD_NUMBERS}, "said": printed.err, "fix": "--paths 400"}


def http_risk_record(w: World, kind, a: Asked) -> dict:
    query = {**RECORD_RISK, "symbol": w.aapl}
    answer = w.get("/v1/ledger/track-record", query)
    without = w.get("/v1/ledger/track-record", {"symbol": w.aapl, "exceptions": False})
    assert answer.status_code == 200, answer.text
    # a client that polls the track record can leave out the exceptions (they read every scored forecast's paths)
    assert without.status_code == 200 and without.json()["exceptions"] is None
    assert without.json()["models"] == answer.json()["models"]
    body = answer.json()["exceptions"]
    return {"numbers": {k: body[k] for k in RECORD_NUMBERS}, "public": True, "said": "\n".join(body["warnings"]),
            "fix": '"paths": 400'}


def mcp_risk_record(w: World, kind, a: Asked) -> dict:
    body = w.tool_json("track_record", {**RECORD_RISK, "symbol": w.aapl})["exceptions"]
    return {"numbers": {k: body[k] for k in RECORD_NUMBERS}, "public": True}


def same_risk_record(got: dict, expected: dict, face: str) -> None:
    want = expected["numbers"]
    if got.get("public"):
        want = {**want, "forecasts": [{**f, "prediction_id": expected["public"][f["prediction_id"]]}
                                      for f in want["forecasts"]]}
    assert got["numbers"] == want, face
    if "said" in got:
        assert f"{expected['flag']}: sample at least {got['fix']}" in got["said"], face


TRACK_ASKS = ({}, {"models": ("calm",)}, {"include_experiments": True})


def desk_track_record(w: World, asked: dict, a: Asked):
    w.regime  # noqa: B018 (its forecasts kept)
    done = w.desk("track_record", TrackRecordRequest(symbol="REGIME", **asked))
    assert done.experiments_left_out == (0 if asked.get("include_experiments") else 1)
    assert set(done.models["model"]) == set(asked.get("models", ("calm", "earlier")))
    return done


def track_query(asked: dict) -> dict:
    return {"symbol": "REGIME", "exceptions": False, **({"model": list(asked["models"])} if "models" in asked else {}),
            **({"include_experiments": True} if "include_experiments" in asked else {})}


def http_track_record(w: World, asked: dict, a: Asked) -> dict:
    answer = w.get("/v1/ledger/track-record", track_query(asked))
    assert answer.status_code == 200, answer.text
    return answer.json()


def mcp_track_record(w: World, asked: dict, a: Asked) -> dict:
    return w.tool_json("track_record", track_query(asked))


def app_track_record(w: World, asked: dict, a: Asked) -> dict:
    """The realized track record under the badge and on the Evaluate page (``app_support.ledger.realized``)."""
    bars = cut(regime_series(), SCORE_AT)
    return {"app": {model: app_ledger.realized(bars, model) for model in asked.get("models", ("calm", "earlier"))}}


def same_track_record(got: dict, expected, face: str) -> None:
    if "app" in got:
        rows = expected.models.set_index("model")
        for model, realized in got["app"].items():
            assert realized["scored"] == rows.loc[model, "scored"], face
            assert realized["crps_pct"] == pytest.approx(rows.loc[model, "crps_pct"]), face
        return
    assert got["experiments_left_out"] == expected.experiments_left_out, face
    same_frame(frame_of(got["models"], REALIZED), expected.models, REALIZED, face)
    assert [s["symbol"] for s in got["series"]] == list(expected.series["symbol"]), face


def app_track_record_rows(kinds) -> Only:
    # the app's realized record leaves experiments out: the ask that includes them is not the app's
    return Only(kinds, app_track_record, "the app's realized record always leaves experiments out")


STEPS_QUERY = {"symbol": "REGIME", "models": ("earlier",)}
STEPS_PARAMS = {"symbol": "REGIME", "model": ["earlier"]}


def desk_steps(w: World, kind, a: Asked) -> dict:
    w.regime  # noqa: B018 (its forecasts kept)
    predictions = w.desk("predictions", LedgerQuery(**STEPS_QUERY)).predictions
    steps = w.desk("steps", StepsRequest(**STEPS_QUERY, scored_only=True))
    assert len(predictions) == len(EARLIER) and steps.forecasts == len(EARLIER) and steps.scored == len(steps.steps)
    return {"predictions": predictions, "steps": steps.steps, "scored": steps.scored}


def http_steps(w: World, kind, a: Asked) -> dict:
    predictions = w.get("/v1/ledger/predictions", STEPS_PARAMS)
    steps = w.get("/v1/ledger/evaluations", STEPS_PARAMS)
    assert predictions.status_code == 200 and steps.status_code == 200, (predictions.text, steps.text)
    return {"predictions": frame_of(predictions.json()["predictions"], ["crps", "coverage", "scored_steps"]),
            "steps": frame_of(steps.json()["evaluations"], STEP_COLUMNS)}


def cli_steps(w: World, kind, a: Asked) -> dict:
    """``kronos ledger export``: the steps alone, and their counts said."""
    out = a.tmp_path / "steps.parquet"
    cli(["ledger", "export", "--out", str(out), "--symbol", "REGIME", "--model", "earlier", "--scored-only"])
    return {"steps": pd.read_parquet(out), "said": a.capsys.readouterr().err}


def same_steps(got: dict, expected: dict, face: str) -> None:
    if "predictions" in got:
        columns = ["crps", "coverage", "scored_steps"]
        same_frame(got["predictions"], expected["predictions"], columns, f"{face} predictions")
    same_frame(got["steps"], expected["steps"], STEP_COLUMNS, f"{face} steps")
    if "said" in got:
        assert f"({len(EARLIER)} forecasts, {expected['scored']} steps scored)" in got["said"], face


def desk_drift(w: World, kind, a: Asked) -> dict:
    w.regime  # noqa: B018 (its forecasts kept)
    every = [d.to_dict() for d in w.desk("drift", DriftRequest(symbol="REGIME", last=25), workspace=None).drifts]
    assert {d["model"] for d in every} == {"calm", "earlier"} and any(d["state"] == "drifting" for d in every)
    # the app judges the newest DRIFT_LAST (its page offers no window): the desk's, asked the same
    newest = w.desk("drift", DriftRequest(source="file", symbol="REGIME", interval="1h", models=("calm", "earlier")))
    return {"last_25": every, "newest": [d.to_dict() for d in newest.drifts]}


def cli_drift(w: World, kind, a: Asked) -> dict:
    out = a.tmp_path / "drift.json"
    cli(["ledger", "drift", "--symbol", "REGIME", "--last", "25", "--json", str(out)])
    a.capsys.readouterr()
    return {"last_25": json.loads(out.read_text())}


def http_drift(w: World, kind, a: Asked) -> dict:
    answer = w.get("/v1/ledger/drift", {"symbol": "REGIME", "last": 25})
    assert answer.status_code == 200 and answer.json()["last"] == 25, answer.text
    return {"last_25": answer.json()["drift"]}


def app_drift(w: World, kind, a: Asked) -> dict:
    """The Track record page's drift table (``app_support.drift.series_drift``)."""
    with open_ledger(w.url, "default") as book:
        return {"newest": [d.to_dict() for d in series_drift(book, ("file", "REGIME", "1h"),
                                                             ("calm", "earlier")).drifts]}


def same_drift(got: dict, expected: dict, face: str) -> None:
    for window, drifts in got.items():
        assert drifts == expected[window], (face, window)


# == refusals: one problem, each face naming the setting its own way ==================================================
@dataclasses.dataclass(frozen=True)
class Refused:
    """A face's refusal: the problem it must state, where (its message), and what else it must say."""

    text: str
    says: tuple = ()
    exact: bool = False  # the face's message is the problem itself
    prefix: str = ""  # what the face puts right before the problem


def desk_refused(make: Callable) -> UserError:
    with pytest.raises(UserError) as refused:
        make()
    return refused.value


def same_refusal(got: Refused, expected, face: str) -> None:
    problem = expected.problem.splitlines()[0]
    if got.exact:
        assert got.text == expected.problem, (face, got.text)
    assert f"{got.prefix}{problem}" in got.text, (face, got.text)
    for said in got.says:
        assert said in got.text, (face, said, got.text)


def long_lookback() -> dict:
    return {**SETTINGS, "lookback": 900}  # longer than the bars


def desk_forecast_refusal(w: World, model, a: Asked):
    return desk_refused(lambda: w.desk("forecast", ForecastRequest(BarsRequest(file=str(w.par)), model,
                                                                   ForecastSettings(**long_lookback()))))


def cli_forecast_refusal(w: World, model, a: Asked) -> Refused:
    code = main(["forecast", str(w.par), "--out", "never.csv", "--no-ledger", "--quiet", *flags(long_lookback()),
                 *model_flag(model)])
    assert code == 2
    return Refused(a.capsys.readouterr().err)


def http_forecast_refusal(w: World, model, a: Asked) -> Refused:
    answer = w.http.post("/v1/forecast", headers=w.headers, json={"bars_csv": w.par.read_text(), "symbol": "PAR",
                                                                  "model": model, "record": False, **long_lookback()})
    assert answer.status_code == 422, answer.text
    return Refused(answer.json()["problem"], exact=True)


def mcp_forecast_refusal(w: World, model, a: Asked) -> Refused:
    failed, text = w.tool("forecast", {"file": str(w.par), "model": model, "record": False, **long_lookback()})
    assert failed, text
    return Refused(text)


def app_forecast_refusal(w: World, model, a: Asked) -> Refused:
    """The Forecast page's run refuses with the desk's problem (the page words its fix by the control)."""
    with pytest.raises(UserError) as refused:
        forecasts.run(gated(w.par), app_choice(model), ForecastSettings(**long_lookback()))
    return Refused(refused.value.problem, exact=True)


def desk_batch_refusal(w: World, ask: str, a: Asked):
    """A screen or a rank evaluation of the ensemble (weighed for one series): refused before any series is read."""
    if ask == "screen":
        return desk_refused(lambda: Desk().screen(ScreenRequest(
            Desk.watchlist(w.watchlist), BatchSettings(ForecastSettings(**SCREEN)), model="ensemble")))
    return desk_refused(lambda: Desk().rank(RankRequest(Desk.watchlist(w.watchlist), ForecastSettings(**RANK),
                                                        RankPlan(**RANK_PLAN), model="ensemble")))


RANK_FLAGS = ["--evaluate", "--paths", "2,4", "--cutoffs", "6"]


def cli_batch_refusal(w: World, ask: str, a: Asked) -> Refused:
    asked = ["--out", str(a.tmp_path / "never.parquet"), *flags(SCREEN)] if ask == "screen" else [
        "--json", str(a.tmp_path / "never.json"), *flags(RANK), *RANK_FLAGS]
    code = main(["batch", str(w.watchlist), "--quiet", "--model", "ensemble", *asked])
    assert code == 2
    return Refused(a.capsys.readouterr().err)


def http_batch_refusal(w: World, ask: str, a: Asked) -> Refused:
    body = {"series": series_body(w.watchlist), "model": "ensemble", **(SCREEN if ask == "screen" else RANK)}
    if ask == "rank":
        body["evaluate"] = {**RANK_PLAN, "paths": list(RANK_PLAN["paths"])}
    submitted = w.http.post("/v1/batch", json=body, headers=w.headers)
    if submitted.status_code == 422:
        return Refused(submitted.json()["problem"], exact=True)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["id"]
    while (status := w.http.get(f"/v1/jobs/{job}", headers=w.headers).json())["status"] not in ("done", "failed"):
        time.sleep(0.2)
    assert status["status"] == "failed", status
    return Refused(status["error"])


def mcp_batch_refusal(w: World, ask: str, a: Asked) -> Refused:
    failed, text = w.tool("screen", {"files": [str(f) for f in sorted(w.watchlist.iterdir())], "model": "ensemble",
                                     **SCREEN})
    assert failed, text
    return Refused(text)


BAD_LEVELS = {"model": "garch", "horizon": 3, "levels": [0.95, 1.5]}
LEVELS_FIX = "between 0.5 and 0.9999 (exclusive)"
BAD_LEVELS_PROBLEM = "VaR/ES levels must lie between 0.5 and 0.9999 (exclusive), got [0.95, 1.5]"


def desk_risk_refusal(w: World, model, a: Asked):
    refused = desk_refused(lambda: RiskSettings(levels=(0.95, 1.5)))
    assert refused.problem == BAD_LEVELS_PROBLEM
    return refused


def cli_risk_refusal(w: World, model, a: Asked) -> Refused:
    code, _, err = by_cli([str(w.daily), "--model", model, "--horizon", "3", "--levels", "0.95", "--levels", "1.5"],
                          a.tmp_path / "no.json", a.capsys)
    assert code == 2 and not (a.tmp_path / "no.json").exists()
    assert err.startswith(f"kronos: error: {BAD_LEVELS_PROBLEM}: give each of --levels {LEVELS_FIX}"), err
    return Refused(err, prefix="kronos: error: ")


def http_risk_refusal(w: World, model, a: Asked) -> Refused:
    answer = w.http.post("/v1/risk", headers=w.headers, json={"bars_csv": w.daily.read_text(), **BAD_LEVELS})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == f'{BAD_LEVELS_PROBLEM}: give each of the field "levels" {LEVELS_FIX}'
    return Refused(answer.json()["problem"], exact=True)


def mcp_risk_refusal(w: World, model, a: Asked) -> Refused:
    failed, text = w.tool("risk", {"file": str(w.daily), **BAD_LEVELS})
    assert failed and text.endswith(f'{BAD_LEVELS_PROBLEM}: give each of the field "levels" {LEVELS_FIX}'), text
    return Refused(text)


def desk_record_refusal(w: World, kind, a: Asked):
    return desk_refused(lambda: RiskSettings(levels=(1.5,)))


def cli_record_refusal(w: World, kind, a: Asked) -> Refused:
    assert main(["ledger", "exceptions", "--levels", "1.5"]) == 2
    err = a.capsys.readouterr().err
    assert err.startswith("kronos: error: VaR/ES levels"), err
    return Refused(err, ("give each of --levels between 0.5 and 0.9999",), prefix="kronos: error: ")


def http_record_refusal(w: World, kind, a: Asked) -> Refused:
    answer = w.get("/v1/ledger/track-record", {"levels": [1.5]})
    assert answer.status_code == 422, answer.text
    return Refused(answer.json()["problem"], exact=True)


def mcp_record_refusal(w: World, kind, a: Asked) -> Refused:
    failed, text = w.tool("track_record", {"levels": [1.5]})
    assert failed, text
    return Refused(text)


NO_BAR = "AAPL daily 2000-2013 (bundled)"  # ends in 2013, the target starts in 2017
NO_SAMPLE = "sample:No such series"
COVARIATE_PROBLEMS = {NO_BAR: "no bar within the target's history",
                      NO_SAMPLE: "there is no bundled sample named 'No such series'"}
COVARIATE_REFUSALS = tuple(COVARIATE_PROBLEMS)


def desk_covariate_refusal(w: World, covariate: str, a: Asked):
    refused = desk_refused(lambda: Desk().forecast(ForecastRequest(
        BarsRequest(file=str(w.nasdaq)), CHRONOS2, conditioned_settings(), covariates=CovariateOptions((covariate,)))))
    assert isinstance(refused, InputError) and refused.fix[0].setting == "covariates"
    assert COVARIATE_PROBLEMS[covariate] in refused.problem
    return refused


def cli_covariate_refusal(w: World, covariate: str, a: Asked) -> Refused:
    code = main(["forecast", str(w.nasdaq), "--model", CHRONOS2, "--with", covariate, *flags(COVARIATE_SETTINGS),
                 "--out", str(a.tmp_path / "q.csv"), "--no-ledger", "--quiet"])
    err = a.capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    return Refused(err, ("--with",))


def http_covariate_refusal(w: World, covariate: str, a: Asked) -> Refused:
    answer = w.http.post("/v1/forecast", headers=w.headers, json={
        "bars_csv": w.nasdaq.read_text(), "model": CHRONOS2, "covariates": [covariate], "quantiles": LEVELS,
        "record": False, **COVARIATE_SETTINGS})
    assert answer.status_code == 422, answer.text
    return Refused(answer.json()["detail"], ('the field "covariates"',))


def mcp_covariate_refusal(w: World, covariate: str, a: Asked) -> Refused:
    failed, text = w.tool("forecast", {"file": str(w.nasdaq), "model": CHRONOS2, "covariates": [covariate],
                                       "quantiles": LEVELS, "record": False, **COVARIATE_SETTINGS})
    assert failed, text
    return Refused(text)


# (the desk's request, the CLI's argv, the HTTP GET, the MCP tool's arguments or None), by name
LEDGER_REFUSALS = {
    "since": (lambda w: LedgerQuery(since="someday"), ["ledger", "export", "--out", "x.parquet", "--since", "someday"],
              ("/v1/ledger/predictions", {"since": "someday"}), {"since": "someday"}),
    "last": (lambda w: w.desk("drift", DriftRequest(last=5)), ["ledger", "drift", "--last", "5"],
             ("/v1/ledger/drift", {"last": 5}), None),
    "models": (lambda w: TrackRecordRequest(models=("calm", "calm")),
               ["ledger", "drift", "--model", "calm", "--model", "calm"],
               ("/v1/ledger/track-record", {"model": ["calm", "calm"]}), {"model": ["calm", "calm"]}),
    # the ledger's word for every replay's rows names no one replay: a view would mix them with the live ones
    "replay": (lambda w: LedgerQuery(replay="*"), ["ledger", "exceptions", "--replay", "*"],
               ("/v1/ledger/predictions", {"replay": "*"}), {"replay": "*"}),
}


def desk_ledger_refusal(w: World, case: str, a: Asked):
    return desk_refused(lambda: LEDGER_REFUSALS[case][0](w))


def cli_ledger_refusal(w: World, case: str, a: Asked) -> Refused:
    argv = LEDGER_REFUSALS[case][1]
    assert main(argv) == 2, argv
    return Refused(a.capsys.readouterr().err, prefix="kronos: error: ")


def http_ledger_refusal(w: World, case: str, a: Asked) -> Refused:
    path, params = LEDGER_REFUSALS[case][2]
    answer = w.get(path, params)
    assert answer.status_code == 422, answer.text
    return Refused(answer.json()["problem"], exact=True)


def mcp_ledger_refusal(w: World, case: str, a: Asked) -> Refused:
    failed, text = w.tool("track_record", LEDGER_REFUSALS[case][3])
    assert failed, text
    return Refused(text)


# == the matrix ======================================================================================================
@dataclasses.dataclass(frozen=True)
class Row:
    """A use case: the model kinds (or asks) it offers, each face's caller (or why it has none) and how a face's
    numbers are compared with the desk's."""

    kinds: tuple
    faces: dict
    same: Callable
    slow: bool = False
    needs_chronos2: bool = False
    broken: tuple = ()  # (kind, the exception the desk raises, why): a known failure, to be fixed below the faces


SCREENER_MODELS = ("the Screener offers neither the ensemble (tests/app/test_screener.py::"
                   "test_the_ensemble_is_not_offered_for_screening) nor a statistical model")
NO_MCP_SCORE = NotOffered("the MCP server has no tool that scores newer bars (its tools: forecast, evaluate, risk, "
                          "screen, retrain, track_record)")
PAGE_ONLY = NotOffered("a page of the app alone")

ROWS: dict[str, Row] = {
    "forecast": Row(MODELS, {
        "desk": desk_forecast, "cli": cli_forecast, "http": http_forecast, "mcp": mcp_forecast,
        "app": Only((None, "champion", "ensemble"), app_forecast, "the sidebar offers no statistical model")},
        close_tables),
    "evaluate": Row(MODELS, {
        "desk": desk_evaluate, "cli": cli_evaluate, "http": http_evaluate, "mcp": mcp_evaluate,
        "app": NotOffered("the Evaluate page shows the trust report: the trust row")}, same_scores),
    "trust": Row((None,), {
        "desk": desk_trust, "cli": cli_trust, "http": http_trust, "mcp": mcp_trust, "app": app_trust}, same_trust),
    "risk": Row((BUNDLED, "garch"), {
        "desk": desk_risk, "cli": cli_risk, "http": http_risk, "mcp": mcp_risk,
        "app": Only((BUNDLED,), app_risk, "the sidebar offers no statistical model")}, same_risk),
    "risk backtest": Row(("garch",), {
        "desk": desk_risk_backtest, "cli": cli_risk_backtest, "http": http_risk_backtest, "mcp": mcp_risk_backtest,
        "app": NotOffered("the Evaluate page's Risk backtest offers the sidebar's models, no statistical one "
                          "(its own: tests/app/test_risk_backtest_app.py)")}, same_json),
    "covariates": Row((CHRONOS2,), {
        "desk": desk_conditioned, "cli": cli_conditioned, "http": http_conditioned, "mcp": mcp_conditioned,
        "app": app_conditioned}, same_conditioned, needs_chronos2=True),
    "covariates: none": Row((CHRONOS2,), {
        "desk": desk_alone, "cli": alone(cli_conditioned), "http": alone(http_conditioned),
        "mcp": alone(mcp_conditioned), "app": alone(app_conditioned)}, same_conditioned, needs_chronos2=True),
    "covariates: walk-forward": Row((CHRONOS2,), {
        "desk": desk_conditioned_walk, "cli": cli_conditioned_walk, "http": http_conditioned_walk,
        "mcp": mcp_conditioned_walk,
        "app": NotOffered("the Evaluate page conditions on no covariate")}, same_crps, needs_chronos2=True),
    "screen": Row((None, "garch"), {  # the ensemble: refused, its refusal row
        "desk": desk_screen, "cli": cli_screen, "http": http_screen, "mcp": mcp_screen,
        "app": Only((None,), app_screen, SCREENER_MODELS)}, same_screen),
    "rank": Row((None, "garch"), {
        "desk": desk_rank, "cli": cli_rank, "http": http_rank, "mcp": NotOffered("the MCP server has no rank tool"),
        "app": Only((None,), app_rank, SCREENER_MODELS)}, same_rank),
    "watchlist retrain": Row(("studio-tiny",), {
        "desk": desk_retrain_watchlist, "cli": cli_retrain_watchlist, "http": http_retrain_watchlist,
        "mcp": NotOffered("the MCP tool retrain retrains one series: the retrain row"),
        "app": NotOffered("the Fine-tune page retrains one series")}, same_decisions, slow=True),
    "retrain": Row(("studio-tiny",), {
        "desk": desk_retrain, "cli": cli_retrain, "http": NotOffered("POST /v1/retrain takes a watchlist: its row"),
        "mcp": mcp_retrain, "app": Only(("studio-tiny",), app_retrain, "the sidebar's bundled default")},
        same_decision, slow=True),
    "compare backtest": Row((None,), {
        "desk": desk_compare, "cli": PAGE_ONLY, "http": PAGE_ONLY, "mcp": PAGE_ONLY, "app": app_compare},
        same_compare),
    "fine-tune": Row((None,), {
        "desk": desk_fine_tune, "cli": cli_fine_tune, "http": NotOffered("the service trains no LoRA adapter"),
        "mcp": NotOffered("the MCP server trains no LoRA adapter"), "app": app_fine_tune}, same_adapter),
    "fit ensemble": Row((None,), {
        "desk": desk_fit_ensemble, "cli": cli_fit_ensemble, "http": NotOffered("the service fits no ensemble"),
        "mcp": NotOffered("the MCP server fits no ensemble"), "app": app_fit_ensemble}, same_weights),
    "record": Row((None,), {
        "desk": desk_record, "cli": cli_record, "http": http_record, "mcp": mcp_record, "app": app_record},
        same_kept, slow=True),
    "score": Row((None,), {
        "desk": desk_score, "cli": cli_score, "http": http_score, "mcp": NO_MCP_SCORE, "app": app_score},
        same_scored),
    "risk record": Row((None,), {
        "desk": desk_risk_record, "cli": cli_risk_record, "http": http_risk_record, "mcp": mcp_risk_record,
        "app": NotAsked("the Track record page's exceptions: tests/app")}, same_risk_record),
    "track record": Row(TRACK_ASKS, {
        "desk": desk_track_record,
        "cli": NotOffered("the command line has no track-record view: its exceptions are the risk record row's"),
        "http": http_track_record, "mcp": mcp_track_record, "app": app_track_record_rows(TRACK_ASKS[:2])},
        same_track_record),
    "forecasts and steps": Row((None,), {
        "desk": desk_steps, "cli": cli_steps, "http": http_steps,
        "mcp": NotOffered("the track_record tool answers the summary, not the forecasts"),
        "app": NotAsked("the Track record page's table: test_the_track_record_page_shows_the_desks_numbers")},
        same_steps),
    "drift": Row((None,), {
        "desk": desk_drift, "cli": cli_drift, "http": http_drift,
        "mcp": NotOffered("the MCP server has no drift tool"), "app": app_drift}, same_drift),
    "refusal: forecast": Row(MODELS, {
        "desk": desk_forecast_refusal, "cli": cli_forecast_refusal, "http": http_forecast_refusal,
        "mcp": mcp_forecast_refusal,
        "app": Only((None, "champion", "ensemble"), app_forecast_refusal, "the sidebar offers no statistical model")},
        same_refusal),
    "refusal: a batch of the ensemble": Row(("screen", "rank"), {
        "desk": desk_batch_refusal, "cli": cli_batch_refusal, "http": http_batch_refusal,
        "mcp": Only(("screen",), mcp_batch_refusal, "the MCP server has no rank tool"),
        "app": NotOffered(SCREENER_MODELS)}, same_refusal),
    "refusal: risk level": Row(("garch",), {
        "desk": desk_risk_refusal, "cli": cli_risk_refusal, "http": http_risk_refusal, "mcp": mcp_risk_refusal,
        "app": NotOffered("the Risk panel offers only levels it accepts")}, same_refusal),
    "refusal: risk record level": Row((None,), {
        "desk": desk_record_refusal, "cli": cli_record_refusal, "http": http_record_refusal,
        "mcp": mcp_record_refusal, "app": NotOffered("the Track record page offers only levels it accepts")},
        same_refusal),
    "refusal: covariate": Row(COVARIATE_REFUSALS, {
        "desk": desk_covariate_refusal, "cli": cli_covariate_refusal, "http": http_covariate_refusal,
        "mcp": mcp_covariate_refusal, "app": NotAsked("Compare's covariate picker: tests/app")}, same_refusal,
        needs_chronos2=True),
    "refusal: ledger": Row(tuple(LEDGER_REFUSALS), {
        "desk": desk_ledger_refusal, "cli": cli_ledger_refusal, "http": http_ledger_refusal,
        "mcp": Only(("since", "models", "replay"), mcp_ledger_refusal, "the MCP server has no drift tool"),
        "app": NotOffered("the pages offer only filters they accept")}, same_refusal),
}


def kind_id(kind) -> str:
    if kind is None:
        return "bundled"
    if isinstance(kind, dict):
        return "-".join(kind) or "every-model"
    return {NO_BAR: "no-bar", NO_SAMPLE: "no-sample"}.get(kind, str(kind))


def marks(row: Row, kind) -> list:
    """The case's marks: slow, or a known failure of the desk (strict: once fixed, the mark must go)."""
    out = [pytest.mark.slow] if row.slow else []
    out += [pytest.mark.xfail(raises=raised, strict=True, reason=why) for broken, raised, why in row.broken
            if broken == kind]
    return out


CASES = [pytest.param(name, kind, id=f"{name.replace(' ', '-').replace(':', '')}-{kind_id(kind)}",
                      marks=marks(row, kind))
         for name, row in ROWS.items() for kind in row.kinds]


def test_the_matrix_names_every_face_of_every_use_case():
    """A face a use case lacks is said, not missing: every row lists the five faces, the desk's a caller."""
    for name, row in ROWS.items():
        assert set(row.faces) == set(FACES), name
        assert callable(row.faces["desk"]), name
        for face, caller in row.faces.items():
            assert callable(caller) or isinstance(caller, (NotOffered, NotAsked, Only)), (name, face)


@pytest.mark.parametrize("use_case, kind", CASES)
def test_every_face_gives_the_desks_numbers(world, use_case, kind, tmp_path, capsys, monkeypatch):
    row = ROWS[use_case]
    if row.needs_chronos2 and not chronos2_present():
        pytest.skip("the chronos package or the bundled Chronos-2 is missing")
    asked = Asked(tmp_path, capsys, monkeypatch)
    expected = row.faces["desk"](world, kind, asked)
    for face in FACES[1:]:
        caller = row.faces[face]
        if isinstance(caller, Only):
            caller = caller.ask if kind in caller.kinds else None
        if callable(caller):
            row.same(caller(world, kind, asked), expected, face)


# == beside the matrix: what a row's numbers rest on, a page showing them, the knobs reaching every face =============
def test_the_champion_served_is_the_adapter_not_the_base(world, tmp_path, capsys, monkeypatch):
    """The forecast row's ``champion`` compares an adapter's numbers, not the base model's twice."""
    asked = Asked(tmp_path, capsys, monkeypatch)
    assert not np.allclose(desk_forecast(world, "champion", asked).to_numpy(),
                           desk_forecast(world, None, asked).to_numpy())


def test_the_app_and_desk_evaluate_keep_one_walk(world):
    """The Evaluate page's report and ``Desk.evaluate``'s JSON of the same request are one walk, kept once."""
    desk = Desk(cache=ResultCache())
    request = BarsRequest(file=str(world.par))
    evaluated = desk.evaluate(EvaluateRequest(request, None, ForecastSettings(**SETTINGS), plan=TrustPlan(**PLAN)))
    trusted = desk.trust(TrustRequest(request, ForecastSettings(**SETTINGS), plan=TrustPlan(**PLAN)))
    assert not evaluated.from_cache and trusted.from_cache and desk.cache.computed == 1
    assert evaluation_numbers(evaluated.report.out) == report_numbers(trusted.report)


def test_the_rank_plans_defaults_are_one_for_every_face():
    """The faces disagreed (0 bps and 30 paths on the command line and HTTP, 5 bps and 1, 5, 10 paths in the app):
    one default each now, the rank plan's, read by every face."""
    args = build_parser().parse_args(["batch", "w.csv", "--evaluate", "--horizon", "3"])
    http = BatchEvaluate()
    plan = RankPlan()
    assert plan.costs_bps == 5.0 and plan.paths == (ForecastSettings(horizon=1).paths,)
    assert (args.costs_bps, args.cutoffs, args.step) == (plan.costs_bps, plan.cutoffs, plan.step)
    assert (http.costs_bps, tuple(http.paths), http.cutoffs, http.step) == (plan.costs_bps, plan.paths, plan.cutoffs,
                                                                            plan.step)


def test_a_risk_reading_asked_without_paths_samples_enough_for_its_highest_level_on_every_face(world, tmp_path,
                                                                                                 capsys):
    asked = {"model": "garch", "horizon": 2, "levels": [0.9, 0.975]}
    code, by_line, err = by_cli([str(world.daily), "--model", "garch", "--horizon", "2", "--levels", "0.9",
                                 "--levels", "0.975"], tmp_path / "risk.json", capsys)
    assert code == 0, err
    by_http = world.post("/v1/risk", {"bars_csv": world.daily.read_text(), **asked})
    by_mcp = world.tool_json("risk", {"file": str(world.daily), **asked})
    for face in (by_line, by_http, by_mcp):
        assert face["paths"] == face["settings"]["paths"] == default_paths((0.9, 0.975)) == 800
        assert not [w for w in face["warnings"] if "rough reading" in w]


def test_a_model_that_is_a_standard_risk_model_runs_once_under_its_own_key(world):
    """``garch`` is the backtest's GARCH(1,1)-t: run beside the standard models it is that one, not a twin whose
    identical losses left the model confidence set nothing to tell apart (arch's MCS failed on them)."""
    gated_bars, _ = quality_gate(read_bars(str(world.daily)), [])
    done = Desk().risk_backtest(RiskBacktestRequest(gated_bars, "garch", ForecastSettings(horizon=1, paths=40),
                                                    RiskSettings(levels=(0.95,)), RiskBacktestPlan(cutoffs=20)))
    assert done.model_key == "garch"
    standard = ["garch", "historical_simulation", "ewma_normal", "gjr_garch", "log_har", "filtered_historical_simulation"]
    assert [k for k in done.backtest.models if k in standard] == standard
    assert set(done.backtest.models) == set(standard) | {DEFAULT_RISK_MODEL.label}
    assert done.served_key == DEFAULT_RISK_MODEL.label in done.backtest.models  # the serving model, recalibrated
    assert done.backtest.volatility["in_mcs"].notna().all()


def app_test(monkeypatch, world):
    """The app (AppTest) on the world's ledger, its pages run through ``st.navigation`` as a live server does."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest, app_test

    class NavigationPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)
    monkeypatch.setenv("KRONOS_STUDIO_DB", world.url)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()


def test_the_track_record_page_shows_the_desks_numbers(world, monkeypatch):
    """The Track record page (AppTest) on the same ledger: its pooled summary, its table and its drift table are
    the desk's for the same request (the page's forecasts as made, at the default settings unless switched)."""
    world.regime  # noqa: B018 (its forecasts kept)
    at = app_test(monkeypatch, world)
    at.switch_page("pages/track_record.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.selectbox(key="tr_series").set_value(("file", "REGIME", "1h")).run()
    desk = world.desk("track_record", TrackRecordRequest(symbol="REGIME", source="file", interval="1h",
                                                         member_rows=False))
    pooled = desk.pooled.iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Forecasts"] == f"{len(desk.predictions):,}"
    assert metrics["CRPS, % of price"] == f"{pooled['crps_pct']:.3f}"
    assert metrics["p10–p90 coverage"] == f"{pooled['coverage']:.0%}"
    assert list(at.dataframe[0].value["prediction_id"]) == list(desk.predictions["prediction_id"])
    drift = world.desk("drift", DriftRequest(source="file", symbol="REGIME", interval="1h",
                                             models=tuple(desk.predictions["model"].unique())))
    shown = next(d.value for d in at.dataframe if "coverage p (binomial)" in d.value.columns)
    worded = drift_table(drift).frame.drop(columns=[WORKSPACE, SERIES])  # what `kronos ledger drift` prints
    pd.testing.assert_frame_equal(shown.reset_index(drop=True), worded, check_dtype=False)

    at.multiselect(key="tr_models").set_value(["earlier"]).run()  # a model chosen: the desk's request for it
    one = world.desk("track_record", TrackRecordRequest(symbol="REGIME", source="file", interval="1h",
                                                        models=("earlier",), member_rows=False))
    assert {m.label: m.value for m in at.metric}["CRPS, % of price"] == f"{one.pooled.iloc[0]['crps_pct']:.3f}"


SAMPLE = {"since": "2024-06-01", "last": "25", "model": "calm"}  # a value each option takes (others: any text)


@pytest.mark.parametrize("cls, argv, path", [
    (StepsRequest, ["ledger", "export", "--out", "x.parquet"], "/v1/ledger/evaluations"),
    (DriftRequest, ["ledger", "drift"], "/v1/ledger/drift"),
    (AdaptersRequest, ["adapters", "list"], "/v1/adapters"),
    (TrackRecordRequest, None, "/v1/ledger/track-record"),
], ids=lambda x: getattr(x, "__name__", None))
def test_every_filter_of_a_ledger_request_is_an_option_a_query_parameter_and_a_tool_argument(world, cls, argv, path):
    """Each knob of the request is drawn by each face from its one home: the command line's option (given, it
    reaches the request), the HTTP endpoint's query parameter (in the OpenAPI document), the MCP tool's argument."""
    settings = {knob.name(name): (name, default) for name, (default, knob) in knobs(cls).items()}
    assert cls is AdaptersRequest or "replay" in settings  # every view of forecasts reads one replay's rows or asks
    documented = {p["name"] for p in world.http.get("/openapi.json").json()["paths"][path]["get"]["parameters"]}
    offered = set(settings) - ({"scored_only"} if path == "/v1/ledger/evaluations" else set())  # scored: by its path
    assert offered <= documented, offered - documented
    if argv is not None:
        parser = build_parser(argv[0])
        for setting, (name, default) in settings.items():
            flag = FLAGS.get(setting) or knob_flag(setting, default)
            given = [] if isinstance(default, bool) else [SAMPLE.get(setting, "x")]
            request = cls(**knob_values(parser.parse_args([*argv, flag, *given]), cls))
            value = getattr(request, name)
            assert value != default and (value is not None), (setting, value)
    if cls is TrackRecordRequest:

        async def tools():
            async with Client(world.mcp) as client:
                return await client.list_tools()

        schema = next(t for t in anyio.run(tools).tools if t.name == "track_record").input_schema
        assert set(settings) <= set(schema["properties"])


# == the adapter registry and its moves; a replay's rows: ledgers of their own =======================================
def registry_of(url: str) -> None:
    """Two adapters of the regime series and one of another, the second the series' champion."""
    from datetime import datetime, timedelta, timezone

    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey

    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    with open_ledger(url, "default") as ledger:
        registry = Registry(ledger)
        for i, symbol in enumerate(("REGIME", "REGIME", "OTHER")):
            entry = registry.register(Candidate(SeriesKey("file", symbol, "1h"), "studio-tiny", "local:abc", t0,
                                                t0 + timedelta(hours=99 + i), 100 + i, f"w{i}", f"/adapters/w{i}",
                                                {"steps": 2}, "tests"))
            if i == 1:
                registry.promote(entry.id, {"crps": {"challenger": 1.0}}, "beat the base")


ENTRY = ["status", "symbol", "window_bars", "reason"]


def desk_on(url: str, use_case: str, request, workspace: str | None = "default"):
    with open_ledger(url, workspace) as ledger:
        return getattr(Desk(), use_case)(request, ledger=ledger)


def test_the_registry_and_its_moves_are_the_same_through_every_face(tmp_path, monkeypatch, capsys):
    urls = {face: f"sqlite:///{tmp_path / face}.sqlite" for face in ("desk", "cli", "http")}
    for url in urls.values():
        registry_of(url)
    desk = desk_on(urls["desk"], "adapters", AdaptersRequest(symbol="REGIME"))
    listed = pd.DataFrame([e.to_dict() for e in desk.entries])
    assert list(listed["status"]) == ["challenger", "champion"] and len(desk.events) == 3

    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["cli"])
    assert main(["adapters", "list", "--symbol", "REGIME", "--json"]) == 0
    same_frame(pd.DataFrame(json.loads(capsys.readouterr().out)), listed, ENTRY, "cli list")
    app = create_app(ServiceConfig(ledger_url=urls["http"], open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        body = http.get("/v1/adapters", params={"symbol": "REGIME"}).json()
        same_frame(pd.DataFrame(body["adapters"]), listed, ENTRY, "http list")
        first = body["adapters"][0]["id"]  # the workspace's number of the first entry: 1
        shown = http.get(f"/v1/adapters/{first}").json()
        promoted = http.post(f"/v1/adapters/{first}/promote").json()
        rolled = http.post(f"/v1/adapters/{first}/rollback").json()


    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["desk"])
    app_rows = lineage(cut(regime_series(), SCORE_AT))  # newest first, as the Fine-tune page shows them
    assert list(app_rows["status"]) == list(listed["status"])[::-1]
    assert list(app_rows["reason"]) == list(listed["reason"])[::-1]

    entry = int(listed["id"].iloc[0])
    one = desk_on(urls["desk"], "adapter", EntryRequest(entry))
    assert [e["event"] for e in shown["events"]] == [e.event for e in one.events] == ["registered"]
    made = desk_on(urls["desk"], "promote", EntryRequest(entry))
    back = desk_on(urls["desk"], "rollback", EntryRequest(entry))
    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["cli"])
    assert main(["adapters", "promote", str(entry)]) == 0
    assert main(["adapters", "rollback", str(entry)]) == 0
    said = capsys.readouterr().out
    assert f"adapter {made.entry.id} is the champion of {made.entry.series}" in said
    assert f"rolled back adapter {back.retired.id} of {back.retired.series}: adapter {back.restored.id} serves" in said
    assert promoted["promoted"]["status"] == made.entry.status == "champion" and promoted["bypassed_gate"]
    assert rolled["restored"]["status"] == back.restored.status == "champion"
    after = {face: [e.to_dict()["status"] for e in desk_on(url, "adapters", AdaptersRequest()).entries]
             for face, url in urls.items()}
    assert after["cli"] == after["http"] == after["desk"] == ["retired", "champion", "challenger"]


def test_a_rollback_without_a_champion_is_the_same_refusal_on_every_face(tmp_path, monkeypatch, capsys):
    """A rollback of a series without a champion: the registry's refusal on each face that offers it."""
    registry_of(url := f"sqlite:///{tmp_path / 'moves.sqlite'}")
    [first] = [e.id for e in desk_on(url, "adapters", AdaptersRequest(symbol="OTHER")).entries]
    with pytest.raises(UserError) as refused:
        desk_on(url, "rollback", EntryRequest(first))
    monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    assert main(["adapters", "rollback", str(first)]) == 2
    assert refused.value.problem in capsys.readouterr().err
    app = create_app(ServiceConfig(ledger_url=url, open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        answer = http.post("/v1/adapters/3/rollback")
    assert answer.status_code == 409 and refused.value.problem in answer.json()["detail"]


REPLAY = "regime replay"


def test_a_replays_rows_are_read_apart_through_every_face(tmp_path, monkeypatch, capsys):
    """The calm model's forecasts kept under a replay's label (``kronos watch --replay-from``), another model's live:
    the ``replay`` knob reads the replay's alone on every face (track record, its exceptions, forecasts, drift, the
    export), unset the live ones; the export alone writes every row unset, each with its label."""
    url = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    bars = regime_series()
    with open_ledger(url) as ledger:
        replayed = ledger.replaying(REPLAY)
        for at in EARLIER:
            ledger.record(forecast(bars, at, horizon=HORIZON, seed=at, model="earlier"), cut(bars, at))
        for at in ORIGINS:
            replayed.record(calm_forecast(bars, at), cut(bars, at))
        ledger.score(cut(bars, SCORE_AT))
        replayed.score(cut(bars, SCORE_AT))
    monkeypatch.setenv("KRONOS_STUDIO_DB", url)

    desk = desk_on(url, "track_record", TrackRecordRequest(symbol="REGIME", replay=REPLAY))
    live = desk_on(url, "track_record", TrackRecordRequest(symbol="REGIME"))
    assert list(desk.models["model"]) == ["calm"] and list(live.models["model"]) == ["earlier"]
    assert len(desk.predictions) == len(ORIGINS) and list(desk.series["predictions"]) == [len(ORIGINS)]
    drift = [d.to_dict() for d in desk_on(url, "drift", DriftRequest(symbol="REGIME", replay=REPLAY, last=25),
                                          workspace=None).drifts]
    assert [d["model"] for d in drift] == ["calm"]

    query = {"symbol": "REGIME", "replay": REPLAY}
    app = create_app(ServiceConfig(ledger_url=url, open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        body = http.get("/v1/ledger/track-record", params=query).json()
        predictions = http.get("/v1/ledger/predictions", params=query).json()["predictions"]
        http_drift = http.get("/v1/ledger/drift", params={**query, "last": 25}).json()["drift"]
    same_frame(frame_of(body["models"], REALIZED), desk.models, REALIZED, "http")
    assert {t["model"] for t in body["exceptions"]["tests"]} == {"calm"}
    assert len(body["exceptions"]["forecasts"]) > 0 and len(predictions) == len(ORIGINS)
    assert http_drift == drift
    failed, text = call_tool(create_server([tmp_path], ledger_url=url), "track_record", {**query, "exceptions": False})
    assert not failed, text
    same_frame(frame_of(json.loads(text)["models"], REALIZED), desk.models, REALIZED, "mcp")

    out = tmp_path / "drift.json"
    assert main(["ledger", "drift", "--symbol", "REGIME", "--replay", REPLAY, "--last", "25", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == drift
    for replay, models in ((REPLAY, {"calm"}), (None, {"earlier"})):
        assert main(["ledger", "exceptions", "--symbol", "REGIME", "--json", str(out),
                     *(["--replay", replay] if replay else [])]) == 0
        assert {t["model"] for t in json.loads(out.read_text())["tests"]} == models
    every, one = tmp_path / "every.parquet", tmp_path / "one.parquet"
    assert main(["ledger", "export", "--out", str(every)]) == 0
    assert main(["ledger", "export", "--out", str(one), "--replay", REPLAY]) == 0
    capsys.readouterr()
    exported = pd.read_parquet(every)
    assert exported.groupby("replay")["prediction_id"].nunique().to_dict() == {"": len(EARLIER), REPLAY: len(ORIGINS)}
    assert set(pd.read_parquet(one)["replay"]) == {REPLAY}
