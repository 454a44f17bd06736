"""Read user CSV / Parquet files into Bars, or say exactly what is wrong and how to fix it."""

from __future__ import annotations

import io
import itertools
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataFormatError
from .intervals import format_interval
from .calendars import infer_interval, validate_calendar
from .numbers import read_numbers
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


def _read_table(data: bytes, name: str, max_rows: int) -> tuple[pd.DataFrame, str | None]:
    """(table, CSV separator); the separator is None for Parquet."""
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
        return df, None
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
    # The header is in the first non-blank lines: never split the whole file for it (a 200 MB upload
    # of short rows would take gigabytes as a list of lines).
    lines = [ln for ln in itertools.islice(io.StringIO(text), 1000) if ln.strip()][:5]
    lines = [ln.rstrip("\r\n") for ln in lines]
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
    return df, sep


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
            ts, note = _integer_dates(nums)
            if ts is not None:
                notes.append(note)
            else:
                ts = _epoch_times(nums, raw, label)
                notes.append(f"timestamps read as epoch {_UNIT_WORDS[_epoch_unit(nums)]} (UTC)")
        else:
            text = raw.astype("string").str.strip()
            sample = text.dropna()
            if sample.empty:
                raise DataFormatError(f"column {label} has no dates: fill in the bar times")
            ts = None
            for parse in (_iso_dates, _iso_and_other_dates, _mixed_dates):
                try:
                    ts = parse(text, sample)
                except Exception:  # pandas raises several types for unreadable dates: try the next rule
                    continue
                if ts is not None:
                    break
            if ts is None:
                # Mixed UTC offsets (daylight saving) parse only as UTC.
                try:
                    ts = pd.Series(pd.to_datetime(text, errors="raise", utc=True, format="ISO8601"))
                    zone = _zone_of_offsets(text, ts) if timezone is None else None
                    if zone is not None:
                        ts = ts.dt.tz_convert(zone)
                        notes.append(f"timestamps carry UTC offsets that change on {zone}'s daylight-saving dates: "
                                     f"read as {zone} local times (pass the timezone to override)")
                    elif timezone is None:
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


# Dates written as integers, by digit count. Any 8-digit number is below 1e8 epoch seconds (March 1973)
# and a YYYYMMDD one (1900-2100) below 2.2e7 (September 1970), which the epoch floor below rejects
# anyway, so reading them as dates takes nothing plausible away. Likewise 14 digits as epoch
# milliseconds would be the years 2572-2635. YYYYMMDDHHMM (12 digits) is left out: as epoch
# milliseconds it is a valid 1976 time, so that form is ambiguous.
_INT_DATE_FORMATS = {8: ("%Y%m%d", "YYYYMMDD"), 14: ("%Y%m%d%H%M%S", "YYYYMMDDHHMMSS")}
_INT_DATE_YEARS = (1900, 2100)
# Epoch numbers must put every bar on or after 1971-01-01 UTC. Anything earlier is not market history
# but a unit slip (seconds divided by 1000 land in January 1970), a date written as a number that is
# not a valid date (20231302 as seconds is August 1970) or a row counter. Likewise no bar lies after
# 2100 (the unit is picked by size, so this catches numbers like 20231302093000 as milliseconds).
_EPOCH_FLOOR = pd.Timestamp("1971-01-01", tz="UTC")
_EPOCH_CEILING = pd.Timestamp("2100-01-01", tz="UTC")
_UNIT_WORDS = dict(s="seconds", ms="milliseconds", us="microseconds", ns="nanoseconds")


def _integer_dates(nums: pd.Series) -> tuple[pd.Series | None, str | None]:
    """(dates, note) when every number is a valid YYYYMMDD (or YYYYMMDDHHMMSS) date, else (None, None)."""
    v = nums.to_numpy(dtype="float64")
    if not len(v) or not np.all(np.isfinite(v)) or np.any(v != np.floor(v)) or v.min() < 1e7:
        return None, None
    digits = {len(str(int(x))) for x in (v.min(), v.max())}
    if len(digits) != 1 or (n := digits.pop()) not in _INT_DATE_FORMATS:
        return None, None
    fmt, shown = _INT_DATE_FORMATS[n]
    text = pd.Series(v.astype("int64"), index=nums.index).astype(str)
    ts = pd.to_datetime(text, format=fmt, errors="coerce")
    lo, hi = _INT_DATE_YEARS
    if ts.isna().any() or not ts.dt.year.between(lo, hi).all():
        return None, None
    example = ts.iloc[0].date() if n == 8 else ts.iloc[0]
    return pd.Series(ts), f"dates read as {shown} numbers (e.g. {text.iloc[0]} = {example})"


def _epoch_unit(nums: pd.Series) -> str:
    mag = float(np.nanmax(np.abs(nums))) if len(nums) else 0
    return "s" if mag < 1e11 else "ms" if mag < 1e14 else "us" if mag < 1e17 else "ns"


