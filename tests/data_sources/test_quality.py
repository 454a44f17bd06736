import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_sources.quality import apply_fixes, check_bars
from data_sources.samples import load_sample
from data_sources.schema import Bars
from kronos_studio.cli.errors import flag

NY = "America/New_York"


def make(ts, close=None, calendar="XNYS", interval="1d", **cols):
    n = len(ts)
    close = np.asarray(close if close is not None else np.linspace(100, 110, n), dtype=float)
    df = pd.DataFrame({"timestamp": ts, "open": cols.get("open", close), "high": cols.get("high", close * 1.01),
                       "low": cols.get("low", close * 0.99), "close": close, "volume": cols.get("volume", np.full(n, 1e6))})
    return Bars.from_frame(df, source="file", symbol="T", interval=interval, timezone=NY, calendar=calendar)


def codes(findings):
    return {f.code: f for f in findings}


def sessions(start, end):
    from data_sources.calendars import exchange_calendar
    cal = exchange_calendar("XNYS", pd.Timestamp(start), pd.Timestamp(end))
    return pd.DatetimeIndex(cal.sessions_in_range(start, end)).tz_localize(NY)


def test_clean_daily_history_has_no_problems_and_holidays_are_not_gaps():
    b = make(sessions("2024-06-03", "2024-07-31"))
    found = codes(check_bars(b, lookback=30))
    assert not {"gaps", "off_calendar", "nan_values", "unsorted", "split_jump", "short_history"} & set(found)


def test_short_history_names_both_numbers():
    b = make(sessions("2024-06-03", "2024-07-31"))
    f = codes(check_bars(b, lookback=400))["short_history"]
    assert f.severity == "error" and str(len(b)) in f.message and "400" in f.message and f.fix is None


def test_gap_is_reported_and_short_gap_filled():
    ts = sessions("2024-06-03", "2024-07-31")
    b = make(ts.delete([10, 11]))
    f = codes(check_bars(b))["gaps"]
    assert f.rows == 2 and f.examples[0] == ts[10] and f.fix == "fill_gaps"
    fixed = apply_fixes(b, [f])
    assert len(fixed) == len(ts) and "gaps" not in codes(check_bars(fixed))
    filled = fixed.frame.set_index("timestamp").loc[ts[10]]
    assert filled["volume"] == 0 and filled["close"] == b.frame["close"].iloc[9]
    assert len(b) == len(ts) - 2  # the original is untouched


def test_long_gap_has_no_automatic_fix():
    ts = sessions("2024-01-02", "2024-07-31")
    b = make(ts.delete(list(range(20, 40))))
    f = codes(check_bars(b))["gaps"]
    assert f.fix is None and "too long" in f.message
    with pytest.raises(ValueError, match="no automatic fix"):
        apply_fixes(b, [f])


def test_weekend_bar_is_off_calendar():
    ts = sessions("2024-06-03", "2024-06-28").append(pd.DatetimeIndex([pd.Timestamp("2024-06-29", tz=NY)]))
    f = codes(check_bars(make(ts)))["off_calendar"]
    assert f.rows == 1 and f.examples[0].day_name() == "Saturday"


def test_unsorted_duplicates_nans_bad_prices_and_fixes():
    ts = sessions("2024-06-03", "2024-06-28")
    b = make(ts)
    f = b.frame.copy()
    f = pd.concat([f.iloc[[3]], f], ignore_index=True)  # duplicate + out of order
    f.loc[5, "close"] = np.nan
    f.loc[7, "low"] = -1.0
    f.loc[9, "high"] = f.loc[9, "close"] * 0.9
    bad = b.replace(frame=f)
    before = bad.frame.copy()
    found = codes(check_bars(bad))
    assert {"duplicate_timestamps", "unsorted", "nan_values", "non_positive_price", "ohlc_inconsistent"} <= set(found)
    pd.testing.assert_frame_equal(bad.frame, before)  # check_bars never mutates
    fixed = apply_fixes(bad, [x for x in found.values() if x.fix])
    left = codes(check_bars(fixed))
    assert not {"duplicate_timestamps", "unsorted", "nan_values", "non_positive_price", "ohlc_inconsistent"} & set(left)
    assert fixed.frame["timestamp"].is_monotonic_increasing and any("applied fix" in n for n in fixed.notes)


