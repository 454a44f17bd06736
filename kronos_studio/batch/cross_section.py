"""The cross-sectional walk-forward of a watchlist (``kronos batch --evaluate``): at each of K past cut-off
dates, every series that has a bar there is forecast from its bars before the cut-off only, in one
batched run per date (``make_forecasts``; on Ray, each date one unit of the batch engine's actor pool),
and the panel keeps per (path count, date, series) the model's signals, naive signals and the forward log
return that followed. ``kronos_studio.evaluation.rank_skill`` scores the panel.

Dates are aligned by each series' own calendar: a daily (or longer) bar is keyed by its local date, an
intraday bar by its UTC time. A series without a bar at a cut-off date is left out of that date, never
filled forward into it. A date is a cut-off candidate when at least three series are usable there and at
least half the series trading over it have a bar (a holiday of most series, or a weekend only 24/7 series
trade, is never a cut-off). The latest candidate is the last cut-off; walking back, each earlier one is
the latest candidate where every series used there has at least ``step`` of its own bars before the later
cut-off, so with ``step`` >= H no series' forward window reaches the next cut-off, whatever its calendar.
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from data_sources.intervals import is_intraday
from kronos.config import CLOSE
from kronos.errors import Fix
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.evaluation import path_stats
from kronos_studio.evaluation.rank_skill import MIN_SERIES_PER_DATE, RankSkillError
from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD, trained_on
from kronos_studio.evaluation.trust import TrainingPeriodError
from kronos_studio.forecasters import make_forecasts

from .engine import BatchRun
from .forecaster import BatchSettings
from .rank_plan import RankPlan
from .summary import utc

Progress = Callable[[int, int], None]  # (forecast runs done, runs in all)
RAY_DATES_IN_FLIGHT = 64  # cut-off dates handed to the Ray actor pool at a time: each carries its series' bars


class LookAheadError(RuntimeError):
    """A forecast read a bar at or after its cut-off: its ranking would score hindsight."""


@dataclass
class RankPanel:
    """The panel (one row per path count, date and series) and what was left out, and why."""

    panel: pd.DataFrame
    horizon: int
    step: int
    lookback: int
    dates_requested: int
    left_out: dict[str, int]  # reason -> dates left out for it
    ending_early: list[str]  # series used where they have bars, whose bars end before the last cut-off
    unused: dict[str, str]  # series with no usable cut-off at all -> why, in words (``unused_reasons``)
    guard: dict = field(default_factory=dict)  # the training-period guard's numbers
    elapsed_s: float = 0.0
    forecasts: int = 0  # series forecasts made
    overlap: int = 0  # the most later cut-off dates one series' forward window reaches (the Newey-West lag's floor)

    @property
    def dates(self) -> int:
        return int(self.panel["date"].nunique()) if len(self.panel) else 0


def date_keys(bars) -> pd.DatetimeIndex:
    """Each bar's key on the shared grid: its local date for daily or longer bars (an equity's and an FX
    pair's bars of the same day meet), its UTC time for intraday bars."""
    ts = pd.DatetimeIndex(bars.frame["timestamp"])
    if is_intraday(bars.interval):
        return ts.tz_convert("UTC") if ts.tz is not None else ts.tz_localize("UTC")
    return (ts.tz_localize(None) if ts.tz is not None else ts).normalize()


def check_intervals(series: dict) -> None:
    """Refuses a watchlist of more than one bar interval, naming the series (and files) of each."""
    by_interval: dict[str, list[str]] = {}
    for name, bars in series.items():
        origin = getattr(bars, "origin", "") or ""
        by_interval.setdefault(str(bars.interval), []).append(f"{name} ({origin})" if origin and origin != name else name)
    if len(by_interval) > 1:
        listed = "; ".join(f"{interval}: {', '.join(names)}" for interval, names in by_interval.items())
        raise RankSkillError(f"the watchlist mixes bar intervals ({listed}): a ranking compares returns over the same "
                             "number of bars", {"intervals": {k: len(v) for k, v in by_interval.items()}},
                             Fix("give one interval per watchlist (split it, or resample the files)"))


