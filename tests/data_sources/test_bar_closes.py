"""When a bar is complete, on its calendar: the schedule a live watch ticks on (``next_close``) and a replay's ticks
(``closes_between``), computed, not slept through."""
from __future__ import annotations

import pandas as pd
import pytest

from data_sources.calendars import bar_closes, closes_between, next_close

NYSE_DAYS = pd.date_range("2018-04-02", "2018-06-29", freq="B")  # naive dates: New York's local midnight


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_nyse_daily_bars_close_at_the_session_close_with_holidays_and_half_days():
    assert list(bar_closes(NYSE_DAYS[-2:], "1d", "XNYS")) == [utc("2018-06-28 20:00"), utc("2018-06-29 20:00")]
    assert next_close(NYSE_DAYS, utc("2018-06-29 19:59"), "1d", "XNYS") == utc("2018-06-29 20:00")
    assert next_close(NYSE_DAYS, utc("2018-06-29 20:00"), "1d", "XNYS") == utc("2018-07-02 20:00")  # the weekend
    assert next_close(NYSE_DAYS, utc("2018-07-03 12:00"), "1d", "XNYS") == utc("2018-07-03 17:00")  # a half day
    assert next_close(NYSE_DAYS, utc("2018-07-03 17:00"), "1d", "XNYS") == utc("2018-07-05 20:00")  # July 4th shut
    winter = next_close(NYSE_DAYS, utc("2018-12-03 12:00"), "1d", "XNYS")
    assert winter == utc("2018-12-03 21:00")  # 16:00 New York in standard time


def test_a_replay_ticks_once_per_session_close():
    closes = closes_between(NYSE_DAYS, "2018-05-01", "2018-08-01", "1d", "XNYS")  # (start, end]
    assert len(closes) == 64  # May 22 + June 21 + July 21 trading days of 2018
    assert closes[0] == utc("2018-05-01 20:00") and closes[-1] == utc("2018-07-31 20:00")
    assert utc("2018-05-28 20:00") not in closes  # Memorial Day
    assert closes.is_monotonic_increasing and closes.is_unique


def test_intraday_bars_close_at_their_end_capped_by_the_session():
    hours = pd.date_range("2024-06-03 09:30", periods=7, freq="1h", tz="America/New_York")
    closes = bar_closes(hours, "1h", "XNYS")
    assert closes[0] == utc("2024-06-03 14:30") and closes[-1] == utc("2024-06-03 20:00")  # the 15:30 bar: at 16:00
    minutes = pd.date_range("2024-06-03 09:30", periods=390, freq="1min", tz="America/New_York")
    assert next_close(minutes, utc("2024-06-07 19:59:30"), "1m", "XNYS") == utc("2024-06-07 20:00")
    assert next_close(minutes, utc("2024-06-07 20:00"), "1m", "XNYS") == utc("2024-06-10 13:31")  # Monday


@pytest.mark.parametrize("after, expected", [
    ("2024-06-07 20:30", "2024-06-07 21:00"),  # the last hour of the FX week ends Friday 17:00 New York
    ("2024-06-07 21:00", "2024-06-09 22:00"),  # the first hour of the next week ends Sunday 18:00 New York
])
def test_the_fx_week(after, expected):
    hours = pd.date_range("2024-06-03", periods=100, freq="1h", tz="UTC")
    assert next_close(hours, utc(after), "1h", "FX") == utc(expected)


def test_fx_daily_bars_close_at_17_new_york_and_crypto_never_stops():
    days = pd.bdate_range("2024-05-01", "2024-06-07")
    assert next_close(days, utc("2024-06-07 21:30"), "1d", "FX") == utc("2024-06-10 21:00")
    coins = pd.date_range("2024-06-01", periods=48, freq="1h", tz="UTC")
    assert next_close(coins, utc("2024-06-08 23:10"), "1h", "24/7") == utc("2024-06-09 00:00")  # a Saturday night
    daily = pd.date_range("2024-06-01", periods=10, freq="D", tz="UTC")
    assert next_close(daily, utc("2024-06-15 12:00"), "1d", "24/7") == utc("2024-06-16 00:00")
