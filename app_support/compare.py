"""Compare page runs: the chosen models on the same bars, settings and seed.

Forecast mode samples each model once. Backtest mode walks every model forward
(``kronos_studio.evaluation.walk_forward``) over the chosen cut-off and up to K-1 earlier ones, one
horizon apart, with the random-walk baseline on the same cut-offs, history windows and seeds: the
chosen cut-off comes first, so it gets the page's seed and its forecast is exactly the one drawn (the
same bars, settings and seed give the same stored forecast). Results are stored by content, so a
display-only change (the view toggle) redraws without sampling.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pandas as pd

from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.evaluation.walk_forward import EvalResult, WalkForward, last_cutoffs, walk_forward
from kronos_studio.forecasters.base import Forecaster

from . import forecasts
from .models import ModelChoice, forecaster

DEFAULT_CUTOFFS = 8  # the noise check's cut-offs: the shown one and 7 before it
MAX_CUTOFFS = 30


def _error(e: Exception) -> str:
    return str(e) if isinstance(e, ValueError | RuntimeError) else f"{type(e).__name__}: {e}"


def run_forecasts(bars, choices: list[ModelChoice], settings, clicked: bool) -> tuple[dict, dict]:
    """({label: Forecast}, {label: error}): stored forecasts, and on ``clicked`` the missing ones
    sampled; one model failing (e.g. an offline download) leaves the others standing."""
    results, errors = {}, {}
    for c in choices:
        fc = forecasts.cached(bars, c, settings)
        if fc is None and clicked:
            try:
                fc, _ = forecasts.run(bars, c, settings, label=f"{c.label}: sampling {settings.paths} paths")
            except Exception as e:
                errors[c.label] = _error(e)
                continue
        if fc is not None:
            results[c.label] = fc
    return results, errors


@dataclass
class Backtest:
    cutoffs: list[int]  # row positions in history + actuals, the shown cut-off first
    results: dict[str, EvalResult]  # each model's walk-forward, by label
    baseline: EvalResult  # the random walk on the same cut-offs and seeds (with its paths)
    shown: dict[str, object]  # each model's Forecast on the shown cut-off: what the charts draw
    errors: dict[str, str] = field(default_factory=dict)
    # label -> what the training-period guard says of that model's cut-offs (only models with some inside)
    in_training: dict[str, str] = field(default_factory=dict)


class _NotKept(Exception):
    """A backtest with a failed model: raised through the result cache, which keeps no failures, so that the
    next click tries that model again."""

    def __init__(self, backtest: Backtest):
        self.backtest = backtest


def _key(bars, actual: pd.DataFrame, choices, settings, n_cutoffs: int) -> str:
    from kronos_studio.desk.cache import result_key

    from . import auth

    after = hashlib.sha256(pd.util.hash_pandas_object(actual, index=False).to_numpy().tobytes()).hexdigest()[:16]
    return result_key("compare backtest", bars, [forecasts.identity(c, bars) for c in choices], settings,
                      auth.workspace(), actual=after, cutoffs=int(n_cutoffs))


def stored_backtest(bars, actual, choices, settings, n_cutoffs: int) -> Backtest | None:
    return forecasts.results().peek(_key(bars, actual, choices, settings, n_cutoffs))


class _StoredForecasts(Forecaster):
    """A forecaster over ``forecasts.run``: each cut-off's forecast is the one the Forecast page would
    sample for the bars up to it (``frame``), those settings and that seed, and is stored like it."""

    def __init__(self, bars, frame: pd.DataFrame, choice: ModelChoice, total: int):
        self.bars, self.frame, self.choice, self.total = bars, frame, choice, total
        self.key, self.name = choice.key, choice.label
        self.made: dict[int, object] = {}  # Forecast by seed

    def lookback(self, horizon: int) -> int:
        raise ValueError("a backtest needs an explicit lookback in the settings")

    def describe(self) -> dict:
        return {"model": self.choice.label}

    def sample(self, history: pd.DataFrame, future: pd.DatetimeIndex, settings, progress=None):
        # The page's forecast of the bars up to this cut-off: all of them, so it is the one the Forecast page
        # stored (its key is the bars'), reading the same lookback of them.
        upto = self.frame[self.frame["timestamp"] <= history["timestamp"].iloc[-1]]
        bars = self.bars.replace(frame=upto.reset_index(drop=True))
        fc, _ = forecasts.run(bars, self.choice, settings, future,
                              label=f"{self.choice.label}: cut-off {len(self.made) + 1} of {self.total}")
        self.made[int(settings.seed)] = fc
        return fc


def run_backtest(bars, actual: pd.DataFrame, choices: list[ModelChoice], settings, n_cutoffs: int) -> Backtest:
    """Walk every model forward on the shown cut-off (the end of ``bars``, scored on ``actual``) and up to
    ``n_cutoffs`` - 1 earlier ones, one horizon apart, each with a full lookback; the random walk on the
    same cut-offs; kept unless a model failed. Raises ValueError when no cut-off fits (too little history)."""
    try:
        return forecasts.results().get(_key(bars, actual, choices, settings, n_cutoffs),
                                       lambda: _backtest(bars, actual, choices, settings, n_cutoffs))[0]
    except _NotKept as e:
        return e.backtest


def _backtest(bars, actual: pd.DataFrame, choices: list[ModelChoice], settings, n_cutoffs: int) -> Backtest:
    horizon, lookback = settings.horizon, settings.lookback
    if lookback is None:  # the baseline must read the same window as the models: it has to be explicit
        raise ValueError("a backtest needs an explicit lookback in the settings")
    frame = pd.concat([bars.frame, actual[list(bars.frame.columns)]], ignore_index=True)
    # The shown cut-off first: walk_forward gives cut-off i the seed settings.seed + i.
    cutoffs = last_cutoffs(len(frame), horizon, n_cutoffs, spacing=horizon, min_history=lookback)[::-1]
    if cutoffs[0] != len(bars):
        raise ValueError(f"the shown cut-off needs {lookback} bars before it; there are {len(bars)}")
    results, shown, errors = {}, {}, {}
    for c in choices:
        fn = _StoredForecasts(bars, frame, c, len(cutoffs))
        try:
            results[c.label] = walk_forward(fn, frame, settings, cutoffs)
        except Exception as e:
            errors[c.label] = _error(e)
            continue
        shown[c.label] = fn.made[settings.seed]
    in_training = _training_flags(bars, choices, settings, results, frame)
    baseline = walk_forward(RandomWalk(), frame, settings, cutoffs, WalkForward(keep_paths=True))
    out = Backtest(cutoffs, results, baseline, shown, errors, in_training)
    if errors:  # a failed model (e.g. offline) is tried again on the next click
        raise _NotKept(out)
    return out


def _training_flags(bars, choices: list[ModelChoice], settings, results: dict, frame: pd.DataFrame) -> dict[str, str]:
    """For each model with cut-offs inside its training period, a line saying how many and which period."""
    from kronos_studio.evaluation.training_period import trained_on

    out = {}
    for c in choices:
        if c.label not in results:
            continue
        period = forecaster(bars, c, settings).training_period()
        inside = trained_on(period, frame["timestamp"].iloc[results[c.label].cutoffs])
        if inside.any():
            out[c.label] = (f"{int(inside.sum())} of {len(inside)} cut-offs forecast bars inside the training period "
                            f"of {c.label} ({period.describe()}): its scores there partly measure memory")
    return out
