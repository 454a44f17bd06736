"""The ledger on SQLite and PostgreSQL: a forecast's round trip, scoring as the bars arrive, the
walk-forward's numbers on the same cut-off, the long table and its export, bad URLs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ledger_helpers import cut, forecast, series
from testkit import DATA_FIXTURES

from kronos.quantiles import BAND
from kronos.settings import default
from kronos_studio.evaluation.metrics import crps_samples
from kronos_studio.ledger import Ledger, LedgerError


def test_round_trip_keeps_the_forecast_and_enough_paths_to_score_it(ledger):
    bars = series(300)
    fc = forecast(bars, 250, horizon=12, paths=30, seed=4, model="m-a", members={"kronos": {"w": 0.5}})
    rec = ledger.record(fc, cut(bars, 250), exchange=None)
    assert rec.new and rec.id > 0
    again = ledger.record(fc, cut(bars, 250))  # the same forecast shown again: kept once
    assert again.id == rec.id and not again.new and ledger.counts()["predictions"] == 1

    row = ledger.predictions_frame().iloc[0]
    assert (row.source, row.symbol, row.interval, row.model) == ("file", "TEST", "1h", "m-a")
    assert (row.horizon, row.paths, row.seed, row.top_p, row.lookback, row.calibrated) == (12, 30, 4, default("top_p"), 64, False)
    assert row.last_bar_at == bars.frame["timestamp"].iloc[249] and row.last_close == bars.frame["close"].iloc[249]
    assert row.scored_steps == 0 and np.isnan(row.crps)

    steps = ledger.steps_frame()
    assert list(steps["step"]) == list(range(1, 13)) and (steps["prediction_id"] == rec.id).all()
    assert (steps["timestamp"] == pd.DatetimeIndex(fc.timestamps).tz_convert("UTC")).all()
    expected = np.quantile(fc.paths[:, :, 3], (0.1, 0.5, 0.9), axis=0, method="weibull").astype(np.float32)
    for i, name in enumerate(("close_p10", "close_p50", "close_p90")):
        np.testing.assert_array_equal(steps[name].to_numpy(np.float32), expected[i])

    fields, stored = ledger.paths(rec.id)  # the paths, bit for bit: every later score is exact
    assert fields == ("close", "high", "low")
    np.testing.assert_array_equal(stored, fc.paths[:, :, [3, 1, 2]])
    actual = bars.frame["close"].to_numpy()[250:262]
    assert (crps_samples(stored[:, :, 0], actual) == crps_samples(fc.paths[:, :, 3], actual)).all()
    assert ledger.read(lambda c: c.exec_driver_sql("SELECT members, provenance FROM predictions").first())


def test_the_same_paths_under_other_settings_or_series_are_other_forecasts(ledger):
    bars = series(300)
    fc = forecast(bars, 250)
    ids = {ledger.record(fc, cut(bars, 250)).id,
           ledger.record(fc, cut(bars, 250).replace(symbol="OTHER")).id,
           ledger.record(forecast(bars, 250, seed=1), cut(bars, 250)).id}
    assert len(ids) == 3 and ledger.counts()["predictions"] == 3


def test_scoring_as_bars_arrive_matches_the_walk_forward_on_the_same_cutoffs(ledger, random_model):
    """A Kronos forecast recorded at a cut-off and scored once the bars arrive (in two deliveries) gives
    the walk-forward's CRPS, coverage, PIT and direction on that cut-off, exactly."""
    from kronos.pipeline import KronosPipeline
    from kronos.settings import ForecastSettings
    from kronos_studio.evaluation.walk_forward import walk_forward
    from kronos_studio.forecasters.kronos import KronosForecaster

    bars = series(200, seed=3)
    pipeline = KronosPipeline(random_model("tiny").ours(64))
    horizon, cutoffs, lookback = 8, [150, 170], 48
    kronos = KronosForecaster(pipeline)
    kronos.batch_size = 1  # each cut-off alone on its seed's stream, as the live forecasts were
    result = walk_forward(kronos, bars.frame, ForecastSettings(horizon=horizon, paths=16, seed=5, lookback=lookback),
                          cutoffs)
    frame, stamps = bars.frame, pd.DatetimeIndex(bars.frame["timestamp"])
    for i, c in enumerate(cutoffs):  # what the live forecast at that cut-off was: same history, seed, bar times
        fc = pipeline.predict(frame.iloc[c - lookback:c].reset_index(drop=True), horizon, paths=16, seed=5 + i,
                              future_timestamps=stamps[c:c + horizon])
        ledger.record(fc, cut(bars, c))
    first = ledger.score(cut(bars, 155))  # 5 bars after the first cut-off, none after the second
    assert (first.predictions, first.steps, first.completed) == (1, 5, 0)
    full = ledger.score(bars)
    assert (full.predictions, full.steps, full.completed) == (2, 3 + 8, 2) and not full.skipped
    assert ledger.score(bars).steps == 0  # nothing is scored twice

    got = ledger.evaluations_frame().sort_values(["last_bar_at", "step"])
    for name in ("crps", "covered", "pit", "direction_hit"):
        np.testing.assert_array_equal(got[name].to_numpy().reshape(2, horizon), getattr(result, name), err_msg=name)
    np.testing.assert_array_equal(got["actual_close"].to_numpy().reshape(2, horizon), result.actual)
    for name, ours in (("close_p10", result.lower), ("close_p50", result.median), ("close_p90", result.upper)):
        np.testing.assert_allclose(got[name].to_numpy().reshape(2, horizon), ours, rtol=1e-6)  # kept as float32
    assert BAND == (0.1, 0.9)  # the band the stored p10/p90 columns and `covered` refer to


