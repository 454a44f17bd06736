"""Data-quality gate: run before every forecast; reports, never changes anything by itself.

``check_bars`` returns findings a UI can list. Each finding that has a safe remedy names it in
``fix``; ``apply_fixes`` applies only the fixes the user accepted and records them in notes.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from kronos.errors import Fix, worded
from kronos.lazy import np, pd

from . import calendars
from .calendar_inference import CalendarInference, infer_calendar, timezone_that_fits
from .intervals import format_interval, parse_interval
from .schema import PRICE_COLUMNS, VALUE_COLUMNS, Bars

MAX_FILL_BARS = 3  # forward-filling longer holes would invent a trend-free stretch of data
ZERO_VOLUME_RUN = 5
MAX_GRID = calendars.MAX_GRID  # beyond this many expected bars the gap check is skipped (and says so)
PARTIAL_VOLUME_SHARE = 0.2  # a last bar below this share of its neighbours' median volume is still forming
PARTIAL_NEIGHBOURS = 20
# A last bar whose volume, or range (high - low), is below this share of the median of the PARTIAL_NEIGHBOURS bars
# before it was cut short (an export made mid-period), whatever the time now. No bar of the bundled daily samples
# falls below it (their quietest days: 15% of the volume, 27% of the range).
CUT_LAST_BAR_SHARE = 0.1
_SPLIT_RATIOS = (2, 3, 4, 5, 7, 8, 10, 15, 20, 1.5, 4 / 3)
# Copies of a bar time are the same bar only when all of these agree.
_BAR_VALUES = (*PRICE_COLUMNS, "volume")
# Reversing jumps: a close-to-close move of more than JUMP_MIN (a fall of 15% or a rise of 17.6%; more when
# the series' own volatility is high, see _reversing_jumps) that the next bar undoes to within JUMP_UNDONE of its size.
# Frequent ones (at least JUMP_COUNT and over JUMP_SHARE of the bars) mean two series in one.
JUMP_MIN = 0.15
JUMP_UNDONE = 0.25
JUMP_SIGMAS = 4
JUMP_COUNT = 3
JUMP_SHARE = 0.01
_N_EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One problem (or fact) about the bars.

    ``rows``: how many bars are affected; ``examples``: a few of their timestamps;
    ``fix``: name of the remedy ``apply_fixes`` understands, or None when no fix is safe; ``remedy``: what the
    user can set instead (``kronos.errors.Fix``), which ``message`` ends with as a Python caller names it and
    each entry point words its own way (``worded``).
    """

    code: str
    severity: str
    message: str
    rows: int = 0
    examples: tuple = ()
    fix: str | None = None
    fix_description: str | None = None
    remedy: tuple[Fix, ...] = ()

    @property
    def problem(self) -> str:
        """The message without its remedies."""
        said = worded("", self.remedy)
        return self.message[:-len(said)] if self.remedy and self.message.endswith(said) else self.message

    def worded(self, name=None) -> str:
        """The message, its remedies naming each setting by ``name(setting, value)``."""
        return worded(self.problem, self.remedy, name)


def _finding(code: str, severity: str, problem: str, remedy: Fix, **more) -> Finding:
    """A finding whose message ends with its remedy (``Finding.worded`` words it for an entry point)."""
    return Finding(code, severity, worded(problem, (remedy,)), remedy=(remedy,), **more)


FIX_DESCRIPTIONS = {
    "use_suggested_calendar": "use the exchange calendar the bars follow (e.g. XNYS) for gaps and future bar times",
    "sort": "sort bars by timestamp",
    "drop_duplicates": "drop extra copies of a bar time that are identical to the copy kept (copies with "
                       "different values are never dropped)",
    "drop_partial_last_bar": "drop the last bar: it is still forming or was cut short (partial volume)",
    "drop_nan_rows": "drop bars with a missing timestamp or price",
    "drop_bad_prices": "drop bars with a non-positive price or negative volume",
    "repair_ohlc": "widen high/low to cover open and close",
    "adjust_splits": "divide prices before each suspected split by its ratio (volume multiplied)",
    "drop_off_calendar": "drop bars that fall outside the trading calendar's sessions",
    "fill_gaps": f"insert flat bars (previous close, zero volume) for gaps of at most {MAX_FILL_BARS} bars",
}
# Order matters: later fixes assume the earlier ones (sorted, unique, finite data).
FIX_ORDER = tuple(FIX_DESCRIPTIONS)


def _examples(ts) -> tuple:
    return tuple(pd.Timestamp(t) for t in list(ts)[:_N_EXAMPLES])


def _fmt(examples: tuple) -> str:
    return ", ".join(str(t) for t in examples)


def _step(bars: Bars, ts: pd.DatetimeIndex) -> pd.Timedelta | None:
    try:
        return parse_interval(bars.interval)
    except ValueError:
        return calendars.infer_interval(ts)


