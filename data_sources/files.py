"""Read user CSV / Parquet files into Bars, or say exactly what is wrong and how to fix it."""

from __future__ import annotations

import codecs
import io
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .calendar_inference import with_inferred_calendar
from .calendars import CRYPTO, infer_interval, validate_calendar
from .dates import EPOCH_CEILING, EPOCH_FLOOR, looks_dayfirst, parse_time
from .errors import DataFormatError, MultipleSymbolsError
from .intervals import format_interval
from .numbers import NA_SET, NA_STRINGS, read_numbers
from .schema import Bars

MAX_BYTES = 200 * 1024 * 1024
MAX_ROWS = 2_000_000

# Normalised header (lower case, letters and digits only) -> schema column.
_ALIASES = {
    "timestamp": ("timestamp", "timestamps", "datetime", "date", "time", "datetimeutc", "opentime",
                  "dt", "localtime", "gmttime", "day", "datum", "fecha"),
    "open": ("open", "o", "openprice", "opening"),
    "high": ("high", "h", "highprice", "max"),
    "low": ("low", "l", "lowprice", "min"),
    "close": ("close", "c", "closeprice", "price", "last", "closing"),
    "volume": ("volume", "vol", "v", "volumes", "qty", "basevolume"),
    "amount": ("amount", "turnover", "quotevolume", "quoteassetvolume", "value", "notional"),
    # MetaTrader's <TICKVOL>: price changes per bar, the volume used where real volume is empty.
    "tick_volume": ("tickvol", "tickvolume"),
}
_ADJ_CLOSE = ("adjclose", "adjustedclose", "adjclosing")


