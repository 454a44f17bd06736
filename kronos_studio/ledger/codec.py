"""Arrays in the ledger's binary columns: little-endian bytes with the shape kept beside them (never
pickled), readable by any language that reads float32 / int64."""
from __future__ import annotations

from kronos.lazy import np, pd

from .schema import PATH_DTYPE, TIME_DTYPE


def encode_array(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=PATH_DTYPE).tobytes()


def decode_array(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """A read-only float32 view of ``blob`` with ``shape``."""
    return np.frombuffer(blob, dtype=PATH_DTYPE).reshape(shape)


def encode_times(times) -> bytes:
    """Bar times as int64 nanoseconds since the epoch, UTC (naive times are taken as UTC)."""
    index = pd.DatetimeIndex(times)
    index = index.tz_convert("UTC") if index.tz is not None else index.tz_localize("UTC")
    return np.ascontiguousarray(index.as_unit("ns").asi8, dtype=TIME_DTYPE).tobytes()


def decode_times(blob: bytes) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.frombuffer(blob, dtype=TIME_DTYPE).astype("datetime64[ns]")).tz_localize("UTC")
