"""Read user CSV / Parquet files into Bars, or say exactly what is wrong and how to fix it."""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataFormatError
from .intervals import format_interval
from .calendars import infer_interval
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
}
_ADJ_CLOSE = ("adjclose", "adjustedclose", "adjclosing")
_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


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


def _read_table(data: bytes, name: str, max_rows: int) -> pd.DataFrame:
    if not data.strip():
        raise DataFormatError("the file is empty: export the bars again, with a header row")
    suffix = Path(name).suffix.lower()
    if data[:4] == b"PAR1" or suffix in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:
            raise DataFormatError(f"not a readable Parquet file ({type(exc).__name__}: {exc}); re-export it, or use CSV") from None
        if isinstance(df.index, pd.DatetimeIndex):
            df = df.reset_index(names=df.index.name or "timestamp")
        if len(df) > max_rows:
            raise DataFormatError(f"the file has {len(df):,} rows, over the {max_rows:,} row limit: keep a shorter date range")
        return df
    if suffix in (".xlsx", ".xls", ".json", ".zip", ".gz"):
        raise DataFormatError(f"{suffix} files are not supported: save the sheet as CSV (comma or semicolon separated) or Parquet")
    text = None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text[:4096]:
        raise DataFormatError("the file is not text (binary content); upload a CSV or Parquet file")
    lines = [ln for ln in text.splitlines() if ln.strip()][:5]
    if not lines:
        raise DataFormatError("the file is empty: export the bars again, with a header row")
    header = lines[0]
    # Separator: the candidate that splits the header into the most fields, consistently.
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    sep = max(counts, key=counts.get)
    if counts[sep] == 0:
        raise DataFormatError(
            f"found a single column ({header[:60]!r}): separate columns with ',' or ';' and include a header "
            "row like date,open,high,low,close,volume")
    try:
        with warnings.catch_warnings():
            # pandas only *warns* when rows have more fields than the header; that loses data.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, nrows=max_rows + 1,
                             skipinitialspace=True, on_bad_lines="error", index_col=False,
                             engine="python" if sep == "|" else "c")
    except Exception as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DataFormatError(f"could not parse the CSV ({msg}): every row needs the same number of '{sep}'-separated fields as the header") from None
    if len(df) > max_rows:
        raise DataFormatError(f"the file has more than {max_rows:,} rows: keep a shorter date range")
    return df


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