def cutoff_dates(keys: dict[str, pd.DatetimeIndex], positions: dict[str, dict], usable: Callable[[str, int], bool],
                 plan: RankPlan, step: int) -> dict:
    """The cut-off dates (oldest first, ``plan.cutoffs`` at most), each with the series used there. A
    candidate is a date where at least ``MIN_SERIES_PER_DATE`` series are usable and at least half the
    series whose bars span it have a bar there; walking back from the latest candidate, the next cut-off
    is the latest candidate where every series used has ``step`` or more of its own bars before the later
    cut-off (each series steps in its own bars, never in the union's dates)."""
    span = {s: (k[0], k[-1]) for s, k in keys.items() if len(k)}
    grid = sorted(set().union(*[set(k) for k in keys.values()]))
    candidates = []
    for key in grid:
        having = [s for s in keys if key in positions[s]]
        trading = sum(lo <= key <= hi for lo, hi in span.values())
        used = [s for s in having if usable(s, positions[s][key])]
        if len(used) >= MIN_SERIES_PER_DATE and 2 * len(having) >= trading:
            candidates.append((key, used))
    if not candidates:
        raise RankSkillError(f"no date has {MIN_SERIES_PER_DATE} series with a bar, enough history before it and the "
                             "horizon's bars after it", {"series": len(keys)},
                             (Fix("add series whose dates overlap"), Fix("or lower {setting}", "lookback"),
                              Fix("or lower {setting}", "horizon")))
    chosen = [candidates[-1]]
    for key, used in reversed(candidates[:-1]):
        if len(chosen) >= plan.cutoffs:
            break
        later = chosen[-1][0]
        if all(keys[s].searchsorted(later) - positions[s][key] >= step for s in used):
            chosen.append((key, used))
    return dict(reversed(chosen))


def forward_overlap(members: dict, positions: dict[str, dict], horizon: int) -> int:
    """The most later cut-off dates (counted in cut-offs) whose forward window shares a bar with one
    series' forward window at an earlier date: 0 when no series' H bars after a cut-off reach the next
    cut-off it is used at. ``members``: date -> the series used there, dates in order."""
    dates = list(members)
    at: dict[str, list[tuple[int, int]]] = {}  # series -> (date index, its bar position) in date order
    for i, d in enumerate(dates):
        for s in members[d]:
            at.setdefault(s, []).append((i, positions[s][d]))
    most = 0
    for seen in at.values():
        index, pos = np.array([i for i, _ in seen]), np.array([p for _, p in seen])
        reach = np.searchsorted(pos, pos + horizon, side="left") - 1  # the last later cut-off before the window ends
        most = max(most, int((index[reach] - index).max()))
    return most


