"""One use case, every face, the same numbers: each request goes to the desk directly, to the command line
(``main(argv)`` in this process), to the HTTP service (FastAPI's test client), to the MCP server (the SDK's
in-process client) and, for a forecast of a model the sidebar offers, to the app's run of the Forecast page, for
each kind of model (the bundled Kronos, an adapter served as ``champion``, the
ensemble, a statistical model), and gives the same numbers, or the same refusal."""
from __future__ import annotations

import json

import anyio
import numpy as np
import pandas as pd
import pytest
from champion_kit import promote_champion
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.desk import EvaluateRequest, ForecastRequest, RetrainRequest
from kronos_studio.forecasters.bounds import quantile_table

MODELS = [None, "champion", "ensemble", "garch"]
SETTINGS = {"horizon": 3, "paths": 8, "seed": 11}
LEVELS = [0.1, 0.5, 0.9]
CUTOFFS = 2


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(the bars file, the ledger's URL, the HTTP client with its key's header, the MCP server); the series has
    a promoted champion in the default workspace, where every face acts."""
    from fastapi.testclient import TestClient

    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger
    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.mcp_server import create_server

    root = tmp_path_factory.mktemp("parity")
    file = root / "PAR.csv"
    bars = random_bars(700, seed=8, freq="1h", start="2026-03-02")
    bars.to_csv(file, index=False)
    (root / "earlier").mkdir()
    bars.head(200).to_csv(root / "earlier" / "PAR.csv", index=False)  # the champion learned the first 200 bars
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    with Ledger.open(url) as ledger:
        promote_champion(read_bars(root / "earlier" / "PAR.csv"), ledger, root / "adapter")
    app = create_app(ServiceConfig(ledger_url=url, jobs_dir=str(root / "jobs")))
    with TestClient(app) as client:
        token = create_key(app.state.service.ledger, "default")[1]
        yield {"file": file, "url": url, "http": client, "headers": {"Authorization": f"Bearer {token}"},
               "mcp": create_server([root], ledger_url=url), "root": root}
    mp.undo()


def desk_forecast(world, model):
    from data_sources.requests import BarsRequest
    from kronos_studio.desk import Desk
    from kronos_studio.ledger import Ledger

    with Ledger.open(world["url"]) as ledger:
        done = Desk().forecast(ForecastRequest(BarsRequest(file=str(world["file"])), model,
                                               ForecastSettings(**SETTINGS)), ledger=ledger.scoped("default"))
    return quantile_table(done.forecast, LEVELS).reset_index(drop=True)


def cli_forecast(world, model, tmp_path):
    from kronos_studio.cli.main import main

    out = tmp_path / "q.csv"
    args = ["forecast", str(world["file"]), "--out", str(out), "--no-ledger", "--quiet", "--quantiles", "0.1,0.5,0.9",
            *[x for k, v in SETTINGS.items() for x in (f"--{k}", str(v))]]
    assert main(args + ([] if model is None else ["--model", model])) == 0
    return pd.read_csv(out).drop(columns="timestamp")


def rows(body) -> pd.DataFrame:
    return pd.DataFrame(body["quantiles"]).drop(columns="timestamp")


def http_forecast(world, model, tmp_path):
    body = {"bars_csv": world["file"].read_text(), "symbol": "PAR", "model": model, "quantiles": LEVELS,
            "record": False, **SETTINGS}
    answer = world["http"].post("/v1/forecast", json=body, headers=world["headers"])
    assert answer.status_code == 200, answer.text
    return rows(answer.json())


def mcp_call(world, tool: str, arguments: dict) -> dict:
    from mcp import Client

    async def call():
        async with Client(world["mcp"]) as client:
            return await client.call_tool(tool, arguments)

    result = anyio.run(call)
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def mcp_forecast(world, model, tmp_path):
    return rows(mcp_call(world, "forecast", {"file": str(world["file"]), "model": model, "quantiles": LEVELS,
                                             "record": False, **SETTINGS}))


def app_choice(model):
    """The sidebar's entry for ``model`` (None: the bundled default), None for a model the app does not offer."""
    from kronos_studio.bundled import default_model_path
    from kronos_studio.catalog import catalog

    offered = catalog()
    default = next(c for c in offered if c.ref == str(default_model_path()))
    return {None: default, "champion": next(c for c in offered if c.per_series),
            "ensemble": default.ensemble_of()}.get(model)


