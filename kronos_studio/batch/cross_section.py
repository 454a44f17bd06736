"""The cross-sectional walk-forward of a watchlist (``kronos batch --evaluate``): at each of K past cut-off
dates, every series that has a bar there is forecast from its bars before the cut-off only, in one
batched run per date (``make_forecasts``), and the panel keeps per (path count, date, series) the model's
signals, naive signals and the forward log return that followed. ``kronos_studio.evaluation.rank_skill``
scores the panel.

Dates are aligned by each series' own calendar: a daily (or longer) bar is keyed by its local date, an
intraday bar by its UTC time. A series without a bar at a cut-off date is left out of that date, never
filled forward into it. The cut-off dates are the latest date where at least three series have a bar,
enough history and H bars after it, then every ``step``-th date back on the union of the series' dates.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kronos.config import CLOSE
from kronos.settings import ForecastSettings
from kronos_studio.evaluation import path_stats
from kronos_studio.evaluation.rank_skill import MIN_SERIES_PER_DATE, RankSkillError

from .summary import utc

Progress = Callable[[int, int], None]  # (forecast runs done, runs in all)


class LookAheadError(RuntimeError):
    """A forecast read a bar at or after its cut-off: its ranking would score hindsight."""


@dataclass(frozen=True)
class RankPlan:
    """What a cross-sectional walk-forward asks for: ``cutoffs`` dates, ``step`` dates apart (None: the
    horizon, so forward returns never overlap), scored for each path count of ``paths``;
    ``include_trained``: keep the dates inside the model's training period (left out by default);
    ``costs_bps``: the cost per unit turnover the long-short spread pays, in basis points."""

    cutoffs: int = 20
    step: int | None = None
    paths: tuple[int, ...] = (30,)
    include_trained: bool = False
    costs_bps: float = 0.0

    def __post_init__(self):
        if self.cutoffs < 1 or (self.step is not None and self.step < 1) or not self.paths or min(self.paths) < 1:
            raise ValueError(f"cut-offs, step and every path count must be at least 1, got cut-offs {self.cutoffs}, "
                             f"step {self.step}, paths {list(self.paths)}")
        if not 0 <= self.costs_bps < 10_000:
            raise ValueError(f"costs are basis points per unit turnover, from 0 to 10,000, got {self.costs_bps}")


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
    unused: list[str]  # series with no usable cut-off at all (too short, or no bar at any cut-off date)
    guard: dict = field(default_factory=dict)  # the training-period guard's numbers
    elapsed_s: float = 0.0
    forecasts: int = 0  # series forecasts made

    @property
    def dates(self) -> int:
        return int(self.panel["date"].nunique()) if len(self.panel) else 0


def date_keys(bars) -> pd.DatetimeIndex:
    """Each bar's key on the shared grid: its local date for daily or longer bars (an equity's and an FX
    pair's bars of the same day meet), its UTC time for intraday bars."""
    from data_sources.intervals import is_intraday

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
                             "number of bars, so give one interval per watchlist (split it, or resample the files)")


def cutoff_dates(positions: dict[str, dict], grid: pd.DatetimeIndex, need: Callable[[str, int], bool],
                 plan: RankPlan, step: int) -> list:
    """The cut-off dates: the latest grid date with at least three usable series, then every ``step``-th
    grid date back, ``plan.cutoffs`` in all (oldest first)."""
    usable_at = [sum(need(s, pos[key]) for s, pos in positions.items() if key in pos) for key in grid]
    last = next((i for i in range(len(grid) - 1, -1, -1) if usable_at[i] >= MIN_SERIES_PER_DATE), None)
    if last is None:
        raise RankSkillError(f"no date has {MIN_SERIES_PER_DATE} series with a bar, enough history before it and the "
                             "horizon's bars after it: add series whose dates overlap, or lower the lookback or horizon")
    return [grid[i] for i in range(last, -1, -step)][:plan.cutoffs][::-1]


def cross_section(forecaster, series: dict, settings: ForecastSettings, plan: RankPlan,
                  progress: Progress | None = None) -> RankPanel:
    """The panel of ``series`` (name -> ``data_sources.Bars``, one interval) forecast by ``forecaster`` with
    ``settings`` (its horizon H, lookback, seed; ``paths`` replaced by each of ``plan.paths``). Raises
    ``RankSkillError`` for mixed intervals or no usable date, ``TrainingPeriodError`` when every date is
    inside the model's training period, ``LookAheadError`` when a forecast read past its cut-off."""
    from kronos_studio.evaluation.training_period import trained_on
    from kronos_studio.evaluation.trust import TrainingPeriodError

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

    grid = pd.DatetimeIndex(sorted(set().union(*[set(k) for k in keys.values()])))
    dates = cutoff_dates(positions, grid, usable, plan, step)
    members = {d: [s for s in series if d in positions[s] and usable(s, positions[s][d])] for d in dates}
    left_out = {"fewer_than_3_series": sum(len(m) < MIN_SERIES_PER_DATE for m in members.values())}
    members = {d: m for d, m in members.items() if len(m) >= MIN_SERIES_PER_DATE}

    period = forecaster.training_period()
    first = {d: [frames[s]["timestamp"].iloc[positions[s][d]] for s in m] for d, m in members.items()}
    trained = {d: bool(trained_on(period, pd.DatetimeIndex(pd.to_datetime(t, utc=True))).any())
               for d, t in first.items()}
    guard = {"training_period": None if period is None else period.describe(),
             "in_training_period": sum(trained.values()), "in_training_period_included": plan.include_trained}
    if not plan.include_trained and members and all(trained.values()):
        raise TrainingPeriodError(
            f"all {len(members)} cut-off dates fall inside the model's training period ({period.describe()}): their "
            "rankings would measure memory, not forecasting. Use series with bars after "
            f"{period.seen_until.date()}, or include those dates knowingly")
    left_out["training_period"] = 0 if plan.include_trained else sum(trained.values())
    if not plan.include_trained:
        members = {d: m for d, m in members.items() if not trained[d]}

    rows, runs, done = [], len(plan.paths) * len(members), 0
    for paths in plan.paths:
        for i, (date, names) in enumerate(members.items()):
            run = dataclasses.replace(settings, paths=int(paths), seed=settings.seed + i, lookback=lookback)
            rows += date_rows(forecaster, {s: series[s] for s in names}, {s: positions[s][date] for s in names},
                              run, date, i)
            done += 1
            if progress is not None:
                progress(done, runs)
    panel = pd.DataFrame(rows)
    used = set(panel["series"]) if len(panel) else set()
    last = max(members) if members else None
    ending = [s for s in series if s in used and last is not None and s not in members[last]
              and (keys[s][-1] < last or (last in positions[s] and positions[s][last] + horizon > len(frames[s])))]
    return RankPanel(panel, horizon, step, lookback, len(dates), left_out, ending,
                     [s for s in series if s not in used], guard, round(time.perf_counter() - started, 3),
                     sum(len(m) for m in members.values()) * len(plan.paths))


def date_rows(forecaster, series: dict, cuts: dict[str, int], settings: ForecastSettings, date, index: int) -> list:
    """The panel rows of one cut-off date: every series forecast in one batched run from its bars before
    its cut-off position, its signals, the naive signals and the forward log return over H bars."""
    from kronos_studio.forecasters import make_forecasts

    names = list(series)
    histories = [series[s].replace(frame=series[s].frame.iloc[:cuts[s]].reset_index(drop=True)) for s in names]
    forecasts = make_forecasts(forecaster, histories, settings)
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