def _norm(name) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _raw_bytes(source, max_bytes: int) -> tuple[bytes, str]:
    """(content, display name) from a path, bytes or a file-like object (e.g. an upload)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataFormatError(f"file not found: {str(path)!r}; check the path")
        size = path.stat().st_size
        if size > max_bytes:
            raise DataFormatError(
                f"{path.name} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit: "
                "keep only the columns and date range you need, or save it as Parquet")
        return path.read_bytes(), path.name
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        size = getattr(source, "size", None)
        if isinstance(size, int) and size > max_bytes:
            raise DataFormatError(
                f"the file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit: "
                "keep only the columns and date range you need, or save it as Parquet")
        data = source.read(max_bytes + 1)
        if isinstance(data, str):
            data = data.encode()
    else:
        raise DataFormatError(f"cannot read bars from a {type(source).__name__}; pass a file path, bytes or an open file")
    if len(data) > max_bytes:
        raise DataFormatError(
            f"the file is over the {max_bytes / 1e6:.0f} MB limit: keep only the columns and date range "
            "you need, or save it as Parquet")
    return data, str(getattr(source, "name", "") or "")


_HEAD_BYTES = 64 * 1024
_LINE_END = re.compile(rb"\r\n|\n|\r")
_TEXT_LINE_END = re.compile(r"\r\n|\n|\r")
_BOM = b"\xef\xbb\xbf"
# A cell that is data, never a column name: a number, or a date/time starting with digits.
_DATA_CELL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^\d{1,4}[-./:]\d")


@dataclass
class _Table:
    """The columns a reader needs, as text (Parquet: as stored), and how the file was laid out."""

    df: pd.DataFrame
    sep: str | None
    columns: list  # every column of the file, for messages (df holds only the ones used)
    layout: str | None = None  # "binance" or "mt4" for the recognised headerless exports
    notes: list = field(default_factory=list)
    wide: dict = field(default_factory=dict)  # column -> (instrument, bar field) of a wide multi-instrument file


def _head_text(data: bytes) -> tuple[str, str]:
    """(the first 64 KB decoded, its encoding: UTF-8, else Windows-1252), for sniffing the header."""
    chunk = data[:_HEAD_BYTES]
    try:
        # Incremental: a multi-byte character cut at the 64 KB boundary is not an error.
        return codecs.getincrementaldecoder("utf-8-sig")().decode(chunk, final=len(data) <= _HEAD_BYTES), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return chunk.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise DataFormatError("the file is not text (binary content); upload a CSV or Parquet file") from None


def _encoding(data: bytes) -> str:
    """UTF-8 (with or without BOM) or Windows-1252, checked over the whole file in 1 MB steps (no
    decoded copy of the file is kept)."""
    for enc in ("utf-8-sig", "cp1252"):
        dec = codecs.getincrementaldecoder(enc)()
        view = memoryview(data)
        try:
            for i in range(0, len(data), 1 << 20):
                dec.decode(view[i:i + (1 << 20)])
            dec.decode(b"", final=True)
            return enc
        except UnicodeDecodeError:
            continue
    raise DataFormatError("the file is not text (binary content); upload a CSV or Parquet file")


def _first_line(data: bytes, encoding: str, skip: int = 0) -> tuple[int, int]:
    """Byte offsets (start, end after its line break) of the first non-blank line after ``skip`` non-blank
    lines (blank as the decoded head sees it, so that the header found there is the line skipped here)."""
    pos = len(_BOM) if data.startswith(_BOM) else 0
    while pos < len(data):
        m = _LINE_END.search(data, pos)
        stop, end = (m.start(), m.end()) if m else (len(data), len(data))
        if data[pos:stop].decode(encoding, "replace").strip():
            if skip == 0:
                return pos, end
            skip -= 1
        pos = end
    return pos, pos


def _head_from(head: str, skip: int) -> str:
    """The decoded head from its non-blank line number ``skip`` (0-based) on."""
    for m in re.finditer(r"[^\r\n]*(?:\r\n|\n|\r|$)", head):
        if m.group().strip():
            if skip == 0:
                return head[m.start():]
            skip -= 1
    return ""


_SEPARATORS = (",", ";", "\t", "|")


def _separator(line: str) -> tuple[str, int]:
    """(the candidate that splits ``line`` into the most fields, how many times it occurs)."""
    counts = {sep: line.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=counts.get)
    return sep, counts[sep]


def _banner_lines(lines: list[str]) -> int:
    """How many lines above the header are a banner or title, not a header (CryptoDataDownload writes its
    URL above the header): 0, 1 or 2. The header is the first line that names a date and open, high,
    low and close; every line above it names no column and has fewer fields."""
    bar_names = {a for k in ("timestamp", "open", "high", "low", "close") for a in _ALIASES[k] if len(a) > 1}
    for k in range(1, min(3, len(lines))):
        sep, count = _separator(lines[k])
        if count == 0 or len({_norm(c) for c in _cells(lines[k], sep)} & bar_names) < 4:
            continue
        above = lines[:k]
        if all(line.count(sep) < count and not {_norm(c) for c in _cells(line, sep)} & _known_names()
               for line in above):
            return k
        return 0
    return 0


def _two_row_header(lines: list[str], sep: str) -> tuple[list[str], int] | None:
    """(column names 'TICKER:field', header lines) of a pandas/yfinance multi-ticker CSV, whose header is two
    rows, bar fields and tickers in either order (``Price,Close,Close,...`` / ``Ticker,AAPL,MSFT,...``),
    often followed by a ``Date,,,`` row; None for any other file."""
    if len(lines) < 3:
        return None
    a, b = _cells(lines[0], sep), _cells(lines[1], sep)
    if len(a) != len(b) or len(a) < 5:
        return None
    fields = set(_WIDE_FIELDS)
    def is_fields(cells):
        return all(_norm(c) in fields for c in cells[1:])
    if is_fields(a) and not is_fields(b):
        kinds, tickers = a, b
    elif is_fields(b) and not is_fields(a):
        kinds, tickers = b, a
    else:
        return None
    if _DATA_CELL.match(tickers[0]) or any(not t or t in NA_SET or _norm(t) in _known_names() or _DATA_CELL.match(t)
                                           for t in tickers[1:]):
        return None  # a first data row (a date, numbers, missing values), not tickers
    c = _cells(lines[2], sep)
    date_row = len(c) == len(a) and bool(c[0]) and not _DATA_CELL.match(c[0]) and not any(c[1:])
    first = c[0] if date_row else "Date"
    return [first] + [f"{t}:{k}" for t, k in zip(tickers[1:], kinds[1:])], 3 if date_row else 2


def _cells(line: str, sep: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(sep)]


def _read_table(data: bytes, name: str, max_rows: int) -> _Table:
    """The needed columns of a CSV (as text) or a Parquet file (as stored)."""
    if not data or data.isspace():
        raise DataFormatError("the file is empty: export the bars again, with a header row")
    suffix = Path(name).suffix.lower()
    if data[:4] == b"PAR1" or suffix in (".parquet", ".pq"):
        df = _read_parquet(data, max_rows)
        names = [str(c) for c in df.columns]
        return _Table(df, None, names, wide=_wide_columns(names))
    if suffix in (".xlsx", ".xls", ".json", ".zip", ".gz"):
        raise DataFormatError(f"{suffix} files are not supported: save the sheet as CSV (comma or semicolon separated) or Parquet")
    head, encoding = _head_text(data)
    if "\x00" in head[:4096]:
        raise DataFormatError("the file is not text (binary content); upload a CSV or Parquet file")
    lines = [ln for ln in _TEXT_LINE_END.split(head, maxsplit=1000)[:1000] if ln.strip()][:5]
    if not lines:
        raise DataFormatError("the file is empty: export the bars again, with a header row")
    notes = []
    skip = _banner_lines(lines)
    if skip:
        notes.append(f"skipped {'the first line' if skip == 1 else f'the first {skip} lines'} "
                     f"({lines[0][:60]!r}): a title above the header, not part of the table")
    header = lines[skip]
    # Separator: the candidate that splits the header into the most fields.
    sep, count = _separator(header)
    if count == 0:
        raise DataFormatError(
            f"found a single column ({header[:60]!r}): separate columns with ',' or ';' and include a header "
            "row like date,open,high,low,close,volume")
    cells = _cells(header, sep)
    data_cells = sum(bool(_DATA_CELL.match(c)) for c in cells)
    if data_cells == len(cells):
        layout, names, note = _headerless_layout(cells, header)
        start, _ = _first_line(data, encoding)
        df = _tokenize(data, start, sep, names, names, max_rows, header=False, first_line=1)
        return _Table(df, sep, names, layout, [note])
    if 2 * data_cells >= len(cells) >= 3 and not any(_norm(c) in _known_names() for c in cells):
        raise DataFormatError(f"the first line looks like data, not a header ({header[:60]!r}): {_NO_HEADER_FIX}")
    two_rows = _two_row_header(lines[skip:], sep)
    if two_rows is not None:
        names, rows = two_rows
        skip += rows - 1
        notes.append(f"a header of {rows} rows (tickers and bar fields, as pandas/yfinance write multi-ticker "
                     "downloads): read as columns TICKER:field")
    else:
        try:
            names = _header_names(header, sep)
        except Exception:  # an odd header: the careful reader decides (and names the problem)
            names = None
    start, end = _first_line(data, encoding, skip)
    if names is None:
        df = _careful_table(data[start:], sep, None, max_rows, first_line=skip + 1)
        names = [str(c) for c in df.columns]
        return _Table(df, sep, names, notes=notes, wide=_wide_columns(names))
    wide = _wide_columns(names)
    text = _text_columns(_head_from(head, skip), len(data) <= _HEAD_BYTES, sep, names)
    wanted = _wanted(names, text)
    wanted += [c for c in wide if c not in wanted]
    df = _tokenize(data, end, sep, names, wanted, max_rows, header=True, first_line=skip + 2)
    return _Table(df, sep, names, notes=notes, wide=wide)


def _read_parquet(data: bytes, max_rows: int) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        # The row count is in the footer: a file over the limit is refused before any column is decoded.
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
        if rows > max_rows:
            raise DataFormatError(f"the file has {rows:,} rows, over the {max_rows:,} row limit: keep a shorter date range")
        df = pd.read_parquet(io.BytesIO(data))
    except DataFormatError:
        raise
    except Exception as exc:
        raise DataFormatError(f"not a readable Parquet file ({type(exc).__name__}: {exc}); re-export it, or use CSV") from None
    if isinstance(df.index, pd.DatetimeIndex):
        df = df.reset_index(names=df.index.name or "timestamp")
    if isinstance(df.columns, pd.MultiIndex):  # pandas/yfinance multi-ticker frames: ('Close', 'AAPL')
        df.columns = [":".join(str(x) for x in reversed(c) if str(x)) if isinstance(c, tuple) else str(c)
                      for c in df.columns]
    return df


def _header_names(header: str, sep: str) -> list[str]:
    """Column names exactly as pandas names them (stripped, 'Unnamed: 0' for blanks, 'close.1' for repeats)."""
    cols = pd.read_csv(io.StringIO(header + "\n"), sep=sep, nrows=0, skipinitialspace=True, index_col=False,
                       dtype=str, engine="python" if sep == "|" else "c").columns
    return [str(c) for c in cols]


def _wanted(names: list[str], text: list[str] = ()) -> list[str]:
    """The columns a reader uses: anything named like a bar field, a symbol or an adjusted close, the
    first column (it may be an unnamed datetime index) and the ``text`` columns (words, not numbers: a
    possible instrument column under an unknown name), volumes named by a currency. The rest (indicators, 'Change %') is never parsed."""
    known = _known_names()
    return [c for i, c in enumerate(names) if i == 0 or _norm(c) in known or c in text or _volume_currency(_norm(c))]


def _known_names() -> set[str]:
    return {a for v in _ALIASES.values() for a in v} | set(_ADJ_CLOSE) | set(_SYMBOL_COLUMNS)


def _tokenize(data: bytes, start: int, sep: str, names: list[str], wanted: list[str], max_rows: int,
              header: bool, first_line: int) -> pd.DataFrame:
    """The wanted columns as text, by pyarrow's multi-threaded CSV reader; anything it will not read
    as plainly laid out (ragged rows, a non-UTF-8 byte in a used column, odd quoting) goes to the
    careful pandas reader, which also words the error."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        table = pcsv.read_csv(
            pa.BufferReader(pa.py_buffer(data).slice(start)),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pcsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, escape_char=False,
                                            newlines_in_values=False, ignore_empty_lines=True),
            convert_options=pcsv.ConvertOptions(include_columns=wanted, column_types={c: pa.large_string() for c in wanted},
                                                null_values=list(NA_STRINGS), strings_can_be_null=True,
                                                quoted_strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, UnicodeError):
        df = _careful_table(data[start:], sep, names, max_rows, first_line, first_line - 1 if header else None)
        return df[[c for c in wanted if c in df.columns]]
    if table.num_rows > max_rows:
        raise DataFormatError(f"the file has more than {max_rows:,} rows: keep a shorter date range")
    return table.to_pandas()


