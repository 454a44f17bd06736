"""Questions about a price level, answered from a forecast's sample paths (each path counts once).

* ``P(close above / below level at the horizon)``: the share of paths whose last close is beyond it.
* ``P(touch)``: the share of paths that reach the level at any bar of the horizon, intrabar: a level
  above the last close is touched when a bar's high reaches it, one below when a bar's low does.
* Maximum drawdown of a path: the largest fall of its close from the running peak, the last observed
  close included as the starting peak (close to close, as drawdowns are usually quoted).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kronos.config import BAR_COLUMNS

CLOSE, HIGH, LOW = (BAR_COLUMNS.index(c) for c in ("close", "high", "low"))


@dataclass(frozen=True)
class LevelAnswer:
    level: float
    last_close: float
    p_above_at_horizon: float
    p_below_at_horizon: float
    p_touch: float  # reached intrabar at least once within the horizon
    touch_side: str  # "above" (reached by a high) or "below" (reached by a low)
    paths: int


def level_probabilities(forecast, level: float) -> LevelAnswer:
    """Probabilities about ``level`` (a price) from the forecast's paths."""
    level = float(level)
    if not np.isfinite(level) or level <= 0:
        raise ValueError(f"the level must be a positive price, got {level}")
    paths = forecast.paths
    last = float(forecast.history["close"].iloc[-1])
    end = paths[:, -1, CLOSE]
    if level >= last:
        side, touched = "above", paths[:, :, HIGH].max(axis=1) >= level
    else:
        side, touched = "below", paths[:, :, LOW].min(axis=1) <= level
    return LevelAnswer(level, last, float((end > level).mean()), float((end < level).mean()),
                       float(touched.mean()), side, paths.shape[0])


def max_drawdowns(forecast) -> np.ndarray:
    """Each path's maximum drawdown over the horizon, as a fraction of the running peak close [S]."""
    close = forecast.paths[:, :, CLOSE].astype(np.float64)
    last = float(forecast.history["close"].iloc[-1])
    series = np.concatenate([np.full((close.shape[0], 1), last), close], axis=1)
    peak = np.maximum.accumulate(series, axis=1)
    return (1 - series / peak).max(axis=1)


def drawdown_summary(forecast, levels=(0.5, 0.9)) -> dict[str, float]:
    """Expected maximum drawdown and some of its quantiles over the paths."""
    dd = max_drawdowns(forecast)
    return {"expected": float(dd.mean()), **{f"p{round(q * 100):g}": float(np.quantile(dd, q)) for q in levels}}
