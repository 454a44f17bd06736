"""One result row per forecast: what a screener sorts and filters on, computed from the sampled paths.

All returns are relative to the last close of the history. Touch probabilities use the paths' intrabar
extremes (low for a level below the last close, high for one above); drawdowns use closes.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from kronos.config import BAR_COLUMNS

CLOSE, HIGH, LOW = (BAR_COLUMNS.index(c) for c in ("close", "high", "low"))
BAND = (0.1, 0.9)  # the band whose width a row reports, as a fraction of the last close
STEP_LEVELS = (0.1, 0.5, 0.9)
STEP_FIELDS = ("open", "high", "low", "close", "volume")
DEFAULT_TOUCH_LEVELS = (-0.05, 0.05)


def bad_touch_levels(levels) -> list[float]:
    """Touch levels that are not returns a path can reach: 0, or at or below -100% (or absurdly high)."""
    return [v for v in levels if not -1 < v < 10 or v == 0]


def touch_column(level: float) -> str:
    """``p_touch_-5%`` for -0.05, ``p_touch_+10%`` for 0.1."""
    return f"p_touch_{level * 100:+g}%"


def summarize(paths: np.ndarray, last_close: float, touch_levels=DEFAULT_TOUCH_LEVELS) -> dict:
    """Screening statistics of paths [paths, horizon, 6] (BAR_COLUMNS, price units)."""
    closes = paths[:, :, CLOSE].astype(np.float64)
    final = closes[:, -1]
    low_q, mid_q, high_q = np.quantile(final, [BAND[0], 0.5, BAND[1]])
    with_start = np.concatenate([np.full((len(closes), 1), last_close), closes], axis=1)
    drawdown = 1.0 - with_start / np.maximum.accumulate(with_start, axis=1)
    row = {
        "p_up": float(np.mean(final > last_close)),
        "expected_return": float(np.mean(final / last_close - 1.0)),
        "close_p10": float(low_q),
        "close_p50": float(mid_q),
        "close_p90": float(high_q),
        "band_width": float((high_q - low_q) / last_close),
        "expected_max_drawdown": float(np.mean(drawdown.max(axis=1))),
    }
    lows, highs = paths[:, :, LOW].min(axis=1), paths[:, :, HIGH].max(axis=1)
    for level in touch_levels:
        barrier = last_close * (1.0 + level)
        touched = lows <= barrier if level < 0 else highs >= barrier
        row[touch_column(level)] = float(np.mean(touched))
    return row


def utc(timestamps) -> pd.DatetimeIndex:
    """Bar times in UTC, so that series from different markets share one column type."""
    ts = pd.DatetimeIndex(timestamps)
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def step_quantiles(series: str, timestamps: pd.DatetimeIndex, paths: np.ndarray) -> pd.DataFrame:
    """Long table: one row per future bar of one series, ``close_p10``... for each field and level."""
    q = np.quantile(paths, STEP_LEVELS, axis=0)  # [levels, horizon, 6]
    columns = {"series": series, "step": np.arange(1, paths.shape[1] + 1), "timestamp": utc(timestamps)}
    for field in STEP_FIELDS:
        j = BAR_COLUMNS.index(field)
        for i, level in enumerate(STEP_LEVELS):
            columns[f"{field}_p{round(level * 100)}"] = q[i, :, j]
    return pd.DataFrame(columns)
