"""Covariate bars laid on a target's bars as of each target bar's close, never past the cut-off.

Bar times are bar *opens* (data_sources stamps every reader's bars so: Binance's open time, a daily bar's
date), so a bar completes at its end (``bar_ends``): a daily bar of an exchange at that session's close
(exchange_calendars: 16:00 New York for XNYS, 15:00 or 15:30 Tokyo for XTKS), an FX daily bar at 17:00 New
York of its trading day (of the next day where the feed dates bars by their Sunday open), every other bar
at its time plus its interval (a crypto daily bar at the next 00:00 UTC).

Target bar ``t`` reads the covariate bars that completed in ``(close[t-1], close[t]]``, aggregated as one
bar (first open, highest high, lowest low, last close, summed volume): with the covariate at the target's
interval that is one bar, or the weekend's crypto bars in a Monday index bar; a finer covariate is so
resampled to the target's bars (said in a notice), a coarser one refused (its bar would be split across
target bars, and no split is honest). A target bar with no covariate bar in its span repeats the
previous one's close once (counted in a notice); a second in a row is missing (NaN: masked, which
Chronos-2 reads as missing). Covariate bars that complete after the cut-off (the close of the target's
last bar) are dropped before anything is read, with a notice: nothing after the cut-off reaches a model.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from data_sources.calendars import FX, FX_ROLL, FX_TZ, exchange_calendar, future_timestamps, is_exchange_calendar
from data_sources.intervals import parse_interval
from data_sources.schema import Bars
from kronos.errors import Fix, InputError, Notice
from kronos.lazy import np, pd

MAX_COVARIATES = 8  # series conditioned on at once: a Chronos-2 group holds the target, its OHLV and these
MAX_FILL = 1  # target bars in a row a covariate's last close may stand in for a missing bar
_DAY = pd.Timedelta(days=1)
_SUNDAY = 6


def bar_ends(bars: Bars) -> pd.DatetimeIndex:
    """When each bar completes, in UTC (see the module docstring for the conventions)."""
    return _ends(bars.timestamps, bars.interval, bars.calendar, fx_dated_by_open(bars.timestamps))


def ends_of(timestamps, interval: str, calendar: str | None, fx_by_open: bool | None = None) -> pd.DatetimeIndex:
    """When bars stamped ``timestamps`` on ``calendar`` complete, in UTC (``bar_ends`` without the bars).
    ``fx_by_open``: whether FX daily bars are dated by their Sunday open (``fx_dated_by_open`` of the whole series;
    None: told from ``timestamps``)."""
    ts = pd.DatetimeIndex(timestamps)
    return _ends(ts, interval, calendar, fx_dated_by_open(ts) if fx_by_open is None else fx_by_open)


def fx_dated_by_open(ts: pd.DatetimeIndex) -> bool:
    """A feed that dates its FX daily bars by the Sunday 17:00 open (a bar on a Sunday) ends each bar on the
    next trading day."""
    return bool((ts.tz_localize(None).day_of_week == _SUNDAY).any()) if len(ts) else False


def _ends(ts: pd.DatetimeIndex, interval: str, calendar: str | None, fx_by_open: bool) -> pd.DatetimeIndex:
    step = parse_interval(interval)
    daily = pd.Timedelta(hours=20) < step <= _DAY
    if daily and is_exchange_calendar(calendar) and len(ts):
        return _session_closes(ts, calendar)
    if daily and calendar == FX:
        days = ts.tz_localize(None).normalize()
        ends = (days + (_DAY if fx_by_open else pd.Timedelta(0)) + FX_ROLL).tz_localize(FX_TZ, ambiguous="NaT",
                                                                                 nonexistent="shift_forward")
        return ends.tz_convert("UTC")
    return (ts + step).tz_convert("UTC")


def _session_closes(ts: pd.DatetimeIndex, code: str) -> pd.DatetimeIndex:
    """The session close of each daily bar's date; a date that is no session ends at its midnight (later than
    any close of that day: a covariate's bar is never taken too early)."""
    days = ts.tz_localize(None).normalize()
    cal = exchange_calendar(code, days.min(), days.max())
    closes = cal.schedule["close"]
    found = closes.reindex(days)
    fallback = (days + _DAY).tz_localize(ts.tz, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")
    found_utc = pd.DatetimeIndex(found.to_numpy(), tz="UTC") if found.dt.tz is None else pd.DatetimeIndex(found).tz_convert("UTC")
    return found_utc.where(~found_utc.isna(), fallback).as_unit("ns")


@dataclass(frozen=True)
class AlignedCovariate:
    """One covariate on the target's bars: ``frame`` (open, high, low, close, volume per target bar; NaN where
    masked) and where each value came from. ``used`` counts the covariate bars read, all completed by the cut-off;
    ``last_end`` is when the latest of them completed."""

    name: str
    content_hash: str
    interval: str
    frame: pd.DataFrame
    filled: int
    masked: int
    used: int
    last_end: pd.Timestamp | None

    @property
    def log_close(self) -> np.ndarray:
        close = self.frame["close"].to_numpy(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(close > 0, np.log(np.where(close > 0, close, 1.0)), np.nan)


@dataclass(frozen=True)
class Alignment:
    """Covariates aligned to a target's bars, as of its cut-off, with what was said about them."""

    cutoff: pd.Timestamp
    target_closes: pd.DatetimeIndex
    covariates: tuple[AlignedCovariate, ...]
    notices: tuple[Notice, ...] = field(default=())

    def past_covariates(self) -> dict[str, np.ndarray]:
        """name -> log close on the target's bars (NaN: masked), as Chronos-2's ``past_covariates`` take them."""
        return {c.name: c.log_close for c in self.covariates}


def covariate_name(bars: Bars) -> str:
    """The name a covariate goes by in inputs, notices and provenance: its series symbol."""
    return bars.series_symbol


def align(target: Bars, covariates: Sequence[Bars], *, max_covariates: int = MAX_COVARIATES) -> Alignment:
    """Each covariate laid on ``target``'s bars as of each bar's close (module docstring). Refusals
    (``InputError``, naming the numbers and the fix): the target itself as a covariate, more than
    ``max_covariates``, a covariate coarser than the target, one with no bar in the target's history, one
    that stopped early (more than ``MAX_FILL`` of its own calendar's bars due by the cut-off are missing). Notices: bars after the cut-off dropped,
    a finer covariate resampled, bars filled and masked."""
    covariates = list(covariates)
    if len(covariates) > max_covariates:
        raise InputError(
            f"{len(covariates)} covariates given, at most {max_covariates} fit the model's group with the target",
            {"covariates": len(covariates), "limit": max_covariates},
            Fix(f"name at most {max_covariates} series in {{setting}}", "covariates"))
    names = [covariate_name(c) for c in covariates]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"the covariate {twice[0]} is named twice", {"covariate": twice[0]},
                         Fix("name each series once in {setting}", "covariates"))
    closes = bar_ends(target)
    if not len(closes):
        raise InputError("the target has no bars", {}, Fix("load the target's bars first"))
    if not closes.is_monotonic_increasing:
        raise InputError("the target's bar times are not in order", {"target": target.series_symbol},
                         Fix("pass the target's bars through the quality gate first (sort_timestamps)"))
    target_hash = target.content_hash()
    notices: list[Notice] = []
    out = []
    for cov, name in zip(covariates, names):
        if cov.content_hash() == target_hash:
            raise InputError(
                f"the covariate {name} is the target itself (the same bars): it adds nothing and doubles its weight",
                {"covariate": name, "target": target.series_symbol},
                Fix("condition on another series in {setting}", "covariates"))
        aligned, said = _align_one(target, closes, cov, name)
        out.append(aligned)
        notices.extend(said)
    return Alignment(closes[-1], closes, tuple(out), tuple(notices))


def _align_one(target: Bars, closes: pd.DatetimeIndex, cov: Bars, name: str) -> tuple[AlignedCovariate, list[Notice]]:
    notices: list[Notice] = []
    t_step, c_step = parse_interval(target.interval), parse_interval(cov.interval)
    if c_step > t_step:
        raise InputError(
            f"the covariate {name} has {cov.interval} bars, coarser than the target's {target.interval}: one of its bars "
            f"would have to be split across {target.interval} bars, which cannot be done honestly",
            {"covariate": name, "covariate_interval": cov.interval, "interval": target.interval},
            (Fix(f"load {name} at {target.interval} or finer ({{setting}})", "covariates"),
             Fix(f"forecast the target at {cov.interval}")))
    if c_step < t_step:
        notices.append(Notice(
            f"{name}: {cov.interval} bars resampled to the target's {target.interval} bars (open, high, low, close and "
            f"volume of the bars completed within each)", kind="note",
            values={"covariate": name, "covariate_interval": cov.interval, "interval": target.interval}))
    frame = cov.frame
    ends = bar_ends(cov)
    order = np.argsort(ends.asi8, kind="stable")
    frame, ends = frame.iloc[order].reset_index(drop=True), ends[order]
    cutoff = closes[-1]
    last_bar = bar_text(target.timestamps[-1], target.interval)  # the cut-off, as the target's bars are stamped
    late = ends > cutoff
    if late.any():
        first_late = bar_text(pd.Timestamp(frame["timestamp"][late].iloc[0]), cov.interval)
        notices.append(Notice(
            f"{name}: {int(late.sum())} bars from {first_late} on complete after the target's last bar ({last_bar}) "
            f"and were dropped (a forecast never reads past its cut-off)", kind="note",
            values={"covariate": name, "dropped": int(late.sum()), "cutoff": str(cutoff)}))
        frame, ends = frame.loc[~late].reset_index(drop=True), ends[~late]
    span = _first_span(closes)
    if not len(ends) or ends[-1] <= closes[0] - span:
        where = "has no bars" if not len(cov) else f"runs {_span_text(cov.timestamps, cov.interval)}"
        raise InputError(
            f"the covariate {name} {where}, no bar within the target's history "
            f"{_span_text(target.timestamps, target.interval)}",
            {"covariate": name, "covariate_bars": len(cov), "target_first": str(closes[0]), "cutoff": str(cutoff)},
            Fix(f"load {name} over the target's dates, or condition on another series ({{setting}})", "covariates"))
    # Target bar t reads covariate bars with end in (closes[t-1], closes[t]]; the first bar one span back.
    lower = np.concatenate([[(closes[0] - span).value], closes.asi8[:-1]])
    which = np.searchsorted(closes.asi8, ends.asi8, side="left")  # the target bar each covariate bar belongs to
    inside = ends.asi8 > lower[np.minimum(which, len(closes) - 1)]
    keep = inside & (which < len(closes))
    grouped = frame.loc[keep].assign(_bar=which[keep]).groupby("_bar", sort=True)
    agg = grouped.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last"),
                      volume=("volume", "sum"))
    agg = agg.reindex(range(len(closes)))
    have = agg["close"].notna().to_numpy()
    first = int(np.argmax(have)) if have.any() else len(closes)
    filled = 0
    close = agg["close"].to_numpy(np.float64).copy()
    for t in range(first + 1, len(closes)):  # fill one bar after a real one, never a second in a row
        if not have[t] and have[t - 1]:
            close[t] = close[t - 1]
            filled += 1
    agg["close"] = close
    missing_at_end = _bars_due(cov, frame, cutoff)
    if missing_at_end > MAX_FILL:
        raise InputError(
            f"the covariate {name} ends with its bar of {bar_text(pd.Timestamp(frame['timestamp'].iloc[-1]), cov.interval)}"
            f", before the target's last bar ({last_bar}): {missing_at_end} or more of its own bars that would have "
            "completed by then are missing, so the forecast would read a stale covariate",
            {"covariate": name, "covariate_last": str(ends[-1]), "cutoff": str(cutoff), "bars_missing": missing_at_end},
            Fix(f"load {name} up to the cut-off ({{setting}}), or forecast from an earlier cut-off", "covariates"))
    masked = int(np.isnan(close[first:]).sum())
    if filled or masked:
        notices.append(Notice(
            f"{name}: {filled} missing bars filled with the previous close (at most {MAX_FILL} in a row) and {masked} "
            f"masked as missing, of the {len(closes) - first} target bars it covers", kind="note",
            values={"covariate": name, "filled": filled, "masked": masked, "bars": len(closes) - first}))
    aligned = AlignedCovariate(name, cov.content_hash(), cov.interval, agg[["open", "high", "low", "close", "volume"]],
                               filled, masked, int(keep.sum()), ends[-1] if len(ends) else None)
    return aligned, notices