def _clean_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted, unique, finite rows: what later checks reason about."""
    ok = frame["timestamp"].notna() & frame[list(PRICE_COLUMNS)].notna().all(axis=1)
    ok &= np.isfinite(frame[list(PRICE_COLUMNS)]).all(axis=1)
    f = frame[ok].sort_values("timestamp", kind="stable")
    f = f.drop_duplicates("timestamp", keep="last")
    return f.reset_index(drop=True)


def _split_candidates(f: pd.DataFrame) -> list[tuple[int, float]]:
    """(row position in f, nice ratio new/old) for overnight jumps that look like splits."""
    if len(f) < 3:
        return []
    o = f["open"].to_numpy()
    c = f["close"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = o[1:] / c[:-1]
        intraday = np.abs(c[1:] / o[1:] - 1)
    out = []
    nice = np.array([x for x in _SPLIT_RATIOS] + [1 / x for x in _SPLIT_RATIOS])
    for j in np.nonzero(np.isfinite(r) & (r > 0) & ((r > 1.4) | (r < 1 / 1.4)))[0]:
        rel = np.abs(r[j] / nice - 1)
        k = int(np.argmin(rel))
        # A split moves the price overnight by a clean ratio, and the bar after it is calm.
        if rel[k] > 0.03 or intraday[j] > 0.15:
            continue
        i = j + 1
        after = c[i:i + 5]
        # A bad tick snaps back; a split stays at the new level.
        if np.abs(np.median(after) / c[j] / nice[k] - 1) > 0.15:
            continue
        out.append((i, float(nice[k])))
    return out


def suspected_splits(frame: pd.DataFrame) -> list[tuple[pd.Timestamp, str]]:
    """(the time of the first bar after it, the split in words) of each overnight jump the ``split_jump`` check reads
    as a split: its one test, for a caller that must not read across one (a risk backtest)."""
    f = _clean_view(frame)
    return [(pd.Timestamp(f["timestamp"].iloc[i]), _ratio_text(r)) for i, r in _split_candidates(f)]


def _ratio_text(r: float) -> str:
    if r < 1:
        return f"{round(1 / r, 2):g}-for-1 split (price cut to 1/{round(1 / r, 2):g})"
    return f"1-for-{round(r, 2):g} reverse split (price x{round(r, 2):g})"


def _calendar_grid(bars: Bars, f: pd.DataFrame, step):
    """(expected grid, note) for the clean view, or (None, reason) when it cannot be judged. Bars without
    a calendar whose dates clearly follow one (see _suggested_calendar) are judged against it."""
    ts = pd.DatetimeIndex(f["timestamp"])
    if len(ts) < 3 or step is None:
        return None, "fewer than 3 valid bars"
    if (ts[-1] - ts[0]) / step > MAX_GRID:
        return None, f"history spans more than {MAX_GRID:,} bars"
    calendar = bars.calendar
    if calendar is None:
        suggested = _suggested_calendar(bars, f, step)
        calendar = suggested.calendar if suggested else None
    try:
        return calendars.expected_timestamps(ts, interval=step, calendar=calendar), None
    except Exception as exc:  # the gate must report, never crash
        return None, f"calendar check failed: {exc}"


def _suggested_calendar(bars: Bars, f: pd.DataFrame, step) -> CalendarInference | None:
    """What the bar times say about the calendar of bars without one (calendar_inference.infer_calendar,
    the inference the file reader applies); None when the bars have a calendar or too few valid bars."""
    if bars.calendar is not None or step is None or len(f) < 3:
        return None
    if bars.calendar_inference is not None:  # inferred when the bars were read: the same times, the same answer
        return bars.calendar_inference
    return infer_calendar(pd.DatetimeIndex(f["timestamp"]), step)


def _share_of_usual(values: pd.Series) -> tuple[float, int]:
    """(the last value as a share of the median of the PARTIAL_NEIGHBOURS values before it, how many there
    were); NaN when that median is not positive (e.g. volume zero throughout)."""
    before = values.iloc[-1 - PARTIAL_NEIGHBOURS:-1].dropna()
    typical = float(before.median()) if len(before) else float("nan")
    return (float(values.iloc[-1]) / typical if typical > 0 else float("nan")), len(before)


def _partial_last_bar(bars: Bars, f: pd.DataFrame, step, now) -> Finding | None:
    """The last bar when it is still forming (its period includes ``now`` and its volume is a small share of
    its neighbours') or was cut short (its volume or range below CUT_LAST_BAR_SHARE of its neighbours')."""
    if step is None or len(f) < 3:
        return None
    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    now = now.tz_localize("UTC") if now.tzinfo is None else now
    last = pd.Timestamp(f["timestamp"].iloc[-1])
    local_now = now.tz_convert(last.tz)
    if pd.Timedelta(hours=20) < step <= pd.Timedelta(days=1):
        current = last.date() == local_now.date()  # daily bars: stamped at midnight or at the close
    else:
        current = last <= local_now < last + step
    volume, n = _share_of_usual(f["volume"])
    span, _ = _share_of_usual(f["high"] - f["low"])
    if current and volume < PARTIAL_VOLUME_SHARE:
        message = (f"the last bar ({last}) is still forming: its period includes now ({local_now:%Y-%m-%d %H:%M %Z}) "
                   f"and its volume is {volume:.0%} of the median of the {n} bars before it; a forecast would read "
                   "the partial candle as a finished one: drop it, or load the data again after the period closes")
    else:
        cut = [f"its {what} is {share:.0%}" for what, share in (("volume", volume), ("range (high - low)", span))
               if share < CUT_LAST_BAR_SHARE]
        if not cut:
            return None
        message = (f"the last bar ({last}) looks cut short: {' and '.join(cut)} of the median of the {n} bars before "
                   f"it (below {CUT_LAST_BAR_SHARE:.0%}: likely exported before its period closed); a forecast would "
                   "start from a partial candle read as a finished one: drop the last bar")
    return Finding("partial_last_bar", "warning", message, 1, (last,), "drop_partial_last_bar",
                   FIX_DESCRIPTIONS["drop_partial_last_bar"])


def _duplicate_rows(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(exact, conflicting): masks of the rows whose bar time appears more than once, split by whether
    every copy of that time has the same prices and volume (a file joined twice) or not (two
    instruments, or a revised bar next to a stale one)."""
    ts = frame["timestamp"]
    dup = ts.duplicated(keep=False) & ts.notna()
    if not dup.any():
        return dup, dup
    copies = frame.loc[dup, ["timestamp", *_BAR_VALUES]].drop_duplicates()  # NaN equals NaN here
    versions = copies.groupby("timestamp", sort=False).size()
    conflicting = dup & ts.isin(versions.index[versions > 1])
    return dup & ~conflicting, conflicting


