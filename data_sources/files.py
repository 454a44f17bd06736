"""Read user CSV / Parquet files into Bars, or say exactly what is wrong and how to fix it: the reader's
steps in order (its parts, one job each, are in ``data_sources.reading``)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from kronos.errors import InputError
from kronos.lazy import np, pd

from .calendar_inference import with_inferred_calendar
from .calendars import CRYPTO, infer_interval, validate_calendar
from .dates import looks_dayfirst, parse_time
from .errors import DataFormatError
from .intervals import format_interval
from .numbers import read_numbers
from .reading.columns import check_quote_volume, currency_volumes, map_columns, use_tick_volume
from .reading.instruments import (
    instrument_rows,
    pick_wide,
    select_symbol,
    select_venue,
    symbol_column,
    varying_text_column,
)
from .reading.layouts import binance_klines, binance_symbol
from .reading.names import ADJ_CLOSE, ALIASES, VENUE_COLUMNS, norm
from .reading.sniff import raw_bytes
from .reading.tables import read_table
from .schema import Bars

MAX_BYTES = 200 * 1024 * 1024
MAX_ROWS = 2_000_000


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


# A date (and time) ending a file's name: a daily download names each file by its day (AAPL_2026-11-25.csv,
# AAPL-20261125.csv, AAPL 2026-11-25 1530.csv, AAPL_2020-01-01_2026-11-25.csv), and every day's file is one series.
_TRAILING_DATE = re.compile(r"[\s_.-]+(?P<date>\d{4}[-_.]?\d{2}[-_.]?\d{2})(?:[T\s_.-]?\d{2}[:.-]?\d{2}(?:[:.-]?\d{2})?)?$")


def name_of_file(name: str) -> tuple[str, bool]:
    """(the series' name a file's name gives, whether a date ending it was left out): the name without its
    extension and without the calendar dates (not any eight digits) that end it; never empty."""
    stem = Path(name).stem
    series, cut = stem, False
    while (m := _TRAILING_DATE.search(series)) and m.start() > 0:
        try:
            datetime.strptime(re.sub(r"[-_.]", "", m.group("date")), "%Y%m%d")
        except ValueError:
            break
        series, cut = series[:m.start()], True
    return series, cut


def read_bars_file(source, name: str | None = None, *, timezone: str | None = None, symbol: str | None = None,
                   interval: str | None = None, calendar: str | None = None, exchange: str | None = None,
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
    ``symbol`` names the series. Without either, the series is named after the file, a date ending its name
    left out (``name_of_file``; the bars say so in ``Bars.naming``). ``exchange``: the venue the bars come from,
    part of the series' name; a file with an exchange column names its own (and ``exchange`` picks the rows of
    one of several). ``timezone`` localises naive times (or converts
    aware ones); ``calendar`` must be a known calendar code. ``progress(stage, fraction)``, if given,
    is called as each stage starts ("reading", "parsing", "dates", "numbers", "checking", "done")
    with the overall fraction done (0.0 to 1.0, never decreasing); an exception it raises is
    re-raised unchanged. Anything else raises DataFormatError with the fix.
    """
    try:
        return _read(source, name, timezone, symbol, interval, calendar, exchange, max_bytes, max_rows,
                     _reporter(progress))
    except (DataFormatError, InputError):  # already worded (a bad symbol names its fix)
        raise
    except _CallbackError as exc:
        raise exc.original from None
    except Exception as exc:  # never a raw traceback for a user's file
        raise DataFormatError(f"could not read the file ({type(exc).__name__}: {exc}); save it as a CSV with "
                              "columns date,open,high,low,close,volume") from None


def _read(source, name, timezone, symbol, interval, calendar, venue, max_bytes, max_rows, report) -> Bars:
    try:
        calendar = validate_calendar(calendar)
    except ValueError as exc:
        raise DataFormatError(str(exc)) from None
    report("reading")
    data, found_name = raw_bytes(source, max_bytes)
    named = name or found_name or None  # a file's name: where its bars come from (bytes without one have none)
    name = named or "upload"
    report("parsing")
    table = read_table(data, name, max_rows)
    del data  # the columns are parsed: the raw bytes are no longer needed
    df, notes = table.df, list(table.notes)
    if len(df.columns) == 0 or len(df) == 0:
        raise DataFormatError("the file has a header but no rows of data: export the bars again")
    if table.layout == "binance":
        report("dates")
        out, kline_interval, knotes = binance_klines(df)
        notes += knotes
        if timezone is not None:
            out["timestamp"] = _to_zone(out["timestamp"], timezone)
        file_symbol = binance_symbol(name)
        naming = f"after the file's name {name}, as Binance names its files" if file_symbol and not symbol else None
        interval = interval or kline_interval
        calendar = CRYPTO if calendar is None else calendar
        report("numbers")
    else:
        if table.wide:
            df, symbol = pick_wide(df, table.wide, symbol, notes)
        out, file_symbol, venue = _bars_columns(df, table.sep, table.columns, symbol, venue, timezone, notes, report)
        naming = None
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
    series = file_symbol or symbol
    if not series:  # no one named it: the file's name does, and the bars say so
        series, dated = name_of_file(name) if named else ("upload", False)
        naming = (f"after the file's name {name}" + (", the date ending it left out" if dated else "") if named
                  else "by default: the bars came without a file name or a symbol")
    bars = Bars.from_frame(
        out, source="file", symbol=series, interval=interval, timezone=timezone,
        calendar=calendar, origin=f"user file {name}", notes=notes,
        fetched_at=pd.Timestamp.now(tz="UTC"), venue=venue, naming=naming,
    )
    report("done")
    return with_inferred_calendar(bars)  # no calendar given: the one inference, evidence kept on the bars