def test_scoring_skips_what_it_cannot_score_and_says_why(ledger):
    bars = series(300)
    ledger.record(forecast(bars, 250, horizon=10), cut(bars, 250))
    holed = bars.frame.drop(index=249).reset_index(drop=True)  # the forecast's last bar is missing
    report = ledger.score(bars.replace(frame=holed))
    assert report.steps == 0 and "no bar at its last bar time" in report.skipped[0]
    split = bars.frame.copy()
    split[["open", "high", "low", "close"]] /= 2  # re-adjusted history: a 2-for-1 split
    report = ledger.score(bars.replace(frame=split))
    assert report.steps == 0 and "re-adjusted" in report.skipped[0]
    gap = bars.frame.copy()
    gap.loc[254, "close"] = np.nan  # a missing value ends what can be scored: bars 250-253 are steps 1-4
    assert ledger.score(bars.replace(frame=gap)).steps == 4
    assert ledger.score(bars.replace(frame=bars.frame.iloc[::-1].reset_index(drop=True))).steps == 6  # any row order
    other = bars.replace(symbol="ELSEWHERE")
    assert ledger.score(other).steps == 0 and list(ledger.due(other)) == ["prediction_id", "first_step", "last_step"]


def test_the_long_table_filters_and_exports(ledger, tmp_path):
    import datetime as dt

    a, b = series(300, symbol="AAA"), series(300, seed=1, symbol="BBB")
    ledger.record(forecast(a, 250, horizon=5, model="m1"), cut(a, 250))
    ledger.record(forecast(b, 250, horizon=7, model="m2", created_at="2024-08-01T00:00:00+00:00"), cut(b, 250))
    ledger.score(a)
    out = tmp_path / "ledger.parquet"
    assert ledger.export(out) == 12
    table = pd.read_parquet(out)
    needed = {"prediction_id", "symbol", "model", "created_at", "step", "timestamp", "close_p10", "close_p50",
              "close_p90", "actual_close", "crps", "covered"}
    assert needed <= set(table.columns) and len(table) == 12
    assert table.groupby("symbol")["step"].max().to_dict() == {"AAA": 5, "BBB": 7}
    assert table.loc[table.symbol == "AAA", "crps"].notna().all()
    assert table.loc[table.symbol == "BBB", "crps"].isna().all()
    assert len(ledger.steps_frame(symbol="BBB")) == 7 and len(ledger.steps_frame(models=["m1"])) == 5
    assert len(ledger.steps_frame(since=dt.date(2024, 7, 15))) == 7  # created on 2024-08-01 only
    assert len(ledger.evaluations_frame()) == 5 and ledger.evaluations_frame(symbol="BBB").empty
    series_table = ledger.series_frame()
    assert set(series_table["symbol"]) == {"AAA", "BBB"} and (series_table["predictions"] == 1).all()
    pending = ledger.pending_series()
    assert list(pending["symbol"]) == ["BBB"] and pending["predictions"].iloc[0] == 1


