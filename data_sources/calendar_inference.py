"""Which trading calendar bars follow, read from their own times: the one inference every reader of
bars without a calendar goes through (the Forecast page, the Screener, ``kronos forecast`` and
``kronos batch`` get their bars from ``files.read_bars_file``, which calls ``with_inferred_calendar``).

A calendar is inferred only where the evidence is strong, and the evidence is kept with the bars
(``Bars.calendar_inference``) so every page, provenance and CLI line can say what was inferred and why:

- an exchange (NYSE, Shanghai): daily (or intraday) bars on its sessions, none on weekends, and none on at
  least 90% of its weekday holidays (at least MIN_HOLIDAYS of them); intraday bars within its hours (the
  Shanghai lunch break included) when read in the bars' timezone. Intraday bars need no holidays where their
  hours say it alone: within the exchange's hours, filling its sessions bar by bar over at least
  MIN_SESSIONS of them and none on a weekend or a holiday (a few days of minute bars);
- the 24/5 currency week ("FX"): intraday bars around the clock from Sunday 17:00 to Friday 17:00
  New York time and none from Friday 17:00 to Sunday 17:00, over at least two weekends;
- 24/7 ("24/7", crypto): bars on weekends as on weekdays, around the clock.

Anything else keeps no calendar (future bar times follow the history's own rhythm); where that rhythm
leaves holes (holidays or sessions of a market that could not be told), or the history is too short to
tell, the inference says so (``ambiguous``), and the app says it beside the fan.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kronos.lazy import np, pd

from . import calendars
from .intervals import format_interval, parse_interval

# Exchange calendars recognised in bars that come without one, and their names.
EXCHANGES = {"XNYS": "NYSE", "XSHG": "Shanghai"}
MIN_HOLIDAYS = 3  # fewer weekday holidays in the history cannot tell an exchange calendar from chance
MIN_BARS = 20
MIN_SPAN = pd.Timedelta(days=14)  # two weekends at least
MAX_BARS = 50_000  # the latest bars are read: future bar times follow the recent rhythm
HOLIDAY_SHARE = 0.1  # at most this share of an exchange's weekday holidays may carry a bar
MIN_SESSIONS = 2  # intraday bars told by the exchange's hours alone: at least this many sessions, so a close and an open
SESSION_SHARE = 0.8  # at least this share of the exchange's sessions must carry a bar
IN_SESSION_SHARE = 0.98  # intraday: at least this share of bars inside the exchange's hours
FX_CLOSED_SHARE = 0.01  # at most this share of bars in the FX weekend (a stray tick)
GRID_SHARE = 0.9  # 24/5 and 24/7: at least this share of the expected bar times carry a bar
CLEAN_RHYTHM = 0.99  # without a calendar: the history's own rhythm is clean when this share of its times have a bar
_DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class CalendarInference:
    """What the bars' own times say about their trading calendar.

    ``calendar``: the code inferred (an exchange_calendars code, "FX" or "24/7"), or None;
    ``evidence``: one sentence saying why (or why none);
    ``ambiguous``: no calendar was inferred and the history's own rhythm leaves holes or is too short to
    tell, so future bar times may land where the market is closed (say so beside the fan; the user should
    choose)."""

    calendar: str | None
    evidence: str
    ambiguous: bool = False

    def headline(self) -> str:
        """One line for a page header, a CLI note or a provenance record."""
        if self.calendar is not None:
            return f"calendar {self.calendar} inferred from the bar times: {self.evidence}"
        return f"no trading calendar inferred: {self.evidence}"


def _clean_index(timestamps) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(timestamps)
    idx = idx[~idx.isna()]
    if idx.tz is None:
        idx = idx.tz_localize("UTC")
    return idx.sort_values().unique()


def infer_calendar(timestamps, interval: str | pd.Timedelta | None = None) -> CalendarInference:
    """The trading calendar the bar times follow (see the module docstring), with the evidence."""
    idx = _clean_index(timestamps)
    if len(idx) > MAX_BARS:
        idx = idx[-MAX_BARS:]
    # Ambiguous: the future bar times then follow a rhythm read from too little to know the market's days.
    too_few = CalendarInference(None, f"{len(idx)} bars over {(idx[-1] - idx[0]) if len(idx) else pd.Timedelta(0)} "
                                      f"are too few to tell a trading calendar (it takes {MIN_BARS} bars over "
                                      f"{MIN_SPAN.days} days)", ambiguous=True)
    if len(idx) < MIN_BARS:
        return too_few
    try:
        step = parse_interval(interval) if interval is not None else calendars.infer_interval(idx)
    except ValueError:
        step = calendars.infer_interval(idx)
    if step is None or step > _DAY * 1.5:
        return CalendarInference(None, "bars longer than a day follow no session calendar")
    if idx[-1] - idx[0] < MIN_SPAN:  # too short for weekdays and holidays; an exchange's hours may still tell
        return (_exchange(idx, step) if step < pd.Timedelta(hours=20) else None) or too_few
    for check in (_around_the_clock, _fx_week, _exchange):
        found = check(idx, step)
        if found is not None:
            return found
    return _no_calendar(idx, step)


def _weekend_share(idx: pd.DatetimeIndex) -> float:
    utc = idx.tz_convert("UTC")
    return float((utc.day_of_week >= 5).mean())


def _grid_share(idx: pd.DatetimeIndex, step: pd.Timedelta, calendar: str | None) -> float:
    """Share of the bar times ``calendar`` expects between the first and last bar that carry one."""
    if (idx[-1] - idx[0]) / step > calendars.MAX_GRID:
        return 0.0
    expected = calendars.expected_timestamps(idx, interval=step, calendar=calendar)
    have = idx
    if step >= pd.Timedelta(hours=20):  # daily bars: by date (a bar's clock time may move with daylight saving)
        expected, have = (pd.DatetimeIndex(i.tz_localize(None).normalize()).unique() for i in (expected, idx))
    return float(len(expected.intersection(have))) / max(len(expected), 1)


def _around_the_clock(idx, step) -> CalendarInference | None:
    """24/7: weekend bars as often as weekday bars, and the continuous grid mostly filled."""
    weekend = _weekend_share(idx)
    if weekend < 0.2:  # a 24/7 history has 2/7 = 29% of its bars on Saturday and Sunday
        return None
    share = _grid_share(idx, step, calendars.CRYPTO)
    if share < GRID_SHARE:
        return None
    return CalendarInference(calendars.CRYPTO, f"{weekend:.0%} of the bars fall on Saturdays and Sundays and "
                                               f"{share:.0%} of the {format_interval(step)} bar times around the clock "
                                               "have a bar: a market that trades 24/7 (crypto)")


def _fx_weekend(idx: pd.DatetimeIndex) -> np.ndarray:
    """True for times in the FX weekend: Friday 17:00 to Sunday 17:00 New York time."""
    ny = idx.tz_convert(calendars.FX_TZ).tz_localize(None)
    since_open = (ny - ny.normalize()) + pd.to_timedelta((ny.day_of_week + 1) % 7, unit="D") - calendars.FX_ROLL
    since_open = since_open % pd.Timedelta(days=7)
    return np.asarray(since_open >= pd.Timedelta(days=5))


def _daily_break(idx: pd.DatetimeIndex, step: pd.Timedelta) -> bool:
    """True when some time of day (New York) never or rarely has a bar from Monday to Thursday: a market with
    a daily pause (CME futures stop 17:00-18:00), which the round-the-clock FX week would fill with bars."""
    ny = idx.tz_convert(calendars.FX_TZ).tz_localize(None)
    mid_week = ny[ny.day_of_week <= 3]
    days = mid_week.normalize().nunique()
    if not days or _DAY % step:
        return False
    per_slot = pd.Series(mid_week.normalize()).groupby(np.asarray((mid_week - mid_week.normalize()) // step)).nunique()
    slots = int(_DAY / step)
    return len(per_slot) < slots or bool((per_slot < 0.5 * days).any())


def _fx_week(idx, step) -> CalendarInference | None:
    """The 24/5 currency week: intraday bars around the clock Sunday 17:00 to Friday 17:00 New York."""
    if step >= pd.Timedelta(hours=20):
        return None  # daily bars on every weekday follow their own rhythm, which is the same week
    closed = _fx_weekend(idx)
    weekends = int((idx[-1] - idx[0]) / pd.Timedelta(days=7))
    if weekends < 2 or closed.mean() > FX_CLOSED_SHARE:
        return None
    share = _grid_share(idx, step, calendars.FX)
    if share < GRID_SHARE or _daily_break(idx, step):
        return None
    stray = int(closed.sum())
    extra = f" ({stray} stray bars in them)" if stray else ""
    return CalendarInference(calendars.FX, f"no bar from Friday 17:00 to Sunday 17:00 New York time in {weekends} "
                                           f"weekends{extra}, and {share:.0%} of the {format_interval(step)} bars "
                                           "around the clock in between: the 24/5 currency week (FX)")


def _exchange(idx, step) -> CalendarInference | None:
    for code, name in EXCHANGES.items():
        found = _exchange_evidence(idx, step, code, name)
        if found is not None:
            return found
    return None


def _local_days(idx: pd.DatetimeIndex, code: str, daily: bool) -> pd.DatetimeIndex:
    """The bars' dates: daily bars are dated as stamped (a date at midnight UTC is that date, not the
    evening before in New York); intraday bars by the exchange's clock."""
    local = idx if daily else idx.tz_convert(str(calendars._calendar_class(code).tz))
    return local.tz_localize(None)