def _to_zone(ts: pd.Series, timezone: str) -> pd.Series:
    try:
        return ts.dt.tz_convert(timezone)
    except Exception as exc:
        raise DataFormatError(f"unknown timezone {timezone!r} ({exc}); use an IANA name like 'America/New_York' or 'UTC'") from None


def _bars_columns(df: pd.DataFrame, sep, columns: list, symbol, venue, timezone, notes: list[str],
                  report) -> tuple[pd.DataFrame, str | None, str | None]:
    """(timestamp + value columns, the file's symbol, the venue: its exchange column's or ``venue``) from a table
    with a header row; notes are appended.
    The columns are checked before the instrument is chosen: a table that holds no bars (e.g. a 'name'
    column and no prices) is told so, not asked for a ticker."""
    cols, map_notes = map_columns(df)
    shown = [str(c) for c in columns][:20]
    if "timestamp" not in cols:
        first = df.columns[0]
        head = df[first].dropna().astype(str).head(20)
        try:
            probe = pd.to_datetime(head, format="mixed", dayfirst=looks_dayfirst(head))
            ok = len(probe) > 0 and pd.to_numeric(head, errors="coerce").notna().sum() == 0
        except Exception:
            ok = False
        if ok and norm(first) not in {a for v in ALIASES.values() for a in v}:
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
    unconfirmed_quote = currency_volumes(df, cols, symbol, map_notes)
    named_symbol = symbol_column(df)
    df, file_symbol, symbol_notes = select_symbol(df, symbol)
    notes += symbol_notes + map_notes
    report("dates")
    ts, tnotes = parse_time(df, cols["timestamp"], timezone)
    notes += tnotes
    keep, venue, venue_notes = select_venue(df, ts, venue)  # where the bars come from, when the file says
    notes += venue_notes
    if keep is not None:
        df, ts = df.loc[keep].reset_index(drop=True), ts[keep].reset_index(drop=True)
    used = {c for v in cols.values() for c in (v if isinstance(v, tuple) else (v,))}
    used |= {c for c in df.columns if norm(c) in ADJ_CLOSE or norm(c) in VENUE_COLUMNS}
    hidden = varying_text_column(df, ts, used)
    if hidden is not None:
        col, why = hidden
        if named_symbol is not None:
            raise DataFormatError(
                f"the rows of {file_symbol} still hold several series: in column {str(col)!r}, {why}; keep the rows "
                f"of one {str(col)!r} value in the file (rows of different series are never forecast as one)")
        keep, file_symbol, hidden_notes = instrument_rows(df[col], symbol, why)
        notes += hidden_notes
        if keep is not None:
            df, ts = df.loc[keep].reset_index(drop=True), ts[keep].reset_index(drop=True)
    report("numbers")
    numbers, nnotes = read_numbers(df, cols, sep)
    notes += nnotes
    check_quote_volume(numbers, unconfirmed_quote, notes)
    out = pd.DataFrame({"timestamp": ts.reset_index(drop=True)})
    for target in ("open", "high", "low", "close", "volume", "amount"):
        if target in numbers:
            out[target] = numbers[target].to_numpy()
    use_tick_volume(out, numbers, cols, notes)
    if "volume" not in out:
        out["volume"] = 0.0
        notes.append("no volume column: volume set to 0 (the model gets no volume signal)")
    return out, file_symbol, venue


def _time_order(out: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Newest-first files (Investing.com and others) put in time order, with a note. Rows in no order
    at all, or newest first but for a few rows out of place, are left as they are: the quality gate reports
    them ('unsorted': which way the file runs and the rows out of order) and its sort fix orders them."""
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
