"""Forecasts for the ledger tests without a model: seeded random walks, or the walk-forward's own
paths, wrapped in a real ``kronos.Forecast``."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_sources import Bars


def series(n: int = 300, seed: int = 0, symbol: str = "TEST", interval: str = "1h", source: str = "file") -> Bars:
    """A geometric random walk with coherent OHLC, hourly around the clock."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    open_ = np.r_[close[0], close[:-1]]
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-06-03", periods=n, freq="1h", tz="UTC"), "open": open_,
                          "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
                          "close": close, "volume": rng.uniform(1e3, 5e3, n)})
    return Bars.from_frame(frame, source=source, symbol=symbol, interval=interval)


def cut(bars: Bars, n: int) -> Bars:
    """The first ``n`` bars: the series as it stood when a forecast was made."""
    return bars.replace(frame=bars.frame.iloc[:n].reset_index(drop=True))


def forecast(bars: Bars, at: int, horizon: int = 12, paths: int = 30, seed: int = 0, model: str = "test-model",
             values: np.ndarray | None = None, **provenance):
    """A Forecast made from ``bars[:at]`` for the next ``horizon`` bar times; ``values`` [paths, horizon,
    6] (default: a random walk from the last close, seeded by ``seed``)."""
    from kronos.forecast import Forecast
    from kronos.settings import ForecastSettings

    history = bars.frame.iloc[max(0, at - 64):at].reset_index(drop=True)
    last = float(history["close"].iloc[-1])
    if values is None:
        rng = np.random.default_rng(seed)
        close = last * np.exp(np.cumsum(rng.normal(0, 0.004, (paths, horizon)), axis=1))
        values = np.stack([close, close * 1.002, close * 0.998, close, np.full_like(close, 1e3),
                           np.full_like(close, 5e4)], axis=2)
        values[:, :, 1] = np.maximum(values[:, :, 1], values[:, :, 3])
    step = bars.frame["timestamp"].iloc[1] - bars.frame["timestamp"].iloc[0]
    future = pd.DatetimeIndex([history["timestamp"].iloc[-1] + step * (k + 1) for k in range(horizon)])
    values = np.asarray(values, dtype=np.float32)
    prov = {"model": model, "predictor": f"/models/{model}/predictor", "predictor_revision": None,
            "input_sha256": f"digest-{at}", "seed": seed, "created_at": "2024-07-01T12:00:00+00:00", **provenance}
    return Forecast(future, values, values.mean(axis=0), history,
                    ForecastSettings(horizon=horizon, paths=values.shape[0], seed=seed, lookback=len(history)), prov)


MEMBER_KEYS = ("kronos", "garch", "random_walk")


def ensemble_forecast(bars: Bars, at: int, horizon: int = 12, paths: int = 30, seed: int = 0,
                      weights: dict | None = None, **provenance):
    """A real ``EnsembleForecast`` from ``bars[:at]``: each member a seeded random walk of its own volatility,
    the ensemble's paths a mixture of theirs in proportion to ``weights``."""
    from kronos_studio.ensemble.ensemble import EnsembleForecast, mix

    weights = weights or {"kronos": 0.5, "garch": 0.3, "random_walk": 0.2}
    members = {k: forecast(bars, at, horizon, paths, seed=seed * 10 + i + 1).paths * np.float32(1 + 0.01 * i)
               for i, k in enumerate(MEMBER_KEYS)}
    base = forecast(bars, at, horizon, paths, seed=seed, model="ensemble", weights=weights,
                    members={k: {"key": k, "name": k.title()} for k in MEMBER_KEYS}, **provenance)
    mixed = mix(members, weights, paths, 1.0)
    return EnsembleForecast(base.timestamps, mixed, mixed.mean(axis=0), base.history, base.settings,
                            base.provenance, members=members)


# A series whose volatility regime changes half-way, and a forecaster that keeps believing the first one:
# what drift must be flagged on (test_drift.py, the service and the Track record page).
CALM, WILD = 0.003, 0.012  # one-bar log-return volatility before and after the change
CHANGE = 200  # the bar the regime changes at
HORIZON = 3


def regime_series(n: int = 400, seed: int = 3) -> Bars:
    """Hourly bars whose volatility quadruples at bar CHANGE."""
    rng = np.random.default_rng(seed)
    sigma = np.where(np.arange(n) < CHANGE, CALM, WILD)
    close = 50 * np.exp(np.cumsum(rng.normal(0, sigma)))
    open_ = np.r_[close[0], close[:-1]]
    frame = pd.DataFrame({"timestamp": pd.date_range("2024-06-03", periods=n, freq="1h", tz="UTC"), "open": open_,
                          "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
                          "close": close, "volume": rng.uniform(1e3, 5e3, n)})
    return Bars.from_frame(frame, source="file", symbol="REGIME", interval="1h")


def calm_forecast(bars: Bars, at: int, paths: int = 100):
    """A forecast from ``bars[:at]`` that believes the calm regime lasts: Gaussian log-returns of CALM."""
    last = float(bars.frame["close"].iloc[at - 1])
    rng = np.random.default_rng(at)
    close = last * np.exp(np.cumsum(rng.normal(0, CALM, (paths, HORIZON)), axis=1))
    values = np.stack([close, close * 1.001, close * 0.999, close, np.full_like(close, 1e3),
                       np.full_like(close, 5e4)], axis=2)
    return forecast(bars, at, horizon=HORIZON, paths=paths, seed=at, model="calm", values=values)


def record_and_score(ledger, bars: Bars, origins, upto: int) -> None:
    """Record a calm forecast at each origin, then score them on the bars known at bar ``upto``."""
    for at in origins:
        ledger.record(calm_forecast(bars, at), cut(bars, at))
    ledger.score(cut(bars, upto))