def test_split_jump_in_bundled_unadjusted_sample_and_adjustment():
    b = load_sample("AAPL daily 2000-2013 (bundled)", adjusted=False)  # samples open split-adjusted by default
    f = codes(check_bars(b))["split_jump"]
    assert [t.date().isoformat() for t in f.examples] == ["2000-06-21", "2005-02-28"]
    adj = apply_fixes(b, ["split_jump"])
    assert "split_jump" not in codes(check_bars(adj))
    day_before = adj.frame.set_index("timestamp").loc[pd.Timestamp("2005-02-25", tz=NY)]
    assert day_before["close"] == pytest.approx(b.frame.set_index("timestamp").loc[pd.Timestamp("2005-02-25", tz=NY), "close"] / 2)


def test_crash_is_not_a_split():
    ts = sessions("2024-01-02", "2024-03-28")
    close = np.full(len(ts), 100.0)
    close[30:] = 52.0  # -48%: near 1/2 but the bar itself moves a lot
    openp = close.copy()
    openp[30] = 80.0
    found = codes(check_bars(make(ts, close=close, open=openp, high=np.maximum(openp, close) + 1, low=np.minimum(openp, close) - 1)))
    assert "split_jump" not in found


def test_zero_volume_and_metadata_findings():
    ts = sessions("2024-06-03", "2024-06-28")
    vol = np.full(len(ts), 1e6)
    vol[3:10] = 0
    found = codes(check_bars(make(ts, volume=vol)))
    assert found["zero_volume_run"].rows == 7
    assert "zero_volume" in codes(check_bars(make(ts, volume=np.zeros(len(ts)))))
    assert found["amount_filled"].severity == "info"


def test_crypto_gap_and_unknown_calendar():
    ts = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC").delete([5])
    b = Bars.from_frame(pd.DataFrame({"timestamp": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}),
                        source="ccxt", symbol="BTC/USDT", interval="1h", calendar="24/7")
    assert codes(check_bars(b))["gaps"].rows == 1
    assert "unknown_calendar" in codes(check_bars(b.replace(calendar=None)))


def test_empty_bars():
    b = make(pd.DatetimeIndex([], tz=NY))
    assert [f.code for f in check_bars(b)] == ["empty"]


price = st.one_of(st.floats(-10, 1e6), st.just(0.0), st.just(float("nan")), st.just(float("inf")))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 24 * 90), price, price, price, price, st.one_of(st.floats(-5, 1e9), st.just(float("nan")))),
                     max_size=40),
       calendar=st.sampled_from(["XNYS", "24/7", "FX", None]), interval=st.sampled_from(["1h", "1d", "5m", "weird"]),
       lookback=st.one_of(st.none(), st.integers(1, 100)))
def test_gate_never_crashes_and_every_finding_explains_itself(rows, calendar, interval, lookback):
    base = pd.Timestamp("2024-03-01", tz=NY)
    df = pd.DataFrame(rows, columns=["h", "open", "high", "low", "close", "volume"])
    df["timestamp"] = [base + pd.Timedelta(hours=int(h)) for h in df["h"]]
    b = Bars.from_frame(df.drop(columns="h"), source="file", symbol="H", interval=interval, calendar=calendar)
    snapshot = b.frame.copy()
    findings = check_bars(b, lookback=lookback)
    pd.testing.assert_frame_equal(b.frame, snapshot)
    for f in findings:
        assert f.severity in ("error", "warning", "info") and len(f.message) > 20
        assert f.rows >= 0 and len(f.examples) <= 5
    fixable = [f for f in findings if f.fix]
    if fixable:
        fixed = apply_fixes(b, fixable)
        assert len(fixed.frame.columns) == 7


