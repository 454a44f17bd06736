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
from kronos_studio.desk import Desk, EvaluateRequest, ForecastRequest, ResultCache

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
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                           ForecastSettings(horizon=HORIZON, paths=PATHS),
                                           covariates=CovariateOptions((covariate,))))
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
    with_spx = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions((SPX,))))
    alone = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions()))
    assert not with_spx.from_cache and not alone.from_cache and desk.cache.computed == 2
    assert alone.forecast.provenance["conditioned_on"] == []
    assert not np.array_equal(with_spx.forecast.paths, alone.forecast.paths)
    spx = load_sample(SPX).frame
    shifted = folder / "spx_other.csv"  # the same series, other bars: another content hash, another key
    spx.assign(close=spx["close"] * 1.01)[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(
        shifted, index=False)
    other = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions((str(shifted),))))
    assert not other.from_cache and desk.cache.computed == 3
    again = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions((SPX,))))
    assert again.from_cache and desk.cache.computed == 3


def test_a_conditioned_walk_forward_is_the_same_through_the_desk_and_http(folder, tmp_path):
    from fastapi.testclient import TestClient

    from kronos_studio.desk import TrustPlan
    from kronos_studio.service.app import create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.state import ServiceConfig

    settings = ForecastSettings(horizon=HORIZON, paths=PATHS)
    done = Desk().evaluate(EvaluateRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL, settings,
                                           plan=TrustPlan(n_cutoffs=4, include_trained=True),
                                           covariates=CovariateOptions((SPX,))))
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


def test_chronos2_alone_runs_from_every_face_with_the_same_numbers(folder, tmp_path, capsys):
    """Issue 62, item 11: ``kronos forecast FILE --model chronos2-small`` was refused without ``--with``, so the
    "without" arm of a covariate comparison could not be run from the command line. Chronos-2 alone is the desk's
    forecast conditioned on nothing, asked with no covariates from the command line, HTTP, MCP and the app (Compare's
    "alone"), the same numbers from each."""
    from fastapi.testclient import TestClient
    from mcp import Client

    from app_support import conditioned
    from kronos_studio.bars_input import quality_gate, read_bars
    from kronos_studio.cli.main import main
    from kronos_studio.forecasters.bounds import quantile_table
    from kronos_studio.service.app import create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.mcp_server import create_server
    from kronos_studio.service.state import ServiceConfig

    file, settings = folder / "nasdaq.csv", ForecastSettings(horizon=HORIZON, paths=PATHS)
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(file)), MODEL, settings))  # no covariates named at all
    assert done.forecast.provenance["conditioned_on"] == []
    assert done.forecast.provenance["candles"]["repaired"] == 0  # through the seam: its candles are built valid
    assert any("this model forecasts no volume" in n.problem for n in done.notices)
    named_empty = Desk().forecast(ForecastRequest(BarsRequest(file=str(file)), MODEL, settings,
                                                  covariates=CovariateOptions()))
    np.testing.assert_array_equal(named_empty.forecast.paths, done.forecast.paths)
    expected = quantile_table(done.forecast, LEVELS).reset_index(drop=True)

    out = tmp_path / "alone.csv"
    code = main(["forecast", str(file), "--model", MODEL, "--horizon", str(HORIZON), "--paths", str(PATHS),
                 "--out", str(out), "--no-ledger", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "note: Chronos-2 alone, conditioned on nothing" in err
    faces = {"cli": pd.read_csv(out).drop(columns="timestamp")}

    app = create_app(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'http.sqlite'}"))
    with TestClient(app) as c:
        token = create_key(app.state.service.ledger, "team-a")[1]
        r = c.post("/v1/forecast", headers={"Authorization": f"Bearer {token}"},
                   json={"bars_csv": file.read_text(), "model": MODEL, "horizon": HORIZON, "paths": PATHS,
                         "quantiles": LEVELS, "record": False})
    assert r.status_code == 200, r.text
    assert r.json()["provenance"]["conditioned_on"] == []
    faces["http"] = pd.DataFrame(r.json()["quantiles"]).drop(columns="timestamp")

    server = create_server([folder], ledger_url=f"sqlite:///{tmp_path / 'mcp.sqlite'}")

    async def session():
        async with Client(server) as client:
            return await client.call_tool("forecast", {"file": str(file), "model": MODEL, "horizon": HORIZON,
                                                       "paths": PATHS, "quantiles": LEVELS, "record": False})

    made = anyio.run(session)
    assert not made.is_error, made.content
    faces["mcp"] = pd.DataFrame(json.loads(made.content[0].text)["quantiles"]).drop(columns="timestamp")

    bars, _ = quality_gate(read_bars(file))  # as the sidebar reads an upload
    faces["app"] = quantile_table(conditioned.run(bars, settings, ()).forecast, LEVELS).reset_index(drop=True)
    for face, got in faces.items():
        assert list(got.columns) == list(expected.columns), face
        np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-6, err_msg=face)


def test_an_uploaded_covariate_is_named_as_the_user_gave_it_and_its_ignored_columns_said(folder, tmp_path):
    """Issue 62, item 10: a covariate's caption showed the server's cache path and the content hash the app keeps
    an upload under, its notes said "pass Calendar" (the target's), its turnover column ``value`` was dropped
    without a word, and its dates were bar end times. Said of the file the user gave, by its name."""
    from kronos_studio.desk.covariates import conditioned_note

    spx = load_sample(SPX).frame.tail(400)
    kept = tmp_path / "cache" / "covariates" / "0123456789abcdef"  # as the app keeps an upload (conditioned.py)
    kept.mkdir(parents=True)
    frame = spx[["timestamp", "open", "high", "low", "close", "volume"]].assign(value=spx["volume"] * spx["close"])
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(kept / "spx_turnover.csv", index=False)
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                           ForecastSettings(horizon=HORIZON, paths=PATHS),
                                           covariates=CovariateOptions((str(kept / "spx_turnover.csv"),))))
    caption = conditioned_note(done.forecast.provenance)
    assert caption.startswith("Chronos-2 conditioned on spx_turnover.csv (spx_turnover 1d)")
    said = [n.worded() for n in done.notices if n.problem.startswith("covariate ")]
    assert said and not [s for s in said if str(tmp_path) in s or "0123456789abcdef" in s]
    assert any("amount (turnover) columns are ignored" in s for s in said)
    calendar = next(s for s in said if "inferred from the bar times" in s)
    assert "pass calendar to choose another" not in calendar
    assert "the covariate's own, which no setting chooses (calendar sets the target's)" in calendar