def _first_span(closes: pd.DatetimeIndex) -> pd.Timedelta:
    """How far back the first target bar reads: the typical spacing of its closes (a day for daily bars)."""
    if len(closes) < 2:
        return _DAY
    return pd.Timedelta(int(np.median(np.diff(closes.asi8))), "ns")


def _bars_due(cov: Bars, kept: pd.DataFrame, cutoff: pd.Timestamp) -> int:
    """How many bars the covariate's own calendar expects after its last kept bar that complete by the cut-off
    (counted up to ``MAX_FILL + 1``): a weekend of an index against a crypto target is none, a feed that stopped
    a week early is several."""
    times = pd.DatetimeIndex(kept["timestamp"])
    if len(times) < 2:
        return 0
    try:
        nxt = future_timestamps(times, MAX_FILL + 1, interval=cov.interval, calendar=cov.calendar)
    except ValueError:  # a rhythm the calendar cannot tell: nothing is said to be due
        return 0
    due = _ends(nxt, cov.interval, cov.calendar, fx_dated_by_open(cov.timestamps))
    return int((due <= cutoff).sum())


def bar_text(t: pd.Timestamp, interval: str) -> str:
    """A bar's time as its series stamps it (its open, in its market's clock, as the charts and tables show the
    target's bars): the date of a daily or longer bar, else the date and time with the zone."""
    if parse_interval(interval) > pd.Timedelta(hours=20):
        return f"{t:%Y-%m-%d}"
    return f"{t:%Y-%m-%d %H:%M %Z}".rstrip()


def _span_text(times: pd.DatetimeIndex, interval: str) -> str:
    return f"{bar_text(times.min(), interval)} -> {bar_text(times.max(), interval)}" if len(times) else "(empty)"
