"""The training-period guard: which walk-forward cut-offs forecast bars up to the last day of market data a
model saw (``Forecaster.training_period()``, a ``kronos_studio.forecasters.period.TrainingPeriod``). Such a
backtest scores memory, not forecasting, so those cut-offs are flagged and left out of the skill unless
asked for.
"""
from __future__ import annotations

from kronos.lazy import np, pd
from kronos_studio.forecasters.period import TrainingPeriod

# The setting that keeps cut-offs inside a model's training period (scored, flagged as in-sample): its one name,
# which every guard's fix names and each entry point words (the CLI's flag, the HTTP field, the app's control).
INCLUDE_TRAINING_PERIOD = "include_training_period"


def trained_on(period: TrainingPeriod | None, first_targets) -> np.ndarray:
    """[C] bool: the cut-off's first forecast bar (``first_targets``, its time) is on or before the
    last day the model saw. All False when the period is unknown."""
    times = pd.DatetimeIndex(first_targets)
    if period is None:
        return np.zeros(len(times), dtype=bool)
    times = times.tz_convert("UTC") if times.tz is not None else times.tz_localize("UTC")
    return np.asarray(times <= period.seen_until)
