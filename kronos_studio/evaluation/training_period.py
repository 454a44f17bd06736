"""The training-period guard: the last day of market data a model saw (trained or validated on), and
which walk-forward cut-offs forecast bars up to that day. Such a backtest scores memory, not
forecasting, so those cut-offs are flagged and left out of the skill unless asked for.

Where the day comes from: the official models from their published data cut-off
(``kronos.config.OFFICIAL_DATA_SEEN_UNTIL``), a model folder from its ``bundle.json``
(``data_seen_until``, written by ``kronos train predictor --bundle`` and the bundled models' training);
anything else is unknown (None), and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# The setting that keeps cut-offs inside a model's training period (scored, flagged as in-sample): its one name,
# which every guard's fix names and each entry point words (the CLI's flag, the HTTP field, the app's control).
INCLUDE_TRAINING_PERIOD = "include_training_period"


@dataclass(frozen=True)
class TrainingPeriod:
    seen_until: pd.Timestamp  # the end (UTC) of the last day of bars the model saw
    source: str  # where that day is written

    def describe(self) -> str:
        return f"data up to {self.seen_until.date()} ({self.source})"


def period_until(day: str, source: str) -> TrainingPeriod:
    end = pd.Timestamp(day)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    return TrainingPeriod(end.normalize() + pd.Timedelta(days=1) - pd.Timedelta(1, "ns"), source)


def training_period(pair) -> TrainingPeriod | None:
    """The period a loaded ``kronos.checkpoints.KronosPair`` saw, or None when nothing records it."""
    from kronos.config import OFFICIAL_DATA_SEEN_UNTIL, official_model, read_bundle

    source = pair.predictor_source
    ref = None if source is None else str(source.ref)
    if ref is None:
        return None
    if official_model(ref) is not None:
        return period_until(OFFICIAL_DATA_SEEN_UNTIL, "the official models' published data cut-off")
    folder = Path(ref)
    for candidate in (folder, folder.parent):  # the bundle folder, or its predictor/ subfolder
        day = read_bundle(candidate).get("data_seen_until")
        if day:
            return period_until(day, f"{candidate.name}/bundle.json")
    return None


def trained_on(period: TrainingPeriod | None, first_targets) -> np.ndarray:
    """[C] bool: the cut-off's first forecast bar (``first_targets``, its time) is on or before the
    last day the model saw. All False when the period is unknown."""
    times = pd.DatetimeIndex(first_targets)
    if period is None:
        return np.zeros(len(times), dtype=bool)
    times = times.tz_convert("UTC") if times.tz is not None else times.tz_localize("UTC")
    return np.asarray(times <= period.seen_until)
