"""Risk through every face (issue 55): the same request gives the same numbers from ``Desk.risk`` itself, ``kronos
risk`` (in process), ``POST /v1/risk``, the MCP tool ``risk`` and the app's Risk panel (for the model its sidebar
offers), for the bundled Kronos model and a statistical one; a refusal and a flag are the same problem on every face, each naming the setting its own way."""
from __future__ import annotations

import json

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.bars_input import quality_gate, read_bars
from kronos_studio.bundled import CHRONOS2_NAME
from kronos_studio.cli import main as cli
from kronos_studio.desk import Desk, RiskBacktestPlan, RiskBacktestRequest, RiskRequest
from kronos_studio.desk.risk import backtest_body, risk_body
from kronos_studio.risk.champion import DEFAULT_RISK_MODEL
from kronos_studio.risk.measures import RiskSettings, default_paths
from kronos_studio.service.app import ServiceConfig, create_app
from kronos_studio.service.mcp_server import create_server

NUMBERS = ("var_es", "var_es_steps", "volatility", "stylized", "verdict", "paths", "last_close")
LEVELS = ["--levels", "0.9", "--levels", "0.99"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """(the bars' file, an HTTP client, an MCP call(tool, arguments) -> (is_error, text))."""
    folder = tmp_path_factory.mktemp("risk-faces")
    file = folder / "bars.csv"
    random_bars(560, seed=11, freq="1d").to_csv(file, index=False)
    app = create_app(ServiceConfig(ledger_url=f"sqlite:///{folder / 'service.sqlite'}", open_access=True))
    server = create_server([folder], ledger_url=f"sqlite:///{folder / 'mcp.sqlite'}")

    def mcp(arguments: dict):
        async def call():
            async with Client(server) as client:
                return await client.call_tool("risk", arguments)

        done = anyio.run(call)
        return done.is_error, done.content[0].text

    with TestClient(app, base_url="http://127.0.0.1") as http:
        yield file, http, mcp


def same(a, b, where: str = "") -> None:
    """``a`` equals ``b``, floats to 1e-5 relative (as test_parity's forecasts): the paths are float32, decoded on
    the thread budget each face runs under (kronos.threads), and a float32 sum rounds by the order its threads add
    in (a volume, then its correlation with |return|)."""
    import math

    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-12), (where, a, b)
    else:
        assert a == b, (where, a, b)


def by_cli(args: list[str], out, capsys) -> tuple[int, dict | None, str]:
    code = cli.main(["risk", *args, "--json", str(out)])
    err = capsys.readouterr().err
    return code, (json.loads(out.read_text()) if code == 0 else None), err


def app_risk(bars, settings, risk) -> dict:
    """The Forecast page's Risk panel reading of its forecast (``app_support.forecasts.run``, then
    ``app_support.risk.reading``) for the bundled default model, as the JSON body the other faces answer."""
    from app_support import forecasts
    from app_support import risk as app_risk_panel
    from kronos_studio.bundled import default_model_path
    from kronos_studio.catalog import catalog

    choice = next(c for c in catalog() if c.ref == str(default_model_path()))
    from kronos_studio.desk.risk import Risked

    fc, _ = forecasts.run(bars, choice, settings)
    return risk_body(Risked(fc, bars, app_risk_panel.reading(fc, bars, risk), settings, risk, []))


BUNDLED = "studio-tiny"  # named: a request naming no model is served by the series' risk champion (test_risk_champion)


