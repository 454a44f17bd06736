"""Issue 56, the batch: every series of a watchlist forecast by Chronos-2 conditioned on covariates read once, each
row the forecast ``Desk.forecast`` gives that series alone; a series that is one of the covariates refused on its
row; a rerun with other covariates computed again."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from testkit import needs_bundled_chronos2

from data_sources.requests import BarsRequest
from data_sources.samples import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.covariates.options import CovariateOptions
from kronos_studio.desk import Desk, ForecastRequest

needs_bundled_chronos2()

SPX = "S&P 500 index daily 1999-2018 (arch)"
NASDAQ = "NASDAQ Composite daily 1999-2018 (arch)"
MODEL = "chronos2-small"
HORIZON, PATHS = 3, 20


def _write(frame: pd.DataFrame, path) -> None:
    frame[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(path, index=False)


@pytest.fixture(scope="module")
def watchlist(tmp_path_factory):
    """A folder of two series, the NASDAQ's and the S&P 500's last 300 daily bars; and a file of the S&P 500 whose
    last closes differ (another covariate of the same series)."""
    root = tmp_path_factory.mktemp("covariate-batch")
    folder = root / "watchlist"
    folder.mkdir()
    _write(load_sample(NASDAQ).frame.tail(300), folder / "nasdaq.csv")
    spx = load_sample(SPX).frame.tail(400)
    _write(spx.tail(300), folder / "spx.csv")
    other = spx.copy()
    other.loc[other.index[-5:], ["open", "high", "low", "close"]] *= 1.01
    _write(other, root / "spx_other.csv")
    return folder, root / "spx_other.csv"


def batch(folder, out, *covariates, model=MODEL, capsys=None):
    from kronos_studio.cli.main import main

    given = [a for c in covariates for a in ("--with", str(c))]
    return main(["batch", str(folder), "--model", model, *given, "--horizon", str(HORIZON), "--paths", str(PATHS),
                 "--out", str(out), "--steps-out", str(out.with_suffix(".steps.parquet")), "--quiet"])


def test_a_conditioned_row_is_the_desk_forecast_of_its_series(watchlist, tmp_path, capsys):
    from kronos_studio.batch.summary import summarize

    folder, _ = watchlist
    out = tmp_path / "rows.parquet"
    assert batch(folder, out, SPX) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"note: Chronos-2 conditioned on {SPX}" in err
    rows = pd.read_parquet(out).set_index("series")
    row = rows.loc["nasdaq"]
    assert row["status"] == "ok"
    named = json.loads(row["covariates"])
    assert [c["ref"] for c in named] == [SPX] and named[0]["series"] == "^GSPC"

    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                           ForecastSettings(horizon=HORIZON, paths=PATHS),
                                           covariates=CovariateOptions((SPX,))))
    fc = done.forecast
    expected = summarize(fc.paths, float(fc.history["close"].iloc[-1]), (-0.05, 0.05))
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, rel=1e-6), column
    steps = pd.read_parquet(out.with_suffix(".steps.parquet"))
    mine = steps[steps["series"] == "nasdaq"]["close_p50"].to_numpy()
    np.testing.assert_allclose(mine, fc.quantiles([0.5])["close_p50"].to_numpy(), rtol=1e-6)
    # and conditioning changed it: Chronos-2 alone (covariates given, but none) forecasts other numbers
    alone = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                            ForecastSettings(horizon=HORIZON, paths=PATHS),
                                            covariates=CovariateOptions()))
    assert not np.allclose(alone.forecast.paths, fc.paths)


def test_a_series_that_is_a_covariate_is_refused_on_its_row(watchlist, tmp_path, capsys):
    folder, _ = watchlist
    out = tmp_path / "rows.parquet"
    assert batch(folder, out, SPX) == 0
    err = capsys.readouterr().err
    rows = pd.read_parquet(out).set_index("series")
    assert rows.loc["nasdaq", "status"] == "ok"
    assert "is the target itself" in rows.loc["spx", "status"]
    assert "spx: covariates refused" in err and "Traceback" not in err
    assert "wrote 2 rows" in err and "1 forecast, 0 already done, 1 without a forecast" in err  # spx not counted twice


def test_a_rerun_with_other_covariates_computes_again(watchlist, tmp_path, capsys):
    from kronos_studio.batch.engine import BatchRun, run_batch
    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.batch.watchlist import read_watchlist
    from kronos_studio.desk.covariates import read_once

    folder, other = watchlist
    entries = [e for e in read_watchlist(str(folder)) if e.series == "nasdaq"]
    settings = BatchSettings(ForecastSettings(horizon=HORIZON, paths=PATHS))
    out = tmp_path / "rows.parquet"

    def run(covariate):
        conditioning = read_once(Desk(), CovariateOptions((str(covariate),)), "1d")
        return run_batch(entries, settings, BatchRun(model=MODEL, out=out, covariates=conditioning))

    first = run(SPX)
    assert (first.forecast, first.kept) == (1, 0)
    again = run(SPX)
    assert (again.forecast, again.kept) == (0, 1)  # the same covariates' bars: kept
    changed = run(other)
    assert (changed.forecast, changed.kept) == (1, 0)  # the same series, other bars: computed again
    assert changed.rows["settings_key"].iloc[0] != first.rows["settings_key"].iloc[0]
    assert json.loads(changed.rows["covariates"].iloc[0])[0]["ref"] == str(other)
    assert changed.rows["close_p50"].iloc[0] != first.rows["close_p50"].iloc[0]


def test_another_model_with_covariates_is_refused_as_the_desk_refuses_it(watchlist, tmp_path, capsys):
    folder, _ = watchlist
    code = batch(folder, tmp_path / "rows.parquet", SPX, model="studio-tiny")
    err = capsys.readouterr().err
    assert code == 2 and "studio-tiny cannot read covariates" in err and "--model chronos2-small" in err
    assert not (tmp_path / "rows.parquet").exists()


def test_http_and_mcp_screens_take_the_covariates_fields(watchlist, tmp_path):
    """``POST /v1/batch`` and the MCP ``screen`` tool condition every series as ``kronos batch --with`` does: the
    same close quantiles as the desk's forecast of the series; the series that is the covariate refused on its row."""
    import anyio
    from fastapi.testclient import TestClient
    from mcp import Client

    from kronos_studio.service.app import create_app
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.mcp_server import create_server
    from kronos_studio.service.state import ServiceConfig

    folder, _ = watchlist
    expected = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                               ForecastSettings(horizon=HORIZON, paths=PATHS),
                                               covariates=CovariateOptions((SPX,))))
    p50 = float(np.quantile(expected.forecast.paths[:, -1, 3], 0.5))
    series = [{"name": stem, "bars_csv": (folder / f"{stem}.csv").read_text()} for stem in ("nasdaq", "spx")]
    app = create_app(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'http.sqlite'}", jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {create_key(app.state.service.ledger, 'team-a')[1]}"
        refused = c.post("/v1/batch", json={"series": series, "covariates": [SPX], "horizon": HORIZON})
        assert refused.status_code == 422 and "cannot read covariates" in refused.json()["detail"]
        submitted = c.post("/v1/batch", json={"series": series, "model": MODEL, "covariates": [SPX],
                                              "horizon": HORIZON, "paths": PATHS})
        assert submitted.status_code == 202, submitted.text
        assert finished(c, submitted.json()["id"])["status"] == "done"
        rows = {r["series"]: r for r in c.get(f"/v1/jobs/{submitted.json()['id']}/result").json()["rows"]}
    assert rows["nasdaq"]["close_p50"] == pytest.approx(p50, rel=1e-6)
    assert json.loads(rows["nasdaq"]["covariates"])[0]["ref"] == SPX
    assert "is the target itself" in rows["spx"]["status"]

    server = create_server([folder], ledger_url=f"sqlite:///{tmp_path / 'mcp.sqlite'}")

    async def session():
        async with Client(server) as client:
            return await client.call_tool("screen", {"files": [str(folder / "nasdaq.csv")], "model": MODEL,
                                                     "covariates": [SPX], "horizon": HORIZON, "paths": PATHS})

    made = anyio.run(session)
    assert not made.is_error, made.content
    row = json.loads(made.content[0].text)["rows"][0]
    assert row["close_p50"] == pytest.approx(p50, rel=1e-6)


def finished(client, job_id: str, within_s: float = 120.0) -> dict:
    """The job's status once it is no longer queued or running (the bound only turns a hang into a failure)."""
    import time

    deadline = time.monotonic() + within_s
    while (status := client.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status