def holiday_evidence(idx: pd.DatetimeIndex, code: str, daily: bool = True) -> tuple[int, int, int, int] | None:
    """(weekday holidays of ``code`` without a bar, its weekday holidays, sessions with a bar, sessions)
    between the first and last bar's date; None outside the calendar's bounds."""
    days = _local_days(idx, code, daily).normalize().unique()
    try:
        cal = calendars.exchange_calendar(code, days[0], days[-1])
        sessions = pd.DatetimeIndex(cal.sessions_in_range(max(days[0], cal.first_session),
                                                          min(days[-1], cal.last_session)))
    except Exception:  # dates outside the calendar's bounds
        return None
    sessions = sessions.tz_localize(None) if sessions.tz is not None else sessions
    holidays = pd.bdate_range(days[0], days[-1]).difference(sessions)
    traded = int(days.isin(holidays).sum())
    return len(holidays) - traded, len(holidays), int(days.isin(sessions).sum()), len(sessions)


def _exchange_evidence(idx, step, code: str, name: str) -> CalendarInference | None:
    daily = step >= pd.Timedelta(hours=20)
    if (_local_days(idx, code, daily).day_of_week >= 5).any():
        return None
    found = holiday_evidence(idx, code, daily)
    if found is None:
        return None
    skipped, holidays, traded, sessions = found
    if not sessions or skipped < (1 - HOLIDAY_SHARE) * holidays or traded < SESSION_SHARE * sessions:
        return None
    if holidays < MIN_HOLIDAYS:
        return None if daily else _exchange_hours(idx, step, code, name, traded, holidays)
    text = (f"{skipped} of the {holidays} weekday {name} holidays in the history have no bar and no bar falls on a "
            f"weekend")
    if not daily:
        inside = _in_session_share(idx, code)
        if inside < IN_SESSION_SHARE:
            return None
        text += f", and {inside:.0%} of the bars fall within {name} trading hours"
    return CalendarInference(code, f"{text}: the {name} calendar ({code})")