def _number(v: float) -> str:
    return f"{v:g}" if np.isfinite(v) else str(v)


def _duplicates(frame: pd.DataFrame) -> Finding | None:
    """The duplicate_timestamps finding: exact copies are dropped by the fix; copies with different values
    are never merged (no fix guesses which copy is the series), so they keep blocking."""
    exact, conflicting = _duplicate_rows(frame)
    if not (exact.any() or conflicting.any()):
        return None
    ts = frame["timestamp"]
    n_extra = int((ts.duplicated() & ts.notna()).sum())
    exact_times = ts[exact].unique()
    exact_text = (f"{len(exact_times)} bar times appear more than once with identical values "
                  f"({int(exact.sum()) - len(exact_times)} extra copies, e.g. a file joined twice)")
    fix = "drop_duplicates" if exact.any() else None
    description = FIX_DESCRIPTIONS["drop_duplicates"] if fix else None
    if not conflicting.any():
        return Finding("duplicate_timestamps", "error", f"{exact_text}: each bar time must appear once; drop the "
                       "extra copies", n_extra, _examples(exact_times), fix, description)
    times = ts[conflicting].unique()
    copies = frame.loc[ts == times[0]]
    column = next((c for c in ("close", *_BAR_VALUES) if copies[c].nunique(dropna=False) > 1), "close")
    shown = copies[column].drop_duplicates()
    first, second = shown.iloc[0], shown.iloc[min(1, len(shown) - 1)]
    message = (
        f"{len(times)} bar times appear more than once with different values (e.g. {times[0]}: {column} "
        f"{_number(first)} and {_number(second)}): a series has one bar per time, and no automatic fix can tell "
        "which copy is right. Likely causes: several instruments in one file, or a re-export with revised bars "
        "appended to the old ones (remove the stale rows yourself)")
    if fix:
        message += f"; besides, {exact_text}, which the fix drops"
    remedy = Fix("for several instruments, give the file a symbol/ticker column and choose one with {setting}",
                 "symbol")
    return _finding("duplicate_timestamps", "error", message, remedy, rows=n_extra,
                    examples=_examples(list(times) + list(exact_times)), fix=fix, fix_description=description)


