"""The files the studio writes for people. CSV files, who open them in a spreadsheet: every CSV writer (the command
line's outputs, the app's downloads) goes through ``csv_text``/``write_csv``. A text cell a spreadsheet would
run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: a symbol
``=HYPERLINK(...)`` someone stored) is written with a leading apostrophe, OWASP's advice against CSV
injection, so it is shown as the text it is. Numbers are never changed, nor is text that reads as a number
(``-0.5`` in a text column)."""
from __future__ import annotations

import io

from kronos.lazy import pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value``, or the text with an apostrophe before it when a spreadsheet would run it as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
        return value  # a number written as text: a spreadsheet reads it as that number
    except ValueError:
        return "'" + value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``safe_cell`` applied to its text cells and column names (numeric columns as they are)."""
    out = frame.rename(columns=lambda c: safe_cell(c) if isinstance(c, str) else c)
    for i in range(out.shape[1]):
        values = out.iloc[:, i]
        if values.dtype == object or isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            out.isetitem(i, values.astype(object).map(safe_cell))
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` (without its index) as CSV text, safe to open in a spreadsheet."""
    return spreadsheet_safe(frame).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path) -> None:
    """``frame`` (without its index) as a CSV file, safe to open in a spreadsheet."""
    spreadsheet_safe(frame).to_csv(path, index=False)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` (without its index) as the bytes of a Parquet file: a download's, or an HTTP answer's."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