def _careful_table(data: bytes, sep: str, names: list[str] | None, max_rows: int, first_line: int = 1,
                   header_line: int | None = None) -> pd.DataFrame:
    """Every column as text by pandas: reads what pyarrow refuses and says what is wrong with the rest.
    ``data`` starts at line ``first_line`` of the file: at the header, or with ``names`` at the first
    data row (``header_line``: where the file's header is, for messages)."""
    enc = _encoding(data)
    try:
        with warnings.catch_warnings():
            # pandas only *warns* when rows have more fields than the header; that loses data.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(io.BytesIO(data), encoding=enc, sep=sep, dtype=str, nrows=max_rows + 1,
                             skipinitialspace=True, on_bad_lines="error", index_col=False,
                             header=None if names else "infer", names=names,
                             engine="python" if sep == "|" else "c")
    except Exception as exc:
        if names is None:
            problem = _ragged_line(data, enc, sep, first_line + 1, None, f"the header (line {first_line})")
        else:
            problem = _ragged_line(data, enc, sep, first_line, len(names),
                                   f"the header (line {header_line})" if header_line else "a row of this layout")
        if problem is None:
            msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            problem = f"could not parse the CSV ({msg})"
        raise DataFormatError(f"{problem}: every row needs the same number of '{sep}'-separated fields as "
                              "the header; fix or delete that line (a note or total row, a value holding the "
                              "separator without quotes?) and upload the file again") from None
    if len(df) > max_rows:
        raise DataFormatError(f"the file has more than {max_rows:,} rows: keep a shorter date range")
    return df


def _ragged_line(data: bytes, encoding: str, sep: str, first_line: int, expected: int | None,
                 label: str) -> str | None:
    """'line N (...) has X fields, the header (line H) has Y' for the first row (counted from ``first_line``,
    as a text editor numbers lines) whose field count differs from ``expected`` (None: the first row's
    count, ``data`` then starting at the header); None when every row has as many."""
    import csv

    text = data.decode(encoding, "replace")
    for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=sep),
                                 start=first_line - (expected is None)):
        if not any(cell.strip() for cell in row):
            continue
        if expected is None:
            expected = len(row)
            continue
        if len(row) != expected:
            return f"line {number} ({sep.join(row)[:60]!r}) has {len(row)} fields, {label} has {expected}"
    return None


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
_NO_HEADER_FIX = ("add a header row naming the columns, like date,open,high,low,close,volume (files read without "
                  "a header: Binance klines, 12 numeric columns, and MetaTrader 4 history exports, "
                  "date,time,open,high,low,close,volume)")


def _headerless_layout(cells: list[str], line: str) -> tuple[str, list[str], str]:
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
    raise DataFormatError(f"the first line is {what}, not a header ({line[:60]!r}, {len(cells)} columns): {_NO_HEADER_FIX}")


