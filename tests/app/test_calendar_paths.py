"""Issue 21: one hourly EURUSD export, four ways in (the Forecast page's library path, the Screener's,
``kronos forecast`` and ``kronos batch``): the same calendar inference, the same future bar times (none
in the FX weekend) and the same quantiles for the same seed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from testkit import fx_hourly_export, nyse_daily_export, run_cli

HORIZON, PATHS, SEED, LOOKBACK = 36, 8, 11, 100
NY = "America/New_York"


def in_fx_weekend(stamps: pd.DatetimeIndex) -> np.ndarray:
    ny = pd.DatetimeIndex(stamps).tz_convert(NY)
    return np.asarray(((ny.day_of_week == 4) & (ny.hour >= 17)) | (ny.day_of_week == 5)
                      | ((ny.day_of_week == 6) & (ny.hour < 17)))


def forecast_page(model, data: bytes, name: str):
    """What pages/forecast.py runs: the upload read by data_sources, the gate, forecasts.run."""
    from app_support import forecasts
    from data_sources import check_bars, read_bars_file
    from kronos.settings import ForecastSettings
    from kronos_studio.desk import ModelRef

    bars = read_bars_file(data, name=name)
    assert not [f for f in check_bars(bars, lookback=LOOKBACK) if f.severity == "error"]
    choice = ModelRef(f"folder:{model}", model.name, str(model), "folder", 128)
    settings = ForecastSettings(horizon=HORIZON, paths=PATHS, seed=SEED, lookback=LOOKBACK)
    fc, _ = forecasts.run(bars, choice, settings)
    q = fc.quantiles([0.1, 0.5, 0.9])
    return bars, pd.DatetimeIndex(q.index).tz_convert("UTC"), q[["close_p10", "close_p50", "close_p90"]].to_numpy()


def screener_page(model, data: bytes, name: str):
    """What the Screener runs for an uploaded file: upload_entries, then kronos_studio.batch."""
    from app_support import screener
    from kronos.settings import ForecastSettings
    from kronos_studio.batch.engine import BatchRun, run_batch
    from kronos_studio.desk.watchlists import upload_entries

    settings = screener.RunSettings(f"folder:{model}", model.name, str(model), 128,
                                    ForecastSettings(horizon=HORIZON, paths=PATHS, seed=SEED, lookback=LOOKBACK))
    result = run_batch(upload_entries([(name, data)]), settings.batch(), BatchRun(model=settings.model_ref))
    assert (result.rows["status"] == "ok").all(), result.rows["status"].tolist()
    steps = result.steps
    return pd.DatetimeIndex(steps["timestamp"]), steps[["close_p10", "close_p50", "close_p90"]].to_numpy()


@pytest.mark.parametrize("kind", ["fx", "index"])
def test_one_export_gets_the_same_future_and_numbers_on_every_path(app_env, tmp_path, kind):
    model = app_env[0]
    folder = tmp_path / "watch"
    folder.mkdir()
    if kind == "fx":
        path = fx_hourly_export(folder / "EURUSD.csv")
    else:
        path = nyse_daily_export(folder / "GSPC.csv", start="2016-01-04", end="2018-12-31")
    data = path.read_bytes()

    bars, page_times, page_q = forecast_page(model, data, path.name)
    scr_times, scr_q = screener_page(model, data, path.name)

    out, prov = tmp_path / "q.csv", tmp_path / "prov.json"
    r = run_cli("forecast", path, "--model", model, "--horizon", HORIZON, "--paths", PATHS, "--seed", SEED,
            "--lookback", LOOKBACK, "--out", out, "--provenance-out", prov, "--device", "cpu", "--quiet", "--no-ledger")
    assert r.returncode == 0, r.stderr
    q = pd.read_csv(out)
    cli_times = pd.DatetimeIndex(pd.to_datetime(q["timestamp"], utc=True))
    rows = tmp_path / "rows.parquet"
    r = run_cli("batch", folder, "--model", model, "--horizon", HORIZON, "--paths", PATHS, "--seed", SEED,
            "--lookback", LOOKBACK, "--out", rows, "--steps-out", tmp_path / "steps.parquet", "--device", "cpu",
            "--quiet")
    assert r.returncode == 0, r.stderr
    steps = pd.read_parquet(tmp_path / "steps.parquet")
    batch_times = pd.DatetimeIndex(steps["timestamp"]).tz_convert("UTC")

    for times in (scr_times, cli_times, batch_times):
        assert list(times) == list(page_times)
    for numbers in (scr_q, q[["close_p10", "close_p50", "close_p90"]].to_numpy(),
                    steps[["close_p10", "close_p50", "close_p90"]].to_numpy()):
        np.testing.assert_allclose(numbers, page_q, rtol=1e-5)
    import json

    series = json.loads(prov.read_text())["series"]
    if kind == "fx":
        assert bars.calendar == "FX" and series["calendar"] == "FX" and series["calendar_inferred"] is True
        assert not (page_times.day_of_week == 5).any() and not in_fx_weekend(page_times).any()
    else:
        assert bars.calendar == "XNYS" and series["calendar"] == "XNYS" and series["calendar_inferred"] is True
        assert "2019-01-01" not in {t.strftime("%Y-%m-%d") for t in page_times}
        assert "2019-01-21" not in {t.strftime("%Y-%m-%d") for t in page_times}
    assert "holidays" in series["calendar_evidence"] or "currency week" in series["calendar_evidence"]
