"""What a forecaster is. Kronos (any model the studio loads), the ensemble, Chronos-2, GARCH, HAR and every
baseline satisfy ``Forecaster``; ``make_forecast``, the walk-forward, the trust report, batch and the
ensemble need nothing else of them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from kronos.config import MIN_HISTORY
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings

Progress = Callable[[int, int], None]  # (done, total): sampling steps, members, ...
STATISTICAL_LOOKBACK = 520  # bars a statistical model (and the ensemble) reads when the settings give none (GARCH fits on 500 returns)


@runtime_checkable
class Forecaster(Protocol):
    key: str  # what code looks up: "kronos", "ensemble", "garch", "random_walk", ...
    name: str  # what a person reads
    min_history: int  # bars of history it needs at least (MIN_HISTORY for a model that estimates a scale)

    def lookback(self, horizon: int) -> int:
        """Bars of history it reads when the settings give no lookback."""

    def lookback_reason(self, horizon: int) -> str:
        """Why ``lookback(horizon)`` is what it is, in words: 'context 128 - horizon 30'."""

    def describe(self) -> dict:
        """Provenance: what it is, versions, content hashes."""

    def training_period(self):
        """The ``period.TrainingPeriod`` of market data it learned from, or None."""

    def sample(self, history: pd.DataFrame, future: pd.DatetimeIndex, settings: ForecastSettings,
               progress: Progress | None = None) -> Forecast:
        """A forecast from exactly ``history`` (already trimmed to the lookback) at ``future`` bar times,
        with ``settings`` whole (its seed, horizon and paths)."""

    @property
    def members(self) -> dict[str, object]:
        """key -> each forecaster it mixes (each with a ``name``; {} for a single model)."""


class PathModel:
    """The ``Forecaster`` part every model fitted on the history it is given shares (the baselines, GARCH,
    HAR, Chronos-2): a subclass draws its paths in ``draw(history, future, settings)`` -> [S, horizon, 6].

    ``paths``: the model's own path count, None for the settings'. A cheap model may keep its own on
    purpose: the trust report's baselines draw ``baselines.BASELINE_PATHS`` whatever the model's count,
    and the ensemble's cheap members at least ``members.CHEAP_MEMBER_PATHS`` (their quantiles are read)."""

    members: dict[str, object] = {}
    min_history = MIN_HISTORY
    paths: int | None = None

    def draws(self, settings: ForecastSettings) -> int:
        """Paths it draws for a forecast with ``settings``."""
        return int(self.paths or settings.paths)

    def lookback(self, horizon: int) -> int:
        return STATISTICAL_LOOKBACK

    def lookback_reason(self, horizon: int) -> str:
        return f"the statistical models' default, {STATISTICAL_LOOKBACK}"

    def training_period(self):
        return None  # fitted on the history it is given, nothing before

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name}

    def draw(self, history: pd.DataFrame, future: pd.DatetimeIndex | None, settings: ForecastSettings) -> np.ndarray:
        raise NotImplementedError

    def sample(self, history, future, settings, progress=None) -> Forecast:
        made = self.forecast(history, future, settings, self.draw(history, future, settings))
        if progress is not None:
            progress(1, 1)
        return made

    def forecast(self, history, future, settings: ForecastSettings, paths: np.ndarray) -> Forecast:
        """Drawn ``paths`` as the ``Forecast`` they are, with this model's provenance."""
        paths = np.asarray(paths, np.float32)
        return Forecast(pd.DatetimeIndex(future if future is not None else []), paths, paths.mean(axis=0), history,
                        settings, {"model": self.key, **self.describe(), "device": "cpu"})  # numpy