@pytest.mark.parametrize("calendar", ["XNYS", None])
def test_fill_gaps_with_only_long_gaps_leaves_bars_unchanged(calendar):
    # One 10-bar hole and nothing shorter (weekdays when no calendar is known: holidays would be short gaps).
    ts = sessions("2024-01-02", "2024-07-31") if calendar else pd.bdate_range("2024-01-02", "2024-07-31", tz=NY)
    b = make(ts.delete(list(range(100, 110))), calendar=calendar)
    for fix in (["fill_gaps"], ["gaps"]):
        fixed = apply_fixes(b, fix)
        assert len(fixed) == len(b)
        pd.testing.assert_frame_equal(fixed.frame, b.frame)


# ----------------------------------------------------------------------------- partial last bar
def _today_bars(volume_last, calendar="24/7", n=30, freq="D", tz="UTC", end="2024-07-10"):
    ts = pd.date_range(end=end, periods=n, freq=freq, tz=tz)
    vol = np.full(n, 1000.0)
    vol[-1] = volume_last
    return Bars.from_frame(pd.DataFrame({"timestamp": ts, "open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5,
                                         "volume": vol}), source="file", symbol="BTC",
                           interval="1d" if freq == "D" else "1h", calendar=calendar)


def test_partial_last_bar_is_flagged_only_while_its_period_is_current():
    # 15% of the usual volume: a still-forming bar while its day lasts, an ordinary quiet day once it closed
    b = _today_bars(volume_last=150.0)
    noon = pd.Timestamp("2024-07-10 12:00", tz="UTC")
    f = codes(check_bars(b, now=noon))["partial_last_bar"]
    assert f.severity == "warning" and f.fix == "drop_partial_last_bar" and f.rows == 1
    assert f.examples == (pd.Timestamp("2024-07-10", tz="UTC"),) and "15%" in f.message
    assert "partial_last_bar" not in codes(check_bars(b, now=pd.Timestamp("2024-07-11 00:30", tz="UTC")))  # closed
    assert "partial_last_bar" not in codes(check_bars(_today_bars(volume_last=900.0), now=noon))  # a full bar
    fixed = apply_fixes(b, [f])
    assert len(fixed) == len(b) - 1 and fixed.frame["timestamp"].iloc[-1] == pd.Timestamp("2024-07-09", tz="UTC")
    assert "partial_last_bar" not in codes(check_bars(fixed, now=noon))
    assert any("drop_partial_last_bar" in n for n in fixed.notes)


def test_partial_hourly_bar_and_a_naive_now_read_as_utc():
    b = _today_bars(volume_last=100.0, freq="h", end="2024-07-10 14:00")
    assert "partial_last_bar" in codes(check_bars(b, now=pd.Timestamp("2024-07-10 14:20")))
    assert "partial_last_bar" not in codes(check_bars(b, now=pd.Timestamp("2024-07-10 15:00")))


def test_daily_bars_stamped_at_local_midnight_use_the_local_date():
    ts = sessions("2024-06-03", "2024-07-10")
    vol = np.full(len(ts), 1e6)
    vol[-1] = 1e5
    b = make(ts, volume=vol)
    late_evening_ny = pd.Timestamp("2024-07-11 01:00", tz="UTC")  # still July 10 in New York
    assert "partial_last_bar" in codes(check_bars(b, now=late_evening_ny))
    assert "partial_last_bar" not in codes(check_bars(b, now=pd.Timestamp("2024-07-11 05:00", tz="UTC")))


def _cut_daily_bars(volume_last=1237.0, range_last=None, volume=36837.0):
    """Daily 24/7 bars ending 2024-03-11 whose last day was exported before it closed (issue 45, item 4)."""
    ts = pd.date_range(end="2024-03-11", periods=40, freq="D", tz="UTC")
    close = np.linspace(40000, 44000, len(ts))
    vol = np.full(len(ts), volume)
    vol[-1] = volume_last
    low = close * 0.98
    if range_last is not None:
        low[-1] = close[-1] * 1.01 - range_last
    frame = pd.DataFrame({"timestamp": ts, "open": close, "high": close * 1.01, "low": low, "close": close,
                          "volume": vol})
    return Bars.from_frame(frame, source="file", symbol="BTC/USD", interval="1d", calendar="24/7")


LONG_AFTER = pd.Timestamp("2025-01-01", tz="UTC")  # the export is old: the last day closed long ago


