"""Trading calendars: which bar times exist, past (for gap checks) and future (for forecasts).

Kronos reads minute, hour, weekday, day and month of every bar, so future stamps must land on
real sessions: exchange holidays, half-days and session hours come from exchange_calendars;
crypto trades 24/7; FX trades from Sunday 17:00 to Friday 17:00 New York time, and most FX feeds close for
the trading days of Christmas and New Year's Day (``FX_HOLIDAYS``): closed unless the history has bars on one.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kronos.lazy import np, pd

from .intervals import parse_interval

if TYPE_CHECKING:
    import exchange_calendars as xcals

CRYPTO = "24/7"
FX = "FX"
FX_TZ = "America/New_York"
FX_ROLL = pd.Timedelta(hours=17)  # FX week opens Sunday 17:00 and closes Friday 17:00, New York
# (month, day) of the FX trading days (17:00 New York the evening before to 17:00 on the day) most FX feeds close:
# a history with a bar on one keeps them open (a feed that quotes through them), any other keeps them closed.
FX_HOLIDAYS = ((12, 25), (1, 1))

_DAY = pd.Timedelta(days=1)
MAX_GRID = 3_000_000  # beyond this many expected bars a history is not laid on a grid (gap checks, inference)


def _xcals():
    """exchange_calendars, imported at its first use (~0.07 s): a process that holds bars but never asks for
    a calendar (``kronos forecast``'s, whose bars a second process reads) does not pay for it."""
    import exchange_calendars

    return exchange_calendars


def is_exchange_calendar(calendar: str | None) -> bool:
    return calendar not in (None, CRYPTO, FX)


def validate_calendar(calendar: str | None) -> str | None:
    """Return the calendar code, or raise ValueError naming the valid choices."""
    if calendar in (None, CRYPTO, FX):
        return calendar
    if calendar not in _xcals().get_calendar_names(include_aliases=True):
        raise ValueError(
            f"unknown calendar {calendar!r}; use an exchange_calendars code such as 'XNYS', "
            f"'XLON', 'XTKS', or '{CRYPTO}' for crypto, '{FX}' for currencies, or None to infer"
        )
    return calendar


@functools.lru_cache(maxsize=32)
def _calendar_for_years(code: str, first_year: int, last_year: int) -> xcals.ExchangeCalendar:
    start = pd.Timestamp(f"{first_year}-01-01")
    end = pd.Timestamp(f"{last_year}-12-31")
    # Calendars have hard date bounds; clamp rather than fail on very old or far-future dates.
    cls = _calendar_class(code)
    lo, hi = cls.bound_min(), cls.bound_max()
    if lo is not None and start < lo:
        start = lo
    if hi is not None and end > hi:
        end = hi
    with warnings.catch_warnings():
        _ignore_pandas_deprecations()
        return _xcals().get_calendar(code, start=start, end=end)


@functools.lru_cache(maxsize=64)
def _calendar_class(code: str) -> type[xcals.ExchangeCalendar]:
    """The calendar's class, for its bounds and timezone without building one: a build costs about 0.1 s,
    a tenth of a forecast's start-up. The class table is exchange_calendars' own (private), so a version
    without it falls back to a build."""
    dispatcher = getattr(_xcals().calendar_utils, "global_calendar_dispatcher", None)
    try:
        return dispatcher._calendar_factories[dispatcher.resolve_alias(code)]
    except (AttributeError, KeyError, TypeError):
        return type(_default_calendar(code))


@functools.lru_cache(maxsize=64)
def _default_calendar(code: str) -> xcals.ExchangeCalendar:
    with warnings.catch_warnings():
        _ignore_pandas_deprecations()
        return _xcals().get_calendar(code)


def _ignore_pandas_deprecations() -> None:
    # exchange_calendars 4.13 uses pandas APIs that pandas 3.1 deprecates: not actionable here.
    for name in ("Pandas4Warning", "Pandas5Warning"):
        cat = getattr(pd.errors, name, None)
        if cat is not None:
            warnings.filterwarnings("ignore", category=cat)


_BUILT_SPANS: dict[str, list[tuple[int, int]]] = {}  # code -> (first, last) years built by _calendar_for_years


def exchange_calendar(code: str, start: pd.Timestamp, end: pd.Timestamp) -> xcals.ExchangeCalendar:
    """An exchange_calendars calendar covering [start, end] (cached by whole years). One already built
    that covers the years is reused: a build costs about 0.1 s, and the quality gate (the whole history)
    and the future bar times (its end) ask for different years of the same bars."""
    first, last = int(start.year) - 1, int(end.year) + 1
    for lo, hi in list(_BUILT_SPANS.get(code, ())):
        if lo <= first and last <= hi:
            return _calendar_for_years(code, lo, hi)
    # A year more at the end than asked: the history's build then also covers its future bar times (a
    # forecast asks for the history's years first, then for the months after its end); a year costs ~15 ms.
    cal = _calendar_for_years(code, first, last + 1)
    _BUILT_SPANS.setdefault(code, []).append((first, last + 1))
    return cal


def infer_interval(timestamps) -> pd.Timedelta | None:
    """Most common positive spacing between consecutive timestamps (None if it cannot be told)."""
    idx = pd.DatetimeIndex(timestamps)
    if len(idx) < 2:
        return None
    idx = idx.sort_values()
    diffs = pd.Series(idx[1:] - idx[:-1])
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        return None
    # Monthly bars spread over 28-31 days: report the month as one interval.
    if ((diffs >= pd.Timedelta(days=28)) & (diffs <= pd.Timedelta(days=31))).mean() > 0.5:
        return pd.Timedelta(days=30.4375)
    return diffs.mode().iloc[0]


# --------------------------------------------------------------------------- grid description
@dataclass
class _Spec:
    kind: str  # "monthly" | "multiday" | "daily" | "intraday"
    step: pd.Timedelta
    calendar: str | None
    tz: str
    time_of_day: pd.Timedelta = pd.Timedelta(0)
    offsets: np.ndarray | None = None  # intraday exchange: offsets from session open (ns)
    end_labelled: bool = False
    phase: pd.Timedelta = pd.Timedelta(0)  # continuous grids: offset of stamps modulo step
    weekdays: frozenset = field(default_factory=lambda: frozenset(range(7)))
    times_of_day: np.ndarray | None = None  # fallback intraday: allowed local times of day
    fx_holidays_closed: bool = False  # FX: no bar on the trading days of FX_HOLIDAYS
    month_start: bool = False
    anchor: pd.Timestamp | None = None


def _to_aware(idx: pd.DatetimeIndex, calendar: str | None) -> tuple[pd.DatetimeIndex, bool]:
    if idx.tz is not None:
        return idx, False
    if is_exchange_calendar(calendar):
        tz = str(_calendar_class(calendar).tz)
    else:
        tz = "UTC"
    return idx.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward"), True


def _mode_td(values: pd.Series | pd.TimedeltaIndex, default: pd.Timedelta) -> pd.Timedelta:
    s = pd.Series(values)
    return default if s.empty else s.mode().iloc[0]


def _local_tod(idx: pd.DatetimeIndex) -> pd.TimedeltaIndex:
    naive = idx.tz_localize(None) if idx.tz is not None else idx
    return pd.TimedeltaIndex(naive - naive.normalize())


def _session_table(cal: xcals.ExchangeCalendar, start_day: pd.Timestamp, end_day: pd.Timestamp) -> pd.DataFrame:
    """Sessions in [start_day, end_day]: open/close/break times as int64 UTC nanoseconds."""
    first = max(start_day, cal.first_session)
    last = min(end_day, cal.last_session)
    cols = ["open", "close", "break_start", "break_end"]
    if first > last:
        return pd.DataFrame({c: np.array([], dtype="int64") for c in cols})
    sessions = cal.sessions_in_range(first, last)

    def ns(series: pd.Series) -> np.ndarray:
        idx = pd.DatetimeIndex(series.loc[sessions])
        idx = idx.tz_convert("UTC") if idx.tz is not None else idx.tz_localize("UTC")
        vals = idx.as_unit("ns").asi8.copy()
        vals[idx.isna()] = np.iinfo("int64").min  # NaT marker (no break)
        return vals

    return pd.DataFrame({c: ns(getattr(cal, c + "s")) for c in cols}, index=sessions)


_NAT = np.iinfo("int64").min


def _fx_trading_days(idx: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The FX trading day of each intraday bar time: the day whose 17:00 New York it runs up to."""
    ny = idx.tz_convert(FX_TZ).tz_localize(None)
    return (ny - FX_ROLL + _DAY).normalize()


def _on_fx_holiday(days: pd.DatetimeIndex) -> np.ndarray:
    return np.isin(days.month * 100 + days.day, [m * 100 + d for m, d in FX_HOLIDAYS])


def _fx_days(idx: pd.DatetimeIndex, daily: bool) -> pd.DatetimeIndex:
    """The (trading) day of each bar time: the date stamped on a daily bar, the FX trading day of an intraday one."""
    return idx.tz_localize(None).normalize() if daily else _fx_trading_days(idx)


def _build_spec(idx: pd.DatetimeIndex, step: pd.Timedelta, calendar: str | None) -> _Spec:
    tz = str(idx.tz)
    spec = _spec_of(idx, step, calendar, tz)
    if calendar == FX:  # closed on the FX holidays unless the history has bars on one
        spec.fx_holidays_closed = not _on_fx_holiday(_fx_days(idx, spec.kind == "daily")).any()
    return spec


def _spec_of(idx: pd.DatetimeIndex, step: pd.Timedelta, calendar: str | None, tz: str) -> _Spec:
    last = idx[-1]
    if step >= pd.Timedelta(days=27):
        return _Spec("monthly", step, calendar, tz, time_of_day=_local_tod(idx[-1:])[0],
                     month_start=bool((idx.day == 1).all()), anchor=last)
    if step > _DAY:
        return _Spec("multiday", step, calendar, tz, anchor=last)
    if step == _DAY or (step > pd.Timedelta(hours=20)):
        spec = _Spec("daily", _DAY, calendar, tz, time_of_day=_local_tod(idx[-1:])[0], anchor=last)
        if calendar == FX:
            spec.weekdays = frozenset(range(5))
        elif calendar is None:
            spec.weekdays = _observed_weekdays(idx)
        return spec
    # Intraday
    spec = _Spec("intraday", step, calendar, tz, anchor=last)
    if is_exchange_calendar(calendar):
        cal = exchange_calendar(calendar, idx[0], idx[-1])
        table = _session_table(cal, idx[0].tz_localize(None).normalize() - _DAY, idx[-1].tz_localize(None).normalize() + _DAY)
        utc = idx.tz_convert("UTC")
        offsets = pd.TimedeltaIndex([])
        at_close = at_open = 0
        if len(table):
            opens = pd.DatetimeIndex(table["open"].to_numpy().astype("datetime64[ns]"), tz="UTC")
            closes = pd.DatetimeIndex(table["close"].to_numpy().astype("datetime64[ns]"), tz="UTC")
            pos = opens.searchsorted(utc, side="right") - 1
            ok = pos >= 0
            pos_c = np.clip(pos, 0, len(opens) - 1)
            in_session = ok & (utc <= closes[pos_c])
            offs = (utc - opens[pos_c])[in_session]
            offsets = pd.TimedeltaIndex(offs)
            at_close = int((utc[in_session] == closes[pos_c][in_session]).sum())
            at_open = int((offsets == pd.Timedelta(0)).sum())
        spec.end_labelled = at_close > 0 and at_open == 0
        spec.phase = _mode_td(offsets % step, pd.Timedelta(0)) if len(offsets) else pd.Timedelta(0)
        longest = pd.Timedelta(days=1)
        grid = spec.phase + _steps(step, np.arange(int(longest / step) + 2))
        grid = grid[grid <= longest]
        # Offsets the history uses off the regular step (e.g. a 9:30 bar before 10:00, 11:00 ...).
        if len(offsets):
            counts = pd.Series(offsets).value_counts()
            n_sessions = max(1, len(np.unique(pos_c[in_session])))
            extra = counts[(counts >= 0.5 * n_sessions) & ~counts.index.isin(grid)].index
            grid = grid.append(pd.TimedeltaIndex(extra)).sort_values()
        spec.offsets = grid.as_unit("ns").asi8
        return spec
    # Continuous grids: crypto, FX, unknown.
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    spec.phase = _mode_td((idx.tz_convert("UTC") - epoch) % step, pd.Timedelta(0))
    if calendar is None:
        spec.weekdays = _observed_weekdays(idx)
        tods = pd.Series(_local_tod(idx))
        per_day = int(round(_DAY / step))
        distinct = np.sort(tods.unique())
        # A history that only ever trades some hours of the day (a stock without a calendar):
        # future bars use those hours only.
        if len(distinct) < 0.9 * per_day and len(idx) >= 2 * len(distinct):
            spec.times_of_day = pd.TimedeltaIndex(distinct).as_unit("ns").asi8
    return spec


def _observed_weekdays(idx: pd.DatetimeIndex) -> frozenset:
    # Only trust "never trades on day X" when the history spans at least two full weeks.
    if idx[-1] - idx[0] < pd.Timedelta(days=14):
        return frozenset(range(7))
    local = idx.tz_localize(None) if idx.tz is not None else idx
    return frozenset(int(d) for d in np.unique(local.day_of_week))


def _steps(step: pd.Timedelta, ks: np.ndarray) -> pd.TimedeltaIndex:
    """ks * step as a TimedeltaIndex (nanosecond unit, vectorised)."""
    return pd.to_timedelta(np.asarray(ks, dtype="int64") * int(step / pd.Timedelta(1, "ns")), unit="ns")


def _localize(naive: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    out = naive.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return out[~out.isna()]


def _grid(spec: _Spec, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """All expected bar times t with start <= t <= end (tz-aware, spec.tz)."""
    tz = spec.tz
    if spec.kind == "monthly":
        anchor = spec.anchor
        out = []
        lo = -((anchor - start).days // 27 + 2)
        hi = (end - anchor).days // 27 + 2
        for k in range(lo, hi + 1):
            if spec.month_start:
                d = (anchor.tz_localize(None).normalize().replace(day=1) + pd.DateOffset(months=k))
            else:
                d = anchor.tz_localize(None).normalize() + pd.DateOffset(months=k)
            out.append(d + spec.time_of_day)
        idx = _localize(pd.DatetimeIndex(out), tz)
        return idx[(idx >= start) & (idx <= end)]
    if spec.kind == "multiday":
        anchor = spec.anchor.tz_localize(None)
        n_lo = int(np.floor((start.tz_convert(tz).tz_localize(None) - anchor) / spec.step)) - 1
        n_hi = int(np.ceil((end.tz_convert(tz).tz_localize(None) - anchor) / spec.step)) + 1
        idx = _localize(anchor + _steps(spec.step, np.arange(n_lo, n_hi + 1)), tz)
        return idx[(idx >= start) & (idx <= end)]
    lstart = start.tz_convert(tz).tz_localize(None)
    lend = end.tz_convert(tz).tz_localize(None)
    if spec.kind == "daily":
        if is_exchange_calendar(spec.calendar):
            cal = exchange_calendar(spec.calendar, start, end)
            table = _session_table(cal, lstart.normalize(), lend.normalize())
            days = pd.DatetimeIndex(table.index)
        else:
            days = pd.date_range(lstart.normalize(), lend.normalize(), freq="D")
            if spec.calendar != CRYPTO:
                days = days[days.day_of_week.isin(list(spec.weekdays))]
            if spec.fx_holidays_closed:
                days = days[~_on_fx_holiday(days)]
        idx = _localize(pd.DatetimeIndex(days) + spec.time_of_day, tz)
        return idx[(idx >= start) & (idx <= end)]
    # intraday
    step = spec.step
    if is_exchange_calendar(spec.calendar):
        cal = exchange_calendar(spec.calendar, start, end)
        table = _session_table(cal, lstart.normalize() - _DAY, lend.normalize() + _DAY)
        if table.empty:
            return pd.DatetimeIndex([], tz=tz)
        opens = table["open"].to_numpy()
        closes = table["close"].to_numpy()
        pts = opens[:, None] + spec.offsets[None, :]
        cl = closes[:, None]
        if spec.end_labelled:
            mask = (pts > opens[:, None]) & (pts <= cl)
        else:
            mask = (pts >= opens[:, None]) & (pts < cl)
        bsi = table["break_start"].to_numpy()[:, None]
        bei = table["break_end"].to_numpy()[:, None]
        has_break = bsi != _NAT
        if has_break.any():
            if spec.end_labelled:
                in_break = (pts > bsi) & (pts <= bei)
            else:
                in_break = (pts >= bsi) & (pts < bei)
            mask &= ~(in_break & has_break)
        vals = np.unique(pts[mask])
        idx = pd.DatetimeIndex(vals.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
        return idx[(idx >= start) & (idx <= end)]
    if spec.times_of_day is not None:
        days = pd.date_range(lstart.normalize(), lend.normalize(), freq="D")
        days = days[days.day_of_week.isin(list(spec.weekdays))]
        naive = (days.as_unit("ns").asi8[:, None] + spec.times_of_day[None, :]).ravel()
        idx = _localize(pd.DatetimeIndex(np.sort(naive).astype("datetime64[ns]")), tz)
        return idx[(idx >= start) & (idx <= end)]
    # continuous phase grid in UTC
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    s_utc, e_utc = start.tz_convert("UTC"), end.tz_convert("UTC")
    k0 = int(np.ceil((s_utc - epoch - spec.phase) / step))
    k1 = int(np.floor((e_utc - epoch - spec.phase) / step))
    if k1 < k0:
        return pd.DatetimeIndex([], tz=tz)
    idx = (epoch + spec.phase + _steps(step, np.arange(k0, k1 + 1))).tz_convert(tz)
    if spec.calendar == FX:
        ny = idx.tz_convert(FX_TZ).tz_localize(None)
        # Week offset since Sunday 17:00 NY; the market is open for the first 5 days of it.
        since_open = (ny - ny.normalize()) + pd.to_timedelta((ny.day_of_week + 1) % 7, unit="D") - FX_ROLL
        since_open = since_open % pd.Timedelta(days=7)
        idx = idx[since_open < pd.Timedelta(days=5)]
        if spec.fx_holidays_closed:
            idx = idx[~_on_fx_holiday(_fx_trading_days(idx))]
    elif spec.calendar is None and spec.weekdays != frozenset(range(7)):
        local = idx.tz_localize(None)
        idx = idx[local.day_of_week.isin(list(spec.weekdays))]
    return idx


def _prepare(timestamps, interval, calendar) -> tuple[pd.DatetimeIndex, bool, str | None, _Spec]:
    calendar = validate_calendar(calendar)
    idx = pd.DatetimeIndex(timestamps)
    idx = idx[~idx.isna()]
    if len(idx) == 0:
        raise ValueError("need at least one timestamp to know where the future starts")
    idx, was_naive = _to_aware(idx, calendar)
    idx = idx[~idx.isna()].sort_values().unique()
    if interval is None:
        step = infer_interval(idx)
        if step is None:
            raise ValueError("cannot infer the bar interval from a single timestamp; pass interval='1d' (or '1h', ...)")
    else:
        step = parse_interval(interval)
    return idx, was_naive, calendar, _build_spec(idx, step, calendar)


def _restore(idx: pd.DatetimeIndex, was_naive: bool) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(idx).as_unit("ns")
    return idx.tz_localize(None) if was_naive else idx


def future_timestamps(timestamps, horizon: int, interval: str | pd.Timedelta | None = None,
                      calendar: str | None = None) -> pd.DatetimeIndex:
    """Exactly ``horizon`` bar times strictly after the last timestamp, in the same timezone.

    ``calendar``: an exchange_calendars code ("XNYS": sessions, holidays, half-days), "24/7",
    "FX" (Sun 17:00 - Fri 17:00 New York), or None to follow the history's own rhythm (its most
    common spacing, skipping weekdays and hours it never trades). Naive input is read as the
    exchange's local time (UTC for 24/7, FX and None) and naive output is returned.
    """
    if int(horizon) != horizon or horizon < 0:
        raise ValueError(f"horizon must be a non-negative integer, got {horizon!r}")
    idx, was_naive, calendar, spec = _prepare(timestamps, interval, calendar)
    last = idx[-1]
    if horizon == 0:
        return _restore(pd.DatetimeIndex([], tz=idx.tz), was_naive)
    span = spec.step * horizon * 3 + pd.Timedelta(days=10)
    for _ in range(12):
        grid = _grid(spec, last, last + span)
        grid = grid[grid > last]
        if len(grid) >= horizon:
            return _restore(grid[:horizon], was_naive)
        span *= 2
    raise ValueError(f"could not find {horizon} future bars on calendar {calendar!r} after {last}")


def expected_timestamps(timestamps, interval: str | pd.Timedelta | None = None,
                        calendar: str | None = None) -> pd.DatetimeIndex:
    """The bar times the calendar expects between the first and last timestamp (inclusive)."""
    idx, was_naive, calendar, spec = _prepare(timestamps, interval, calendar)
    return _restore(_grid(spec, idx[0], idx[-1]), was_naive)


# --------------------------------------------------------------------------- bar closes (kronos watch)
def _closes_of(spec: _Spec, bars: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The close (UTC) of each bar time of ``spec``'s grid: a daily bar's session close (an exchange's, the FX
    day's 17:00 New York, else the next midnight), an intraday bar's end (its own time when the bars are
    labelled by their end, else one step later, no later than its session's close)."""
    if not len(bars):
        return pd.DatetimeIndex([], tz="UTC")
    utc = bars.tz_convert("UTC")
    if spec.kind == "daily":
        days = bars.tz_localize(None).normalize()
        if is_exchange_calendar(spec.calendar):
            cal = exchange_calendar(spec.calendar, bars[0], bars[-1])
            table = _session_table(cal, days[0], days[-1])
            close = pd.Series(table["close"].to_numpy(), index=pd.DatetimeIndex(table.index).tz_localize(None))
            found = close.reindex(days).to_numpy()
            fallback = (days + _DAY).tz_localize(spec.tz, ambiguous="NaT", nonexistent="shift_forward")
            fallback_ns = fallback.tz_convert("UTC").as_unit("ns").asi8
            ns = np.where(np.isnan(found.astype("float64")), fallback_ns, np.nan_to_num(found).astype("int64"))
            return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")
        if spec.calendar == FX:
            return pd.DatetimeIndex(days + FX_ROLL).tz_localize(FX_TZ, ambiguous="NaT").tz_convert("UTC")
        return utc + _DAY
    if spec.kind == "intraday":
        if spec.end_labelled:
            return utc
        ends = utc + spec.step
        if is_exchange_calendar(spec.calendar):
            cal = exchange_calendar(spec.calendar, bars[0], bars[-1])
            table = _session_table(cal, bars[0].tz_localize(None).normalize() - _DAY,
                                   bars[-1].tz_localize(None).normalize() + _DAY)
            if len(table):
                opens, closes = table["open"].to_numpy(), table["close"].to_numpy()
                pos = np.clip(np.searchsorted(opens, utc.as_unit("ns").asi8, side="right") - 1, 0, len(opens) - 1)
                capped = np.minimum(ends.as_unit("ns").asi8, closes[pos])
                return pd.DatetimeIndex(capped.astype("datetime64[ns]")).tz_localize("UTC")
        return ends
    return utc + spec.step  # weekly, monthly: the next bar's start


def bar_closes(timestamps, interval: str | pd.Timedelta | None = None,
               calendar: str | None = None) -> pd.DatetimeIndex:
    """The close (UTC) of each bar of ``timestamps`` (in their order) on ``calendar``: when that bar is complete
    and a download made then holds it. Naive times are read as in ``future_timestamps``."""
    idx = pd.DatetimeIndex(timestamps)
    _, was_naive, calendar, spec = _prepare(idx, interval, calendar)
    aware, _ = _to_aware(idx, calendar)
    order = np.argsort(aware.as_unit("ns").asi8, kind="stable")
    closes = _closes_of(spec, aware[order]).as_unit("ns").asi8
    out = np.empty_like(closes)
    out[order] = closes
    return pd.DatetimeIndex(out.astype("datetime64[ns]")).tz_localize("UTC")


def closes_between(timestamps, start, end, interval: str | pd.Timedelta | None = None,
                   calendar: str | None = None) -> pd.DatetimeIndex:
    """The closes (UTC) of every bar the calendar expects of the series of ``timestamps`` (its sessions, hours,
    holidays, the FX week, 24/7) whose close lies in (``start``, ``end``]: a replay's ticks, one per bar close."""
    idx, _, _, spec = _prepare(timestamps, interval, calendar)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    margin = max(spec.step, _DAY) * 3
    grid = _grid(spec, start.tz_convert(spec.tz) - margin, end.tz_convert(spec.tz) + margin)
    closes = _closes_of(spec, grid)
    return closes[(closes > start) & (closes <= end)].unique().sort_values()


def next_close(timestamps, after, interval: str | pd.Timedelta | None = None,
               calendar: str | None = None) -> pd.Timestamp:
    """The first close (UTC) after ``after`` of a bar the calendar expects of the series of ``timestamps``: when
    a live watch ticks next for that series (the next session's close, the next hour's end, ...)."""
    after = pd.Timestamp(after)
    after = after.tz_localize("UTC") if after.tzinfo is None else after.tz_convert("UTC")
    idx, _, calendar, spec = _prepare(timestamps, interval, calendar)
    span = max(spec.step, _DAY) * 8
    for _ in range(12):
        found = closes_between(idx, after, after + span, spec.step, calendar)
        if len(found):
            return found[0]
        span *= 2
    raise ValueError(f"no bar closes on calendar {calendar!r} after {after}")