def _strict_numbers(col: pd.Series, label: str, integer: bool = False) -> np.ndarray:
    """Plain numbers of one kline column, or DataFormatError naming the first cell that is not one."""
    import pyarrow as pa
    import pyarrow.compute as pc

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


def _binance_klines(df: pd.DataFrame) -> tuple[pd.DataFrame, str, list[str]]:
    """(bars frame with UTC timestamps, interval, notes) from the 12 kline columns, after checking the
    layout is unambiguous: open and close times are epoch milliseconds (microseconds in Binance's 2025+
    spot dumps), open times increase, and every close time is open time + one Binance interval - 1 unit."""
    def refuse(problem: str):
        raise DataFormatError(
            f"the file has no header row and 12 numeric columns like Binance klines, but {problem}: if it is a "
            f"Binance kline file, download it again from data.binance.vision; otherwise {_NO_HEADER_FIX}")

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


def _binance_symbol(name: str) -> str | None:
    """BTCUSDT from Binance's file names, e.g. BTCUSDT-1m-2024-01.csv."""
    m = re.match(r"^([A-Z0-9]{2,30})-\d+[smhdwM]o?-\d{4}-\d{2}(-\d{2})?$", Path(name).stem)
    return m.group(1) if m else None


# Columns that name the instrument of each row in a long (stacked) export, as normalised headers (see
# _norm: "Stock Code", "stock_code" and "<STOCK_CODE>" are all "stockcode"). The one list of them.
# "name" is the ticker column of Kaggle's S&P 500 files (date,open,high,low,close,volume,Name).
_SYMBOL_COLUMNS = ("symbol", "ticker", "tscode", "tickersymbol", "instrument", "pair", "secid", "name",
                   "stock", "code", "stockcode", "security", "asset", "ric", "symbolname", "contract",
                   "underlying", "isin", "cusip", "sedol", "coin")
MAX_SYMBOLS_LISTED = 12


def _symbol_column(df: pd.DataFrame):
    return next((c for c in df.columns if _norm(c) in _SYMBOL_COLUMNS), None)


def _select_symbol(df: pd.DataFrame, symbol: str | None) -> tuple[pd.DataFrame, str | None, list[str]]:
    """Rows of one instrument from a file with a symbol/ticker column: (rows, the symbol, notes).
    Several instruments and none chosen: refused with the list, since a mixture of instruments is
    not a series (a duplicate-timestamp fix would silently merge them)."""
    col = _symbol_column(df)
    if col is None:
        return df, None, []
    keep, chosen, notes = _instrument_rows(df[col], symbol)
    df = df.drop(columns=col)
    return (df if keep is None else df.loc[keep].reset_index(drop=True)), chosen, notes


def _instrument_rows(column: pd.Series, symbol: str | None,
                     why: str = "") -> tuple[np.ndarray | None, str | None, list[str]]:
    """(mask of the chosen instrument's rows, or None for all rows; the instrument; notes) for a column
    naming each row's instrument. ``why``: what showed that the column names instruments, for messages."""
    col = str(column.name)
    names = column.astype("string").str.strip()
    found = list(dict.fromkeys(names.dropna()))
    if symbol is not None:
        keep = (names.str.upper() == symbol.strip().upper()).fillna(False).to_numpy(dtype=bool)
        if not keep.any():
            raise MultipleSymbolsError(f"no rows for {symbol!r} in column {col!r}; the file holds "
                                       f"{_listing(found)}", found)
        chosen = names[keep].iloc[0]
        note = [f"kept the {int(keep.sum())} rows of {chosen} from column {col!r}{why and ', whose ' + why}"
                ] if len(found) > 1 else []
        return keep, chosen, note
    if len(found) > 1:
        raise MultipleSymbolsError(
            f"the file holds {len(found)} instruments in column {col!r} ({_listing(found)})"
            f"{why and ': its ' + why + ', so the rows are several series'}: choose one "
            "(the ticker picker in the app, --symbol NAME on the command line); rows of different "
            "instruments are never forecast as one series", found)
    return None, (found[0] if found else None), []


# A cell that holds words (a name, a ticker), not a number such as 1.5e3, 12.3M or 0.5%.
_WORD = re.compile(r"[^\W\d_]")
_NUMBER_LIKE = re.compile(r"^[-+]?[\d.,\s]*\d[\d.,\s]*(?:[eE][-+]?\d+)?\s*[KMBTkmbt%]?$")


def _holds_words(values: pd.Series) -> bool:
    """Whether some present value of a text column has letters and is neither a date nor a number written with
    a suffix."""
    # A plain loop: for the few hundred cells of a file's head it is several times faster than .str methods.
    words = []
    for value in values.dropna():
        cell = str(value).strip()
        if cell in NA_SET:
            continue
        if _WORD.search(cell) and not _DATA_CELL.match(cell):  # not 2024-01-02T09:30 either
            words.append(cell)
    return bool(words) and not all(_NUMBER_LIKE.fullmatch(cell) for cell in words)


def _text_columns(head: str, complete: bool, sep: str, names: list[str]) -> list[str]:
    """Columns whose first rows (the decoded head) hold words: read along with the bar columns, so that a
    column naming each row's instrument is never dropped unseen (see _varying_text_column)."""
    body = head if complete else head[:max(head.rfind("\n"), head.rfind("\r"), 0)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ragged rows: the reader proper words that problem
            sample = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, header=0, names=names, index_col=False,
                                 skipinitialspace=True, on_bad_lines="skip", engine="python" if sep == "|" else "c")
    except Exception:  # the head cannot be sampled: read every column, the check decides on the whole file
        return list(names)
    return [c for c in names if c in sample.columns and _holds_words(sample[c])]