def cross_section(forecaster, series: dict, settings: ForecastSettings, plan: RankPlan,
                  progress: Progress | None = None) -> RankPanel:
    """The panel of ``series`` (name -> ``data_sources.Bars``, one interval) forecast by ``forecaster`` with
    ``settings`` (its horizon H, lookback, seed; ``paths`` replaced by each of ``plan.paths``). Raises
    ``RankSkillError`` for mixed intervals or no usable date, ``TrainingPeriodError`` when every date is
    inside the model's training period, ``LookAheadError`` when a forecast read past its cut-off."""
    started = time.perf_counter()
    check_intervals(series)
    horizon = settings.horizon
    step = plan.step or horizon
    lookback = settings.lookback or forecaster.lookback(horizon)
    frames = {name: bars.frame for name, bars in series.items()}
    keys = {name: date_keys(bars) for name, bars in series.items()}
    positions = {name: {k: i for i, k in enumerate(ks)} for name, ks in keys.items()}

    def usable(name: str, c: int) -> bool:  # a full lookback before the cut-off, H bars from it on
        return c >= max(lookback, forecaster.min_history) and c + horizon <= len(frames[name])

    members = cutoff_dates(keys, positions, usable, plan, step)
    dates = list(members)
    chosen = dict(members)  # before the training-period guard leaves dates out

    period = forecaster.training_period()
    first = {d: [frames[s]["timestamp"].iloc[positions[s][d]] for s in m] for d, m in members.items()}
    trained = {d: bool(trained_on(period, pd.DatetimeIndex(pd.to_datetime(t, utc=True))).any())
               for d, t in first.items()}
    guard = {"training_period": None if period is None else period.describe(),
             "in_training_period": sum(trained.values()), "in_training_period_included": plan.include_trained}
    if not plan.include_trained and members and all(trained.values()):
        raise TrainingPeriodError(
            f"all {len(members)} cut-off dates fall inside the model's training period ({period.describe()}): their "
            "rankings would measure memory, not forecasting", {"dates": len(members), "seen_until": str(period.seen_until)},
            Fix(f"use series with bars after {period.seen_until.date()}, or include those dates knowingly ({{setting}})",
                INCLUDE_TRAINING_PERIOD, True))
    left_out = {"training_period": 0 if plan.include_trained else sum(trained.values())}
    if not plan.include_trained:
        members = {d: m for d, m in members.items() if not trained[d]}

    units = [(int(paths), i, date, names) for paths in plan.paths for i, (date, names) in enumerate(members.items())]
    runs = [dataclasses.replace(settings, paths=paths, seed=settings.seed + i, lookback=lookback)
            for paths, i, _, _ in units]
    histories = ([history(series[s], positions[s][date]) for s in names] for _, _, date, names in units)  # lazily
    rows = []
    for done, ((_, i, date, names), run, forecasts) in enumerate(
            zip(units, runs, forecast_runs(forecaster, zip(histories, runs), plan.run)), 1):
        rows += date_rows({s: series[s] for s in names}, {s: positions[s][date] for s in names}, run, date, i, forecasts)
        if progress is not None:
            progress(done, len(units))
    panel = pd.DataFrame(rows)
    used = set(panel["series"]) if len(panel) else set()
    last = max(members) if members else None
    ending = [s for s in series if s in used and last is not None and s not in members[last]
              and (keys[s][-1] < last or (last in positions[s] and positions[s][last] + horizon > len(frames[s])))]
    unused = unused_reasons([s for s in series if s not in used], keys, positions, chosen,
                            max(lookback, forecaster.min_history), horizon)
    return RankPanel(panel, horizon, step, lookback, len(dates), left_out, ending,
                     unused, guard, round(time.perf_counter() - started, 3),
                     sum(len(m) for m in members.values()) * len(plan.paths), forward_overlap(members, positions, horizon))


def unused_reasons(names: list[str], keys: dict[str, pd.DatetimeIndex], positions: dict[str, dict], chosen: dict,
                   before: int, horizon: int) -> dict[str, str]:
    """Why each series of ``names`` is in no cut-off's cross-section, in words: too few bars for any cut-off,
    used only at dates the training-period guard left out, no bar at any cut-off date (its bar times off
    the dates the others share, or outside their span), or at those where it has a bar, too little history
    before or too few bars after. ``chosen``: every cut-off date (the guard's too) with the series used
    there; ``before``: the bars a cut-off needs before it."""
    dates = list(chosen)
    span = f"{_when(dates[0])} → {_when(dates[-1])}" if dates else ""
    out = {}
    for name in names:
        ks, n = keys[name], len(keys[name])
        at = [positions[name][d] for d in dates if d in positions[name]]
        if n < before + horizon:
            out[name] = (f"{n} bars: a cut-off needs {before} bars before it and {horizon} from it on "
                         f"({before + horizon} in all)")
        elif any(name in chosen[d] for d in dates):
            out[name] = "used only at cut-off dates inside the model's training period, which are left out"
        elif not at:
            inside = int(((ks >= dates[0]) & (ks <= dates[-1])).sum()) if dates else 0
            out[name] = (f"no bar at any of the {len(dates)} cut-off dates ({span}), though {inside} of its bars lie "
                         "between them: its bar times are not the ones the other series share" if inside else
                         f"its bars ({_when(ks[0])} → {_when(ks[-1])}) lie outside the {len(dates)} cut-off dates "
                         f"({span})")
        else:
            short = (f"fewer than {before} bars before" if all(c < before for c in at) else
                     f"fewer than {horizon} bars from" if all(c + horizon > n for c in at) else
                     f"fewer than {before} bars before or {horizon} bars from")
            out[name] = (f"{short} each of the {len(at)} cut-off dates where it has a bar (its bars run "
                         f"{_when(ks[0])} → {_when(ks[-1])})")
    return out


