"""Forecasts built from known return draws, so every risk number has a value to be checked against."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kronos.forecast import Forecast
from kronos.settings import ForecastSettings


def candles(close: np.ndarray, rng: np.random.Generator, last: float, spread: float = 0.004) -> np.ndarray:
    """[S, H, 6] coherent candles around closes [S, H]: open the previous close, high/low the body widened."""
    open_ = np.concatenate([np.full((close.shape[0], 1), last), close[:, :-1]], axis=1)
    up, down = rng.exponential(spread, close.shape), rng.exponential(spread, close.shape)
    high = np.maximum(open_, close) * np.exp(up)
    low = np.minimum(open_, close) * np.exp(-down)
    volume = rng.lognormal(10, 0.3, close.shape)
    return np.stack([open_, high, low, close, volume, volume * close], axis=-1)


def history_frame(n: int = 300, sigma: float = 0.01, seed: int = 1, last: float = 100.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = rng.normal(0, sigma, n)
    close = last * np.exp(np.cumsum(r) - np.sum(r))
    bars = candles(close[None, :], rng, close[0])[0]
    frame = pd.DataFrame(bars, columns=["open", "high", "low", "close", "volume", "amount"])
    frame.insert(0, "timestamp", pd.date_range("2020-01-01", periods=n, freq="B"))
    return frame


@pytest.fixture
def make_forecast():
    """make_forecast(log_returns [S, H], history=None) -> Forecast whose closes follow those returns."""

    def make(log_returns: np.ndarray, history: pd.DataFrame | None = None, seed: int = 0) -> Forecast:
        history = history_frame() if history is None else history
        last = float(history["close"].iloc[-1])
        close = last * np.exp(np.cumsum(log_returns, axis=1))
        paths = candles(close, np.random.default_rng(seed), last)
        s, h = log_returns.shape
        future = pd.date_range(history["timestamp"].iloc[-1] + pd.offsets.BDay(), periods=h, freq="B")
        return Forecast(future, paths.astype(np.float64), paths.mean(axis=0), history,
                        ForecastSettings(horizon=h, paths=s))

    return make