def test_a_last_bar_cut_short_is_flagged_whatever_the_time_now():
    b = _cut_daily_bars()
    f = codes(check_bars(b, now=LONG_AFTER))["partial_last_bar"]
    assert f.severity == "warning" and f.fix == "drop_partial_last_bar" and f.rows == 1
    assert f.examples == (pd.Timestamp("2024-03-11", tz="UTC"),)
    assert "cut short" in f.message and "volume is 3%" in f.message and "drop the last bar" in f.message
    fixed = apply_fixes(b, [f])
    assert fixed.frame["timestamp"].iloc[-1] == pd.Timestamp("2024-03-10", tz="UTC")
    assert "partial_last_bar" not in codes(check_bars(fixed, now=LONG_AFTER))
    # never dropped unless accepted: the gate reports, the bars keep their last day
    assert len(b) == 40 and b.frame["volume"].iloc[-1] == 1237.0
    # an ordinary quiet day (15% of the volume, after the day closed) is no finding
    assert "partial_last_bar" not in codes(check_bars(_cut_daily_bars(volume_last=0.15 * 36837), now=LONG_AFTER))


def test_a_last_bar_with_a_sliver_of_the_usual_range_is_flagged_without_volume():
    # Volume zero throughout (currencies, indices): the range (high - low) alone tells the cut bar
    b = _cut_daily_bars(volume_last=0.0, range_last=30.0, volume=0.0)
    f = codes(check_bars(b, now=LONG_AFTER))["partial_last_bar"]
    assert "range (high - low) is" in f.message and "volume is" not in f.message


def test_no_bar_of_the_bundled_samples_would_be_called_cut_short():
    """The thresholds leave the samples' quiet days alone: every bar, taken as the last, passes."""
    from data_sources.quality import CUT_LAST_BAR_SHARE, PARTIAL_NEIGHBOURS
    from data_sources.samples import SAMPLE_DATA

    for path in sorted(SAMPLE_DATA.glob("*.csv")):
        frame = pd.read_csv(path)
        for values in (frame["volume"], frame["high"] - frame["low"]):
            usual = values.shift(1).rolling(PARTIAL_NEIGHBOURS, min_periods=2).median()
            share = (values / usual)[usual > 0]
            assert (share >= CUT_LAST_BAR_SHARE).all(), (path.name, share.idxmin(), share.min())
    # and the gate itself, on each sample as loaded
    for name in ("AAPL daily 2000-2013 (bundled)", "GOOG daily 2004-2013 (bundled)"):
        assert "partial_last_bar" not in codes(check_bars(load_sample(name)))


# -------------------------------------------------------------------------------- calendar hint
def _us_daily_file(drop=()):
    from data_sources import read_bars_file
    from data_sources.samples import SAMPLE_DATA

    frame = pd.read_csv(SAMPLE_DATA / "MSFT_1d_bokeh.csv").drop(index=list(drop))
    return read_bars_file(frame.to_csv(index=False).encode(), name="MSFT.csv")


def test_daily_us_file_without_calendar_gets_xnys_inferred_instead_of_holiday_gaps():
    b = _us_daily_file()
    assert b.calendar == "XNYS" and b.calendar_inferred  # the reader inferred it (calendar_inference)
    found = codes(check_bars(b))
    assert "123 of the 123 weekday NYSE holidays" in found["calendar_inferred"].message
    assert "gaps" not in found and "unknown_calendar" not in found and "calendar_suggested" not in found


def test_bars_built_without_a_calendar_get_it_suggested_with_a_fix():
    b = _us_daily_file()
    b = b.replace(calendar=None, calendar_inference=None)  # as Bars.from_frame builds them
    found = codes(check_bars(b))
    hint = found["calendar_suggested"]
    assert hint.fix == "use_suggested_calendar" and "XNYS" in hint.message and "calendar='XNYS'" in hint.message
    assert "123 of the 123 weekday NYSE holidays" in hint.message
    assert "gaps" not in found and "unknown_calendar" not in found
    fixed = apply_fixes(b, [hint])
    assert fixed.calendar == "XNYS" and any("calendar set to XNYS" in n for n in fixed.notes)
    assert "calendar_suggested" not in codes(check_bars(fixed)) and len(fixed) == len(b)


