"""Walk-forward evaluation of probabilistic forecasts, for any model with the same signature.

A *forecast function* maps ``(history, future_timestamps, horizon, seed) -> paths`` where ``history``
is a frame (timestamp + open, high, low, close, volume, amount) of the bars before the cut-off and
``paths`` is a float array [S, horizon, 6] in price units. Kronos (``kronos_forecast_fn``) and the
naive baselines (``kronos_studio.evaluation.baselines``) all have it, so every model is scored on the same cut-offs with
the same seeds.

Per cut-off and horizon step we keep: the actual value, the median, the p10/p90 band, CRPS (from the
paths), whether the band covered the actual, the absolute error of the median, whether the median
got the direction (vs the last close) right, and the PIT value (the paths' quantile of the actual),
which is what a later conformal calibration of the fan needs.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kronos.bars import bars_frame
from kronos.config import BAR_COLUMNS
from kronos.settings import ForecastSettings, default

from .metrics import score_paths

ForecastFn = Callable[[pd.DataFrame, pd.DatetimeIndex, int, int], np.ndarray]


# --- cut-offs -------------------------------------------------------------------------------------
def choose_cutoffs(n_bars: int, horizon: int, n_cutoffs: int, min_history: int = 2,
                   start: int | None = None) -> list[int]:
    """``n_cutoffs`` row positions, evenly spread, each leaving ``horizon`` bars after it and at least
    ``min_history`` (and at least ``start``) bars before it. History = bars[:c], actual = bars[c:c+h]."""
    lo = max(min_history, start or 0)
    hi = n_bars - horizon
    if hi < lo:
        raise ValueError(f"{n_bars} bars cannot hold {min_history} history bars plus a {horizon}-bar horizon")
    if n_cutoffs < 1:
        raise ValueError("n_cutoffs must be at least 1")
    return sorted(set(np.linspace(lo, hi, n_cutoffs).round().astype(int).tolist()))


def last_cutoffs(n_bars: int, horizon: int, n_cutoffs: int, spacing: int, min_history: int = 2) -> list[int]:
    """The latest ``n_cutoffs`` cut-offs ``spacing`` bars apart, the last one leaving exactly ``horizon``
    bars of actuals; fewer when the history runs out (each keeps ``min_history`` bars before it)."""
    if n_cutoffs < 1 or spacing < 1:
        raise ValueError("n_cutoffs and spacing must be at least 1")
    last = n_bars - horizon
    out = [c for c in range(last, last - spacing * n_cutoffs, -spacing) if c >= max(2, min_history)]
    if not out:
        raise ValueError(f"{n_bars} bars cannot hold {min_history} history bars plus a {horizon}-bar horizon")
    return out[::-1]


def cutoffs_from_time(bars, start, horizon: int, n_cutoffs: int, min_history: int = 2) -> list[int]:
    """Cut-offs spread over the bars from timestamp ``start`` on (e.g. a held-out test period)."""
    frame = bars_frame(bars)
    ts = pd.DatetimeIndex(frame["timestamp"])
    t = pd.Timestamp(start)
    if ts.tz is not None and t.tzinfo is None:
        t = t.tz_localize(ts.tz)
    first = int(np.searchsorted(ts, t))
    return choose_cutoffs(len(frame), horizon, n_cutoffs, min_history, first)


# --- results --------------------------------------------------------------------------------------
@dataclass
class EvalResult:
    """Everything a walk-forward run measured; arrays are [cut-offs, horizon] unless noted."""

    name: str
    column: str
    horizon: int
    cutoffs: list[int]  # row positions in the bars
    cutoff_times: pd.DatetimeIndex  # timestamp of the last history bar at each cut-off
    seeds: list[int]
    last: np.ndarray  # [C] last observed value of ``column``
    actual: np.ndarray
    median: np.ndarray
    lower: np.ndarray  # p10
    upper: np.ndarray  # p90
    crps: np.ndarray
    covered: np.ndarray  # bool: actual inside [p10, p90]
    abs_error: np.ndarray  # |median - actual|
    direction_hit: np.ndarray  # bool: sign(median - last) == sign(actual - last)
    pit: np.ndarray  # paths' quantile of the actual (for calibration / conformal fans)
    n_paths: int
    paths: np.ndarray | None = None  # [C, S, H, 6] when keep_paths
    meta: dict = field(default_factory=dict)

    def coverage_by_step(self) -> np.ndarray:
        return self.covered.mean(axis=0)

    def crps_by_step(self) -> np.ndarray:
        return self.crps.mean(axis=0)

    def crps_pct_by_cutoff(self) -> np.ndarray:
        """[C] mean CRPS of each cut-off in % of its last value (scale-free, comparable across cut-offs)."""
        return (self.crps / np.abs(self.last)[:, None]).mean(axis=1) * 100

    def summary(self) -> dict:
        scale = np.abs(self.last)[:, None]
        return {
            "model": self.name,
            "cutoffs": len(self.cutoffs),
            "horizon": self.horizon,
            "paths": self.n_paths,
            "crps": float(self.crps.mean()),
            "crps_pct": float(self.crps_pct_by_cutoff().mean()),
            "mae_median": float(self.abs_error.mean()),
            "mae_pct": float((self.abs_error / scale).mean() * 100),
            "coverage_p10_p90": float(self.covered.mean()),
            "direction_hit": float(self.direction_hit.mean()),
            "pit_mean": float(self.pit.mean()),
        }

    def summary_table(self) -> pd.DataFrame:
        return pd.DataFrame([self.summary()]).set_index("model")

    def per_cutoff(self) -> pd.DataFrame:
        """One row per cut-off: time, seed, mean CRPS, coverage, MAE and direction hit rate."""
        return pd.DataFrame({
            "cutoff_time": self.cutoff_times, "seed": self.seeds, "crps": self.crps.mean(1),
            "coverage_p10_p90": self.covered.mean(1), "mae_median": self.abs_error.mean(1),
            "direction_hit": self.direction_hit.mean(1)})

    def pit_frame(self) -> pd.DataFrame:
        """Long table (cut-off, step, pit) for calibration."""
        c, h = self.pit.shape
        return pd.DataFrame({"cutoff_time": np.repeat(self.cutoff_times, h), "step": np.tile(np.arange(1, h + 1), c),
                             "pit": self.pit.reshape(-1)})


def walk_forward(forecast_fn: ForecastFn, bars, *, horizon: int, cutoffs: Sequence[int] | None = None,
                 n_cutoffs: int = 10, min_history: int = 64, lookback: int | None = None, seed: int = 0,
                 column: str = "close", name: str | None = None, keep_paths: bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 time_limit_s: float | None = None) -> EvalResult:
    """Forecast from every cut-off and score against what happened.

    Cut-off ``i`` uses seed ``seed + i`` and history ``bars[max(0, c - lookback):c]`` (all bars
    before ``c`` when ``lookback`` is None), whatever the model, so results are comparable.
    A function with a ``batch`` attribute (``batch(histories, futures, horizon, seeds) -> [paths]``)
    is called with ``batch_size`` cut-offs at a time instead.

    With ``time_limit_s``, cut-offs run newest first and no new one starts once the limit is spent
    (at least one always runs); ``meta`` says how many of the requested cut-offs were scored.
    """
    frame = bars_frame(bars)
    if column not in BAR_COLUMNS:
        raise ValueError(f"column must be one of {BAR_COLUMNS}, got {column!r}")
    col = BAR_COLUMNS.index(column)
    if cutoffs is None:  # every cut-off gets a full lookback of history
        cutoffs = choose_cutoffs(len(frame), horizon, n_cutoffs, max(min_history, lookback or 0))
    cutoffs = [int(c) for c in cutoffs]
    if any(c < 2 or c + horizon > len(frame) for c in cutoffs):
        raise ValueError(f"every cut-off needs 2+ bars before it and {horizon} after it ({len(frame)} bars)")
    values = frame[list(BAR_COLUMNS)].to_numpy(np.float64)
    ts = pd.DatetimeIndex(frame["timestamp"])
    seeds = [int(seed) + i for i in range(len(cutoffs))]
    histories = [frame.iloc[(0 if lookback is None else max(0, c - lookback)):c].reset_index(drop=True)
                 for c in cutoffs]
    futures = [ts[c:c + horizon] for c in cutoffs]
    batch = getattr(forecast_fn, "batch", None)
    size = max(1, getattr(forecast_fn, "batch_size", len(cutoffs))) if batch is not None else 1
    chunks = [list(range(i, min(i + size, len(cutoffs)))) for i in range(0, len(cutoffs), size)]
    if time_limit_s is not None:  # newest first: a run cut short keeps the latest cut-offs
        chunks = chunks[::-1]
    started = time.perf_counter()
    got: dict[int, np.ndarray] = {}
    for chunk in chunks:
        if time_limit_s is not None and got and time.perf_counter() - started > time_limit_s:
            break
        hs, fs, ss = [histories[i] for i in chunk], [futures[i] for i in chunk], [seeds[i] for i in chunk]
        out = (batch(hs, fs, horizon, ss) if batch is not None
               else [forecast_fn(h, f, horizon, s) for h, f, s in zip(hs, fs, ss)])
        got.update(zip(chunk, out))
        if progress:
            progress(len(got), len(cutoffs))
    kept = sorted(got)
    requested = len(cutoffs)
    cutoffs, seeds, all_paths = [cutoffs[i] for i in kept], [seeds[i] for i in kept], [got[i] for i in kept]
    rows = {k: [] for k in ("actual", "median", "lower", "upper", "crps", "covered", "pit", "direction_hit")}
    n_paths = None
    for c, paths in zip(cutoffs, all_paths):
        paths = np.asarray(paths, dtype=np.float64)
        if paths.ndim != 3 or paths.shape[1:] != (horizon, len(BAR_COLUMNS)):
            raise ValueError(f"forecast function returned shape {paths.shape}, expected [S, {horizon}, 6]")
        n_paths = paths.shape[0]
        y = values[c:c + horizon, col]
        scores = score_paths(paths[:, :, col], y, values[c - 1, col])
        rows["actual"].append(y)
        for k in rows.keys() - {"actual"}:
            rows[k].append(scores[k])
    arr = {k: np.stack(v) for k, v in rows.items()}
    last = np.array([values[c - 1, col] for c in cutoffs])
    direction = arr["direction_hit"]
    return EvalResult(
        name=name or getattr(forecast_fn, "name", getattr(forecast_fn, "__name__", "model")), column=column,
        horizon=horizon, cutoffs=cutoffs, cutoff_times=ts[[c - 1 for c in cutoffs]], seeds=seeds, last=last,
        actual=arr["actual"], median=arr["median"], lower=arr["lower"], upper=arr["upper"], crps=arr["crps"],
        covered=arr["covered"], abs_error=np.abs(arr["median"] - arr["actual"]), direction_hit=direction,
        pit=arr["pit"], n_paths=int(n_paths),
        paths=np.stack([np.asarray(p, np.float32) for p in all_paths]) if keep_paths else None,
        meta={"lookback": lookback, "seed": seed, "bars": len(frame), "requested_cutoffs": requested,
              "elapsed_s": round(time.perf_counter() - started, 3)})


def compare(models: Mapping[str, ForecastFn], bars, *, horizon: int, cutoffs: Sequence[int] | None = None,
            n_cutoffs: int = 10, min_history: int = 64, lookback: int | None = None, seed: int = 0,
            column: str = "close", keep_paths: bool = False, progress=None) -> dict[str, EvalResult]:
    """Walk-forward every model on the same cut-offs, history windows and seeds."""
    frame = bars_frame(bars)
    if cutoffs is None:
        cutoffs = choose_cutoffs(len(frame), horizon, n_cutoffs, max(min_history, lookback or 0))
    return {name: walk_forward(fn, frame, horizon=horizon, cutoffs=cutoffs, lookback=lookback, seed=seed,
                               column=column, name=name, keep_paths=keep_paths,
                               progress=(lambda i, n, _name=name: progress(_name, i, n)) if progress else None)
            for name, fn in models.items()}


def summary_table(results: Mapping[str, EvalResult] | Sequence[EvalResult]) -> pd.DataFrame:
    """One row per model (the summaries side by side)."""
    items = results.values() if isinstance(results, Mapping) else results
    return pd.DataFrame([r.summary() for r in items]).set_index("model")


# --- Kronos as a forecast function ------------------------------------------------------------------
def kronos_forecast_fn(pipeline, paths: int = default("paths"), name: str | None = None, batch_size: int = 0,
                       **settings):
    """A ``KronosPipeline`` as a forecast function sampling ``paths`` paths with the other
    ``ForecastSettings`` fields given (and ``events``, an event adapter's inputs): the studio's
    ``KronosCutoffs``, which reads the window a forecast reads."""
    from kronos_studio.forecasters.kronos import KronosCutoffs, KronosForecaster

    events = settings.pop("events", None)
    return KronosCutoffs(KronosForecaster(pipeline, events), ForecastSettings(horizon=1, paths=paths, **settings),
                         batch_size, name)
