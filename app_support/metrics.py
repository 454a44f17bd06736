"""Numbers shown under a fan: the horizon summary and backtest scores (pure pandas/numpy)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Summary:
    last: float  # last observed value of the field
    expected_return: float  # mean path value at the horizon / last - 1
    median_return: float
    prob_up: float  # share of paths ending above the last value
    band_low: float
    band_high: float
    band_width: float  # (high - low) / last at the horizon


def summarize(forecast, field: str = "close", band=(0.1, 0.9)) -> Summary:
    j = list(forecast.columns).index(field)
    last = float(forecast.history[field].iloc[-1])
    end = forecast.paths[:, -1, j].astype(np.float64)
    lo, hi = np.quantile(end, sorted(band))
    denom = last if last != 0 else np.nan
    return Summary(last, float(end.mean() / denom - 1), float(np.median(end) / denom - 1),
                   float((end > last).mean()), float(lo), float(hi), float((hi - lo) / denom))


@dataclass(frozen=True)
class Score:
    mae: float  # mean absolute error of the p50 path
    mape: float  # the same relative to the actual values
    coverage: float  # share of actual values inside the band
    end_error: float  # p50 at the horizon / actual at the horizon - 1
    bars: int


def score(forecast, actual: pd.DataFrame, field: str = "close", band=(0.1, 0.9)) -> Score:
    """Compare a forecast with the bars that really followed (same length as the horizon)."""
    j = list(forecast.columns).index(field)
    y = actual[field].to_numpy(np.float64)[: forecast.paths.shape[1]]
    n = len(y)
    if n == 0:
        raise ValueError("no actual bars to score against")
    p = forecast.paths[:, :n, j].astype(np.float64)
    lo, mid, hi = np.quantile(p, [min(band), 0.5, max(band)], axis=0)
    err = np.abs(mid - y)
    return Score(float(err.mean()), float(np.mean(err / np.abs(y))), float(np.mean((y >= lo) & (y <= hi))),
                 float(mid[-1] / y[-1] - 1), n)