def test_gaps_in_an_inferred_calendar_are_counted_against_it():
    b = _us_daily_file(drop=[100, 101])
    found = codes(check_bars(b))
    assert found["gaps"].rows == 2 and "XNYS (inferred)" in found["gaps"].message
    assert found["gaps"].fix == "fill_gaps"
    filled = apply_fixes(b, ["fill_gaps"])
    assert len(filled) == len(b) + 2  # the two sessions, not the holidays


def test_no_calendar_is_suggested_where_the_dates_do_not_follow_it():
    weekdays = make(pd.bdate_range("2023-01-02", "2024-06-28", tz=NY), calendar=None)  # bars on holidays too
    assert "calendar_suggested" not in codes(check_bars(weekdays))
    assert "unknown_calendar" in codes(check_bars(weekdays))
    daily_crypto = make(pd.date_range("2023-01-01", "2023-12-31", tz="UTC"), calendar=None)
    assert "24/7" in codes(check_bars(daily_crypto))["calendar_suggested"].message  # every day: 24/7
    hourly = make(pd.date_range("2024-01-02 09:30", periods=300, freq="h", tz=NY), calendar=None, interval="1h")
    assert "calendar_suggested" not in codes(check_bars(hourly))
    note = apply_fixes(weekdays, ["use_suggested_calendar"]).notes[-1]
    assert "not applied" in note


# ------------------------------------------------------------ duplicated bar times: exact copies vs conflicts
def _two_tickers_at_the_same_times(n=40):
    """Two instruments' daily bars stacked in one series: every timestamp twice, ~230 and ~135."""
    ts = sessions("2024-01-02", "2024-06-28")[:n]
    a, b = make(ts, close=np.linspace(230, 240, n)), make(ts, close=np.linspace(135, 130, n))
    frame = pd.concat([a.frame, b.frame]).sort_values("timestamp", kind="stable").reset_index(drop=True)
    return a.replace(frame=frame), ts


def test_exact_duplicate_bars_are_dropped_by_the_fix():
    ts = sessions("2024-06-03", "2024-07-31")
    b = make(ts)
    twice = b.replace(frame=pd.concat([b.frame, b.frame], ignore_index=True))  # a file joined twice
    f = codes(check_bars(twice))["duplicate_timestamps"]
    assert f.severity == "error" and f.fix == "drop_duplicates" and f.rows == len(ts)
    assert "identical" in f.message
    fixed = apply_fixes(twice, ["drop_duplicates", "sort"])
    assert len(fixed) == len(ts) and "duplicate_timestamps" not in codes(check_bars(fixed))


def test_duplicate_times_with_different_bars_are_refused_never_merged():
    bars, ts = _two_tickers_at_the_same_times()
    f = codes(check_bars(bars))["duplicate_timestamps"]
    assert f.severity == "error" and f.fix is None and f.fix_description is None
    assert f"{len(ts)} bar times appear more than once with different values" in f.message
    assert f"{ts[0]}: close 230 and 135" in f.message  # an example with both closes
    assert "several instruments" in f.message and "symbol" in f.message and "stale rows" in f.message
    # The remedy names a setting, which the command line words as its flag (the library never writes one).
    assert "--symbol" not in f.message and "choose one with --symbol" in f.worded(flag)
    with pytest.raises(ValueError, match="no automatic fix"):
        apply_fixes(bars, [f])
    # Asked for by name, the fix still drops nothing that differs: the series stays blocked.
    for fixes in (["drop_duplicates"], ["duplicate_timestamps"], ["drop_duplicates", "sort", "fill_gaps"],
                  ["adjust_splits"], ["drop_off_calendar"]):
        after = apply_fixes(bars, fixes)
        assert len(after) == len(bars), fixes
        left = codes(check_bars(after))["duplicate_timestamps"]
        assert left.severity == "error" and left.fix is None, fixes


