"""Walk-forward evaluation of probabilistic forecasts, for any forecaster.

Every model (Kronos, the ensemble, Chronos-2, GARCH, HAR, the naive baselines of
``kronos_studio.evaluation.baselines``) is a ``kronos_studio.forecasters.Forecaster``: at each cut-off it
samples the history window a forecast of those bars reads (``forecasters.window.history_window``) with the
settings it was given, only the seed replaced (``seed + i`` at cut-off ``i``), so every model is scored on
the same cut-offs with the same seeds.

Per cut-off and horizon step we keep: the actual value, the median, the p10/p90 band, CRPS (from the
paths), whether the band covered the actual, the absolute error of the median, whether the median
got the direction (vs the last close) right, and the PIT value (the paths' quantile of the actual),
which is what a later conformal calibration of the fan needs.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kronos.bars import bars_frame
from kronos.config import BAR_COLUMNS
from kronos.errors import Fix, InputError
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos.threads import computing
from kronos_studio.forecasters.bounds import bounded
from kronos_studio.forecasters.window import history_window

from .metrics import score_paths

SCORES = ("median", "lower", "upper", "crps", "covered", "pit", "direction_hit")  # what score_paths gives per cut-off


# --- cut-offs -------------------------------------------------------------------------------------
def choose_cutoffs(n_bars: int, horizon: int, n_cutoffs: int, min_history: int = 2,
                   start: int | None = None) -> list[int]:
    """``n_cutoffs`` row positions, evenly spread, each leaving ``horizon`` bars after it and at least
    ``min_history`` (and at least ``start``) bars before it. History = bars[:c], actual = bars[c:c+h]."""
    lo = max(min_history, start or 0)
    hi = n_bars - horizon
    if hi < lo:
        raise too_few_bars(n_bars, min_history, horizon)
    if n_cutoffs < 1:
        raise InputError(f"{n_cutoffs} cut-offs asked for", {"cutoffs": n_cutoffs},
                         Fix("ask for 1 or more ({setting})", "cutoffs"))
    return sorted(set(np.linspace(lo, hi, n_cutoffs).round().astype(int).tolist()))


def last_cutoffs(n_bars: int, horizon: int, n_cutoffs: int, spacing: int, min_history: int = 2) -> list[int]:
    """The latest ``n_cutoffs`` cut-offs ``spacing`` bars apart, the last one leaving exactly ``horizon``
    bars of actuals; fewer when the history runs out (each keeps ``min_history`` bars before it)."""
    if n_cutoffs < 1 or spacing < 1:
        raise InputError(f"{n_cutoffs} cut-offs {spacing} bars apart asked for",
                         {"cutoffs": n_cutoffs, "spacing": spacing}, Fix("ask for 1 or more ({setting}), at least 1 bar apart", "cutoffs"))
    last = n_bars - horizon
    out = [c for c in range(last, last - spacing * n_cutoffs, -spacing) if c >= max(2, min_history)]
    if not out:
        raise too_few_bars(n_bars, min_history, horizon)
    return out[::-1]


def too_few_bars(n_bars: int, min_history: int, horizon: int) -> InputError:
    """The refusal of cut-offs the bars cannot hold, naming what to change."""
    return InputError(f"{n_bars} bars cannot hold {min_history} history bars plus a {horizon}-bar horizon",
                     {"bars": n_bars, "min_history": min_history, "horizon": horizon},
                     (Fix("load more bars"), Fix("lower {setting}", "horizon")))


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
    members: dict[str, list[np.ndarray]] = field(default_factory=dict)  # a mixture's: key -> each cut-off's paths
    weights: list[dict[str, float]] = field(default_factory=list)  # a mixture's: each cut-off's member weights

    def coverage_by_step(self) -> np.ndarray:
        return self.covered.mean(axis=0)

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


@dataclass(frozen=True)
class WalkForward:
    """What a walk-forward decides beyond the forecast's settings."""

    n_cutoffs: int = 10  # cut-offs spread over the bars when none are given
    min_history: int = 64  # bars before the first of them (at least the settings' lookback)
    column: str = "close"  # the bar column scored
    keep_paths: bool = False  # keep every cut-off's paths in the result
    time_limit_s: float | None = None  # newest cut-offs first, no new one once spent (at least one runs)


