import pandas as pd
import pytest

from data_sources.calendars import expected_timestamps, future_timestamps, infer_interval

NY = "America/New_York"


def test_daily_xnys_skips_independence_day():
    hist = pd.date_range("2024-06-24", "2024-07-03", freq="B", tz=NY)
    out = future_timestamps(hist, 3, "1d", "XNYS")
    assert list(out) == [pd.Timestamp(d, tz=NY) for d in ("2024-07-05", "2024-07-08", "2024-07-09")]
    assert str(out.tz) == NY


def test_daily_keeps_time_of_day_and_naive_input_stays_naive():
    hist = pd.DatetimeIndex(["2024-12-20 16:00", "2024-12-23 16:00"])
    out = future_timestamps(hist, 2, "1d", "XNYS")
    assert out.tz is None
    assert list(out) == [pd.Timestamp("2024-12-24 16:00"), pd.Timestamp("2024-12-26 16:00")]  # Christmas skipped


def test_hourly_half_day_after_thanksgiving_is_cut_at_13_00():
    hist = pd.DatetimeIndex([pd.Timestamp(f"2024-11-27 {h}", tz=NY) for h in
                             ("09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30")])
    hist = hist.append(hist - pd.Timedelta(days=1))
    out = future_timestamps(hist.sort_values(), 6, None, "XNYS")
    assert [t.strftime("%m-%d %H:%M") for t in out] == [
        "11-29 09:30", "11-29 10:30", "11-29 11:30", "11-29 12:30", "12-02 09:30", "12-02 10:30"]


