"""What a forecaster is. Kronos (any model the studio loads), the ensemble, Chronos-2, GARCH and every
baseline satisfy ``Forecaster``; ``make_forecast`` and the walk-forward need nothing else of them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from kronos.config import MIN_HISTORY
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings

Progress = Callable[[int, int], None]  # (done, total): sampling steps, members, ...
ForecastFn = Callable[[pd.DataFrame, pd.DatetimeIndex, int, int], np.ndarray]  # the walk-forward's signature


@runtime_checkable
class Forecaster(Protocol):
    key: str  # what code looks up: "kronos", "ensemble", "garch", "random_walk", ...
    name: str  # what a person reads
    min_history: int  # bars of history it needs at least (MIN_HISTORY for a model that estimates a scale)

    def lookback(self, horizon: int) -> int:
        """Bars of history it reads when the settings give no lookback."""

    def describe(self) -> dict:
        """Provenance: what it is, versions, content hashes."""

    def training_period(self):
        """The ``evaluation.training_period.TrainingPeriod`` of market data it learned from, or None."""

    def sample(self, history: pd.DataFrame, future: pd.DatetimeIndex, settings: ForecastSettings,
               progress: Progress | None = None) -> Forecast:
        """A forecast from exactly ``history`` (already trimmed to the lookback) at ``future`` bar times."""

    def walk_forward_fn(self, settings: ForecastSettings) -> ForecastFn:
        """The forecast function a walk-forward calls at each cut-off (may have ``batch`` and, for a
        mixture, ``replay(member_key)``)."""

    @property
    def members(self) -> dict[str, object]:
        """key -> each forecaster it mixes (each with a ``name``; {} for a single model)."""


class PathForecaster:
    """Any forecast function with the walk-forward signature (a baseline, GARCH, Chronos-2, a volatility
    member) as a ``Forecaster``: ``make(paths)`` builds it for a number of sample paths."""

    members: dict[str, object] = {}

    def __init__(self, make: Callable[[int], object], lookback: int | None = None):
        self.make = make
        probe = make(1)
        self.key, self.name = probe.key, probe.name
        self.reads = getattr(probe, "reads", None)
        self.min_history = getattr(probe, "min_history", MIN_HISTORY)  # persistence estimates nothing
        self.default_lookback = lookback
        self.describe_probe = probe

    def lookback(self, horizon: int) -> int:
        if self.default_lookback is not None:
            return self.default_lookback
        from kronos_studio.ensemble.ensemble import ENSEMBLE_LOOKBACK

        return self.reads(ENSEMBLE_LOOKBACK) if self.reads is not None else ENSEMBLE_LOOKBACK

    def describe(self) -> dict:
        own = getattr(self.describe_probe, "describe", None)
        return {"model": self.key, **(own() if own is not None else {"key": self.key, "name": self.name}),
                "device": "cpu"}  # numpy

    def training_period(self):
        return None  # fitted on the history it is given, nothing before

    def walk_forward_fn(self, settings: ForecastSettings) -> ForecastFn:
        return self.make(settings.paths)

    def sample(self, history, future, settings, progress=None) -> Forecast:
        paths = np.asarray(self.make(settings.paths)(history, future, settings.horizon, settings.seed), np.float32)
        if progress is not None:
            progress(1, 1)
        return Forecast(pd.DatetimeIndex(future), paths, paths.mean(axis=0), history, settings, self.describe())