def _varying_text_column(df: pd.DataFrame, ts: pd.Series, used: set) -> tuple[object, str] | None:
    """(column, evidence) for a column the reader does not use whose words differ between rows that share
    a timestamp: the file holds several series, told apart only by that column. None when the times do
    not repeat (a comment column) or repeat with the same words (a file joined twice: the gate's
    duplicate check decides)."""
    dup = (ts.duplicated(keep=False) & ts.notna()).to_numpy()
    if not dup.any():
        return None
    times = ts[dup].reset_index(drop=True)
    for col in df.columns:
        if col in used or pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        values = df[col][dup].astype("string").str.strip().reset_index(drop=True)
        if not _holds_words(values):
            continue
        pairs = pd.DataFrame({"t": times, "v": values}).dropna()
        versions = pairs.groupby("t", sort=False)["v"].nunique()
        if not (versions > 1).any():
            continue
        t = pd.Timestamp(versions.index[versions > 1][0])
        shown = list(dict.fromkeys(pairs.loc[pairs["t"] == t, "v"]))[:2]
        when = t.date() if t == t.normalize() else t
        return col, f"values differ between rows that share a timestamp (e.g. {when}: {shown[0]!r} and {shown[1]!r})"
    return None


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_SYMBOLS_LISTED])
    return shown + (f" and {len(names) - MAX_SYMBOLS_LISTED} more" if len(names) > MAX_SYMBOLS_LISTED else "")


def _map_columns(df: pd.DataFrame) -> tuple[dict, list[str]]:
    """schema column -> file column, and notes."""
    notes: list[str] = []
    by_norm: dict[str, list] = {}
    for col in df.columns:
        by_norm.setdefault(_norm(col), []).append(col)
    found: dict[str, object] = {}
    for target, aliases in _ALIASES.items():
        hits = [c for a in aliases for c in by_norm.get(a, [])]
        if len(hits) > 1 and target == "timestamp":
            # "date" + "time" as two columns are combined below; otherwise take the first alias.
            names = {_norm(h) for h in hits}
            if names == {"date", "time"}:
                found["timestamp"] = (by_norm["date"][0], by_norm["time"][0])
                continue
        if len(hits) > 1 and len({_norm(h) for h in hits}) == 1:
            raise DataFormatError(f"columns {[str(h) for h in hits]} are all read as {target!r}: keep only one of them")
        if hits:
            found[target] = hits[0]
    adj = [c for a in _ADJ_CLOSE for c in by_norm.get(a, [])]
    if "close" not in found and adj:
        found["close"] = adj[0]
        notes.append(f"no 'close' column: used {adj[0]!r} as the close (adjusted and unadjusted prices may be mixed)")
    elif adj:
        notes.append(f"column {adj[0]!r} ignored: the unadjusted 'close' is used with open/high/low")
    return found, notes


# ------------------------------------------------------------------ volume in two currencies
# CryptoDataDownload writes 'Volume BTC,Volume USD' (or volume_btc, volume_usd), CryptoCompare-style files
# 'VolumeFrom,VolumeTo': the base currency's volume is the bar volume, the quote currency's the amount.
_CURRENCY_VOLUME = re.compile(r"^(?:volume|vol)([a-z]{2,6})$|^([a-z]{2,6})(?:volume|vol)$")
_NOT_CURRENCIES = {"ma", "sma", "ema", "wma", "avg", "mean", "chg", "change", "pct", "ratio", "delta", "osc",
                   "base", "quote", "from", "to", "tick", "total", "buy", "sell", "taker", "real", "dollar", "trade",
                   "trades", "share", "shares", "spot", "asset", "median", "sum", "daily", "rel", "relative"}
_BASE_WORDS, _QUOTE_WORDS = "the volume (base currency)", "the amount (quote-currency turnover)"
# A plain volume column beside the base currency's is its quote volume when it is base volume x price within this
# share on the median bar (exports compute it so; a venue's own turnover stays within a few percent of it).
QUOTE_VOLUME_TOLERANCE = 0.05
_SYMBOL_PARTS = re.compile(r"^([A-Za-z0-9]+)[/\-_:. ]([A-Za-z0-9]+)$")


def _currency_volumes(df: pd.DataFrame, cols: dict, symbol: str | None, notes: list[str]) -> tuple | None:
    """Map volume columns named by a currency (or 'from'/'to') to volume (base) and amount (quote), using
    the instrument (BTC/USD, BTC-USD, BTCUSD) to tell the base from the quote; say what became what. A
    currency the symbol does not place, or no symbol at all, is refused rather than guessed.

    A plain volume column beside the base currency's ('Volume BTC,Volume') is taken for the quote volume
    (the amount) until the numbers are read: the (plain, base) columns are returned for
    ``_check_quote_volume`` to confirm or refuse."""
    by_code: dict[str, object] = {}
    for col in df.columns:
        code = _volume_currency(_norm(col))
        if code:
            by_code[code] = col
    if not by_code:
        return None
    if set(by_code) <= {"volumefrom", "volumeto"}:
        sides = {"base": by_code.get("volumefrom"), "quote": by_code.get("volumeto")}
        why = "CryptoCompare's VolumeFrom is in the base currency, VolumeTo in the quote currency"
    else:
        pair = _symbol_pair(df, symbol)
        listed = ", ".join(repr(str(c)) for c in by_code.values())
        if pair is None:
            what = f"columns {listed} hold volume in named currencies" if len(by_code) > 1 else \
                f"column {listed} holds volume in a named currency"
            raise DataFormatError(
                f"{what}, but the file names no instrument to tell the "
                "base currency (the bar volume) from the quote currency (the amount): give the symbol as BASE/QUOTE, "
                "e.g. BTC/USD (--symbol on the command line), or rename the columns to volume and amount")
        base, quote = pair
        sides = {}
        for code, col in by_code.items():
            side = "base" if code == base else "quote" if code == quote else None
            if side is None or side in sides:
                raise DataFormatError(
                    f"column {str(col)!r} holds volume in {code.upper()}, which is neither the base ({base.upper()}) "
                    f"nor the quote ({quote.upper()}) currency of {base.upper()}/{quote.upper()}: rename the "
                    "column holding the base currency's volume to volume and the quote currency's to amount")
            sides[side] = col
        why = f"the instrument is {base.upper()}/{quote.upper()}"
    unconfirmed = None
    plain = cols.get("volume")
    if plain is not None and sides.get("base") not in (None, plain) and sides.get("quote") is None \
            and "amount" not in cols:
        unconfirmed = (plain, sides["base"])
        cols["amount"] = plain
        del cols["volume"]
    for side, target, words in (("base", "volume", _BASE_WORDS), ("quote", "amount", _QUOTE_WORDS)):
        col = sides.get(side)
        if col is None:
            continue
        if target in cols and cols[target] != col:
            raise DataFormatError(
                f"columns {str(cols[target])!r} and {str(col)!r} both look like {words}: keep one of them, or "
                f"rename the other (base-currency volume: volume; quote-currency volume: amount)")
        cols[target] = col
        notes.append(f"column {str(col)!r} read as {words}: {why}")
    return unconfirmed