def test_hourly_on_clock_hours_with_opening_bar():
    # Some vendors stamp 09:30 then 10:00, 11:00 ... 15:00: the template follows the history.
    days = pd.bdate_range("2024-03-04", "2024-03-08")
    stamps = [pd.Timestamp(f"{d.date()} {t}", tz=NY) for d in days for t in
              ("09:30", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00")]
    out = future_timestamps(pd.DatetimeIndex(stamps), 8, "1h", "XNYS")
    assert [t.strftime("%a %H:%M") for t in out] == [
        "Mon 09:30", "Mon 10:00", "Mon 11:00", "Mon 12:00", "Mon 13:00", "Mon 14:00", "Mon 15:00", "Tue 09:30"]


def test_minute_bars_continue_on_the_session_grid():
    hist = pd.date_range("2024-07-03 12:50", "2024-07-03 12:59", freq="min", tz=NY)  # half day: closes 13:00
    out = future_timestamps(hist, 2, "1m", "XNYS")
    assert list(out) == [pd.Timestamp("2024-07-05 09:30", tz=NY), pd.Timestamp("2024-07-05 09:31", tz=NY)]


def test_lunch_break_exchange():
    # Tokyo pauses 11:30-12:30: the bar after 11:25 is 12:30.
    hist = pd.date_range("2024-06-03 11:00", "2024-06-03 11:25", freq="5min", tz="Asia/Tokyo")
    out = future_timestamps(hist, 2, "5m", "XTKS")
    assert list(out) == [pd.Timestamp("2024-06-03 12:30", tz="Asia/Tokyo"), pd.Timestamp("2024-06-03 12:35", tz="Asia/Tokyo")]


def test_crypto_is_continuous():
    hist = pd.date_range("2024-07-05 20:00", periods=5, freq="h", tz="UTC")
    out = future_timestamps(hist, 30, "1h", "24/7")
    assert (out[1:] - out[:-1] == pd.Timedelta(hours=1)).all()
    assert out[0] == hist[-1] + pd.Timedelta(hours=1)
    assert 5 in set(out.day_of_week)  # Saturday included


def test_fx_hourly_skips_the_weekend():
    hist = pd.date_range("2024-07-01 00:00", "2024-07-05 16:00", freq="h", tz=NY)
    out = future_timestamps(hist, 3, "1h", "FX")
    assert list(out) == [pd.Timestamp(f"2024-07-07 {h}:00", tz=NY) for h in (17, 18, 19)]


def test_fx_daily_skips_saturday_and_sunday():
    hist = pd.bdate_range("2024-06-03", "2024-07-05", tz="Europe/London")
    out = future_timestamps(hist, 2, "1d", "FX")
    assert [d.day_name() for d in out] == ["Monday", "Tuesday"]


def test_no_calendar_follows_history_rhythm():
    hist = pd.bdate_range("2024-01-01", periods=30, tz="UTC")
    out = future_timestamps(hist, 3)
    assert not set(out.day_of_week) & {5, 6}
    hourly = pd.DatetimeIndex([pd.Timestamp(f"{d.date()} {h}:30", tz=NY) for d in pd.bdate_range("2024-05-06", periods=15)
                               for h in range(9, 16)])
    out = future_timestamps(hourly, 8)
    assert set(out.hour) <= set(range(9, 16)) and out[0].day_name() == "Monday" and out[7].day_name() == "Tuesday"


def test_monthly_stamps_land_on_month_starts():
    hist = pd.date_range("2023-01-01", periods=12, freq="MS", tz=NY)
    out = future_timestamps(hist, 2)
    assert list(out) == [pd.Timestamp("2024-01-01", tz=NY), pd.Timestamp("2024-02-01", tz=NY)]


def test_exact_count_and_strictly_after():
    hist = pd.date_range("2024-01-02", periods=50, freq="B", tz=NY)
    for h in (0, 1, 17, 300):
        out = future_timestamps(hist, h, "1d", "XNYS")
        assert len(out) == h and (h == 0 or out[0] > hist[-1])
        assert out.is_monotonic_increasing and out.is_unique


def test_infer_interval_and_errors():
    assert infer_interval(pd.date_range("2024-01-01", periods=5, freq="15min")) == pd.Timedelta("15min")
    assert infer_interval(pd.DatetimeIndex(["2024-01-01"])) is None
    with pytest.raises(ValueError, match="interval"):
        future_timestamps(pd.DatetimeIndex(["2024-01-01"]), 3)
    with pytest.raises(ValueError, match="unknown calendar"):
        future_timestamps(pd.date_range("2024-01-01", periods=3), 3, calendar="NOPE")


def test_expected_timestamps_holidays_are_not_gaps():
    days = pd.bdate_range("2024-12-20", "2025-01-03", tz=NY)
    trading = days[~days.strftime("%m-%d").isin(["12-25", "01-01"])]
    assert expected_timestamps(trading, "1d", "XNYS").equals(pd.DatetimeIndex(trading).as_unit("ns"))


def test_a_historys_calendar_also_covers_its_future_bar_times(monkeypatch):
    """A forecast asks for the history's years (quality gate, calendar inference), then for the months after
    its end (future bar times): one build of the exchange calendar serves both (a build costs ~0.2 s of a
    command's start-up)."""
    import exchange_calendars as xcals

    import data_sources.calendars as calendars

    built = []
    real = xcals.get_calendar
    monkeypatch.setattr(xcals, "get_calendar", lambda *a, **k: built.append(a) or real(*a, **k))
    monkeypatch.setattr(calendars, "_BUILT_SPANS", {})
    calendars._calendar_for_years.cache_clear()
    history = calendars.exchange_calendar("XNYS", pd.Timestamp("2000-03-01"), pd.Timestamp("2013-03-01"))
    future = calendars.exchange_calendar("XNYS", pd.Timestamp("2013-03-04"), pd.Timestamp("2014-08-29"))
    assert future is history and len(built) == 1
    assert history.is_session("2014-12-31") and not history.is_session("2014-12-25")


def test_holding_bars_imports_no_exchange_calendar_and_every_package_name_resolves():
    """The forecast's process unpickles bars another process read (kronos_studio.cli.bars_process): that
    must not import exchange_calendars (~0.07 s); the package's names still all resolve on first use."""
    import subprocess
    import sys

    code = ("import sys, data_sources.schema, data_sources.calendar_inference, data_sources\n"
            "assert 'exchange_calendars' not in sys.modules, 'imported'\n"
            "assert all(getattr(data_sources, n) is not None for n in data_sources.__all__)\n"
            "import data_sources.calendars as c; assert c.validate_calendar('XNYS') == 'XNYS'\n"
            "assert 'exchange_calendars' in sys.modules\n"
            "from data_sources import Bars, load_bars\n"
            "import data_sources.schema as s; assert Bars is s.Bars\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