def _reversing_jumps(f: pd.DataFrame) -> tuple[pd.DatetimeIndex, float] | None:
    """(times of the bars whose jump the next bar undoes, the jump size) when they are frequent enough to
    mean two series interleaved in one (rows alternating between a ~230 and a ~135 stock), else None.

    A jump is a close-to-close log move over max(-log(1 - JUMP_MIN), JUMP_SIGMAS x the series' own volatility). The
    volatility is read from two-bar moves (close_t+1 / close_t-1), which stay small in an interleaved
    series too (both ends are the same instrument), from their lower quartile so that up to half of them
    may straddle two instruments: a volatile market (crypto, monthly bars) needs a larger jump, a
    mixture of instruments does not hide behind its own jumps."""
    c = f["close"].to_numpy(dtype="float64")
    ok = np.isfinite(c) & (c > 0)
    c, times = c[ok], pd.DatetimeIndex(f["timestamp"])[ok]
    if len(c) < 3:
        return None
    r = np.diff(np.log(c))
    jump, back = r[:-1], r[1:]
    two_bar = np.abs(jump + back)
    # The lower quartile of |N(0, s)| is 0.3186 s; a two-bar move has s = sqrt(2) x the one-bar volatility.
    sigma = float(np.quantile(two_bar, 0.25)) / 0.3186 / np.sqrt(2)
    threshold = max(-np.log1p(-JUMP_MIN), JUMP_SIGMAS * sigma)
    undone = (np.abs(jump) > threshold) & (two_bar < JUMP_UNDONE * np.abs(jump))
    n = int(undone.sum())
    if n < JUMP_COUNT or n <= JUMP_SHARE * len(c):
        return None
    # Said as the smaller of the two price moves (a fall), rounded down: every counted jump is larger.
    return times[1:-1][undone], np.floor(-np.expm1(-threshold) * 100 + 1e-9) / 100


@dataclass
class _Look:
    """What every check reads: the bars, their frame, the rows usable for price checks (``clean``), the
    bar step, the calendar they suggest, the lookback asked for and the time now."""

    bars: Bars
    lookback: int | None
    now: object
    frame: pd.DataFrame = field(init=False)
    clean: pd.DataFrame = field(init=False)
    step: pd.Timedelta | None = field(init=False)
    suggested: CalendarInference | None = field(init=False)

    def __post_init__(self):
        self.frame = self.bars.frame
        self.clean = _clean_view(self.frame)
        f = self.clean
        self.step = _step(self.bars, pd.DatetimeIndex(f["timestamp"])) if len(f) >= 2 else None
        self.suggested = _suggested_calendar(self.bars, f, self.step)


def _check_missing_values(look: _Look) -> list[Finding]:
    frame = look.frame
    ts_all, bad_ts = frame["timestamp"], frame["timestamp"].isna()
    values = frame[list(VALUE_COLUMNS)]
    nan_rows = bad_ts | values.isna().any(axis=1) | ~np.isfinite(values.fillna(0)).all(axis=1)
    if not nan_rows.any():
        return []
    cols = [c for c in VALUE_COLUMNS if frame[c].isna().any() or not np.isfinite(frame[c].fillna(0)).all()]
    if bad_ts.any():
        cols = ["timestamp"] + cols
    return [Finding(
        "nan_values", "error",
        f"{int(nan_rows.sum())} bars have missing or infinite values (in {', '.join(cols)}): "
        "drop those bars, or fix the source data",
        int(nan_rows.sum()), _examples(ts_all[nan_rows].dropna()), "drop_nan_rows", FIX_DESCRIPTIONS["drop_nan_rows"])]


def _check_duplicates(look: _Look) -> list[Finding]:
    dup = _duplicates(look.frame)
    return [] if dup is None else [dup]


def _out_of_order(ns: np.ndarray) -> np.ndarray:
    """True for the rows off the longest run of rows already in order (non-decreasing ``ns``): the fewest
    rows that, put in their place, leave every row in time order."""
    tails: list[int] = []  # tails[k]: the smallest last value of an ordered run of k + 1 rows so far
    ends: list[int] = []  # ends[k]: the row that value is in
    before = np.full(len(ns), -1)  # the row before each row in its longest run
    for i, t in enumerate(ns.tolist()):
        k = bisect.bisect_right(tails, t)
        if k:
            before[i] = ends[k - 1]
        if k == len(tails):
            tails.append(t)
            ends.append(i)
        else:
            tails[k], ends[k] = t, i
    out = np.ones(len(ns), bool)
    i = ends[-1] if ends else -1
    while i >= 0:
        out[i], i = False, before[i]
    return out


def _check_order(look: _Look) -> list[Finding]:
    valid_ts = look.frame["timestamp"].dropna()
    steps = np.diff(pd.DatetimeIndex(valid_ts).asi8)
    if not (steps < 0).any():
        return []
    # A file written newest first (Investing.com, CryptoDataDownload) whose order a few rows break: the reader
    # leaves it as it is; counted against its own direction, the rows to mend are those few, not every step.
    newest_first = bool((steps < 0).sum() > (steps > 0).sum())
    ns = pd.DatetimeIndex(valid_ts).asi8
    off = _out_of_order(-ns if newest_first else ns)
    at = valid_ts[off]
    where = f"at {_fmt(_examples(at))}{', ...' if len(at) > _N_EXAMPLES else ''}"
    if not len(at):  # every row newest first: all of them to reverse
        problem, at = "the rows are newest first", valid_ts
    elif newest_first:
        problem = f"the rows are newest first, {len(at)} {'row' if len(at) == 1 else 'rows'} out of order ({where})"
    else:
        problem = f"{len(at)} {'row is' if len(at) == 1 else 'rows are'} out of time order ({where})"
    return [Finding(
        "unsorted", "error", f"{problem}: bars must be in time order; sort them", len(at), _examples(at), "sort",
        FIX_DESCRIPTIONS["sort"])]