def _check_quote_volume(numbers: pd.DataFrame, unconfirmed: tuple | None, notes: list[str]) -> None:
    """Confirm that the plain volume column taken for the quote volume (see ``_currency_volumes``) is the
    base volume x price (the close, or the mean of open, high, low and close) within
    QUOTE_VOLUME_TOLERANCE on the median bar, and say so; refuse, naming both columns, when it is not."""
    if unconfirmed is None:
        return
    plain, base = (str(c) for c in unconfirmed)
    volume, amount = numbers["volume"], numbers["amount"]
    traded = (volume > 0) & (amount > 0)
    prices = {"close": numbers["close"], "mean(open, high, low, close)": numbers[["open", "high", "low", "close"]].mean(axis=1)}
    misfit = {name: float((amount / (volume * price) - 1)[traded].abs().median()) for name, price in prices.items()}
    name = min(misfit, key=lambda k: misfit[k] if np.isfinite(misfit[k]) else np.inf)
    if not misfit[name] <= QUOTE_VOLUME_TOLERANCE:
        raise DataFormatError(
            f"columns {plain!r} and {base!r} both look like {_BASE_WORDS}, and {plain!r} is not {base!r} x the price "
            f"(the quote-currency volume) either: keep one of them, or rename the other (base-currency volume: "
            "volume; quote-currency volume: amount)")
    notes.append(f"column {plain!r} read as {_QUOTE_WORDS}: it is {base!r} x the {name} (within {misfit[name]:.1%} on "
                 "the median bar), the volume in the quote currency")


def _volume_currency(norm: str) -> str | None:
    """'btc' for a normalised 'volumebtc' or 'btcvolume', the name itself for 'volumefrom'/'volumeto'."""
    if norm in ("volumefrom", "volumeto"):
        return norm
    m = _CURRENCY_VOLUME.match(norm)
    code = m and (m.group(1) or m.group(2))
    return code if code and code not in _NOT_CURRENCIES and norm not in _known_names() else None


def _symbol_pair(df: pd.DataFrame, symbol: str | None) -> tuple[str, str] | None:
    """(base, quote) in lower case from the file's symbol column or the symbol given, e.g. BTC/USD."""
    col = _symbol_column(df)
    names = [symbol] if symbol else []
    if col is not None:
        names = [str(v) for v in df[col].dropna().head(1)] + names
    codes = {_norm(c) for c in df.columns}
    for name in names:
        m = _SYMBOL_PARTS.match(name.strip())
        if m:
            return m.group(1).lower(), m.group(2).lower()
        flat = _norm(name)
        for code in codes:  # BTCUSD: the currencies the column names carry, at either end
            cur = _volume_currency(code)
            if cur and len(flat) > len(cur):
                if flat.startswith(cur):
                    return cur, flat[len(cur):]
                if flat.endswith(cur):
                    return flat[:-len(cur)], cur
    return None


# ------------------------------------------------------------------ wide files: several instruments side by side
# Bar fields a wide file's column names carry beside an instrument: BTC:open, open_BTC, ('Close', 'AAPL').
_WIDE_FIELDS = {a: k for k in ("open", "high", "low", "close", "volume", "amount") for a in _ALIASES[k] if len(a) > 1}
_WIDE_FIELDS.update({a: "adj close" for a in _ADJ_CLOSE})
_WIDE_SEPARATORS = (":", "|", "_", ".", " ", "-", "/")


def _wide_columns(names: list[str]) -> dict[str, tuple[str, str]]:
    """column -> (instrument, file's field name) when the file holds instruments side by side (each with
    its own open, high, low and close columns, no plain ones); {} otherwise."""
    if {_norm(c) for c in names} & {"open", "high", "low", "close"}:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for col in names[1:]:
        for sep in _WIDE_SEPARATORS:
            if sep not in col:
                continue
            head, tail = col.rsplit(sep, 1)
            first, rest = col.split(sep, 1)
            if _norm(tail) in _WIDE_FIELDS and head.strip():
                found[col] = (head.strip(), tail.strip())
                break
            if _norm(first) in _WIDE_FIELDS and rest.strip():
                found[col] = (rest.strip(), first.strip())
                break
    complete = {sym for sym in {s for s, _ in found.values()}
                if {"open", "high", "low", "close"} <= {_WIDE_FIELDS[_norm(f)] for s, f in found.values() if s == sym}}
    return {c: v for c, v in found.items() if v[0] in complete}


