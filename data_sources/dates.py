"""The date/time column of a user's file: ISO and local formats, day-first or month-first (decided from
the values, never guessed per row), 12-hour clocks, epoch seconds to nanoseconds, integer dates, UTC
offsets and the timezone they imply; a column that cannot be read is refused with the first bad value."""
from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from kronos.lazy import np, pd

from .errors import DataFormatError
from .numbers import NA_STRINGS


def parse_time(df: pd.DataFrame, col, timezone: str | None) -> tuple[pd.Series, list[str]]:
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
        if pd.api.types.is_numeric_dtype(raw):
            nums = raw.astype("float64")
        elif len(raw) and raw.notna().all() and pd.to_numeric(raw.iloc[:1], errors="coerce").notna().all():
            nums = pd.to_numeric(raw, errors="coerce")
        else:  # a missing or non-numeric first cell: not all numbers (and no million failed parses to learn it)
            nums = pd.Series([np.nan])
        if len(raw) and nums.notna().all():
            ts, note = _integer_dates(nums)
            if ts is not None:
                notes.append(note)
            else:
                ts = _epoch_times(nums, raw, label)
                notes.append(f"timestamps read as epoch {_UNIT_WORDS[_epoch_unit(nums)]} (UTC)")
        else:
            text = raw.astype("string").str.strip()
            text = text.mask(text.isin(NA_STRINGS))  # ' NA' is as missing as 'NA'
            sample = text.dropna()
            if sample.empty:
                raise DataFormatError(f"column {label} has no dates: fill in the bar times")
            ts = None
            for parse in (_am_pm_hours, _iso_dates, _iso_and_other_dates, _uniform_dates, _mixed_dates):
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
EPOCH_FLOOR = pd.Timestamp("1971-01-01", tz="UTC")
EPOCH_CEILING = pd.Timestamp("2100-01-01", tz="UTC")
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
    first = int(pd.DatetimeIndex(ts).asi8.argmin())  # integers: no Timestamp objects for a million rows
    if ts.iloc[first] < EPOCH_FLOOR:
        hint = ""
        if {len(str(abs(int(x)))) for x in nums.iloc[[first, int(nums.to_numpy().argmax())]]} == {8}:
            bad = _first_bad_int_date(nums)
            if bad is not None:
                hint = f"; if they are YYYYMMDD dates, {bad} is not a valid date"
        raise DataFormatError(
            f"timestamps in column {label} read as epoch {_UNIT_WORDS[unit]} land in {ts.iloc[first].date()} "
            f"(e.g. {raw.iloc[first]!r}), before 1971: the numbers are too small for bar times (epoch seconds "
            f"divided by 1000?){hint}; {how}")
    last = int(pd.DatetimeIndex(ts).asi8.argmax())
    if ts.iloc[last] >= EPOCH_CEILING:
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


# Common fixed forms, parsed field by field at C speed (RE2 and numpy) instead of value by value. Each
# gives what the general rules below give (ISO8601; day/month order by _looks_dayfirst): any value
# off the form or not a real date (2024-02-30) sends the column to those rules, which word the error.
_TIME_FIELDS = r"(?:{sep}(?P<H>\d{{{h}}}):(?P<M>\d{{2}})(?::(?P<S>\d{{2}}))?)?"
_OTHER_FORMS = tuple(rx + _TIME_FIELDS.format(sep=" ", h="1,2") + "$" for rx in (
    r"^(?P<Y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})",  # MetaTrader
    r"^(?P<Y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})",
    r"^(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<Y>\d{4})",  # a, b: day and month, in the file's order
    r"^(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<Y>\d{4})",  # Investing.com, Excel
    r"^(?P<a>\d{1,2})-(?P<b>\d{1,2})-(?P<Y>\d{4})",
))


