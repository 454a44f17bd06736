"""Calendar features Kronos reads for every bar, and the plain-frequency rule for future stamps."""
from __future__ import annotations

import numpy as np
import pandas as pd


def time_features(timestamps: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """[n, 5] float32: minute, hour, weekday (Mon=0), day of month, month — on the local wall clock."""
    ts = pd.DatetimeIndex(timestamps)
    return np.stack([ts.minute, ts.hour, ts.day_of_week, ts.day, ts.month], axis=1).astype(np.float32)


def bar_spacing(timestamps: pd.DatetimeIndex) -> pd.Timedelta:
    """The most common spacing between consecutive bars."""
    diffs = pd.DatetimeIndex(timestamps).to_series().diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        raise ValueError("cannot infer the bar interval: need at least two distinct, increasing timestamps")
    return diffs.mode().iloc[0]


def plain_future_timestamps(timestamps: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """Stamps after the last bar at the bars' own spacing; for daily-or-coarser bars whose history has
    no weekend bars, weekends are skipped. Exchange calendars live in ``data_sources.calendars``."""
    ts = pd.DatetimeIndex(timestamps)
    step = bar_spacing(ts)
    skip_weekends = step >= pd.Timedelta(days=1) and not bool((ts.day_of_week >= 5).any())
    out, current = [], ts[-1]
    while len(out) < horizon:
        current = current + step
        if skip_weekends and current.weekday() >= 5:
            continue
        out.append(current)
    return pd.DatetimeIndex(out, name=ts.name)