def _pick_wide(df: pd.DataFrame, wide: dict, symbol: str | None, notes: list[str]) -> tuple[pd.DataFrame, str]:
    """The columns of one instrument of a wide file, renamed to plain field names, and the instrument;
    several instruments and none chosen: MultipleSymbolsError, as for a long file."""
    found = list(dict.fromkeys(s for s, _ in wide.values()))
    example = ", ".join(repr(c) for c in list(wide)[:3])
    if symbol is None and len(found) > 1:
        raise MultipleSymbolsError(
            f"the file holds {len(found)} instruments side by side ({_listing(found)}; columns like {example}): "
            "choose one (the ticker picker in the app, --symbol NAME on the command line)", found)
    want = found[0] if symbol is None else next((s for s in found if s.upper() == symbol.strip().upper()), None)
    if want is None:
        raise MultipleSymbolsError(f"no columns for {symbol!r}; the file holds {_listing(found)} side by side "
                                   f"(columns like {example})", found)
    mine = {c: f for c, (s, f) in wide.items() if s == want}
    keep = [c for c in df.columns if c not in wide or c in mine]
    out = df[keep].rename(columns=mine)
    fields = [c for c in mine.values() if _norm(c) in ("open", "high", "low", "close")]
    present = out[fields].notna().any(axis=1)
    dropped = int((~present).sum())
    out = out.loc[present].reset_index(drop=True)
    notes.append(f"a wide file of {len(found)} instrument{'s' * (len(found) > 1)} side by side ({_listing(found)}): "
                 f"read the columns of {want} ({', '.join(repr(c) for c in mine)})"
                 + (f"; {dropped} rows without {want} prices left out" if dropped else ""))
    return out, want