def test_a_url_that_is_not_one_and_a_server_that_is_down_are_one_line_errors(tmp_path):
    with pytest.raises(LedgerError, match="is not a database URL") as e:
        Ledger.open("not a url")
    assert "\n" not in str(e.value)
    with pytest.raises(LedgerError, match="no database driver"):
        Ledger.open("mysql+nosuchdriver://u@h/db")
    with pytest.raises(LedgerError, match=r"cannot open the ledger at postgresql://kronos:\*\*\*@127.0.0.1:9/x: "):
        Ledger.open("postgresql://kronos:secret@127.0.0.1:9/x")  # nothing listens on port 9; the password is masked


def test_the_default_ledger_is_a_sqlite_file_under_the_storage_root(monkeypatch, tmp_path):
    from kronos_studio.ledger import ledger_url

    monkeypatch.delenv("KRONOS_STUDIO_DB", raising=False)
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    assert ledger_url() == f"sqlite:///{tmp_path / 'cache' / 'ledger.sqlite'}"
    with Ledger.open() as ledger:  # created on first use, folder and all
        assert ledger.counts() == {"predictions": 0, "evaluations": 0, "track_records": 0}
    assert (tmp_path / "cache" / "ledger.sqlite").is_file()
    monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{tmp_path / 'team.sqlite'}")
    assert ledger_url().endswith("team.sqlite")


def test_a_forecast_is_scored_only_with_bars_that_continue_the_history_it_read(ledger):
    """Issue 21 item 3: a forecast of an uploaded Bitfinex BTC/USD file is not scored with a Coinbase file
    of the same pair, whose closes are 0.42% apart (inside the last-close tolerance). Neither file names its
    exchange, so both are the series BTC/USD (issue 62 item 1: a file's name is no part of it): the Coinbase
    bars before its last bar differ from those it read, so it waits and says why; the Bitfinex bars score it.
    With the exchanges known, they are two series, and the Coinbase bars are not even a candidate."""

    from data_sources import read_bars_file

    fixtures = DATA_FIXTURES
    bitfinex = read_bars_file(fixtures / "cdd_bitfinex_BTCUSD_1h.csv")
    coinbase = read_bars_file(fixtures / "cdd_coinbase_BTCUSD_1h.csv")
    assert (bitfinex.source, bitfinex.symbol, bitfinex.interval) == (coinbase.source, coinbase.symbol, coinbase.interval)
    assert bitfinex.series_symbol == coinbase.series_symbol == "BTC/USD"  # their symbol column's, no exchange known
    last = bitfinex.frame["close"].iloc[29] / coinbase.frame["close"].iloc[29] - 1
    assert 0.004 < last < 0.005  # one close within the tolerance: the old rule scored it
    pid = ledger.record(forecast(bitfinex, 30, horizon=12), cut(bitfinex, 30)).id
    other_venue = ledger.score(coinbase.replace(venue="coinbase"))
    assert other_venue.steps == 0 and not other_venue.skipped  # coinbase:BTC/USD: not even a candidate
    report = ledger.score(coinbase)
    assert report.steps == 0 and f"prediction {pid}: " in report.skipped[0]
    assert "do not continue the history it read" in report.skipped[0]
    row = ledger.predictions_frame().iloc[0]
    assert row.scored_steps == 0 and "do not continue the history it read" in row.waiting
    full = ledger.score(bitfinex)
    assert full.steps == 12 and not full.skipped
    assert ledger.predictions_frame().iloc[0].waiting is None  # scored: no longer waiting