def walk_forward(forecaster, bars, settings: ForecastSettings, cutoffs: Sequence[int] | None = None,
                 options: WalkForward = WalkForward(), progress: Callable[[int, int], None] | None = None
                 ) -> EvalResult:
    """Forecast from every cut-off with ``forecaster`` (a ``kronos_studio.forecasters.Forecaster``) and score
    against what happened.

    Cut-off ``i`` samples with ``settings`` whole, its seed ``settings.seed + i``, from the history window a
    forecast of ``bars[:c]`` reads (``settings.lookback``, else the forecaster's own), whatever the model, so
    results are comparable. A forecaster with ``sample_batch`` forecasts ``forecaster.batch_size`` cut-offs
    in one batched run (one random stream seeded with the first one's seed).

    With ``options.time_limit_s``, cut-offs run newest first and no new one starts once the limit is spent
    (at least one always runs); ``meta`` says how many of the requested cut-offs were scored.
    """
    frame = bars_frame(bars)
    if options.column not in BAR_COLUMNS:
        raise ValueError(f"column must be one of {BAR_COLUMNS}, got {options.column!r}")
    horizon = settings.horizon
    if cutoffs is None:  # every cut-off gets a full lookback of history
        cutoffs = choose_cutoffs(len(frame), horizon, options.n_cutoffs,
                                 max(options.min_history, settings.lookback or 0))
    cutoffs = [int(c) for c in cutoffs]
    if any(c < 2 or c + horizon > len(frame) for c in cutoffs):
        raise ValueError(f"every cut-off needs 2+ bars before it and {horizon} after it ({len(frame)} bars)")
    ts = pd.DatetimeIndex(frame["timestamp"])
    at = [dataclasses.replace(settings, seed=int(settings.seed) + i) for i in range(len(cutoffs))]
    size = max(1, forecaster.batch_size)
    chunks = [list(range(i, min(i + size, len(cutoffs)))) for i in range(0, len(cutoffs), size)]
    if options.time_limit_s is not None:  # newest first: a run cut short keeps the latest cut-offs
        chunks = chunks[::-1]
    started = time.perf_counter()
    got: dict[int, object] = {}
    for chunk in chunks:
        if options.time_limit_s is not None and got and time.perf_counter() - started > options.time_limit_s:
            break
        hs = [history_window(forecaster, frame.iloc[:cutoffs[i]], at[i]) for i in chunk]
        fs = [ts[cutoffs[i]:cutoffs[i] + horizon] for i in chunk]
        with computing():  # each chunk takes its share of the machine's cores as it starts
            made = (forecaster.sample_batch(hs, fs, at[chunk[0]], per_series_stream=False) if size > 1
                    else [forecaster.sample(h, f, at[i]) for h, f, i in zip(hs, fs, chunk)])
        got.update(zip(chunk, map(bounded, made)))  # volume and amount as a forecast of these bars shows them
        if progress:
            progress(len(got), len(cutoffs))
    kept = sorted(got)
    forecasts = [got[i] for i in kept]
    cutoffs = [cutoffs[i] for i in kept]
    col = BAR_COLUMNS.index(options.column)
    values = frame[list(BAR_COLUMNS)].to_numpy(np.float64)
    result = EvalResult(
        name=forecaster.name, column=options.column, horizon=horizon, cutoffs=cutoffs,
        cutoff_times=ts[[c - 1 for c in cutoffs]], seeds=[at[i].seed for i in kept],
        last=np.array([values[c - 1, col] for c in cutoffs]), actual=np.stack([values[c:c + horizon, col] for c in cutoffs]),
        **dict.fromkeys(("median", "lower", "upper", "crps", "covered", "abs_error", "direction_hit", "pit")),
        n_paths=0, meta={"lookback": settings.lookback, "seed": settings.seed, "bars": len(frame),
                         "requested_cutoffs": len(at), "elapsed_s": round(time.perf_counter() - started, 3)},
        members={k: [fc.members[k] for fc in forecasts] for k in forecasts[0].members},
        weights=[fc.provenance["weights"] for fc in forecasts if "weights" in fc.provenance])
    return rescored(result, [fc.paths for fc in forecasts], forecaster.name, options.keep_paths)


def rescored(result: EvalResult, all_paths: Sequence[np.ndarray], name: str, keep_paths: bool = False) -> EvalResult:
    """``result``'s cut-offs, seeds and actuals scored on ``all_paths`` (one [S, horizon, 6] per cut-off):
    the walk-forward's scoring, and a mixture's member scored on the paths it gave the mixture."""
    col = BAR_COLUMNS.index(result.column)
    rows = {k: [] for k in SCORES}
    for paths, y, last in zip(all_paths, result.actual, result.last):
        paths = np.asarray(paths, dtype=np.float64)
        if paths.ndim != 3 or paths.shape[1:] != (result.horizon, len(BAR_COLUMNS)):
            raise ValueError(f"a forecaster returned paths of shape {paths.shape}, expected [S, {result.horizon}, 6]")
        scores = score_paths(paths[:, :, col], y, last)
        for k in SCORES:
            rows[k].append(scores[k])
    arr = {k: np.stack(v) for k, v in rows.items()}
    return dataclasses.replace(
        result, name=name, **arr, abs_error=np.abs(arr["median"] - result.actual), n_paths=int(all_paths[-1].shape[0]),
        paths=np.stack([np.asarray(p, np.float32) for p in all_paths]) if keep_paths else None)


def member_results(result: EvalResult, members: Mapping[str, str]) -> dict[str, EvalResult]:
    """key -> each member of a mixture (``members``: key -> its name) scored on the paths it gave the mixture at
    ``result``'s cut-offs (a walk-forward of the mixture records them)."""
    return {k: rescored(dataclasses.replace(result, members={}, weights=[]), result.members[k], name)
            for k, name in members.items()}


def compare(forecasters: Mapping, bars, settings: ForecastSettings, cutoffs: Sequence[int] | None = None,
            options: WalkForward = WalkForward(), progress=None) -> dict[str, EvalResult]:
    """Walk-forward every forecaster (label -> ``Forecaster``) on the same cut-offs, settings and seeds; each
    result named by its label. ``progress(label, i, n)``."""
    frame = bars_frame(bars)
    if cutoffs is None:
        cutoffs = choose_cutoffs(len(frame), settings.horizon, options.n_cutoffs,
                                 max(options.min_history, settings.lookback or 0))
    out = {}
    for name, forecaster in forecasters.items():
        result = walk_forward(forecaster, frame, settings, cutoffs, options,
                              (lambda i, n, _name=name: progress(_name, i, n)) if progress else None)
        out[name] = dataclasses.replace(result, name=name)
    return out


def summary_table(results: Mapping[str, EvalResult] | Sequence[EvalResult]) -> pd.DataFrame:
    """One row per model (the summaries side by side)."""
    items = results.values() if isinstance(results, Mapping) else results
    return pd.DataFrame([r.summary() for r in items]).set_index("model")
