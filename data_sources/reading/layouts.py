"""The exports read without a header row: Binance klines and MetaTrader 4 history files."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from kronos.lazy import np, pd

from ..dates import EPOCH_CEILING, EPOCH_FLOOR
from ..errors import DataFormatError

# ------------------------------------------------------------------ exports without a header row
# Binance's documented kline layout (https://github.com/binance/binance-public-data): spot and
# futures dumps from data.binance.vision have no header row.
_BINANCE_COLUMNS = ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
                    "trades", "taker_buy_base_volume", "taker_buy_quote_volume", "ignore")
_BINANCE_INTERVALS = {pd.Timedelta(k): v for k, v in (
    ("1s", "1s"), ("1min", "1m"), ("3min", "3m"), ("5min", "5m"), ("15min", "15m"), ("30min", "30m"),
    ("1h", "1h"), ("2h", "2h"), ("4h", "4h"), ("6h", "6h"), ("8h", "8h"), ("12h", "12h"), ("1D", "1d"),
    ("3D", "3d"), ("7D", "1wk"))}
# MetaTrader 4's History Center export: date, time, open, high, low, close, tick volume.
_MT4_COLUMNS = ("date", "time", "open", "high", "low", "close", "tick_volume")
_MT4_DATE = re.compile(r"^\d{4}\.\d{2}\.\d{2}$")
_MT4_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
NO_HEADER_FIX = ("add a header row naming the columns, like date,open,high,low,close,volume (files read without "
                 "a header: Binance klines, 12 numeric columns, and MetaTrader 4 history exports, "
                 "date,time,open,high,low,close,volume)")


def headerless_layout(cells: list[str], line: str) -> tuple[str, list[str], str]:
    """(layout, column names, note) for a file whose first line is data, or DataFormatError."""
    numeric = [bool(re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", c)) for c in cells]
    if len(cells) == 12 and all(numeric):
        return "binance", list(_BINANCE_COLUMNS), (
            "no header row: read as Binance kline data (open time, open, high, low, close, volume, close time, "
            "quote asset volume, trades, taker buy base and quote volume, ignore): the open time is the bar "
            "time in UTC, the quote asset volume is the amount, calendar 24/7")
    if len(cells) == 7 and _MT4_DATE.match(cells[0]) and _MT4_TIME.match(cells[1]) and all(numeric[2:]):
        return "mt4", list(_MT4_COLUMNS), (
            "no header row: read as a MetaTrader 4 history export (date, time, open, high, low, close, tick "
            "volume): times are the broker's server clock (pass the timezone if you know it)")
    what = "numbers" if all(numeric) else "data"
    raise DataFormatError(f"the first line is {what}, not a header ({line[:60]!r}, {len(cells)} columns): {NO_HEADER_FIX}")


def _strict_numbers(col: pd.Series, label: str, integer: bool = False) -> np.ndarray:
    """Plain numbers of one kline column, or DataFormatError naming the first cell that is not one."""
    try:
        arr = pc.cast(pa.array(col, from_pandas=True), pa.int64() if integer else pa.float64())
        if arr.null_count == 0:
            return arr.to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    nums = pd.to_numeric(col, errors="coerce")
    bad = (nums.isna() | (nums != nums.round() if integer else nums.isna())).to_numpy()
    if not bad.any():
        return nums.to_numpy(dtype="int64" if integer else "float64")
    row = int(np.argmax(bad))
    kind = "whole numbers" if integer else "numbers"
    raise DataFormatError(f"{label} must hold {kind}, but row {row + 1} has {col.iloc[row]!r}")


def binance_klines(df: pd.DataFrame) -> tuple[pd.DataFrame, str, list[str]]:
    """(bars frame with UTC timestamps, interval, notes) from the 12 kline columns, after checking the
    layout is unambiguous: open and close times are epoch milliseconds (microseconds in Binance's 2025+
    spot dumps), open times increase, and every close time is open time + one Binance interval - 1 unit."""
    def refuse(problem: str):
        raise DataFormatError(
            f"the file has no header row and 12 numeric columns like Binance klines, but {problem}: if it is a "
            f"Binance kline file, download it again from data.binance.vision; otherwise {NO_HEADER_FIX}")

    try:
        opens = _strict_numbers(df["open_time"], "the open time (column 1)", integer=True)
        closes = _strict_numbers(df["close_time"], "the close time (column 7)", integer=True)
        values = {c: _strict_numbers(df[c], f"column {_BINANCE_COLUMNS.index(c) + 1} ({c.replace('_', ' ')})")
                  for c in ("open", "high", "low", "close", "volume", "quote_volume", "trades")}
    except DataFormatError as exc:
        refuse(str(exc))
    # Units by size, row by row: epoch milliseconds are below 1e14 until the year 5138 and microseconds above
    # 1e14 from 1973 on, so a file joining 2024 (ms) and 2025 (us) dumps is read right on every row.
    micro = opens >= 10**14
    if opens.min() < 10**11:
        refuse(f"the open time {opens.min()} is not epoch milliseconds or microseconds")
    if not np.array_equal(micro, closes >= 10**14):
        row = int(np.argmax(micro != (closes >= 10**14)))
        refuse(f"on row {row + 1} the open and close times use different units ({opens[row]} and {closes[row]})")
    unit_ns = np.where(micro, 1_000, 1_000_000)
    open_ns, close_ns = opens * unit_ns, (closes + 1) * unit_ns  # close time + 1 unit = the next bar's open
    if np.any(np.diff(open_ns) <= 0):
        row = int(np.argmax(np.diff(open_ns) <= 0)) + 1
        refuse(f"the open times (column 1) do not increase on row {row + 1}")
    lo, hi = EPOCH_FLOOR.value, EPOCH_CEILING.value
    if open_ns.min() < lo or open_ns.max() >= hi:
        refuse("the open times are before 1971 or after 2100")
    if np.any(values["trades"] < 0) or np.any(values["trades"] != np.round(values["trades"])):
        refuse("the number of trades (column 9) is not a whole number >= 0 on every row")
    spans = np.unique(close_ns - open_ns)
    start = pd.DatetimeIndex(open_ns.astype("datetime64[ns]"), tz="UTC")
    if len(spans) == 1 and pd.Timedelta(int(spans[0])) in _BINANCE_INTERVALS:
        interval = _BINANCE_INTERVALS[pd.Timedelta(int(spans[0]))]
    elif ((start == start.normalize()) & (start.day == 1)).all() and np.array_equal(
            close_ns, (start + pd.DateOffset(months=1)).asi8):
        interval = "1mo"
    else:
        span = close_ns - open_ns
        other = np.nonzero(span != span[0])[0]
        row = int(other[0]) if len(other) else 0
        refuse(f"the close time (column 7) is not open time + one kline interval - 1 ms on row {row + 1} "
               f"(open {opens[row]}, close {closes[row]}; Binance intervals are 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, "
               "4h, 6h, 8h, 12h, 1d, 3d, 1w and 1M, the same on every row)")
    out = pd.DataFrame({"timestamp": pd.Series(start)})
    for c in ("open", "high", "low", "close", "volume"):
        out[c] = values[c]
    out["amount"] = values["quote_volume"]
    notes = []
    if micro.any():
        notes.append("open times in microseconds (Binance's 2025+ spot dumps)" if micro.all() else
                     f"open times in milliseconds up to {start[~micro].max()} and in microseconds from "
                     f"{start[micro].min()} (Binance's 2025+ spot dumps): each row read in its own unit")
    return out, interval, notes


def binance_symbol(name: str) -> str | None:
    """BTCUSDT from Binance's file names, e.g. BTCUSDT-1m-2024-01.csv."""
    m = re.match(r"^([A-Z0-9]{2,30})-\d+[smhdwM]o?-\d{4}-\d{2}(-\d{2})?$", Path(name).stem)
    return m.group(1) if m else None
