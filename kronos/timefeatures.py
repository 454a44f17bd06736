"""Calendar features Kronos reads for every bar."""
from __future__ import annotations

from kronos.lazy import np, pd


def time_features(timestamps: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """[n, 5] float32: minute, hour, weekday (Mon=0), day of month, month — on the local wall clock."""
    ts = pd.DatetimeIndex(timestamps)
    return np.stack([ts.minute, ts.hour, ts.day_of_week, ts.day, ts.month], axis=1).astype(np.float32)
