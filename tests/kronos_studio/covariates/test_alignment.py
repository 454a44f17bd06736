"""Covariates laid on a target's bars as of each target bar's close (kronos_studio.covariates.alignment)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources.schema import Bars
from kronos.errors import InputError
from kronos_studio.covariates.alignment import MAX_COVARIATES, align, bar_ends


def bars(times, symbol, interval, calendar=None, timezone="UTC", close=None, seed=0) -> Bars:
    times = pd.DatetimeIndex(times)
    n = len(times)
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))) if close is None else np.asarray(close, dtype=float)
    frame = pd.DataFrame({"timestamp": times, "open": c, "high": c * 1.01, "low": c * 0.99, "close": c,
                          "volume": np.full(n, 1000.0)})
    return Bars.from_frame(frame, source="file", symbol=symbol, interval=interval, timezone=timezone,
                           calendar=calendar)


def nyse_days(start, end):
    from data_sources.calendars import exchange_calendar

    cal = exchange_calendar("XNYS", pd.Timestamp(start), pd.Timestamp(end))
    return cal.sessions_in_range(start, end).tz_localize("America/New_York")


def test_bar_ends_follow_each_market_s_close():
    index = bars(nyse_days("2024-01-02", "2024-01-05"), "SPX", "1d", "XNYS", "America/New_York")
    assert bar_ends(index)[0] == pd.Timestamp("2024-01-02 21:00", tz="UTC")  # 16:00 New York, winter
    crypto = bars(pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC"), "BTC", "1d", "24/7")
    assert bar_ends(crypto)[0] == pd.Timestamp("2024-01-02 00:00", tz="UTC")
    tokyo = bars(pd.DatetimeIndex(["2024-01-04", "2024-01-05"]).tz_localize("Asia/Tokyo"), "N225", "1d", "XTKS",
                 "Asia/Tokyo")
    assert bar_ends(tokyo)[0] == pd.Timestamp("2024-01-04 06:00", tz="UTC")  # 15:00 Tokyo
    hourly = bars(pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"), "BTC", "1h", "24/7")
    assert bar_ends(hourly)[0] == pd.Timestamp("2024-01-01 01:00", tz="UTC")


def test_index_target_reads_only_the_crypto_days_that_ended_before_its_close():
    """An index close (16:00 New York = 21:00 UTC) knows the crypto day that ended at 00:00 UTC that morning, not
    the one still running; Monday's index bar reads the weekend's three crypto days as one bar."""
    days = pd.date_range("2023-12-25", "2024-01-31", freq="D", tz="UTC")
    crypto = bars(days, "BTC", "1d", "24/7", close=np.arange(len(days)) + 100.0)
    index = bars(nyse_days("2024-01-02", "2024-01-31"), "SPX", "1d", "XNYS", "America/New_York", seed=1)
    a = align(index, [crypto])
    cov = a.covariates[0]
    close = cov.frame["close"].to_numpy()
    # Tuesday 2024-01-02's index close reads the crypto bar of 2024-01-01 (ended 2024-01-02 00:00 UTC)
    assert close[0] == crypto.frame["close"].iloc[list(days).index(pd.Timestamp("2024-01-01", tz="UTC"))]
    monday = list(index.timestamps).index(pd.Timestamp("2024-01-08", tz="America/New_York"))
    sat, sun = (list(days).index(pd.Timestamp(d, tz="UTC")) for d in ("2024-01-06", "2024-01-07"))
    fri = sat - 1
    assert close[monday] == crypto.frame["close"].iloc[sun]  # Sunday's crypto day ended Monday 00:00 UTC
    assert cov.frame["open"].iloc[monday] == crypto.frame["open"].iloc[fri + 0]  # the span opens with Friday's day
    assert cov.frame["volume"].iloc[monday] == 3000.0  # Friday, Saturday, Sunday
    # the crypto days that end after the cut-off (the last index close) are dropped, with a notice
    assert any("dropped" in n.problem for n in a.notices)
    assert cov.last_end <= a.cutoff


def test_crypto_target_reads_the_index_close_of_the_same_day_and_masks_the_second_weekend_day():
    days = pd.date_range("2024-01-02", "2024-01-31", freq="D", tz="UTC")
    crypto = bars(days, "BTC", "1d", "24/7")
    sessions = nyse_days("2024-01-02", "2024-02-02")
    index = bars(sessions, "SPX", "1d", "XNYS", "America/New_York", close=np.arange(len(sessions)) + 4000.0)
    a = align(crypto, [index])
    close = a.covariates[0].frame["close"].to_numpy()
    # the crypto day of Tuesday 2024-01-02 ends Wednesday 00:00 UTC, after Tuesday's 21:00 UTC index close
    assert close[0] == 4000.0
    sat = list(days).index(pd.Timestamp("2024-01-06", tz="UTC"))
    assert close[sat] == close[sat - 1]  # Saturday: Friday's close, filled once
    assert np.isnan(close[sat + 1])  # Sunday: masked, never a second fill
    assert a.covariates[0].filled >= 1 and a.covariates[0].masked >= 1
    assert any("filled" in n.problem and "masked" in n.problem for n in a.notices)


def test_tokyo_close_is_known_to_new_york_the_same_day_but_not_the_reverse():
    nyse = nyse_days("2024-03-04", "2024-03-29")
    tokyo_days = pd.bdate_range("2024-03-01", "2024-03-29").tz_localize("Asia/Tokyo")
    ny = bars(nyse, "SPX", "1d", "XNYS", "America/New_York", close=np.arange(len(nyse)) + 5000.0)
    jp = bars(tokyo_days, "N225", "1d", "XTKS", "Asia/Tokyo", close=np.arange(len(tokyo_days)) + 39000.0)
    # New York target: Tokyo's bar of the same date closed ~15 hours earlier
    on_ny = align(ny, [jp]).covariates[0].frame["close"].to_numpy()
    i = list(nyse).index(pd.Timestamp("2024-03-12", tz="America/New_York"))
    assert on_ny[i] == jp.frame["close"].iloc[list(tokyo_days).index(pd.Timestamp("2024-03-12", tz="Asia/Tokyo"))]
    # Tokyo target: New York's bar of the same date closes after Tokyo's, so Tokyo reads the day before
    on_jp = align(jp, [ny]).covariates[0].frame["close"].to_numpy()
    j = list(tokyo_days).index(pd.Timestamp("2024-03-12", tz="Asia/Tokyo"))
    assert on_jp[j] == ny.frame["close"].iloc[list(nyse).index(pd.Timestamp("2024-03-11", tz="America/New_York"))]


def test_fx_week_sunday_open_reads_the_weekend_crypto_bars_and_nothing_later():
    """FX hourly bars open Sunday 17:00 New York: the first bar of the week (ending 18:00) reads the crypto hours of
    the weekend as one bar, up to its own end."""
    fx_times = pd.date_range("2024-01-07 17:00", "2024-01-12 16:00", freq="h", tz="America/New_York")
    fx = bars(fx_times, "EURUSD", "1h", "FX", "America/New_York")
    hours = pd.date_range("2024-01-05 00:00", "2024-01-13 00:00", freq="h", tz="UTC")
    btc = bars(hours, "BTC", "1h", "24/7", close=np.arange(len(hours)) + 40000.0, seed=2)
    a = align(fx, [btc])
    cov = a.covariates[0].frame
    first_end = pd.Timestamp("2024-01-07 18:00", tz="America/New_York").tz_convert("UTC")
    last_read = list(hours).index(first_end - pd.Timedelta(hours=1))  # the crypto hour that ends at first_end
    assert cov["close"].iloc[0] == btc.frame["close"].iloc[last_read]
    # the first FX bar reads one span back (an hour), not the whole weekend, so it is one crypto bar
    assert cov["volume"].iloc[0] == 1000.0
    assert a.covariates[0].last_end <= a.cutoff


def test_fx_daily_bars_dated_by_the_sunday_open_end_the_next_trading_day():
    sunday_dated = bars(pd.DatetimeIndex(["2024-01-07", "2024-01-08", "2024-01-09"]).tz_localize("America/New_York"),
                        "EURUSD", "1d", "FX", "America/New_York")
    assert bar_ends(sunday_dated)[0] == pd.Timestamp("2024-01-08 17:00", tz="America/New_York").tz_convert("UTC")
    weekday_dated = bars(pd.DatetimeIndex(["2024-01-08", "2024-01-09"]).tz_localize("America/New_York"),
                         "EURUSD", "1d", "FX", "America/New_York")
    assert bar_ends(weekday_dated)[0] == pd.Timestamp("2024-01-08 17:00", tz="America/New_York").tz_convert("UTC")


def test_finer_covariate_is_resampled_with_a_notice_and_coarser_one_refused():
    days = pd.date_range("2024-01-01", periods=20, freq="D", tz="UTC")
    daily = bars(days, "BTC", "1d", "24/7")
    hours = pd.date_range("2024-01-01", periods=20 * 24, freq="h", tz="UTC")
    hourly = bars(hours, "ETH", "1h", "24/7", close=np.arange(len(hours)) + 1.0)
    a = align(daily, [hourly])
    cov = a.covariates[0].frame
    assert cov["volume"].iloc[1] == 24 * 1000.0 and cov["close"].iloc[1] == 48.0  # day 2's 24 hours
    assert cov["high"].iloc[1] == pytest.approx(48.0 * 1.01) and cov["open"].iloc[1] == 25.0
    assert any("resampled" in n.problem for n in a.notices)
    with pytest.raises(InputError, match="coarser than the target") as e:
        align(hourly, [daily])
    assert e.value.values["covariate_interval"] == "1d"


def test_refusals_name_the_numbers_and_the_fix():
    days = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC")
    target = bars(days, "BTC", "1d", "24/7")
    with pytest.raises(InputError, match="is the target itself"):
        align(target, [target.replace(symbol="BTC2")])
    before = bars(pd.date_range("2022-01-01", periods=30, freq="D", tz="UTC"), "OLD", "1d", "24/7")
    with pytest.raises(InputError, match="no bar within the target's history"):
        align(target, [before])
    stops_early = bars(days[:30], "ETH", "1d", "24/7", seed=3)
    with pytest.raises(InputError, match="before the target.s last bar") as e:
        align(target, [stops_early])
    assert e.value.values["bars_missing"] >= 2
    one_short = bars(days[:39], "ETH", "1d", "24/7", seed=3)  # one bar missing at the end: filled, said
    assert align(target, [one_short]).covariates[0].filled == 1
    with pytest.raises(InputError, match="named twice"):
        align(target, [one_short, bars(days, "ETH", "1d", "24/7", seed=4)])
    many = [bars(days, f"S{i}", "1d", "24/7", seed=10 + i) for i in range(MAX_COVARIATES + 1)]
    with pytest.raises(InputError, match=f"at most {MAX_COVARIATES}"):
        align(target, many)


def test_leakage_covariate_copying_the_target_s_future_is_never_read():
    """A covariate whose bars after the cut-off are the target's own future bars: the aligned arrays stop at the
    cut-off, and changing those bars changes nothing that reaches a model."""
    days = pd.date_range("2024-01-01", periods=120, freq="D", tz="UTC")
    full = bars(days, "BTC", "1d", "24/7", seed=5)
    history = full.tail(120).replace(frame=full.frame.iloc[:100].reset_index(drop=True))
    cov_close = np.concatenate([bars(days, "ETH", "1d", "24/7", seed=6).frame["close"].to_numpy()[:100],
                                full.frame["close"].to_numpy()[100:]])  # the target's future, copied
    leaky = bars(days, "ETH", "1d", "24/7", close=cov_close)
    mutated = bars(days, "ETH", "1d", "24/7", close=np.concatenate([cov_close[:100], cov_close[100:] * 7.0]))
    a, b = align(history, [leaky]), align(history, [mutated])
    assert a.covariates[0].last_end <= a.cutoff == bar_ends(history)[-1]
    assert len(a.covariates[0].frame) == len(history)
    np.testing.assert_array_equal(a.past_covariates()["ETH"], b.past_covariates()["ETH"])
    assert a.covariates[0].used == 100
    future_closes = set(full.frame["close"].to_numpy()[100:])
    assert not future_closes & set(a.covariates[0].frame["close"].dropna())


def test_notices_and_refusals_give_bar_times_as_the_bars_are_stamped_not_their_ends():
    """Issue 62, item 10: a daily covariate's notices gave bar end times (a crypto day ending at the next 00:00 UTC
    read one day late); they give the bar times each series is stamped with, as the target's are shown."""
    days = pd.date_range("2024-01-01", "2024-01-31", freq="D", tz="UTC")
    target = bars(days, "BTC", "1d", "24/7")
    later = bars(pd.date_range("2023-12-01", "2024-02-10", freq="D", tz="UTC"), "ETH", "1d", "24/7", seed=2)
    [dropped] = [n.problem for n in align(target, [later]).notices if "dropped" in n.problem]
    assert "10 bars from 2024-02-01 on complete after the target's last bar (2024-01-31)" in dropped
    assert "UTC" not in dropped and "2024-02-01 00:00" not in dropped
    stops = bars(days[:20], "SOL", "1d", "24/7", seed=3)
    with pytest.raises(InputError) as e:
        align(target, [stops])
    assert "ends with its bar of 2024-01-20, before the target's last bar (2024-01-31)" in e.value.problem
    ny = "America/New_York"
    hourly = bars(pd.date_range("2024-01-01 09:00", periods=30, freq="h", tz=ny), "H", "1h", "24/7", ny)
    feed = bars(pd.date_range("2024-01-01 09:00", periods=40, freq="h", tz=ny), "F", "1h", "24/7", ny, seed=4)
    [dropped] = [n.problem for n in align(hourly, [feed]).notices if "dropped" in n.problem]
    assert "from 2024-01-02 15:00 EST on complete after the target's last bar (2024-01-02 14:00 EST)" in dropped