def _epoch_times(nums: pd.Series, raw: pd.Series, label: str) -> pd.Series:
    """UTC times from epoch numbers (unit from their size), or DataFormatError naming the fix."""
    mag = float(np.nanmax(np.abs(nums))) if len(nums) else 0
    if mag < 1e5:
        raise DataFormatError(
            f"column {label} holds small numbers (e.g. {raw.iloc[0]!r}), not dates: "
            "use dates like 2024-07-03 or epoch seconds/milliseconds")
    unit = _epoch_unit(nums)
    how = ("give seconds or milliseconds since 1970-01-01 UTC (e.g. 1672617600 or 1672617600000 for "
           "2023-01-02), or dates like 2024-07-03")
    try:
        ts = pd.Series(pd.to_datetime(nums.round().astype("int64"), unit=unit, utc=True))
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        raise DataFormatError(
            f"column {label} holds numbers (e.g. {raw.iloc[int(np.argmax(np.abs(nums.to_numpy())))]!r}) that are "
            f"neither dates nor epoch times in a usable range: {how}") from None
    first = int(ts.to_numpy().argmin())
    if ts.iloc[first] < _EPOCH_FLOOR:
        hint = ""
        if {len(str(abs(int(x)))) for x in nums.iloc[[first, int(nums.to_numpy().argmax())]]} == {8}:
            bad = _first_bad_int_date(nums)
            if bad is not None:
                hint = f"; if they are YYYYMMDD dates, {bad} is not a valid date"
        raise DataFormatError(
            f"timestamps in column {label} read as epoch {_UNIT_WORDS[unit]} land in {ts.iloc[first].date()} "
            f"(e.g. {raw.iloc[first]!r}), before 1971: the numbers are too small for bar times (epoch seconds "
            f"divided by 1000?){hint}; {how}")
    last = int(ts.to_numpy().argmax())
    if ts.iloc[last] >= _EPOCH_CEILING:
        raise DataFormatError(
            f"timestamps in column {label} read as epoch {_UNIT_WORDS[unit]} land in {ts.iloc[last].date()} "
            f"(e.g. {raw.iloc[last]!r}), after 2100: the numbers are too large for bar times; {how}")
    return ts


def _first_bad_int_date(nums: pd.Series) -> str | None:
    lo, hi = _INT_DATE_YEARS
    for x in nums.head(10_000):
        t = pd.to_datetime(str(int(x)), format="%Y%m%d", errors="coerce")
        if pd.isna(t) or not lo <= t.year <= hi:
            return str(int(x))
    return None


# Exchange time zones, in order of preference where several share one daylight-saving rule.
_DST_ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Toronto", "Europe/London",
              "Europe/Berlin", "Europe/Zurich", "Australia/Sydney", "America/Sao_Paulo", "Pacific/Auckland")


def _zone_of_offsets(text: pd.Series, utc: pd.Series) -> str | None:
    """The exchange time zone whose offsets equal the file's own on every row (e.g. -05:00 in winter
    and -04:00 from the second Sunday of March: America/New_York), or None."""
    found = text.str.extract(r"([+-])(\d{2}):?(\d{2})$")
    if found.isna().any().any():
        return None
    sign = np.where(found[0] == "-", -1, 1)
    offsets = sign * (found[1].astype(int) * 60 + found[2].astype(int)).to_numpy()
    naive = utc.dt.tz_localize(None)
    for zone in _DST_ZONES:
        local = utc.dt.tz_convert(zone).dt.tz_localize(None)
        if np.array_equal(((local - naive).dt.total_seconds() // 60).to_numpy(), offsets):
            return zone
    return None


_ISO_DATE = r"^\d{4}-\d{1,2}-\d{1,2}"


def _iso_dates(text: pd.Series, sample: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(text, errors="raise", format="ISO8601"))


def _iso_and_other_dates(text: pd.Series, sample: pd.Series) -> pd.Series | None:
    """Files mixing ISO dates with another form: each form by its own rule, so that a day-first
    reading of the others (03/01/2023) never turns an ISO 2023-01-04 into 2023-04-01."""
    iso = text.str.match(_ISO_DATE).fillna(False).astype(bool)
    if not iso.any() or iso.all():
        return None
    other = _mixed_dates(text[~iso], sample[~sample.str.match(_ISO_DATE).fillna(False).astype(bool)])
    parts = pd.concat([_iso_dates(text[iso], sample), other]).sort_index()
    return pd.Series(pd.to_datetime(parts, errors="raise"))


def _mixed_dates(text: pd.Series, sample: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(text, errors="raise", format="mixed", dayfirst=_looks_dayfirst(sample)))


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
    separators, epoch seconds or milliseconds (from 1971 on), YYYYMMDD or YYYYMMDDHHMMSS integer
    dates, with or without timezone. Numbers follow the file's locale convention: '1.234,5' in
    ';'-separated files, '1,234.5' otherwise (with a note where that decides a value). ``timezone``
    localises naive times (or converts aware ones); ``calendar`` must be a known calendar code.
    Anything else raises DataFormatError with the fix.
    """
    try:
        return _read(source, name, timezone, symbol, interval, calendar, max_bytes, max_rows)
    except DataFormatError:
        raise
    except Exception as exc:  # never a raw traceback for a user's file
        raise DataFormatError(f"could not read the file ({type(exc).__name__}: {exc}); save it as a CSV with "
                              "columns date,open,high,low,close,volume") from None


def _read(source, name, timezone, symbol, interval, calendar, max_bytes, max_rows) -> Bars:
    try:
        calendar = validate_calendar(calendar)
    except ValueError as exc:
        raise DataFormatError(str(exc)) from None
    data, found_name = _raw_bytes(source, max_bytes)
    name = name or found_name or "upload"
    df, sep = _read_table(data, name, max_rows)
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
    ts, tnotes = _parse_time(df, cols["timestamp"], timezone)
    notes += tnotes
    numbers, nnotes = read_numbers(df, cols, sep)
    notes += nnotes
    out = pd.DataFrame({"timestamp": ts.reset_index(drop=True)})
    for target in numbers.columns:
        out[target] = numbers[target].to_numpy()
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