def _to_number(col: pd.Series, name: str) -> tuple[pd.Series, int]:
    """Numbers from text like '1,234.5', '1.234,5', '12.3M', '4,5K', '-'; (values, count unreadable)."""
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64"), 0
    s = col.astype("string").str.strip().str.replace(r"[\s$€£%]", "", regex=True)
    blank = s.isna() | s.isin(["", "-", "nan", "NaN", "null", "None", "NA"])
    mult = pd.Series(1.0, index=s.index)
    suf = s.str[-1:].str.upper()
    has_suf = suf.isin(list(_SUFFIX)) & s.str[:-1].str.contains(r"\d", regex=True).fillna(False)
    mult[has_suf.fillna(False)] = suf[has_suf.fillna(False)].map(_SUFFIX)
    s = s.where(~has_suf.fillna(False), s.str[:-1])
    both = s.str.contains(",", regex=False).fillna(False) & s.str.contains(".", regex=False).fillna(False)
    comma_last = both & (s.str.rfind(",") > s.str.rfind("."))
    # "1.234,5" is European; "1,234.5" is English; a lone comma ("4,5") is a decimal comma.
    s = s.where(~comma_last, s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    s = s.where(~(both & ~comma_last), s.str.replace(",", "", regex=False))
    lone = ~both & s.str.contains(",", regex=False).fillna(False)
    s = s.where(~lone, s.str.replace(",", ".", regex=False))
    out = pd.to_numeric(s, errors="coerce").astype("float64") * mult
    bad = int((out.isna() & ~blank).sum())
    return out, bad


def _parse_time(df: pd.DataFrame, col, timezone: str | None) -> tuple[pd.Series, list[str]]:
    notes: list[str] = []
    if isinstance(col, tuple):
        raw = df[col[0]].astype("string").str.strip() + " " + df[col[1]].astype("string").str.strip()
        label = f"{col[0]!r} + {col[1]!r}"
    else:
        raw = df[col]
        label = repr(col)
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(raw):
        ts = pd.Series(pd.to_datetime(raw))
    else:
        nums = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw.astype("float64")
        if len(raw) and nums.notna().all():
            mag = float(np.nanmax(np.abs(nums))) if len(nums) else 0
            if mag < 1e5:
                raise DataFormatError(
                    f"column {label} holds small numbers (e.g. {raw.iloc[0]!r}), not dates: "
                    "use dates like 2024-07-03 or epoch seconds/milliseconds")
            unit = "s" if mag < 1e11 else "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"
            ts = pd.Series(pd.to_datetime(nums.round().astype("int64"), unit=unit, utc=True))
            notes.append(f"timestamps read as epoch {dict(s='seconds', ms='milliseconds', us='microseconds', ns='nanoseconds')[unit]} (UTC)")
        else:
            text = raw.astype("string").str.strip()
            sample = text.dropna()
            if sample.empty:
                raise DataFormatError(f"column {label} has no dates: fill in the bar times")
            ts = None
            for kwargs in ({"format": "ISO8601"}, {"format": "mixed", "dayfirst": _looks_dayfirst(sample)}):
                try:
                    parsed = pd.to_datetime(text, errors="raise", **kwargs)
                    ts = pd.Series(parsed)
                    break
                except (ValueError, TypeError, OverflowError):
                    continue
                except Exception:
                    continue
            if ts is None:
                # Mixed UTC offsets (daylight saving) parse only as UTC.
                try:
                    ts = pd.Series(pd.to_datetime(text, errors="raise", utc=True, format="ISO8601"))
                    if timezone is None:
                        notes.append("timestamps have changing UTC offsets; converted to UTC - pass the exchange timezone to see local times")
                except Exception:
                    bad = _first_bad_date(sample)
                    raise DataFormatError(
                        f"could not read the dates in column {label} (e.g. {bad!r}): use ISO dates like "
                        "2024-07-03 or 2024-07-03 09:30:00, or epoch seconds/milliseconds") from None
    if ts.isna().any():
        notes.append(f"{int(ts.isna().sum())} rows have no timestamp")
    try:
        if getattr(ts.dt, "tz", None) is not None and timezone is not None:
            ts = ts.dt.tz_convert(timezone)
        elif getattr(ts.dt, "tz", None) is None and timezone is not None:
            ts = ts.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    except Exception as exc:
        raise DataFormatError(f"unknown timezone {timezone!r} ({exc}); use an IANA name like 'America/New_York' or 'UTC'") from None
    return ts, notes


def _looks_dayfirst(sample: pd.Series) -> bool:
    first = sample.head(200).str.extract(r"^(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}")
    if first.dropna().empty:
        return False
    a = pd.to_numeric(first[0], errors="coerce")
    b = pd.to_numeric(first[1], errors="coerce")
    if (b > 12).any():
        return False
    # Dotted dates (02.01.2024) are a European day-first convention.
    return bool((a > 12).any() or sample.head(200).str.match(r"^\d{1,2}\.\d{1,2}\.\d{2,4}").all())


def _first_bad_date(sample: pd.Series) -> str:
    for v in sample.head(50):
        try:
            pd.to_datetime(v, format="mixed")
        except Exception:
            return str(v)[:40]
    return str(sample.iloc[0])[:40]


def read_bars_file(source, name: str | None = None, *, timezone: str | None = None, symbol: str | None = None,
                   interval: str | None = None, calendar: str | None = None,
                   max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Bars:
    """Bars from a CSV or Parquet file (path, bytes or file-like).

    Accepts date/datetime/timestamp/time columns (or a datetime index, or separate date and time
    columns), capitalised or decorated headers ("Adj Close", "Vol."), ',' ';' tab or '|'
    separators, epoch seconds or milliseconds, with or without timezone. ``timezone`` localises
    naive times (or converts aware ones). Anything else raises DataFormatError with the fix.
    """
    try:
        return _read(source, name, timezone, symbol, interval, calendar, max_bytes, max_rows)
    except DataFormatError:
        raise
    except Exception as exc:  # never a raw traceback for a user's file
        raise DataFormatError(f"could not read the file ({type(exc).__name__}: {exc}); save it as a CSV with "
                              "columns date,open,high,low,close,volume") from None


def _read(source, name, timezone, symbol, interval, calendar, max_bytes, max_rows) -> Bars:
    data, found_name = _raw_bytes(source, max_bytes)
    name = name or found_name or "upload"
    df = _read_table(data, name, max_rows)
    if len(df.columns) == 0 or len(df) == 0:
        raise DataFormatError("the file has a header but no rows of data: export the bars again")
    cols, notes = _map_columns(df)
    shown = [str(c) for c in df.columns][:20]
    if "timestamp" not in cols:
        first = df.columns[0]
        head = df[first].dropna().astype(str).head(20)
        try:
            probe = pd.to_datetime(head, format="mixed", dayfirst=_looks_dayfirst(head))
            ok = len(probe) > 0 and pd.to_numeric(head, errors="coerce").notna().sum() == 0
        except Exception:
            ok = False
        if ok and _norm(first) not in {a for v in _ALIASES.values() for a in v}:
            cols["timestamp"] = first  # an unnamed datetime index column
        else:
            raise DataFormatError(
                f"no date/time column found; columns are {shown}: name the bar time column "
                "'date', 'datetime' or 'timestamp'")
    for target in ("open", "high", "low", "close"):
        if target not in cols:
            raise DataFormatError(
                f"no {target!r} column found; columns are {shown}: rename your "
                f"{ {'open': 'opening', 'high': 'highest', 'low': 'lowest', 'close': 'closing'}[target] } price column to {target!r}")
    ts, tnotes = _parse_time(df, cols["timestamp"], timezone)
    notes += tnotes
    out = pd.DataFrame({"timestamp": ts.reset_index(drop=True)})
    for target in ("open", "high", "low", "close", "volume", "amount"):
        if target not in cols:
            continue
        values, bad = _to_number(df[cols[target]].reset_index(drop=True), target)
        if len(values) and values.isna().all():
            raise DataFormatError(
                f"column {str(cols[target])!r} (used as {target!r}) has no numbers (e.g. {str(df[cols[target]].iloc[0])[:30]!r}): "
                "prices must be plain numbers like 123.45")
        if bad:
            notes.append(f"{bad} values in {str(cols[target])!r} were not numbers and are now missing")
        out[target] = values
    if "volume" not in out:
        out["volume"] = 0.0
        notes.append("no volume column: volume set to 0 (the model gets no volume signal)")
    out = out.dropna(subset=["timestamp"]) if out["timestamp"].notna().any() else out
    if out["timestamp"].isna().all():
        raise DataFormatError("no row has a readable timestamp: use dates like 2024-07-03 09:30")
    out = out.reset_index(drop=True)
    if interval is None:
        step = infer_interval(pd.DatetimeIndex(out["timestamp"]).dropna())
        interval = format_interval(step) if step is not None else "1d"
        if step is None:
            notes.append("a single bar: interval assumed to be 1d")
    stem = Path(name).stem if name else "upload"
    return Bars.from_frame(
        out, source="file", symbol=symbol or stem or "upload", interval=interval, timezone=timezone,
        calendar=calendar, origin=f"user file {name}", notes=notes,
        fetched_at=pd.Timestamp.now(tz="UTC"),
    )
