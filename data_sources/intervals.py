"""Interval strings ("1m", "1h", "1d", "1wk", "1mo") and their durations."""

from __future__ import annotations

import re

from kronos.lazy import pd

_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 1440, "wk": 10080, "w": 10080}
_PATTERN = re.compile(r"^\s*(\d+)\s*(m|min|h|d|wk|w|mo|M)\s*$")

# Nominal length of a month: only used to size download windows, never to stamp bars.
_MONTH = pd.Timedelta(days=30.4375)


def parse_interval(interval: str | pd.Timedelta) -> pd.Timedelta:
    """Nominal duration of one bar ("1mo" counts as 30.44 days)."""
    if isinstance(interval, pd.Timedelta):
        if interval <= pd.Timedelta(0):
            raise ValueError(f"interval must be positive, got {interval}")
        return interval
    m = _PATTERN.match(str(interval))
    if not m:
        raise ValueError(
            f"unknown interval {interval!r}; use forms like '1m', '5m', '1h', '1d', '1wk', '1mo'"
        )
    n, unit = int(m.group(1)), m.group(2)
    if n <= 0:
        raise ValueError(f"interval must be positive, got {interval!r}")
    if unit in ("mo", "M"):
        return n * _MONTH
    return pd.Timedelta(minutes=n * _UNIT_MINUTES[unit])


_UNIT_WORDS = {"m": "min", "min": "min", "h": "h", "d": "d", "wk": "wk", "w": "wk", "mo": "mo", "M": "mo"}


def span_text(interval: str, bars: int) -> str:
    """``bars`` bars of ``interval`` as a time, in the interval's own unit: 5 of '1h' -> '5 h', 4 of '15m' -> '60 min',
    5 of '1d' -> '5 d' (bars, not calendar days: a weekend between them is not counted). An interval that is not
    one of the forms ``parse_interval`` reads: '<bars> bars of <interval>'."""
    m = _PATTERN.match(str(interval))
    if not m or int(m.group(1)) <= 0:
        return f"{bars} bars of {interval}"
    return f"{int(m.group(1)) * int(bars)} {_UNIT_WORDS[m.group(2)]}"


def is_intraday(interval: str | pd.Timedelta) -> bool:
    return parse_interval(interval) < pd.Timedelta(days=1)


def format_interval(step: pd.Timedelta) -> str:
    """Shortest interval string for a duration (inverse of parse_interval for common bars)."""
    minutes = step / pd.Timedelta(minutes=1)
    if abs(minutes - round(minutes)) > 1e-9:
        return f"{int(step / pd.Timedelta(seconds=1))}s"
    minutes = int(round(minutes))
    if minutes % 10080 == 0:
        return f"{minutes // 10080}wk"
    if minutes >= 28 * 1440 and minutes <= 31 * 1440:
        return "1mo"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
