"""Bars for the retrain tests: a series whose regime changes half-way (a quiet random walk, then a louder
one riding a 12-bar cycle that a fine-tune can learn and the base model cannot know)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data_sources import Bars

# After the bundled models' training period (2025-12-31): no cut-off is one they have seen.
START = "2026-03-02"


def regime_frame(n: int = 600, change: int = 300, seed: int = 0, amplitude: float = 0.03,
                 period: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    vol = np.where(t < change, 0.002, 0.004)
    walk = np.cumsum(rng.normal(0, 1, n) * vol)
    after = walk[change - 1] + amplitude * np.sin(2 * np.pi * t / period) + rng.normal(0, 1, n) * vol
    close = 50 * np.exp(np.where(t < change, walk, after))
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame({"timestamp": pd.date_range(START, periods=n, freq="1h", tz="UTC"), "open": open_,
                         "high": np.maximum(open_, close) * (1 + vol / 2), "low": np.minimum(open_, close) * (1 - vol / 2),
                         "close": close, "volume": rng.uniform(1e3, 5e3, n)})


def regime_bars(symbol: str = "REGIME", **kw) -> Bars:
    return Bars.from_frame(regime_frame(**kw), source="file", symbol=symbol, interval="1h")


def shuffled(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """The same bar times and returns in a random order: every pattern in time is gone."""
    rng = np.random.default_rng(seed)
    ret = np.diff(np.log(frame["close"].to_numpy()))
    close = frame["close"].iloc[0] * np.exp(np.r_[0, np.cumsum(rng.permutation(ret))])
    open_ = np.r_[close[0], close[:-1]]
    return frame.assign(open=open_, close=close, high=np.maximum(open_, close) * 1.002,
                        low=np.minimum(open_, close) * 0.998)