def _when(key) -> str:
    """A date key as the grid holds it: a daily date, or an intraday bar's UTC time."""
    key = pd.Timestamp(key)
    return f"{key:%Y-%m-%d %H:%M} UTC" if key.tzinfo is not None else f"{key:%Y-%m-%d}"


def history(bars, cut: int):
    """``bars`` before position ``cut``: what a forecast at that cut-off may read."""
    return bars.replace(frame=bars.frame.iloc[:cut].reset_index(drop=True))


def forecast_runs(forecaster, runs: Iterable[tuple[list, ForecastSettings]], engine: BatchRun | None):
    """The forecasts of each run (a cut-off date's histories and settings), in order, one batched
    ``make_forecasts`` per run: in this process, or with ``engine.engine`` "ray" by the batch engine's Ray
    actor pool (each date one unit; every actor loads ``engine.model`` once and must have loaded the model
    the driver has). ``runs`` is read as it is forecast, so only the dates in flight hold their bars."""
    from .ray_engine import ray_workers  # read when called: a test patches it in ray_engine

    runs = iter(runs)
    if engine is None or engine.engine == "local":
        yield from (make_forecasts(forecaster, histories, run) for histories, run in runs)
        return
    first = list(itertools.islice(runs, RAY_DATES_IN_FLIGHT))
    if not first:
        return

    expected = {"predictor_revision": None, "tokenizer_revision": None, **forecaster.describe()}
    with ray_workers(engine.model, BatchSettings(first[0][1]), address=engine.ray_address, workers=engine.workers,
                     device=engine.device, expected_model=expected) as map_chunks:
        batch = first
        while batch:
            yield from map_chunks(batch, "forecast_run")
            batch = list(itertools.islice(runs, RAY_DATES_IN_FLIGHT))


def date_rows(series: dict, cuts: dict[str, int], settings: ForecastSettings, date, index: int, forecasts) -> list:
    """The panel rows of one cut-off date from its ``forecasts`` (every series forecast in one batched run
    from its bars before its cut-off position): its signals, the naive signals and the forward log return
    over H bars."""
    names = list(series)
    h = settings.horizon
    rng = np.random.default_rng([settings.seed, index])  # the random ranking: reproducible, new each date
    random_signal = rng.standard_normal(len(names))
    out = []
    for j, (name, fc) in enumerate(zip(names, forecasts)):
        frame, c = series[name].frame, cuts[name]
        cutoff_time = frame["timestamp"].iloc[c]
        if len(fc.history) and pd.Timestamp(fc.history["timestamp"].iloc[-1]) >= cutoff_time:
            raise LookAheadError(f"the forecast of {name} at {date.date()} read a bar at "
                                 f"{fc.history['timestamp'].iloc[-1]}, at or after its cut-off {cutoff_time}: "
                                 "a forecaster must read only the bars it is given")
        close = frame["close"].to_numpy(np.float64)
        last = close[c - 1]
        out.append({"paths": settings.paths, "date": date, "series": name, "cutoff_time": utc([cutoff_time])[0],
                    **path_signals(fc.paths, last),
                    "momentum": log_ratio(last, close[c - 1 - h]) if c - 1 - h >= 0 else float("nan"),
                    "reversal": -log_ratio(last, close[c - 2]) if c >= 2 else float("nan"),
                    "random": float(random_signal[j]),
                    "realised": log_ratio(close[c + h - 1], last)})
    return out


def log_ratio(a: float, b: float) -> float:
    return float(np.log(a / b)) if a > 0 and b > 0 else float("nan")


def path_signals(paths: np.ndarray, last: float) -> dict:
    """The model's signals of one forecast: the mean and median of the paths' log returns to the horizon's
    close, P(up), and the mean over the paths' standard deviation (a risk-adjusted expected return)."""
    closes = path_stats.at_horizon(paths, CLOSE)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(closes > 0, np.log(closes / last), np.nan) if last > 0 else np.full(len(closes), np.nan)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else float("nan")
    mean = float(np.mean(r))
    return {"expected_log_return": mean, "median_log_return": float(np.median(r)),
            "p_up": path_stats.prob_up(paths, last),
            "mean_over_sd": mean / sd if np.isfinite(sd) and sd > 0 else float("nan")}
