"""The time-of-day pattern of intraday volatility, for the volatility members.

Intraday bars are not alike: the first bar of a session carries the overnight (or weekend, or lunch) gap,
and the hours after the open and before the close move more than midday. On the AAPL hourly sample before
2026 the 09:30 bar's close-to-close variance is 4.2 times the average bar's and 13 times the 13:30 bar's.
A volatility model fitted to such returns as if they were alike mistakes the open for a shock (GARCH
raises its variance after every open) and spreads the gap over every step of a fan, so a fan that crosses
an open is too narrow there and too wide elsewhere. The standard remedy (Andersen & Bollerslev 1997) is a
multiplicative profile: each bar's variance = its slot's factor x a smooth deseasonalised variance. The
members fit their model on the deseasonalised returns and multiply the simulated steps back by the
factors of the future bars' slots.

A bar's *slot* is (whether it follows a break in trading, its time-of-day bucket in the market's wall
clock); buckets are ``max(bar interval, BUCKET_MINUTES)`` wide so that minute bars pool enough
observations. A slot's factor is its mean range variance (``bar_variance.range_variance``, gap included)
over the mean of all bars read. Daily and longer bars have no profile (``None``): nothing changes for them.
"""
from __future__ import annotations

from data_sources.calendars import infer_interval
from kronos.lazy import np, pd

from .bar_variance import range_variance

BUCKET_MINUTES = 30  # the narrowest time-of-day bucket: a 30-minute bucket of minute bars pools 30 of them a session
BREAK_FACTOR = 1.5  # a gap longer than this many bar intervals is a break in trading (overnight, weekend, lunch)
INTRADAY_BELOW = pd.Timedelta(hours=20)  # bars spaced less than this are intraday
FACTOR_FLOOR = 0.05  # a slot that hardly moves is divided by at least this share of the mean variance


def _slots(times: pd.DatetimeIndex, previous: pd.Timestamp | None, step: pd.Timedelta, bucket: int) -> np.ndarray:
    """[n] slot codes of bars at ``times`` (after ``previous``, the bar before the first, if known):
    bucket number, negative when the bar follows a break."""
    every = times if previous is None else times.insert(0, previous)
    gaps = np.asarray((every[1:] - every[:-1]) / step, np.float64)
    if previous is None:
        gaps = np.r_[0.0, gaps]  # the first bar: nothing known before it
    minute_of_day = times.hour * 60 + times.minute
    code = np.asarray(minute_of_day // bucket, np.int64) + 1  # from 1, so that -code marks a break
    return np.where(gaps > BREAK_FACTOR, -code, code)


def variance_factors(bars: pd.DataFrame, variance: np.ndarray, future) -> tuple[np.ndarray, np.ndarray] | None:
    """(factors of ``bars`` [n], factors of the ``future`` bars [H]): each bar's variance relative to the
    mean of ``bars``, by slot, estimated from ``variance`` ([n] per-bar variances of ``bars``, NaN where
    unreadable). None when the bars are daily or longer, their times or the future's are unknown, or
    there are too few bars to tell their spacing. A future slot never seen in ``bars`` takes 1 (the mean
    bar); a future bar after a break whose time of day was never seen after one takes the mean factor of
    the bars that were, and None is returned when no bar of ``bars`` follows a break (the size of a gap
    cannot be guessed)."""
    if future is None or "timestamp" not in bars or len(bars) < 3 or len(future) == 0:
        return None
    times = pd.DatetimeIndex(bars["timestamp"])
    future = pd.DatetimeIndex(future)
    if (times.tz is None) != (future.tz is None):
        return None
    if times.tz is not None:
        future = future.tz_convert(times.tz)  # slots are read on the market's wall clock
    step = infer_interval(times)
    if step is None or step >= INTRADAY_BELOW:
        return None
    bucket = max(int(step / pd.Timedelta(minutes=1)), BUCKET_MINUTES)
    seen = _slots(times, None, step, bucket)
    ahead = _slots(future, times[-1], step, bucket)
    v = np.asarray(variance, np.float64)
    usable = np.isfinite(v)
    mean = v[usable].mean() if usable.any() else np.nan
    if not np.isfinite(mean) or mean <= 0:
        return None
    codes, inverse = np.unique(seen[usable], return_inverse=True)
    slot_mean = np.bincount(inverse, weights=v[usable]) / np.bincount(inverse)
    factor = dict(zip(codes.tolist(), np.maximum(slot_mean / mean, FACTOR_FLOOR).tolist()))
    after_break = [f for c, f in factor.items() if c < 0]
    if (ahead < 0).any() and not after_break:
        return None
    fallback_break = float(np.mean(after_break)) if after_break else 1.0

    def lookup(codes: np.ndarray) -> np.ndarray:
        return np.array([factor.get(c, fallback_break if c < 0 else 1.0) for c in codes.tolist()], np.float64)

    return lookup(seen), lookup(ahead)


def time_of_day(bars: pd.DataFrame, future, variance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """``variance_factors`` of ``bars`` from their range variance (``variance``: ``range_variance(bars)``
    when the caller has it already; the first bar, which has no previous close and so no gap term, is
    left out of the estimate)."""
    v = np.array(range_variance(bars) if variance is None else variance, np.float64)  # a copy: bar 0 blanked
    v[:1] = np.nan
    return variance_factors(bars, v, future)


def time_of_day_identity(on: bool) -> dict:
    """What a member's identity says of its time-of-day profile (nothing when off: the members of before)."""
    return {"time_of_day": f"slot factors, {BUCKET_MINUTES}-minute buckets, breaks apart"} if on else {}