def test_exact_copies_among_conflicting_duplicates_are_dropped_and_the_conflicts_stay():
    bars, ts = _two_tickers_at_the_same_times()
    later = make(sessions("2024-06-03", "2024-06-28"), close=np.linspace(240, 250, 19)).frame
    joined = bars.replace(frame=pd.concat([bars.frame, later, later.iloc[:5]], ignore_index=True))  # 5 exact copies
    f = codes(check_bars(joined))["duplicate_timestamps"]
    assert f.fix == "drop_duplicates" and f.rows == len(ts) + 5
    assert "different values" in f.message and "5 bar times appear more than once with identical values" in f.message
    fixed = apply_fixes(joined, [f])
    assert len(fixed) == len(joined) - 5  # only the exact copies went
    left = codes(check_bars(fixed))["duplicate_timestamps"]
    assert left.fix is None and f"{len(ts)} bar times" in left.message


def test_volume_alone_can_make_duplicates_conflict():
    ts = sessions("2024-06-03", "2024-07-31")
    b = make(ts)
    copy = b.frame.iloc[[5]].copy()
    copy["volume"] = 7.0
    dup = b.replace(frame=pd.concat([b.frame, copy], ignore_index=True))
    f = codes(check_bars(dup))["duplicate_timestamps"]
    assert f.fix is None and "volume 1e+06 and 7" in f.message
    assert len(apply_fixes(dup, ["drop_duplicates"])) == len(dup)


# ------------------------------------------------------------ price jumps undone on the next bar
def test_two_instruments_interleaved_without_a_ticker_column_are_an_error():
    ts = pd.date_range("2024-01-02", periods=300, freq="h", tz="UTC")
    rng = np.random.default_rng(3)
    a = 230 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    b = 135 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    close = np.where(np.arange(300) % 2 == 0, a, b)  # rows alternate between the two stocks
    bars = make(ts, close=close, calendar="24/7", interval="1h")
    f = codes(check_bars(bars))["reversing_jumps"]
    assert f.severity == "error" and f.fix is None and f.rows >= 290
    first = bars.frame["timestamp"].iloc[1]
    assert f"{f.rows} price jumps of more than 15% are undone on the next bar (first at {first})" in f.message
    assert "several instruments, or two price scales, mixed in one series" in f.message
    assert f.examples[0] == first
    with pytest.raises(ValueError, match="no automatic fix"):
        apply_fixes(bars, [f])


def test_a_few_bad_ticks_in_a_long_series_are_not_reversing_jumps():
    ts = pd.date_range("2024-01-02", periods=1000, freq="h", tz="UTC")
    close = np.full(1000, 100.0)
    close[[100, 500]] = 150.0  # two spikes: under the count and share that make a mixture
    assert "reversing_jumps" not in codes(check_bars(make(ts, close=close, calendar="24/7", interval="1h")))
    close[[100, 300, 500, 700, 900, 950, 990, 995, 998, 402, 404]] = 150.0  # 11 of 1000 bars: over 1%
    assert "reversing_jumps" in codes(check_bars(make(ts, close=close, calendar="24/7", interval="1h")))


@pytest.mark.parametrize("adjusted", [True, False])
def test_the_samples_have_no_reversing_jumps(adjusted):
    from data_sources import list_samples

    for info in list_samples():
        bars = load_sample(info.name, adjusted=adjusted)
        assert "reversing_jumps" not in codes(check_bars(bars)), info.name


@pytest.mark.parametrize("seed", range(5))
def test_a_volatile_random_walk_has_no_reversing_jumps(seed):
    """Crypto-like: 5% daily volatility with fat tails, 3000 days; and 30% per bar, like monthly bars."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2015-01-01", periods=3000, freq="D", tz="UTC")
    for steps in (rng.normal(0, 0.05, 3000), rng.standard_t(3, 3000) * 0.05 / np.sqrt(3),
                  rng.normal(0, 0.3, 3000)):
        close = 100 * np.exp(np.cumsum(steps))
        assert "reversing_jumps" not in codes(check_bars(make(ts, close=close, calendar="24/7")))


def test_a_split_is_one_jump_that_is_not_undone():
    ts = sessions("2024-01-02", "2024-06-28")
    close = np.linspace(200, 210, len(ts))
    close[60:] /= 2  # a 2-for-1 split
    found = codes(check_bars(make(ts, close=close)))
    assert "split_jump" in found and "reversing_jumps" not in found