def app_forecast(world, model, tmp_path):
    """The Forecast page's run (``app_support.forecasts.run``) on the file's bars as the sidebar reads an upload."""
    from app_support import forecasts
    from kronos_studio.bars_input import quality_gate, read_bars

    bars, _ = quality_gate(read_bars(world["file"]))
    fc, _ = forecasts.run(bars, app_choice(model), ForecastSettings(**SETTINGS))
    return quantile_table(fc, LEVELS).reset_index(drop=True)  # the Forecast page's download


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m or "bundled")
def test_a_forecast_is_the_same_through_every_face(world, model, tmp_path):
    expected = desk_forecast(world, model)
    faces = (cli_forecast, http_forecast, mcp_forecast) + ((app_forecast,) if app_choice(model) else ())
    for face in faces:
        got = face(world, model, tmp_path)
        assert list(got.columns) == list(expected.columns), face.__name__
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-5, err_msg=face.__name__)


def evaluation_numbers(out: dict) -> dict:
    """Each scored model's CRPS, MAE and coverage in an evaluate JSON."""
    return {name: [m["crps"], m["mae"], m["coverage_p10_p90"]] for name, m in out["models"].items()}


def desk_evaluate(world, model, tmp_path):
    from data_sources.requests import BarsRequest
    from kronos_studio.desk import Desk, TrustPlan
    from kronos_studio.ledger import Ledger

    with Ledger.open(world["url"]) as ledger:
        done = Desk().evaluate(EvaluateRequest(BarsRequest(file=str(world["file"])), model,
                                               ForecastSettings(**SETTINGS),
                                               plan=TrustPlan(n_cutoffs=CUTOFFS)), ledger=ledger.scoped("default"))
    return done.report.out


def cli_evaluate(world, model, tmp_path):
    from kronos_studio.cli.main import main

    out = tmp_path / "e.json"
    args = ["evaluate", str(world["file"]), "--json", str(out), "--cutoffs", str(CUTOFFS),
            *[x for k, v in SETTINGS.items() for x in (f"--{k}", str(v))]]
    assert main(args + ([] if model is None else ["--model", model])) == 0
    return json.loads(out.read_text())


def http_evaluate(world, model, tmp_path):
    body = {"bars_csv": world["file"].read_text(), "symbol": "PAR", "model": model, "cutoffs": CUTOFFS, **SETTINGS}
    answer = world["http"].post("/v1/evaluate", json=body, headers=world["headers"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def mcp_evaluate(world, model, tmp_path):
    return mcp_call(world, "evaluate", {"file": str(world["file"]), "model": model, "cutoffs": CUTOFFS, **SETTINGS})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m or "bundled")
def test_an_evaluation_is_the_same_through_every_face(world, model, tmp_path):
    expected = evaluation_numbers(desk_evaluate(world, model, tmp_path))
    assert "model" in expected and "random_walk" in expected
    for face in (cli_evaluate, http_evaluate, mcp_evaluate):
        got = evaluation_numbers(face(world, model, tmp_path))
        assert got.keys() == expected.keys(), face.__name__
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, err_msg=f"{face.__name__} {name}")


def test_the_champion_served_is_the_adapter_not_the_base(world):
    """The matrix's ``champion`` rows compare an adapter's numbers, not the base model's twice."""
    assert not np.allclose(desk_forecast(world, "champion").to_numpy(), desk_forecast(world, None).to_numpy())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m or "bundled")