def _check_prices(look: _Look) -> list[Finding]:
    frame = look.frame
    bad_price = (frame[list(PRICE_COLUMNS)] <= 0).any(axis=1) | (frame["volume"] < 0)
    if not bad_price.any():
        return []
    return [Finding(
        "non_positive_price", "error",
        f"{int(bad_price.sum())} bars have a zero or negative price (or negative volume): "
        "these are data errors; drop those bars or fix the source",
        int(bad_price.sum()), _examples(frame["timestamp"][bad_price]), "drop_bad_prices",
        FIX_DESCRIPTIONS["drop_bad_prices"])]


def _check_ohlc(look: _Look) -> list[Finding]:
    frame = look.frame
    hi_bad = frame["high"] < frame[["open", "close"]].max(axis=1)
    lo_bad = frame["low"] > frame[["open", "close"]].min(axis=1)
    incoherent = hi_bad | lo_bad | (frame["high"] < frame["low"])
    if not incoherent.any():
        return []
    return [Finding(
        "ohlc_inconsistent", "warning",
        f"{int(incoherent.sum())} bars have high below max(open, close) or low above min(open, close): "
        "widen high/low to cover open and close, or check the column order (open, high, low, close)",
        int(incoherent.sum()), _examples(frame["timestamp"][incoherent]), "repair_ohlc", FIX_DESCRIPTIONS["repair_ohlc"])]