@pytest.mark.parametrize("model", [BUNDLED, "garch"], ids=["bundled-kronos", "garch"])
def test_the_same_request_gives_the_same_risk_on_every_face(faces, model, tmp_path, capsys):
    file, http, mcp = faces
    settings, risk = ForecastSettings(horizon=3, paths=60, seed=4), RiskSettings(levels=(0.9, 0.99))
    gated, _ = quality_gate(read_bars(str(file)), [])  # the bars as every face reads the file
    direct = Desk().risk(RiskRequest(gated, model, settings, risk))
    desk = risk_body(direct)
    named = [] if model is None else ["--model", model]
    code, by_line, err = by_cli([str(file), *named, "--horizon", "3", "--paths", "60", "--seed", "4",
                                 *LEVELS], tmp_path / "risk.json", capsys)
    assert code == 0, err
    asked = {"horizon": 3, "paths": 60, "seed": 4, "levels": [0.9, 0.99], "model": model}
    answer = http.post("/v1/risk", json={"bars_csv": file.read_text(), **asked})
    assert answer.status_code == 200, answer.text
    failed, text = mcp({"file": str(file), **asked})
    assert not failed, text
    by_http, by_mcp = answer.json(), json.loads(text)
    for face in (by_line, by_http, by_mcp) + ((app_risk(gated, settings, risk),) if model == BUNDLED else ()):
        same({k: face[k] for k in NUMBERS}, {k: desk[k] for k in NUMBERS})
    assert [t["level"] for t in desk["var_es"]] == [0.9, 0.99, 0.9, 0.99]  # long then short, each level asked
    # 60 paths leave 0 or 1 beyond a 99% VaR: the same flag everywhere, its fix named as each face names paths
    problem = next(n.problem for n in direct.notices if "0.99 ES rests on" in n.problem)
    assert f"{problem}: sample at least --paths 2000" in err
    assert f'{problem}: sample at least "paths": 2000' in "\n".join(by_http["warnings"])
    assert f'{problem}: sample at least "paths": 2000' in "\n".join(by_mcp["warnings"])


def test_a_bad_level_is_the_same_refusal_on_every_face(faces, tmp_path, capsys):
    from kronos.errors import InputError

    file, http, mcp = faces
    with pytest.raises(InputError) as refused:
        RiskSettings(levels=(0.95, 1.5))
    problem = refused.value.problem
    assert problem == "VaR/ES levels must lie between 0.5 and 0.9999 (exclusive), got [0.95, 1.5]"
    code, _, err = by_cli([str(file), "--model", "garch", "--horizon", "3", "--levels", "0.95", "--levels", "1.5"],
                          tmp_path / "no.json", capsys)
    assert code == 2 and err.startswith(f"kronos: error: {problem}: give each of --levels between 0.5 and 0.9999 "
                                        "(exclusive)")
    answer = http.post("/v1/risk", json={"bars_csv": file.read_text(), "model": "garch", "horizon": 3,
                                         "levels": [0.95, 1.5]})
    assert answer.status_code == 422 and answer.json()["problem"] == problem
    assert answer.json()["detail"] == f'{problem}: give each of the field "levels" between 0.5 and 0.9999 (exclusive)'
    failed, text = mcp({"file": str(file), "model": "garch", "horizon": 3, "levels": [0.95, 1.5]})
    assert failed and text.endswith(answer.json()["detail"])
    assert not (tmp_path / "no.json").exists()


