"""The risk desk's standard models as forecasters (``kronos_studio.forecasters.base.PathModel``: sample paths
[S, horizon, 6]), so a risk backtest reads every model's VaR, ES and variance from paths the same way and
scores them on the same cut-offs as Kronos:

* ``HistoricalSimulation``: the last 250 bars' close-to-close log-returns, resampled (beyond one bar,
  independent draws per bar: the square-root-of-time reading of history);
* ``EwmaNormal``: normal log-returns with the RiskMetrics EWMA variance (lambda 0.94, ``arch``);
* ``GarchMember`` (the ensemble's own, ``GARCH-t``): GARCH(1,1) with Student t, simulated;
* ``FilteredHistoricalSimulation``: that GARCH(1,1)-t's variance path driven by its own standardized
  residuals, resampled (``arch``'s bootstrap forecast; Barone-Adesi et al. 1999).

Candles are built around the closes as the studio's baselines do (``candles_from_log_returns``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kronos.settings import ForecastSettings
from kronos_studio.ensemble.members import CANDLE_WINDOW, GarchMember, fit_arch
from kronos_studio.evaluation.baselines import Bootstrap, RandomWalk, candles_from_log_returns
from kronos_studio.forecasters.base import PathModel

from .measures import RISKMETRICS_LAMBDA
from .volatility import ewma_variances, log_returns

HS_WINDOW = 250  # bars of returns historical simulation reads (a trading year, as the Basel rules take)


@dataclass
class HistoricalSimulation(Bootstrap):
    paths: int | None = None
    window: int = HS_WINDOW
    name: str = "historical simulation (last 250 bars)"
    key = "historical_simulation"

    def lookback(self, horizon: int) -> int:
        return self.window + 1


@dataclass
class EwmaNormal(PathModel):
    paths: int | None = None
    lam: float = RISKMETRICS_LAMBDA
    window: int = 500  # bars of returns the recursion runs over (its start is forgotten at 0.94 ** 500)
    name: str = "EWMA-normal (RiskMetrics, lambda 0.94)"
    key = "ewma_normal"

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        variance = ewma_variances(log_returns(history, self.window), settings.horizon, self.lam)
        rng = np.random.default_rng(settings.seed)
        if variance is None:  # too few or flat returns: the plain volatility random walk
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        steps = rng.standard_normal((self.draws(settings), settings.horizon)) * np.sqrt(variance)
        return candles_from_log_returns(history, steps, rng, CANDLE_WINDOW)

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "lambda": self.lam, "window": self.window}


@dataclass
class FilteredHistoricalSimulation(PathModel):
    paths: int | None = None
    window: int = 500
    name: str = "filtered historical simulation (GARCH(1,1)-t residuals)"
    key = "filtered_historical_simulation"

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        fitted = fit_arch(log_returns(history, self.window))
        rng = np.random.default_rng(settings.seed)
        if fitted is None:  # too little to fit, or a failed fit: the plain volatility random walk
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        fit, scale = fitted
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            sims = fit.forecast(horizon=settings.horizon, method="bootstrap", simulations=self.draws(settings),
                                reindex=False, random_state=np.random.RandomState(settings.seed % 2**32)
                                ).simulations.values[-1]  # [S, H]
        paths = candles_from_log_returns(history, sims * scale, rng, CANDLE_WINDOW)
        if not np.isfinite(paths).all():
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        return paths

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window}


def risk_baselines(paths: int | None = None) -> dict:
    """key -> the standard risk models, each drawing ``paths`` paths (None: the settings')."""
    garch = GarchMember(paths=paths, name="GARCH(1,1)-t")
    return {m.key: m for m in (HistoricalSimulation(paths=paths), EwmaNormal(paths=paths), garch,
                               FilteredHistoricalSimulation(paths=paths))}