def _check_volume(look: _Look) -> list[Finding]:
    f = look.clean
    zero = f["volume"].fillna(0).to_numpy() == 0
    if len(f) and zero.all():
        return [Finding(
            "zero_volume", "warning",
            "volume is zero on every bar (usual for currencies and indices from Yahoo): "
            "the model gets no volume signal; prefer a source with volume if you have one",
            len(f), _examples(f["timestamp"]))]
    if not zero.any():
        return []
    # runs of consecutive zero-volume bars
    edges = np.diff(np.concatenate([[0], zero.astype(int), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    long_runs = [(s, e) for s, e in zip(starts, ends) if e - s >= ZERO_VOLUME_RUN]
    if not long_runs:
        return []
    rows = sum(e - s for s, e in long_runs)
    return [Finding(
        "zero_volume_run", "warning",
        f"{len(long_runs)} runs of {ZERO_VOLUME_RUN}+ consecutive zero-volume bars ({rows} bars): "
        "the market may have been halted or the feed stalled; check those periods or start the history after them",
        rows, _examples(f["timestamp"].iloc[[s for s, _ in long_runs]]))]


def _check_reversing_jumps(look: _Look) -> list[Finding]:
    jumps = _reversing_jumps(look.clean)
    if jumps is None:
        return []
    at, threshold = jumps
    return [Finding(
        "reversing_jumps", "error",
        f"{len(at)} price jumps of more than {threshold:.0%} are undone on the next bar (first at {at[0]}): "
        "this looks like several instruments, or two price scales, mixed in one series; choose one instrument "
        "or fix the file",
        len(at), _examples(at))]


def _check_splits(look: _Look) -> list[Finding]:
    f = look.clean
    splits = _split_candidates(f)
    if not splits:
        return []
    ex = _examples(f["timestamp"].iloc[[i for i, _ in splits]])
    ratios = "; ".join(f"{t.date()}: {_ratio_text(r)}" for t, (_, r) in zip(ex, splits))
    return [Finding(
        "split_jump", "warning",
        f"{len(splits)} overnight price jumps look like stock splits ({ratios}); the model would read "
        "them as crashes or rallies: use split-adjusted prices or accept the adjustment",
        len(splits), ex, "adjust_splits", FIX_DESCRIPTIONS["adjust_splits"])]


def _check_partial_last_bar(look: _Look) -> list[Finding]:
    partial = _partial_last_bar(look.bars, look.clean, look.step, look.now)
    return [] if partial is None else [partial]


def _check_calendar(look: _Look) -> list[Finding]:
    out, suggested, bars = [], look.suggested, look.bars
    if suggested is not None and suggested.calendar is not None:
        code = suggested.calendar
        out.append(_finding(
            "calendar_suggested", "info",
            f"no trading calendar was given, but these bars follow one: {suggested.evidence}. Gaps are counted "
            f"against {code}", Fix("accept the fix, or choose {setting}, so the forecast's future bar times follow "
                                   "it too", "calendar", code),
            fix="use_suggested_calendar", fix_description=FIX_DESCRIPTIONS["use_suggested_calendar"]))
    elif suggested is not None:
        out.append(Finding(
            "unknown_calendar", "warning" if suggested.ambiguous else "info",
            f"no trading calendar is known for these bars: {suggested.evidence}. Gaps and future bar times follow the "
            "history's own rhythm (weekdays and hours it trades); choose the exchange calendar if you know it"))
    misread = _misread_timezone(look)
    if misread is not None:
        out.append(misread)
    if bars.calendar_inferred:
        out.append(_finding(
            "calendar_inferred", "info",
            f"{bars.calendar_inference.headline()}. Gaps and future bar times follow {bars.calendar}",
            Fix("if that is wrong, choose another calendar ({setting})", "calendar")))
    return out


def _misread_timezone(look: _Look) -> Finding | None:
    """An error when intraday bars miss the sessions of the exchange calendar chosen for them in their timezone
    but fall inside them read in another: a forecast would follow the wrong session grid."""
    bars, f, step = look.bars, look.clean, look.step
    if not calendars.is_exchange_calendar(bars.calendar) or step is None or step >= pd.Timedelta(hours=20) \
            or len(f) < 3:
        return None
    try:
        fits = timezone_that_fits(f["timestamp"], bars.calendar)
    except Exception:  # the gate must report, never crash; the gap check still judges the bars
        return None
    if fits is None:
        return None
    inside, zone, share = fits
    read_as = f"{bars.timezone} (assumed: the file gave none)" if bars.timezone_assumed else bars.timezone
    return _finding(
        "calendar_timezone", "error",
        f"only {inside:.0%} of the bars fall inside {bars.calendar} sessions as read in {read_as}; read as {zone} "
        f"{share:.0%} of them do", Fix(f"set the timezone to {zone} ({{setting}}) so the forecast follows the right "
                                       "sessions, or choose the calendar these bars follow", "timezone", zone),
        rows=len(f))


def _check_gaps(look: _Look) -> list[Finding]:
    bars, f, step, suggested = look.bars, look.clean, look.step, look.suggested
    grid, why = _calendar_grid(bars, f, step)
    if grid is None:
        return [Finding("gaps_not_checked", "info", f"gaps were not checked: {why}")] if len(f) >= 3 else []
    out = []
    actual = pd.DatetimeIndex(f["timestamp"])
    missing, extra = grid.difference(actual), actual.difference(grid)
    if bars.calendar is not None:
        cal_name = f"{bars.calendar} (inferred)" if bars.calendar_inferred else bars.calendar
    else:
        cal_name = f"{suggested.calendar} (suggested)" if suggested and suggested.calendar else "the history's own rhythm"
    if len(missing):
        pos = grid.get_indexer(missing)
        runs = np.split(pos, np.nonzero(np.diff(pos) != 1)[0] + 1)
        longest = max(len(r) for r in runs)
        fixable = any(len(r) <= MAX_FILL_BARS for r in runs)
        tail = ("fill the short ones with flat bars, or pick a range without holes" if fixable
                else "these are too long to fill safely; pick a range without holes")
        out.append(Finding(
            "gaps", "warning",
            f"{len(missing)} expected {format_interval(step)} bars are missing against {cal_name} "
            f"({len(runs)} gaps, longest {longest} bars): {tail}",
            len(missing), _examples(missing),
            "fill_gaps" if fixable else None, FIX_DESCRIPTIONS["fill_gaps"] if fixable else None))
    if len(extra):
        out.append(Finding(
            "off_calendar", "warning",
            f"{len(extra)} bars fall outside the sessions of {cal_name} (pre/post-market bars, a wrong "
            "calendar or a wrong timezone): choose the right calendar/timezone, or drop them",
            len(extra), _examples(extra), "drop_off_calendar", FIX_DESCRIPTIONS["drop_off_calendar"]))
    return out


def _check_history_length(look: _Look) -> list[Finding]:
    n = len(look.clean)
    if look.lookback is None or n >= look.lookback:
        return []
    return [Finding(
        "short_history", "error",
        f"history has {n} usable bars but the lookback is {look.lookback}: load a longer history "
        f"(an earlier start or a longer interval) or lower the lookback to at most {n}",
        n)]


def _check_provenance(look: _Look) -> list[Finding]:
    """What the bars' own metadata says: an assumed timezone, an estimated amount, stale cached bars, the
    reader's and the source's notes."""
    bars, out = look.bars, []
    if bars.timezone_assumed:
        out.append(Finding(
            "timezone_assumed", "warning",
            f"the timestamps carried no timezone and were read as {bars.timezone}: if they are exchange "
            "local times, give the timezone (e.g. America/New_York) so hours and weekdays are right"))
    if bars.amount_filled:
        out.append(Finding(
            "amount_filled", "info",
            "turnover (amount) was not in the data; it was estimated as volume x mean(open, high, low, close)"))
    if bars.stale:
        age = f" ({bars.age} old)" if bars.age is not None else ""
        out.append(Finding(
            "stale", "warning",
            f"the source could not be reached; these are cached bars{age}: retry later for fresh data"))
    return out + [Finding("source_note", "info", note) for note in bars.notes]


# Every check of the gate, in the order its findings are listed (each reads a _Look, returns findings).
CHECKS = (_check_missing_values, _check_duplicates, _check_order, _check_prices, _check_ohlc, _check_volume,
          _check_reversing_jumps, _check_splits, _check_partial_last_bar, _check_calendar, _check_gaps,
          _check_history_length, _check_provenance)


def check_bars(bars: Bars, lookback: int | None = None, now=None) -> list[Finding]:
    """Inspect bars (never modifies them) and list everything that could mislead a forecast: the findings of
    every check in ``CHECKS``.

    ``now`` (a timestamp, naive means UTC; default: the clock) decides whether the last bar is still forming.
    """
    if len(bars.frame) == 0:
        return [Finding("empty", "error", "no bars at all: pick another symbol, interval or date range")]
    look = _Look(bars, lookback, now)
    return [finding for check in CHECKS for finding in check(look)]


# ----------------------------------------------------------------------------------- fixes
def _fix_sort(f, bars):
    return f.sort_values("timestamp", kind="stable")


def _fix_drop_duplicates(f, bars):
    # Only copies identical to the one kept: bar times whose copies differ are left for the user to resolve.
    exact, _ = _duplicate_rows(f)
    return f[~(exact & f["timestamp"].duplicated(keep="last"))]


def _fix_drop_partial_last_bar(f, bars):
    # The latest bar, wherever it is in the rows (the fix may be accepted before sorting).
    return f[f["timestamp"] != f["timestamp"].max()] if f["timestamp"].notna().any() else f


def _fix_drop_nan_rows(f, bars):
    vals = f[list(VALUE_COLUMNS)]
    ok = f["timestamp"].notna() & vals.notna().all(axis=1) & np.isfinite(vals.fillna(0)).all(axis=1)
    return f[ok]


def _fix_drop_bad_prices(f, bars):
    ok = ~((f[list(PRICE_COLUMNS)] <= 0).any(axis=1) | (f["volume"] < 0))
    return f[ok]


def _fix_repair_ohlc(f, bars):
    f = f.copy()
    p = f[list(PRICE_COLUMNS)]
    f["high"] = p.max(axis=1)
    f["low"] = p.min(axis=1)
    return f


def _fix_adjust_splits(f, bars):
    f = _clean_view(f)
    for i, r in reversed(_split_candidates(f)):
        # Earlier prices are scaled to the post-split level; turnover (price x volume) is unchanged.
        f.loc[: i - 1, list(PRICE_COLUMNS)] *= r
        f.loc[: i - 1, "volume"] /= r
    return f


def _fix_drop_off_calendar(f, bars):
    f = _clean_view(f)
    grid, _ = _calendar_grid(bars, f, _step(bars, pd.DatetimeIndex(f["timestamp"])))
    if grid is None:
        return f
    return f[pd.DatetimeIndex(f["timestamp"]).isin(grid)]


def _fix_fill_gaps(f, bars):
    f = _clean_view(f)
    step = _step(bars, pd.DatetimeIndex(f["timestamp"]))
    grid, _ = _calendar_grid(bars, f, step)
    if grid is None:
        return f
    missing = grid.difference(pd.DatetimeIndex(f["timestamp"]))
    if not len(missing):
        return f
    pos = grid.get_indexer(missing)
    runs = np.split(pos, np.nonzero(np.diff(pos) != 1)[0] + 1)
    short = [r for r in runs if len(r) <= MAX_FILL_BARS]
    if not short:
        # Every hole is too long to fill safely (check_bars offers no fix then, but the fix can still be
        # asked for by name, or after an earlier fix removed the short gaps): nothing to insert.
        return f
    fill = pd.DatetimeIndex(np.concatenate([grid[r].asi8 for r in short]))
    fill = pd.DatetimeIndex(fill.asi8.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(bars.timezone)
    fill = fill[fill > f["timestamp"].iloc[0]]
    if not len(fill):
        return f
    rows = pd.DataFrame({"timestamp": pd.Series(fill).dt.as_unit("ns")})
    merged = pd.concat([f, rows], ignore_index=True).sort_values("timestamp", kind="stable")
    prev_close = merged["close"].ffill()
    is_new = merged["open"].isna()
    for c in PRICE_COLUMNS:
        merged.loc[is_new, c] = prev_close[is_new]
    merged.loc[is_new, ["volume", "amount"]] = 0.0
    return merged


_FIX_FUNCS = {
    "use_suggested_calendar": None,  # changes the calendar, not the rows: see apply_fixes
    "sort": _fix_sort,
    "drop_duplicates": _fix_drop_duplicates,
    "drop_partial_last_bar": _fix_drop_partial_last_bar,
    "drop_nan_rows": _fix_drop_nan_rows,
    "drop_bad_prices": _fix_drop_bad_prices,
    "repair_ohlc": _fix_repair_ohlc,
    "adjust_splits": _fix_adjust_splits,
    "drop_off_calendar": _fix_drop_off_calendar,
    "fill_gaps": _fix_fill_gaps,
}
# Fixes that work on _clean_view, which keeps one copy of each bar time: never applied while some bar
# times have copies with different values (they would merge them silently).
_ONE_BAR_PER_TIME = ("adjust_splits", "drop_off_calendar", "fill_gaps")
_CODE_TO_FIX = {
    "calendar_suggested": "use_suggested_calendar",
    "partial_last_bar": "drop_partial_last_bar",
    "unsorted": "sort",
    "duplicate_timestamps": "drop_duplicates",
    "nan_values": "drop_nan_rows",
    "non_positive_price": "drop_bad_prices",
    "ohlc_inconsistent": "repair_ohlc",
    "split_jump": "adjust_splits",
    "off_calendar": "drop_off_calendar",
    "gaps": "fill_gaps",
}


def finding_of_fix(fix: str) -> str:
    """The code of the finding that offers the fix named ``fix`` (e.g. 'sort' -> 'unsorted')."""
    return next((code for code, name in _CODE_TO_FIX.items() if name == fix), fix)


def check_fix_names(names) -> tuple[str, ...]:
    """The fix names (or finding codes) as fix names, in FIX_ORDER; ValueError naming the valid ones."""
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in _FIX_FUNCS and n not in _CODE_TO_FIX]
    if unknown:
        raise ValueError(f"no automatic fix named {', '.join(map(repr, unknown))}; fixes are {', '.join(FIX_ORDER)}")
    wanted = {_CODE_TO_FIX.get(n, n) for n in names}
    return tuple(n for n in FIX_ORDER if n in wanted)


def apply_fixes(bars: Bars, findings_or_codes) -> Bars:
    """A new Bars with the accepted fixes applied (finding objects, finding codes or fix names).

    Raises ValueError for a finding that has no safe fix. Each applied fix is recorded in notes.
    """
    if isinstance(findings_or_codes, (str, Finding)):
        findings_or_codes = [findings_or_codes]
    wanted = set()
    for item in findings_or_codes:
        if isinstance(item, Finding):
            if item.fix is None:
                raise ValueError(f"finding {item.code!r} has no automatic fix: {item.message}")
            wanted.add(item.fix)
        elif item in _FIX_FUNCS:
            wanted.add(item)
        elif item in _CODE_TO_FIX:
            wanted.add(_CODE_TO_FIX[item])
        else:
            raise ValueError(f"no automatic fix for {item!r}; fixes are {sorted(_FIX_FUNCS)}")
    f = bars.frame.copy()
    notes = list(bars.notes)
    for name in FIX_ORDER:
        if name not in wanted:
            continue
        if name == "use_suggested_calendar":
            bars, note = _use_suggested_calendar(bars)
            notes.append(note)
            continue
        if name in _ONE_BAR_PER_TIME:
            conflicting = _duplicate_rows(f)[1]
            if conflicting.any():
                notes.append(f"fix '{name}' not applied: {f['timestamp'][conflicting].nunique()} bar times have "
                             "copies with different values (see duplicate_timestamps); resolve those first")
                continue
        before = len(f)
        f = _FIX_FUNCS[name](f, bars)
        notes.append(f"applied fix '{name}': {FIX_DESCRIPTIONS[name]} ({before} -> {len(f)} bars)")
    return bars.replace(frame=f.reset_index(drop=True), notes=notes)


def _use_suggested_calendar(bars: Bars) -> tuple[Bars, str]:
    """The bars with the calendar check_bars suggests (later fixes then use it), and the note saying so."""
    if bars.calendar is not None:
        return bars, f"fix 'use_suggested_calendar' not applied: the bars already have calendar {bars.calendar}"
    f = _clean_view(bars.frame)
    step = _step(bars, pd.DatetimeIndex(f["timestamp"])) if len(f) >= 2 else None
    suggested = _suggested_calendar(bars, f, step)
    if suggested is None or suggested.calendar is None:
        return bars, "fix 'use_suggested_calendar' not applied: the bars follow no known calendar clearly"
    code = suggested.calendar
    return bars.replace(calendar=code, calendar_inference=suggested), (
        f"applied fix 'use_suggested_calendar': calendar set to {code}, which the bars' times follow "
        f"({suggested.evidence}); it decides gaps and future bar times. To use another calendar, load the data "
        "again with that calendar")