def _exchange_hours(idx, step, code: str, name: str, traded: int, holidays: int) -> CalendarInference | None:
    """Intraday bars of a history with too few holidays to tell (days or weeks of minute bars): the exchange's
    calendar when its hours alone say it: the bars within them, on MIN_SESSIONS sessions or more (a close and an
    open between), filling its bar times from the first bar to the last (GRID_SHARE), none on a weekend (checked
    by the caller) or on its holidays."""
    if traded < MIN_SESSIONS:
        return None
    inside = _in_session_share(idx, code)
    if inside < IN_SESSION_SHARE:
        return None
    share = _grid_share(idx, step, code)
    if share < GRID_SHARE:
        return None
    held = (f"no {name} holiday falls" if not holidays else
            f"only {holidays} {name} {'holiday falls' if holidays == 1 else 'holidays fall'}, without a bar,")
    return CalendarInference(code, f"{inside:.0%} of the bars fall within {name} trading hours, {share:.0%} of its "
                                   f"{format_interval(step)} bar times in {traded} sessions have a bar and none falls "
                                   f"on a weekend ({held} in the history to confirm it): the {name} calendar ({code})")


def _in_session_share(idx: pd.DatetimeIndex, code: str) -> float:
    """Share of intraday bar times within [open, close] of the exchange's session that day."""
    cal = calendars.exchange_calendar(code, idx[0], idx[-1])
    first = max(idx[0].tz_convert("UTC").tz_localize(None).normalize() - _DAY, cal.first_session)
    last = min(idx[-1].tz_convert("UTC").tz_localize(None).normalize() + _DAY, cal.last_session)
    opens = pd.DatetimeIndex(cal.opens.loc[first:last]).tz_convert("UTC") if first <= last else pd.DatetimeIndex([], tz="UTC")
    closes = pd.DatetimeIndex(cal.closes.loc[first:last]).tz_convert("UTC") if first <= last else opens
    if not len(opens):
        return 0.0
    utc = idx.tz_convert("UTC")
    pos = opens.searchsorted(utc, side="right") - 1
    ok = pos >= 0
    inside = ok & (utc <= closes[np.clip(pos, 0, len(closes) - 1)])
    return float(np.mean(inside))