def test_a_risk_backtest_gives_the_same_tests_on_every_face(faces, tmp_path, capsys):
    """No face is given a path count: each samples the risk's default, enough for the highest level's ES (issue 62,
    item 2), from its one home (``measures.default_paths``); the asked ``garch`` is the standard model, read from its
    own distribution under its own key."""
    file, http, mcp = faces
    risk = RiskSettings(levels=(0.95,), positions=("long",))
    settings = ForecastSettings(horizon=1, paths=default_paths(risk.levels), seed=2)
    gated, _ = quality_gate(read_bars(str(file)), [])
    # Chronos-2 beside the asked model, on the same cut-offs (its training period holds these dates: included)
    desk = backtest_body(Desk().risk_backtest(RiskBacktestRequest(
        gated, "garch", settings, risk, RiskBacktestPlan(cutoffs=30, baselines=False, beside=(CHRONOS2_NAME,),
                                                         include_trained=True))))
    code, by_line, err = by_cli([str(file), "--model", "garch", "--horizon", "1", "--seed", "2",
                                 "--levels", "0.95", "--positions", "long", "--backtest", "--cutoffs", "30",
                                 "--no-baselines", "--beside", CHRONOS2_NAME, "--include-training-period"],
                                tmp_path / "bt.json", capsys)
    assert code == 0, err
    asked = {"model": "garch", "horizon": 1, "seed": 2, "levels": [0.95], "positions": ["long"],
             "backtest": True, "cutoffs": 30, "baselines": False, "beside": [CHRONOS2_NAME],
             "include_training_period": True}
    # kronos evaluate --risk: the same backtest, asked from the walk-forward command
    code = cli.main(["evaluate", str(file), "--model", "garch", "--horizon", "1", "--seed", "2",
                     "--levels", "0.95", "--positions", "long", "--risk", "--cutoffs", "30", "--no-baselines",
                     "--beside", CHRONOS2_NAME, "--include-training-period", "--json", str(tmp_path / "ev.json")])
    assert code == 0, capsys.readouterr().err
    by_evaluate = json.loads((tmp_path / "ev.json").read_text())
    answer = http.post("/v1/risk", json={"bars_csv": file.read_text(), **asked})
    assert answer.status_code == 200, answer.text
    failed, text = mcp({"file": str(file), **asked})
    assert not failed, text
    keys = ("tests", "volatility", "summary", "cutoffs", "model_key")
    for face in (by_line, by_evaluate, answer.json(), json.loads(text)):
        same({k: face[k] for k in keys}, {k: desk[k] for k in keys})
    assert desk["model_key"] == "garch" and desk["cutoffs"] == 30
    summary = desk["summary"]["long_0.95"]
    served = DEFAULT_RISK_MODEL  # no risk champion for this series: the default serves, and is always a row
    assert list(summary) == list(dict.fromkeys(["garch", CHRONOS2_NAME, served.model, served.label]))
    assert desk["served_key"] == served.label
    assert summary[CHRONOS2_NAME]["paths"] == 400 and summary[CHRONOS2_NAME]["enough_paths"]
    assert summary["garch"]["paths"] is None  # its own distribution: no paths
    kupiec = next(t for t in desk["tests"] if t["test"] == "kupiec_pof")
    assert kupiec["counts"]["observations"] == 30


def test_a_risk_reading_asked_without_paths_samples_enough_for_its_highest_level_on_every_face(faces, tmp_path,
                                                                                                 capsys):
    file, http, mcp = faces
    asked = {"model": "garch", "horizon": 2, "levels": [0.9, 0.975]}
    code, by_line, err = by_cli([str(file), "--model", "garch", "--horizon", "2", "--levels", "0.9", "--levels",
                                 "0.975"], tmp_path / "risk.json", capsys)
    assert code == 0, err
    answer = http.post("/v1/risk", json={"bars_csv": file.read_text(), **asked})
    failed, text = mcp({"file": str(file), **asked})
    assert answer.status_code == 200 and not failed, (answer.text, text)
    for face in (by_line, answer.json(), json.loads(text)):
        assert face["paths"] == face["settings"]["paths"] == default_paths((0.9, 0.975)) == 800
        assert not [w for w in face["warnings"] if "rough reading" in w]


def test_a_model_that_is_a_standard_risk_model_runs_once_under_its_own_key(faces):
    """``garch`` is the backtest's GARCH(1,1)-t: run beside the standard models it is that one, not a twin whose
    identical losses left the model confidence set nothing to tell apart (arch's MCS failed on them)."""
    file, _, _ = faces
    gated, _ = quality_gate(read_bars(str(file)), [])
    done = Desk().risk_backtest(RiskBacktestRequest(gated, "garch", ForecastSettings(horizon=1, paths=40),
                                                    RiskSettings(levels=(0.95,)), RiskBacktestPlan(cutoffs=20)))
    assert done.model_key == "garch"
    standard = ["garch", "historical_simulation", "ewma_normal", "gjr_garch", "log_har", "filtered_historical_simulation"]
    assert [k for k in done.backtest.models if k in standard] == standard
    assert set(done.backtest.models) == set(standard) | {DEFAULT_RISK_MODEL.label}
    assert done.served_key == DEFAULT_RISK_MODEL.label in done.backtest.models  # the serving model, recalibrated
    assert done.backtest.volatility["in_mcs"].notna().all()
