"""Bars as the model reads them: a validated frame of ``timestamp`` + the six bar columns."""
from __future__ import annotations

import hashlib

from kronos.lazy import np, pd

from .config import BAR_COLUMNS
from .errors import InputError

OHLC = ("open", "high", "low", "close")


def bars_frame(bars) -> pd.DataFrame:
    """Accept any object with a ``.frame`` of bars (e.g. ``data_sources.Bars``) or a DataFrame with a
    timestamp column or DatetimeIndex; return a frame with a ``timestamp`` column and the six bar
    columns, validated."""
    df = getattr(bars, "frame", bars)
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a DataFrame of bars, got {type(df).__name__}")
    df = df.rename(columns=str.lower)
    ts_col = next((c for c in ("timestamp", "timestamps", "date", "datetime") if c in df.columns), None)
    if ts_col is not None:
        ts = pd.DatetimeIndex(pd.to_datetime(df[ts_col]))
    elif isinstance(df.index, pd.DatetimeIndex):
        ts = df.index
    else:
        raise InputError("the bars have no timestamps: add a 'timestamp' column or use a DatetimeIndex")
    missing = [c for c in OHLC if c not in df.columns]
    if missing:
        raise InputError(f"the bars lack columns {missing}; columns found: {list(df.columns)}")
    values = {c: _numbers(df[c]) for c in OHLC}
    if "volume" in df.columns:
        values["volume"] = _numbers(df["volume"])
        # turnover estimate when absent, as upstream: volume x mean price
        values["amount"] = (_numbers(df["amount"]) if "amount" in df.columns
                            else values["volume"] * np.mean([values[c] for c in OHLC], axis=0))
    else:
        values["volume"] = values["amount"] = np.zeros(len(df))
    matrix = np.column_stack([values[c] for c in BAR_COLUMNS])
    out = pd.DataFrame({"timestamp": ts, **{c: matrix[:, j] for j, c in enumerate(BAR_COLUMNS)}})
    bad = np.isnan(matrix).any(axis=1)
    if bad.any():
        first = out.loc[bad, "timestamp"].iloc[0]
        raise InputError(f"{int(bad.sum())} bars have missing or non-numeric values (first at {first}); "
                         "drop or fill them before forecasting")
    if ts.hasnans:
        raise InputError("some timestamps could not be parsed; fix or drop those rows")
    if not (ts.is_monotonic_increasing and ts.is_unique):
        raise InputError("timestamps must be strictly increasing: sort the bars and drop duplicate timestamps")
    if len(out) < 2:
        raise InputError(f"need at least 2 bars to forecast, got {len(out)}")
    return out


def _numbers(column: pd.Series) -> np.ndarray:
    """A column as float64; text that is not a number becomes NaN (refused by the caller)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)


def input_digest(history: pd.DataFrame) -> str:
    """A short content hash of the bars a forecast read (times and values)."""
    h = hashlib.sha256()
    h.update(history["timestamp"].astype(str).str.cat(sep="|").encode())
    h.update(np.ascontiguousarray(history[list(BAR_COLUMNS)].to_numpy(np.float64)).tobytes())
    return h.hexdigest()[:16]


def rhythm_future_timestamps(timestamps: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """Future bar times from the history's own rhythm: its most common spacing, skipping weekdays it
    never trades on. The library default; the studio passes exchange calendars instead."""
    ts = pd.DatetimeIndex(timestamps)
    step = pd.Series(ts[1:] - ts[:-1]).mode().iloc[0]
    weekdays = set(ts.day_of_week)
    out, t = [], ts[-1]
    while len(out) < horizon:
        t = t + step
        if t.day_of_week in weekdays:
            out.append(t)
    return pd.DatetimeIndex(out)
