"""Issue 56, the faces: a forecast conditioned on another series, asked for by the command line (``--with``), the
HTTP service (``covariates``), the MCP server and the desk itself, is the same forecast, and a bad covariate the
same refusal; a conditioned forecast is never served for an unconditioned one."""
from __future__ import annotations

import json

import anyio
import numpy as np
import pandas as pd
import pytest
from testkit import needs_bundled_chronos2

from data_sources.requests import BarsRequest
from data_sources.samples import load_sample
from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.covariates.options import CovariateOptions
from kronos_studio.desk import Desk, ResultCache

needs_bundled_chronos2()

SPX = "S&P 500 index daily 1999-2018 (arch)"
AAPL = "AAPL daily 2000-2013 (bundled)"
UNKNOWN = "sample:No such series"
MODEL = "chronos2-small"
LEVELS = [0.1, 0.5, 0.9]
HORIZON, PATHS = 3, 20


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """NASDAQ's last 300 daily bars as a file (the target); its own S&P 500 covers them, AAPL's bars end in 2013."""
    out = tmp_path_factory.mktemp("covariate-faces")
    frame = load_sample("NASDAQ Composite daily 1999-2018 (arch)").frame.tail(300)
    frame[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(out / "nasdaq.csv", index=False)
    return out


def desk_close(folder, covariate: str) -> pd.DataFrame:
    done = Desk().forecast(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                           ForecastSettings(horizon=HORIZON, paths=PATHS), covariates=CovariateOptions((covariate,)))
    assert done.forecast.provenance["conditioned_on"][0]["ref"] == covariate
    return done.forecast.quantiles(LEVELS)


def cli(folder, tmp_path, covariate: str, capsys):
    from kronos_studio.cli.main import main

    out = tmp_path / "q.csv"
    code = main(["forecast", str(folder / "nasdaq.csv"), "--model", MODEL, "--with", covariate, "--horizon",
                 str(HORIZON), "--paths", str(PATHS), "--out", str(out), "--no-ledger", "--quiet"])
    return code, (pd.read_csv(out) if code == 0 else None), capsys.readouterr().err


def http(folder, tmp_path, covariate: str):
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.state import ServiceConfig

    app = create_app(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'http.sqlite'}"))
    with TestClient(app) as c:
        token = create_key(app.state.service.ledger, "team-a")[1]
        return c.post("/v1/forecast", headers={"Authorization": f"Bearer {token}"},
                      json={"bars_csv": (folder / "nasdaq.csv").read_text(), "model": MODEL, "covariates": [covariate],
                            "horizon": HORIZON, "paths": PATHS, "quantiles": LEVELS, "record": False})


def mcp(folder, tmp_path, covariate: str):
    from mcp import Client

    from kronos_studio.service.mcp_server import create_server

    server = create_server([folder], ledger_url=f"sqlite:///{tmp_path / 'mcp.sqlite'}")

    async def session():
        async with Client(server) as client:
            return await client.call_tool("forecast", {"file": str(folder / "nasdaq.csv"), "model": MODEL,
                                                       "covariates": [covariate], "horizon": HORIZON, "paths": PATHS,
                                                       "quantiles": LEVELS, "record": False})

    return anyio.run(session)


def test_every_face_gives_the_same_conditioned_forecast(folder, tmp_path, capsys):
    expected = desk_close(folder, SPX)["close_p50"].to_numpy()
    code, table, err = cli(folder, tmp_path, SPX, capsys)
    assert code == 0, err
    assert f"note: Chronos-2 conditioned on {SPX}" in err
    np.testing.assert_allclose(table["close_p50"].to_numpy(), expected, rtol=1e-6)
    r = http(folder, tmp_path, SPX)
    assert r.status_code == 200, r.text
    assert r.json()["provenance"]["conditioned_on"][0]["ref"] == SPX
    np.testing.assert_allclose([q["close_p50"] for q in r.json()["quantiles"]], expected, rtol=1e-6)
    made = mcp(folder, tmp_path, SPX)
    assert not made.is_error, made.content
    np.testing.assert_allclose([q["close_p50"] for q in json.loads(made.content[0].text)["quantiles"]], expected,
                               rtol=1e-6)


@pytest.mark.parametrize("covariate, problem", [
    (AAPL, "no bar within the target's history"),  # ends in 2013, the target starts in 2017
    (UNKNOWN, "there is no bundled sample named 'No such series'"),
])
def test_every_face_refuses_a_bad_covariate_alike(folder, tmp_path, capsys, covariate, problem):
    with pytest.raises(InputError, match=problem) as e:
        desk_close(folder, covariate)
    assert e.value.fix[0].setting == "covariates"
    code, _, err = cli(folder, tmp_path, covariate, capsys)
    assert code == 2 and problem in err and "--with" in err and "Traceback" not in err
    r = http(folder, tmp_path, covariate)
    assert r.status_code == 422 and problem in r.json()["detail"] and 'the field "covariates"' in r.json()["detail"]
    made = mcp(folder, tmp_path, covariate)
    assert made.is_error and problem in made.content[0].text


def test_the_target_itself_read_from_elsewhere_is_refused(folder):
    """The target's file is the NASDAQ sample's last bars: the sample, read whole, holds the same closes."""
    with pytest.raises(InputError, match="is the target itself") as e:
        desk_close(folder, "NASDAQ Composite daily 1999-2018 (arch)")
    assert e.value.fix[0].setting == "covariates"


def test_a_model_that_cannot_read_covariates_is_refused_naming_chronos2(folder, tmp_path, capsys):
    from kronos_studio.cli.main import main

    code = main(["forecast", str(folder / "nasdaq.csv"), "--with", SPX, "--horizon", "3", "--out",
                 str(tmp_path / "q.csv"), "--no-ledger", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read covariates" in err and "--model chronos2-small" in err


def test_a_conditioned_forecast_is_never_served_for_an_unconditioned_one(folder):
    """The key holds the covariates' content: with, without (Chronos-2 alone) and with other bars are three
    results; the same request again is the cached one."""
    desk = Desk(cache=ResultCache())
    target = BarsRequest(file=str(folder / "nasdaq.csv"))
    settings = ForecastSettings(horizon=HORIZON, paths=PATHS)
    with_spx = desk.forecast(target, MODEL, settings, covariates=CovariateOptions((SPX,)))
    alone = desk.forecast(target, MODEL, settings, covariates=CovariateOptions())
    assert not with_spx.from_cache and not alone.from_cache and desk.cache.computed == 2
    assert alone.forecast.provenance["conditioned_on"] == []
    assert not np.array_equal(with_spx.forecast.paths, alone.forecast.paths)
    spx = load_sample(SPX).frame
    shifted = folder / "spx_other.csv"  # the same series, other bars: another content hash, another key
    spx.assign(close=spx["close"] * 1.01)[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(
        shifted, index=False)
    other = desk.forecast(target, MODEL, settings, covariates=CovariateOptions((str(shifted),)))
    assert not other.from_cache and desk.cache.computed == 3
    again = desk.forecast(target, MODEL, settings, covariates=CovariateOptions((SPX,)))
    assert again.from_cache and desk.cache.computed == 3


def test_a_conditioned_walk_forward_is_the_same_through_the_desk_and_http(folder, tmp_path):
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.state import ServiceConfig

    settings = ForecastSettings(horizon=HORIZON, paths=PATHS)
    done = Desk().evaluate(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL, settings, cutoffs=4,
                           include_training_period=True, covariates=CovariateOptions((SPX,)))
    assert done.report.out["conditioned_on"][0]["ref"] == SPX
    app = create_app(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'http.sqlite'}"))
    with TestClient(app) as c:
        token = create_key(app.state.service.ledger, "team-a")[1]
        r = c.post("/v1/evaluate", headers={"Authorization": f"Bearer {token}"},
                   json={"bars_csv": (folder / "nasdaq.csv").read_text(), "model": MODEL, "covariates": [SPX],
                         "horizon": HORIZON, "paths": PATHS, "cutoffs": 4, "include_training_period": True})
    assert r.status_code == 200, r.text
    assert r.json()["conditioned_on"][0]["ref"] == SPX
    assert r.json()["models"]["model"]["crps"] == pytest.approx(done.report.out["models"]["model"]["crps"], rel=1e-9)
