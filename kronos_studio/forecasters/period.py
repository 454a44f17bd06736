"""The period of market data a model saw (trained or validated on): ``Forecaster.training_period()``'s answer,
the last day of bars it learned from. The walk-forward's guard (``kronos_studio.evaluation.training_period``)
flags the cut-offs inside it.

Where the day comes from: the official models from their published data cut-off
(``kronos.config.OFFICIAL_DATA_SEEN_UNTIL``), a model folder from its ``bundle.json``
(``data_seen_until``, written by ``kronos train predictor --bundle`` and the bundled models' training);
anything else is unknown (None), and says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kronos.config import OFFICIAL_DATA_SEEN_UNTIL, official_model, read_bundle
from kronos.lazy import pd


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
