"""The watchlist screener: one row per series, failures as rows, resume, local vs Ray, the CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from testkit import random_bars, run_cli

from kronos.settings import ForecastSettings
from kronos.threads import thread_budget
from kronos_studio.batch.engine import BatchRun, read_previous, run_batch, settings_key
from kronos_studio.batch.forecaster import BatchSettings, ChunkForecaster
from kronos_studio.batch.ray_engine import actor_cpus
from kronos_studio.batch.summary import summarize, touch_column
from kronos_studio.batch.watchlist import Entry, WatchlistError, read_watchlist, symbol_entries
from kronos_studio.forecasters import make_forecast

SETTINGS = BatchSettings(ForecastSettings(horizon=6, paths=12, seed=5, lookback=48), touch_levels=(-0.02, 0.03))


def write_series(folder, names, n=80):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        frame = random_bars(n, seed=i, freq="1h", start="2024-03-04 00:00")
        frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def watchlist(tmp_path_factory):
    """Five good series, one file that is not bars, one series shorter than the lookback."""
    folder = write_series(tmp_path_factory.mktemp("batch") / "watch", [f"S{i}" for i in range(5)])
    (folder / "broken.csv").write_text("these,are\nnot,bars\n")
    short = random_bars(20, freq="1h", start="2024-03-04 00:00")
    short["timestamp"] = short["timestamp"].dt.tz_localize("UTC")
    short.to_csv(folder / "short.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def local_run(watchlist, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    result = run_batch(read_watchlist(watchlist), SETTINGS, BatchRun(out=out / "rows.parquet", steps_out=out / "steps.parquet"))
    return result, out


def test_every_series_gets_a_row_and_bad_ones_say_why(local_run):
    result, out = local_run
    rows = pd.read_parquet(out / "rows.parquet")
    assert list(rows["series"]) == ["S0", "S1", "S2", "S3", "S4", "broken", "short"]  # watchlist (file name) order
    status = dict(zip(rows["series"], rows["status"]))
    assert status["broken"].startswith("cannot load:") and "timestamp" in status["broken"]
    assert status["short"].startswith("data-quality gate: short_history") and "lookback is 48" in status["short"]
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == 5 and result.forecast == 5 and result.failed == 2 and result.kept == 0
    assert ok[["p_up", "expected_return", "close_p10", "close_p50", "close_p90", "band_width"]].notna().all().all()
    assert ((ok["close_p10"] <= ok["close_p50"]) & (ok["close_p50"] <= ok["close_p90"])).all()
    assert ok["p_up"].between(0, 1).all() and (ok["expected_max_drawdown"] >= 0).all()
    assert {touch_column(-0.02), touch_column(0.03)} <= set(rows.columns)
    assert (ok["bars_used"] == 48).all() and (ok["paths"] == 12).all() and (ok["model"].notna()).all()
    assert (ok["threads"] == thread_budget().threads()).all()  # alone in the tests' share: every core it may use
    steps = pd.read_parquet(out / "steps.parquet")
    assert set(steps["series"]) == set(ok["series"]) and len(steps) == 5 * SETTINGS.forecast.horizon
    assert str(steps["timestamp"].dt.tz) == "UTC"


def test_a_row_equals_a_single_forecast_of_that_series(local_run, watchlist):
    """Each series draws from its own stream seeded with the seed: the batch row is what a forecast of
    that series alone (kronos forecast, the Forecast page) gives."""
    from data_sources import read_bars_file

    result, _ = local_run
    forecaster = ChunkForecaster(None, SETTINGS)
    bars = read_bars_file(watchlist / "S3.csv")
    alone = make_forecast(forecaster.forecaster, bars, forecaster.forecast_settings)
    expected = summarize(alone.paths, float(alone.history["close"].iloc[-1]), SETTINGS.touch_levels)
    row = result.rows.set_index("series").loc["S3"]
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


def test_unanchored_rows_are_the_official_output_of_that_series(watchlist, tmp_path):
    """--no-anchor (BatchSettings.anchor=False) reaches the model: the row is an unanchored single forecast
    and differs from the anchored default."""
    import dataclasses

    from data_sources import read_bars_file

    raw = dataclasses.replace(SETTINGS, forecast=dataclasses.replace(SETTINGS.forecast, anchor=False))
    result = run_batch(read_watchlist(watchlist), raw, BatchRun(out=tmp_path / "raw.parquet"))
    forecaster = ChunkForecaster(None, raw)
    bars = read_bars_file(watchlist / "S3.csv")
    alone = make_forecast(forecaster.forecaster, bars, forecaster.forecast_settings)
    assert alone.provenance["anchor"] == {"applied": False}
    expected = summarize(alone.paths, float(alone.history["close"].iloc[-1]), SETTINGS.touch_levels)
    row = result.rows.set_index("series").loc["S3"]
    assert row["close_p50"] == pytest.approx(expected["close_p50"], rel=1e-6)
    default = ChunkForecaster(None, SETTINGS)
    anchored = make_forecast(default.forecaster, bars, default.forecast_settings)
    assert row["close_p50"] != pytest.approx(float(np.median(anchored.paths[:, -1, 3])), rel=1e-9)


def test_rerun_skips_finished_series_and_redoes_changed_ones(watchlist, tmp_path):
    folder = tmp_path / "watch"
    folder.mkdir()
    for f in watchlist.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    out, steps = tmp_path / "rows.parquet", tmp_path / "steps.parquet"
    first = run_batch(read_watchlist(folder), SETTINGS, BatchRun(out=out, steps_out=steps))
    again = run_batch(read_watchlist(folder), SETTINGS, BatchRun(out=out, steps_out=steps))
    assert (again.forecast, again.kept) == (0, 5)
    pd.testing.assert_frame_equal(first.rows.drop(columns="created_at"), again.rows.drop(columns="created_at"),
                                  check_dtype=False)
    assert len(pd.read_parquet(steps)) == 5 * SETTINGS.forecast.horizon

    changed = random_bars(80, seed=99, freq="1h", start="2024-03-04 00:00")  # new bars for one series
    changed["timestamp"] = changed["timestamp"].dt.tz_localize("UTC")
    changed.to_csv(folder / "S2.csv", index=False)
    partial = pd.read_parquet(out)
    partial[partial["series"] != "S4"].to_parquet(out, index=False)  # as if stopped before S4
    third = run_batch(read_watchlist(folder), SETTINGS, BatchRun(out=out, steps_out=steps))
    assert (third.forecast, third.kept) == (2, 3)
    # Which two were forecast, named without the clock (created_at has whole seconds: a fast run redoes in the
    # second it first wrote): S4's row was cut from the file and is back, S2's data changed, the rest are kept.
    rows, before = third.rows.set_index("series"), first.rows.set_index("series")
    kept = ["S0", "S1", "S3"]
    pd.testing.assert_frame_equal(rows.loc[kept], before.loc[kept], check_dtype=False)
    assert rows.loc["S4", "status"] == "ok"
    assert third.rows.set_index("series").loc["S2", "data_sha256"] != first.rows.set_index("series").loc["S2", "data_sha256"]

    other = run_batch(read_watchlist(folder), BatchSettings(ForecastSettings(horizon=4, paths=12, seed=5, lookback=48)), BatchRun(out=out))
    assert (other.forecast, other.kept) == (5, 0)  # other settings: nothing is reused


def test_rows_of_other_settings_or_models_are_not_reused(local_run):
    _, out = local_run
    forecaster_key = pd.read_parquet(out / "rows.parquet")["settings_key"].dropna().unique()
    assert len(forecaster_key) == 1
    model = {"model": "x", "predictor_revision": "local:abc", "tokenizer_revision": "local:def"}
    assert settings_key(SETTINGS, model) != settings_key(SETTINGS, {**model, "predictor_revision": "local:abd"})
    rows, _ = read_previous(out / "rows.parquet", None, "not-this-key")
    assert rows == {}


@pytest.mark.ray
@pytest.mark.slow
def test_ray_engine_gives_the_local_results(local_run, watchlist, tmp_path):
    """Two actors on a local Ray instance, chunks of two series: the same rows as the local engine."""
    local, _ = local_run
    ray_result = run_batch(read_watchlist(watchlist), SETTINGS, BatchRun(
        out=tmp_path / "ray.parquet", steps_out=tmp_path / "ray_steps.parquet", engine="ray", workers=2, chunk_series=2))
    columns = [c for c in local.rows.columns if c not in ("created_at", "device", "threads")]
    pd.testing.assert_frame_equal(local.rows[columns], ray_result.rows[columns])
    pd.testing.assert_frame_equal(local.steps, ray_result.steps)
    cores = thread_budget().threads()
    ok = ray_result.rows["status"] == "ok"
    assert (ray_result.rows.loc[ok, "threads"] == actor_cpus(max(cores, 2), 2)).all()  # two actors: half each


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.skipif(thread_budget().threads() < 2, reason="needs two cores to give one actor several")
def test_one_ray_actor_gets_every_core_as_its_threads(watchlist, tmp_path):
    """The actors split the cores (Ray's num_cpus, which each actor's torch threads follow): one actor
    alone gets them all, not one thread."""
    result = run_batch(read_watchlist(watchlist), SETTINGS, BatchRun(out=tmp_path / "ray.parquet", engine="ray",
                                                                     workers=1))
    ok = result.rows["status"] == "ok"
    assert ok.sum() == 5 and (result.rows.loc[ok, "threads"] == thread_budget().threads()).all()


def test_ray_actors_split_the_cores_at_least_one_each():
    assert [actor_cpus(8, w) for w in (1, 2, 3, 4, 8, 16)] == [8, 4, 2, 2, 1, 1]
    assert actor_cpus(2, 2) == 1 and actor_cpus(2, 1) == 2
    assert actor_cpus(8, None) == 1  # Ray chooses the count: one actor per CPU


def test_summary_statistics_on_known_paths():
    last = 100.0
    closes = np.array([[101, 104, 110], [99, 97, 98], [100, 90, 95], [102, 103, 101]], dtype=float)
    paths = np.zeros((4, 3, 6))
    paths[:, :, 3] = closes  # close
    paths[:, :, 1] = closes + 1  # high
    paths[:, :, 2] = closes - 1  # low
    row = summarize(paths, last, (-0.05, 0.05))
    assert row["p_up"] == 0.5  # 110 and 101 end above 100
    assert row["expected_return"] == pytest.approx(np.mean([0.10, -0.02, -0.05, 0.01]))
    drawdowns = [0.0, 0.03, 0.10, (103 - 101) / 103]  # from the running peak, the last close included
    assert row["expected_max_drawdown"] == pytest.approx(np.mean(drawdowns))
    assert row["p_touch_-5%"] == 0.25  # only the path whose low reaches 89
    assert row["p_touch_+5%"] == 0.25  # only the path whose high reaches 111
    # four paths: p10 and p90 at the Weibull positions 0.5 and 4.5 of the sorted closes are the extremes
    assert row["band_width"] == pytest.approx((110 - 95) / last)


def test_symbol_watchlists_name_rows_and_refuse_bad_rows(tmp_path):
    good = tmp_path / "list.csv"
    good.write_text("source,symbol,interval,exchange\nsample,AAPL,1d,\nsample,MSFT,1d,\n"
                    "yfinance,AAPL,1h,\nccxt,BTC/USDT,1h,binance\n")
    entries = read_watchlist(good)
    assert [e.series for e in entries] == ["sample:AAPL:1d", "MSFT", "yfinance:AAPL:1h", "BTC/USDT"]
    assert entries[3].origin == "ccxt:binance:BTC/USDT:1h"
    for text, words in [("symbol,interval\nAAPL,1d\n", "lacks the columns ['source']"),
                        ("source,symbol,interval\nbloomberg,AAPL,1d\n", "unknown source 'bloomberg'"),
                        ("source,symbol,interval\nccxt,BTC/USDT,1h\n", "ccxt needs an exchange")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(WatchlistError, match=words.replace("[", r"\[").replace("]", r"\]")):
            read_watchlist(bad)
    (tmp_path / "dup").mkdir()
    (tmp_path / "dup" / "A.csv").write_text("x")
    (tmp_path / "dup" / "A.parquet").write_text("x")
    with pytest.raises(WatchlistError, match="share a series name"):
        read_watchlist(tmp_path / "dup")


def test_samples_and_missing_symbols_in_one_watchlist(tmp_path):
    """Fetched series go through the bar cache; one that does not exist is a row with the reason."""
    from data_sources import list_samples

    sample = list_samples()[0].name
    entries = symbol_entries([("sample", sample, "1d", None), ("sample", "NOPE", "1d", None)])
    result = run_batch(entries, BatchSettings(ForecastSettings(horizon=5, paths=8, lookback=64)), BatchRun(cache=tmp_path / "cache"))
    status = dict(zip(result.rows["series"], result.rows["status"]))
    assert status[sample] == "ok"
    assert status["NOPE"].startswith("cannot load:") and "unknown sample" in status["NOPE"]


def test_cli_batch(watchlist, tmp_path):
    out = tmp_path / "rows.parquet"
    cmd = ["batch", str(watchlist), "--horizon", "5", "--paths", "8",
           "--lookback", "48", "--touch-levels=-0.1,0.05", "--out", str(out), "--steps-out", str(tmp_path / "s.parquet"),
           "--quiet", "--threads", "1"]
    r = run_cli(*cmd)
    assert r.returncode == 0, r.stderr
    assert "wrote 7 rows" in r.stderr and "5 forecast" in r.stderr and "2 without a forecast" in r.stderr
    assert "short: data-quality gate" in r.stderr
    rows = pd.read_parquet(out)
    assert {"p_touch_-10%", "p_touch_+5%"} <= set(rows.columns)
    assert (rows.loc[rows["status"] == "ok", "threads"] == 1).all()  # --threads: every forecast's
    r = run_cli(*cmd)
    assert "0 forecast, 5 already done" in r.stderr
    bad = run_cli(*cmd[:2], "--horizon", "5", "--out", tmp_path / "rows.csv")
    assert bad.returncode == 2 and "--out must be a .parquet file" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli(*cmd[:1], tmp_path / "nowhere", "--horizon", "5", "--out", out)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_entry_origin_names_file_or_symbol():
    assert Entry("x", file="/a/x.csv").origin == "/a/x.csv"
    assert Entry("AAPL", source="yfinance", symbol="AAPL", interval="1d").origin == "yfinance:AAPL:1d"


def test_cli_batch_accepts_the_gates_fixes_and_a_calendar(tmp_path):
    """Issue 21: an unsorted file cannot be screened until `--fix sort`; `--calendar` overrides the calendar
    inferred from a file's bar times, and a row made with another calendar is not kept on a rerun."""
    from testkit import fx_hourly_export

    folder = tmp_path / "watch"
    folder.mkdir()
    frame = pd.read_csv(fx_hourly_export(folder / "EURUSD.csv"))
    frame.iloc[[100, 101]] = frame.iloc[[101, 100]].to_numpy()  # two rows swapped
    frame.to_csv(folder / "EURUSD.csv", index=False)
    out = tmp_path / "rows.parquet"
    cmd = ["batch", str(folder), "--horizon", "6", "--paths", "4",
           "--lookback", "48", "--out", str(out), "--quiet"]
    r = run_cli(*cmd)
    assert r.returncode == 0, r.stderr
    row = pd.read_parquet(out).iloc[0]
    assert row["status"].startswith("data-quality gate: unsorted") and "'sort'" in row["status"]
    r = run_cli(*cmd, "--fix", "sort")
    assert r.returncode == 0 and "1 forecast" in r.stderr, r.stderr
    row = pd.read_parquet(out).iloc[0]
    assert row["status"] == "ok" and row["calendar"] == "FX" and row["calendar_inferred"]
    r = run_cli(*cmd, "--fix", "sort", "--calendar", "24/7")
    assert r.returncode == 0 and "1 forecast, 0 already done" in r.stderr, r.stderr  # other calendar: not kept
    row = pd.read_parquet(out).iloc[0]
    assert row["calendar"] == "24/7" and not row["calendar_inferred"]
    bad = run_cli(*cmd, "--fix", "sideways")
    assert bad.returncode == 2 and "no automatic fix named 'sideways'" in bad.stderr and "Traceback" not in bad.stderr
