"""A CSV's or Parquet file's needed columns as a table of text, or the row that stops it being read."""

from __future__ import annotations

import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from kronos.lazy import pd

from ..errors import DataFormatError
from ..numbers import NA_STRINGS
from .columns import volume_currency
from .instruments import text_columns, wide_columns
from .layouts import NO_HEADER_FIX, headerless_layout
from .names import known_names, norm
from .sniff import (
    DATA_CELL,
    HEAD_BYTES,
    banner_lines,
    first_line_bytes,
    head_from,
    head_text,
    header_names,
    separator,
    split_cells,
    text_encoding,
    two_row_header,
)

_TEXT_LINE_END = re.compile(r"\r\n|\n|\r")

@dataclass
class Table:
    """The columns a reader needs, as text (Parquet: as stored), and how the file was laid out."""

    df: pd.DataFrame
    sep: str | None
    columns: list  # every column of the file, for messages (df holds only the ones used)
    layout: str | None = None  # "binance" or "mt4" for the recognised headerless exports
    notes: list = field(default_factory=list)
    wide: dict = field(default_factory=dict)  # column -> (instrument, bar field) of a wide multi-instrument file


def read_table(data: bytes, name: str, max_rows: int) -> Table:
    """The needed columns of a CSV (as text) or a Parquet file (as stored)."""
    if not data or data.isspace():
        raise DataFormatError("the file is empty: export the bars again, with a header row")
    suffix = Path(name).suffix.lower()
    if data[:4] == b"PAR1" or suffix in (".parquet", ".pq"):
        df = _read_parquet(data, max_rows)
        names = [str(c) for c in df.columns]
        return Table(df, None, names, wide=wide_columns(names))
    if suffix in (".xlsx", ".xls", ".json", ".zip", ".gz"):
        raise DataFormatError(f"{suffix} files are not supported: save the sheet as CSV (comma or semicolon separated) or Parquet")
    head, encoding = head_text(data)
    if "\x00" in head[:4096]:
        raise DataFormatError("the file is not text (binary content); upload a CSV or Parquet file")
    lines = [ln for ln in _TEXT_LINE_END.split(head, maxsplit=1000)[:1000] if ln.strip()][:5]
    if not lines:
        raise DataFormatError("the file is empty: export the bars again, with a header row")
    notes = []
    skip = banner_lines(lines)
    if skip:
        notes.append(f"skipped {'the first line' if skip == 1 else f'the first {skip} lines'} "
                     f"({lines[0][:60]!r}): a title above the header, not part of the table")
    header = lines[skip]
    # Separator: the candidate that splits the header into the most fields.
    sep, count = separator(header)
    if count == 0:
        raise DataFormatError(
            f"found a single column ({header[:60]!r}): separate columns with ',' or ';' and include a header "
            "row like date,open,high,low,close,volume")
    cells = split_cells(header, sep)
    data_cells = sum(bool(DATA_CELL.match(c)) for c in cells)
    if data_cells == len(cells):
        layout, names, note = headerless_layout(cells, header)
        start, _ = first_line_bytes(data, encoding)
        df = _tokenize(data, start, sep, names, names, max_rows, header=False, first_line=1)
        return Table(df, sep, names, layout, [note])
    if 2 * data_cells >= len(cells) >= 3 and not any(norm(c) in known_names() for c in cells):
        raise DataFormatError(f"the first line looks like data, not a header ({header[:60]!r}): {NO_HEADER_FIX}")
    two_rows = two_row_header(lines[skip:], sep)
    if two_rows is not None:
        names, rows = two_rows
        skip += rows - 1
        notes.append(f"a header of {rows} rows (tickers and bar fields, as pandas/yfinance write multi-ticker "
                     "downloads): read as columns TICKER:field")
    else:
        try:
            names = header_names(header, sep)
        except Exception:  # an odd header: the careful reader decides (and names the problem)
            names = None
    start, end = first_line_bytes(data, encoding, skip)
    if names is None:
        df = _careful_table(data[start:], sep, None, max_rows, first_line=skip + 1)
        names = [str(c) for c in df.columns]
        return Table(df, sep, names, notes=notes, wide=wide_columns(names))
    wide = wide_columns(names)
    text = text_columns(head_from(head, skip), len(data) <= HEAD_BYTES, sep, names)
    wanted = _wanted(names, text)
    wanted += [c for c in wide if c not in wanted]
    df = _tokenize(data, end, sep, names, wanted, max_rows, header=True, first_line=skip + 2)
    return Table(df, sep, names, notes=notes, wide=wide)


def _read_parquet(data: bytes, max_rows: int) -> pd.DataFrame:
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


def _wanted(names: list[str], text: list[str] = ()) -> list[str]:
    """The columns a reader uses: anything named like a bar field, a symbol or an adjusted close, the
    first column (it may be an unnamed datetime index) and the ``text`` columns (words, not numbers: a
    possible instrument column under an unknown name), volumes named by a currency. The rest (indicators, 'Change %') is never parsed."""
    known = known_names()
    return [c for i, c in enumerate(names) if i == 0 or norm(c) in known or c in text or volume_currency(norm(c))]


def _tokenize(data: bytes, start: int, sep: str, names: list[str], wanted: list[str], max_rows: int,
              header: bool, first_line: int) -> pd.DataFrame:
    """The wanted columns as text, by pyarrow's multi-threaded CSV reader; anything it will not read
    as plainly laid out (ragged rows, a non-UTF-8 byte in a used column, odd quoting) goes to the
    careful pandas reader, which also words the error."""
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
    enc = text_encoding(data)
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