class _CallbackError(Exception):
    """An exception raised by the caller's progress callback: re-raised as it was, never reworded."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


# Overall fraction done when each stage starts.
_STAGES = {"reading": 0.0, "parsing": 0.1, "dates": 0.55, "numbers": 0.7, "checking": 0.85, "done": 1.0}


def _reporter(progress):
    def report(stage: str) -> None:
        if progress is None:
            return
        try:
            progress(stage, _STAGES[stage])
        except Exception as exc:
            raise _CallbackError(exc) from exc
    return report


def read_bars_file(source, name: str | None = None, *, timezone: str | None = None, symbol: str | None = None,
                   interval: str | None = None, calendar: str | None = None,
                   max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS, progress=None) -> Bars:
    """Bars from a CSV or Parquet file (path, bytes or file-like).

    Accepts date/datetime/timestamp/time columns (or a datetime index, or separate date and time
    columns), capitalised or decorated headers ("Adj Close", "Vol.", "<TICKVOL>"), ',' ';' tab or '|'
    separators, epoch seconds or milliseconds (from 1971 on), YYYYMMDD or YYYYMMDDHHMMSS integer
    dates, with or without timezone. Numbers follow the file's locale convention: '1.234,5' in
    ';'-separated files, '1,234.5' otherwise (with a note where that decides a value). Files without
    a header row are read only in two unambiguous layouts: Binance klines and MetaTrader 4 history
    exports; a banner line above the header (CryptoDataDownload) is skipped. Newest-first files are put
    in time order (with a note). Volumes named by a currency (Volume BTC, Volume USD) become volume (base)
    and amount (quote), by the instrument. A long file with a symbol/ticker column, or a wide one with
    each instrument's own columns (BTC:open, open_BTC, yfinance's two header rows), and several
    instruments needs ``symbol`` to pick one (otherwise MultipleSymbolsError lists them); elsewhere
    ``symbol`` names the series. ``timezone`` localises naive times (or converts
    aware ones); ``calendar`` must be a known calendar code. ``progress(stage, fraction)``, if given,
    is called as each stage starts ("reading", "parsing", "dates", "numbers", "checking", "done")
    with the overall fraction done (0.0 to 1.0, never decreasing); an exception it raises is
    re-raised unchanged. Anything else raises DataFormatError with the fix.
    """
    try:
        return _read(source, name, timezone, symbol, interval, calendar, max_bytes, max_rows, _reporter(progress))
    except DataFormatError:
        raise
    except _CallbackError as exc:
        raise exc.original from None
    except Exception as exc:  # never a raw traceback for a user's file
        raise DataFormatError(f"could not read the file ({type(exc).__name__}: {exc}); save it as a CSV with "
                              "columns date,open,high,low,close,volume") from None


def _read(source, name, timezone, symbol, interval, calendar, max_bytes, max_rows, report) -> Bars:
    try:
        calendar = validate_calendar(calendar)
    except ValueError as exc:
        raise DataFormatError(str(exc)) from None
    report("reading")
    data, found_name = _raw_bytes(source, max_bytes)
    name = name or found_name or "upload"
    report("parsing")
    table = _read_table(data, name, max_rows)
    del data  # the columns are parsed: the raw bytes are no longer needed
    df, notes = table.df, list(table.notes)
    if len(df.columns) == 0 or len(df) == 0:
        raise DataFormatError("the file has a header but no rows of data: export the bars again")
    if table.layout == "binance":
        report("dates")
        out, kline_interval, knotes = _binance_klines(df)
        notes += knotes
        if timezone is not None:
            out["timestamp"] = _to_zone(out["timestamp"], timezone)
        file_symbol = _binance_symbol(name)
        interval = interval or kline_interval
        calendar = CRYPTO if calendar is None else calendar
        report("numbers")
    else:
        if table.wide:
            df, symbol = _pick_wide(df, table.wide, symbol, notes)
        out, file_symbol = _bars_columns(df, table.sep, table.columns, symbol, timezone, notes, report)
    del table, df  # the text columns are parsed: free them before the bars are built
    report("checking")
    out = out.dropna(subset=["timestamp"]) if out["timestamp"].notna().any() else out
    if out["timestamp"].isna().all():
        raise DataFormatError("no row has a readable timestamp: use dates like 2024-07-03 09:30")
    out = _time_order(out.reset_index(drop=True), notes)
    if interval is None:
        step = infer_interval(pd.DatetimeIndex(out["timestamp"]).dropna())
        interval = format_interval(step) if step is not None else "1d"
        if step is None:
            notes.append("a single bar: interval assumed to be 1d")
    stem = Path(name).stem if name else "upload"
    bars = Bars.from_frame(
        out, source="file", symbol=file_symbol or symbol or stem or "upload", interval=interval, timezone=timezone,
        calendar=calendar, origin=f"user file {name}", notes=notes,
        fetched_at=pd.Timestamp.now(tz="UTC"),
    )
    report("done")
    return with_inferred_calendar(bars)  # no calendar given: the one inference, evidence kept on the bars


def _to_zone(ts: pd.Series, timezone: str) -> pd.Series:
    try:
        return ts.dt.tz_convert(timezone)
    except Exception as exc:
        raise DataFormatError(f"unknown timezone {timezone!r} ({exc}); use an IANA name like 'America/New_York' or 'UTC'") from None


def _bars_columns(df: pd.DataFrame, sep, columns: list, symbol, timezone, notes: list[str],
                  report) -> tuple[pd.DataFrame, str | None]:
    """(timestamp + value columns, the file's symbol) from a table with a header row; notes are appended.
    The columns are checked before the instrument is chosen: a table that holds no bars (e.g. a 'name'
    column and no prices) is told so, not asked for a ticker."""
    cols, map_notes = _map_columns(df)
    shown = [str(c) for c in columns][:20]
    if "timestamp" not in cols:
        first = df.columns[0]
        head = df[first].dropna().astype(str).head(20)
        try:
            probe = pd.to_datetime(head, format="mixed", dayfirst=looks_dayfirst(head))
            ok = len(probe) > 0 and pd.to_numeric(head, errors="coerce").notna().sum() == 0
        except Exception:
            ok = False
        if ok and _norm(first) not in {a for v in _ALIASES.values() for a in v}:
            cols["timestamp"] = first  # an unnamed datetime index column
        else:
            raise DataFormatError(
                f"no date/time column found; columns are {shown}: name the bar time column "
                "'date', 'datetime' or 'timestamp'")
    missing = [t for t in ("open", "high", "low") if t not in cols]
    if "close" in cols and len(missing) == 3:
        raise DataFormatError(
            f"the file has a close price but no open, high or low (columns are {shown}): Kronos reads whole "
            "candles, so export OHLC bars (a daily download of the same symbol usually has them)")
    for target in ("open", "high", "low", "close"):
        if target not in cols:
            raise DataFormatError(
                f"no {target!r} column found; columns are {shown}: rename your "
                f"{ {'open': 'opening', 'high': 'highest', 'low': 'lowest', 'close': 'closing'}[target] } price column to {target!r}")
    unconfirmed_quote = _currency_volumes(df, cols, symbol, map_notes)
    named_symbol = _symbol_column(df)
    df, file_symbol, symbol_notes = _select_symbol(df, symbol)
    notes += symbol_notes + map_notes
    report("dates")
    ts, tnotes = parse_time(df, cols["timestamp"], timezone)
    notes += tnotes
    used = {c for v in cols.values() for c in (v if isinstance(v, tuple) else (v,))}
    used |= {c for c in df.columns if _norm(c) in _ADJ_CLOSE}
    hidden = _varying_text_column(df, ts, used)
    if hidden is not None:
        col, why = hidden
        if named_symbol is not None:
            raise DataFormatError(
                f"the rows of {file_symbol} still hold several series: in column {str(col)!r}, {why}; keep the rows "
                f"of one {str(col)!r} value in the file (rows of different series are never forecast as one)")
        keep, file_symbol, hidden_notes = _instrument_rows(df[col], symbol, why)
        notes += hidden_notes
        if keep is not None:
            df, ts = df.loc[keep].reset_index(drop=True), ts[keep].reset_index(drop=True)
    report("numbers")
    numbers, nnotes = read_numbers(df, cols, sep)
    notes += nnotes
    _check_quote_volume(numbers, unconfirmed_quote, notes)
    out = pd.DataFrame({"timestamp": ts.reset_index(drop=True)})
    for target in ("open", "high", "low", "close", "volume", "amount"):
        if target in numbers:
            out[target] = numbers[target].to_numpy()
    _tick_volume(out, numbers, cols, notes)
    if "volume" not in out:
        out["volume"] = 0.0
        notes.append("no volume column: volume set to 0 (the model gets no volume signal)")
    return out, file_symbol


def _tick_volume(out: pd.DataFrame, numbers: pd.DataFrame, cols: dict, notes: list[str]) -> None:
    """MetaTrader's tick volume as the volume where the file has no real volume (FX and CFDs: <VOL> is 0)."""
    if "tick_volume" not in numbers or not (numbers["tick_volume"].fillna(0) > 0).any():
        return
    tick = str(cols["tick_volume"])
    if "volume" not in out:
        out["volume"] = numbers["tick_volume"].to_numpy()
        notes.append(f"no volume column: the tick volume {tick!r} (price changes per bar) is used as the volume")
    elif (out["volume"].fillna(0) == 0).all():
        out["volume"] = numbers["tick_volume"].to_numpy()
        notes.append(f"{str(cols['volume'])!r} is zero on every bar (MetaTrader has no real volume for FX and CFDs): "
                     f"the tick volume {tick!r} (price changes per bar) is used as the volume")


def _time_order(out: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Newest-first files (Investing.com and others) put in time order, with a note. Rows in no order
    at all are left as they are: the quality gate reports them ('unsorted')."""
    stamps = out["timestamp"].dropna()
    if len(stamps) < 2:
        return out
    steps = np.diff(pd.DatetimeIndex(stamps).asi8)
    if (steps <= 0).all() and (steps < 0).any():
        out = out.iloc[::-1].reset_index(drop=True)
        notes.append(f"the rows were newest first: put in time order, {_span(stamps.iloc[-1], stamps.iloc[0])}")
    return out


def _span(first: pd.Timestamp, last: pd.Timestamp) -> str:
    """'first -> last', as dates when both are midnights."""
    first, last = (t.tz_localize(None) if t.tzinfo is not None else t for t in (first, last))
    fmt = "%Y-%m-%d" if first == first.normalize() and last == last.normalize() else "%Y-%m-%d %H:%M"
    return f"{first:{fmt}} -> {last:{fmt}}"