def timezone_that_fits(timestamps, code: str) -> tuple[float, str, float] | None:
    """For intraday bars an exchange calendar ``code`` was chosen for: (share of the bars within its hours as
    their timezone reads them, the timezone whose reading of the same clock times puts IN_SESSION_SHARE of them
    within its hours, that share) when the bars' own timezone misses the sessions and another (the exchange's,
    or UTC) fits; None when the bars' timezone fits, or none does. Naive clock times read in the wrong zone
    (09:30 Shanghai stored as 09:30 UTC) put every bar outside the sessions, and a forecast on the wrong grid."""
    idx = _clean_index(timestamps)
    if not len(idx):
        return None
    inside = _in_session_share(idx, code)
    if inside >= IN_SESSION_SHARE:
        return None
    clock = idx.tz_localize(None)
    for zone in dict.fromkeys((str(calendars._calendar_class(code).tz), "UTC")):
        if zone == str(idx.tz):
            continue
        read = clock.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        read = read[~read.isna()]
        fits = _in_session_share(read, code) if len(read) else 0.0
        if fits >= IN_SESSION_SHARE:
            return inside, zone, fits
    return None


def _no_calendar(idx, step) -> CalendarInference:
    """No calendar: how cleanly the history's own rhythm (weekdays and hours it trades) covers it."""
    try:
        share = _grid_share(idx, step, None)
    except Exception:  # the rhythm cannot be laid out: say so rather than guess
        share = 0.0
    unit = "days" if step >= pd.Timedelta(hours=20) else f"{format_interval(step)} bar times"
    if share >= CLEAN_RHYTHM:
        return CalendarInference(None, f"the bars follow no exchange, currency or 24/7 calendar clearly; {share:.0%} of "
                                       f"the {unit} of the history's own rhythm have a bar, so future bar times follow "
                                       "that rhythm")
    near = ""
    if step >= pd.Timedelta(hours=20):
        found = holiday_evidence(idx, "XNYS")
        if found is not None and found[1] >= MIN_HOLIDAYS:
            near = f" ({found[0]} of the {found[1]} weekday NYSE holidays have no bar: too few to call it NYSE)"
    return CalendarInference(None, f"only {share:.0%} of the {unit} the history's own rhythm expects have a bar"
                                   f"{near}: the market's holidays or hours could not be told, so future bar times may "
                                   "fall where it is closed; choose the trading calendar", ambiguous=True)


def with_inferred_calendar(bars):
    """``bars`` (a ``data_sources.Bars``) with the inferred calendar set and its evidence kept in
    ``calendar_inference``; bars that already have a calendar are returned as they are. Never raises:
    an inference that fails leaves the calendar unset and says why."""
    if bars.calendar is not None or len(bars) == 0:
        return bars
    try:
        found = infer_calendar(bars.timestamps, bars.interval)
    except Exception as exc:  # inference must never stop a file from loading
        found = CalendarInference(None, f"the calendar could not be inferred ({type(exc).__name__}: {exc})",
                                  ambiguous=True)
    return dataclasses.replace(bars, calendar=found.calendar, calendar_inference=found)


def calendar_provenance(bars) -> dict:
    """What a provenance record says of the bars' calendar besides its code: whether it was inferred
    from the bar times (and the evidence), or that none could be (and why)."""
    found = bars.calendar_inference
    if found is None:
        return {"calendar_inferred": False}
    return {"calendar_inferred": found.calendar is not None, "calendar_evidence": found.evidence,
            **({"calendar_ambiguous": True} if found.ambiguous else {})}