def test_a_refusal_is_the_same_problem_through_every_face(world, model, capsys):
    """A lookback longer than the bars: one problem, each face naming the setting its own way."""
    from mcp import Client

    from data_sources.requests import BarsRequest
    from kronos.errors import UserError
    from kronos_studio.cli.main import main
    from kronos_studio.desk import Desk
    from kronos_studio.ledger import Ledger

    settings = {**SETTINGS, "lookback": 900}
    with Ledger.open(world["url"]) as ledger, pytest.raises(UserError) as refused:
        Desk().forecast(ForecastRequest(BarsRequest(file=str(world["file"])), model,
                                        ForecastSettings(**settings)), ledger=ledger.scoped("default"))
    problem = refused.value.problem.splitlines()[0]

    argv = ["forecast", str(world["file"]), "--out", "never.csv", "--no-ledger", "--quiet",
            *[x for k, v in settings.items() for x in (f"--{k}", str(v))]]
    assert main(argv + ([] if model is None else ["--model", model])) == 2
    assert problem in capsys.readouterr().err

    answer = world["http"].post("/v1/forecast", headers=world["headers"],
                                json={"bars_csv": world["file"].read_text(), "symbol": "PAR", "model": model,
                                      "record": False, **settings})
    assert answer.status_code == 422 and answer.json()["problem"] == problem, answer.text

    async def call():
        async with Client(world["mcp"]) as client:
            return await client.call_tool("forecast", {"file": str(world["file"]), "model": model, "record": False,
                                                       **settings})

    result = anyio.run(call)
    assert result.is_error and problem in result.content[0].text


RETRAIN = {"horizon": 4, "window": 120, "lookback": 24, "cutoffs": 5, "paths": 6, "steps": 2}


def retrain_decision(done: dict) -> dict:
    """A retrain's one decision, the numbers the gate decided on."""
    [decision] = done["decisions"]
    return {"decision": decision["decision"], "scores": {**{f"crps_{k}": v for k, v in decision["crps"].items()},
                                                          **{f"coverage_{k}": v for k, v in decision["coverage"].items()},
                                                          "diff_lo": decision["diff_ci95"][0]}}


@pytest.mark.slow
def test_a_retrain_decides_the_same_through_the_desk_the_cli_and_mcp(tmp_path, monkeypatch):
    """Each face retrains the same series with the same settings on a ledger of its own: the same decision
    on the same scores (the seed fixes the training and the held-out forecasts)."""
    from data_sources.requests import BarsRequest
    from kronos_studio.cli.main import main
    from kronos_studio.desk import Desk
    from kronos_studio.ledger import Ledger
    from kronos_studio.service.mcp_server import create_server
    from kronos_studio.training.retrain_settings import RetrainSettings

    file = tmp_path / "RT.csv"
    random_bars(260, seed=3, freq="1h", start="2026-03-02").to_csv(file, index=False)
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    settings = RetrainSettings(horizon=4, window=120, lookback=24, n_cutoffs=5, paths=6, steps=2)

    with Ledger.open(f"sqlite:///{tmp_path / 'desk.sqlite'}") as ledger:
        desk = retrain_decision(Desk().retrain(RetrainRequest(BarsRequest(file=str(file)), "studio-tiny",
                                                              settings), ledger=ledger).run().to_dict())

    monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{tmp_path / 'cli.sqlite'}")
    out = tmp_path / "retrain.json"
    assert main(["retrain", str(file), "--model", "studio-tiny", "--json", str(out),
                 *[x for k, v in RETRAIN.items() for x in (f"--{k}", str(v))]]) == 0
    cli = retrain_decision(json.loads(out.read_text()))

    server = create_server([tmp_path], ledger_url=f"sqlite:///{tmp_path / 'mcp.sqlite'}")
    mcp = retrain_decision(mcp_call({"mcp": server}, "retrain", {"file": str(file), "model": "studio-tiny", **RETRAIN}))

    for face, got in (("cli", cli), ("mcp", mcp)):
        assert got["decision"] == desk["decision"], face
        assert got["scores"].keys() == desk["scores"].keys(), face
        for name, value in desk["scores"].items():
            if isinstance(value, float):
                assert got["scores"][name] == pytest.approx(value, rel=1e-5), (face, name)
