"""How a text file is laid out, from its first bytes: encoding, separator, banner and header lines."""

from __future__ import annotations

import codecs
import io
import os
import re
from pathlib import Path

from kronos.lazy import pd

from ..errors import DataFormatError
from ..numbers import NA_SET
from .names import ALIASES, WIDE_FIELDS, known_names, norm


def raw_bytes(source, max_bytes: int) -> tuple[bytes, str]:
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


HEAD_BYTES = 64 * 1024
_LINE_END = re.compile(rb"\r\n|\n|\r")
_BOM = b"\xef\xbb\xbf"
# A cell that is data, never a column name: a number, or a date/time starting with digits.
DATA_CELL = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^\d{1,4}[-./:]\d")


def head_text(data: bytes) -> tuple[str, str]:
    """(the first 64 KB decoded, its encoding: UTF-8, else Windows-1252), for sniffing the header."""
    chunk = data[:HEAD_BYTES]
    try:
        # Incremental: a multi-byte character cut at the 64 KB boundary is not an error.
        return codecs.getincrementaldecoder("utf-8-sig")().decode(chunk, final=len(data) <= HEAD_BYTES), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return chunk.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise DataFormatError("the file is not text (binary content); upload a CSV or Parquet file") from None


def text_encoding(data: bytes) -> str:
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


def first_line_bytes(data: bytes, encoding: str, skip: int = 0) -> tuple[int, int]:
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


def head_from(head: str, skip: int) -> str:
    """The decoded head from its non-blank line number ``skip`` (0-based) on."""
    for m in re.finditer(r"[^\r\n]*(?:\r\n|\n|\r|$)", head):
        if m.group().strip():
            if skip == 0:
                return head[m.start():]
            skip -= 1
    return ""


_SEPARATORS = (",", ";", "\t", "|")


def separator(line: str) -> tuple[str, int]:
    """(the candidate that splits ``line`` into the most fields, how many times it occurs)."""
    counts = {sep: line.count(sep) for sep in _SEPARATORS}
    sep = max(counts, key=counts.get)
    return sep, counts[sep]


def banner_lines(lines: list[str]) -> int:
    """How many lines above the header are a banner or title, not a header (CryptoDataDownload writes its
    URL above the header): 0, 1 or 2. The header is the first line that names a date and open, high,
    low and close; every line above it names no column and has fewer fields."""
    bar_names = {a for k in ("timestamp", "open", "high", "low", "close") for a in ALIASES[k] if len(a) > 1}
    for k in range(1, min(3, len(lines))):
        sep, count = separator(lines[k])
        if count == 0 or len({norm(c) for c in split_cells(lines[k], sep)} & bar_names) < 4:
            continue
        above = lines[:k]
        if all(line.count(sep) < count and not {norm(c) for c in split_cells(line, sep)} & known_names()
               for line in above):
            return k
        return 0
    return 0


def two_row_header(lines: list[str], sep: str) -> tuple[list[str], int] | None:
    """(column names 'TICKER:field', header lines) of a pandas/yfinance multi-ticker CSV, whose header is two
    rows, bar fields and tickers in either order (``Price,Close,Close,...`` / ``Ticker,AAPL,MSFT,...``),
    often followed by a ``Date,,,`` row; None for any other file."""
    if len(lines) < 3:
        return None
    a, b = split_cells(lines[0], sep), split_cells(lines[1], sep)
    if len(a) != len(b) or len(a) < 5:
        return None
    fields = set(WIDE_FIELDS)
    def is_fields(cells):
        return all(norm(c) in fields for c in cells[1:])
    if is_fields(a) and not is_fields(b):
        kinds, tickers = a, b
    elif is_fields(b) and not is_fields(a):
        kinds, tickers = b, a
    else:
        return None
    if DATA_CELL.match(tickers[0]) or any(not t or t in NA_SET or norm(t) in known_names() or DATA_CELL.match(t)
                                          for t in tickers[1:]):
        return None  # a first data row (a date, numbers, missing values), not tickers
    c = split_cells(lines[2], sep)
    date_row = len(c) == len(a) and bool(c[0]) and not DATA_CELL.match(c[0]) and not any(c[1:])
    first = c[0] if date_row else "Date"
    return [first] + [f"{t}:{k}" for t, k in zip(tickers[1:], kinds[1:])], 3 if date_row else 2


def split_cells(line: str, sep: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(sep)]


def header_names(header: str, sep: str) -> list[str]:
    """Column names exactly as pandas names them (stripped, 'Unnamed: 0' for blanks, 'close.1' for repeats)."""
    cols = pd.read_csv(io.StringIO(header + "\n"), sep=sep, nrows=0, skipinitialspace=True, index_col=False,
                       dtype=str, engine="python" if sep == "|" else "c").columns
    return [str(c) for c in cols]