def _field_dates(text: pd.Series, form: str, dayfirst: bool) -> pd.Series | None:
    """Naive times when every present value has ``form`` and is a real date and time, else None."""
    arr = pa.array(text, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):  # large columns arrive in chunks
        arr = arr.combine_chunks()
    if not len(arr) or arr.null_count == len(arr):
        return None
    first = arr.drop_null()[0].as_py()
    if not re.match(form.replace("(?P<", "(?P<_"), first):  # cheap refusal from one value
        return None
    parts = pc.extract_regex(arr, form)
    if parts.null_count != arr.null_count:
        return None
    names = [parts.type.field(i).name for i in range(parts.type.num_fields)]

    def field(name: str) -> np.ndarray:
        col = pc.cast(pc.if_else(pc.equal(parts.field(name), ""), None, parts.field(name)), pa.int64())
        return col.fill_null(0).to_numpy()

    year = field("Y")
    if "a" in names:
        a, b = field("a"), field("b")
        day, month = (a, b) if dayfirst else (b, a)
    else:
        day, month = field("d"), field("m")
    hour, minute, second = field("H"), field("M"), field("S")
    present = ~parts.is_null().to_numpy(zero_copy_only=False)
    month = np.where(present, month, 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    length = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    ok = (month >= 1) & (month <= 12) & (day >= 1) & (day <= length) & (hour < 24) & (minute < 60) & (second < 60)
    ok &= (year > 1677) & (year < 2262)  # nanosecond times' range: beyond it pandas' rules decide
    if not (ok | ~present).all():
        return None
    seconds = (_civil_days(year, month, day) * 86400 + (hour * 60 + minute) * 60 + second) * 1_000_000_000
    stamps = seconds.view("datetime64[ns]").copy()
    stamps[~present] = np.datetime64("NaT")
    return pd.Series(stamps, index=text.index)


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _civil_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates, vectorised (the era/day-of-era method)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


# ISO forms pandas parses fastest with an explicit format.
_ISO_FORMATS = tuple((rx.replace("@", sep), fmt.replace("@", sep)) for sep in " T" for rx, fmt in (
    (r"\d{4}-\d{2}-\d{2}@\d{2}:\d{2}:\d{2}", "%Y-%m-%d@%H:%M:%S"),
    (r"\d{4}-\d{2}-\d{2}@\d{2}:\d{2}", "%Y-%m-%d@%H:%M"))) + ((r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),)


def _iso_dates(text: pd.Series, sample: pd.Series) -> pd.Series:
    first = str(sample.iloc[0])
    for rx, fmt in _ISO_FORMATS:
        if re.fullmatch(rx, first):
            if sample.str.fullmatch(rx).all():
                try:
                    return pd.Series(pd.to_datetime(text, errors="raise", format=fmt))
                except ValueError:  # e.g. 2024-02-30: the general rule words the error
                    pass
            break
    return pd.Series(pd.to_datetime(text, errors="raise", format="ISO8601"))


# CryptoDataDownload's hourly times: '2019-10-17 09-AM' (12-hour clock, no minutes).
_AM_PM_HOUR = re.compile(r"\d{4}-\d{1,2}-\d{1,2} \d{1,2}-[AaPp][Mm]")


def _am_pm_hours(text: pd.Series, sample: pd.Series) -> pd.Series | None:
    if not _AM_PM_HOUR.fullmatch(str(sample.iloc[0])):
        return None
    return pd.Series(pd.to_datetime(text, errors="raise", format="%Y-%m-%d %I-%p"))


def _uniform_dates(text: pd.Series, sample: pd.Series) -> pd.Series | None:
    dayfirst = looks_dayfirst(sample)
    for form in _OTHER_FORMS:
        found = _field_dates(text, form, dayfirst)
        if found is not None:
            return found
    return None


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
    return pd.Series(pd.to_datetime(text, errors="raise", format="mixed", dayfirst=looks_dayfirst(sample)))


def looks_dayfirst(sample: pd.Series) -> bool:
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
