"""The one bars schema every source produces and every consumer reads."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from kronos.errors import Fix, InputError
from kronos.lazy import np, pd

from .calendars import future_timestamps
from .errors import DataFormatError
from .numbers import price_decimals
from .sources import SOURCES

if TYPE_CHECKING:
    from .calendar_inference import CalendarInference

PRICE_COLUMNS = ("open", "high", "low", "close")
VALUE_COLUMNS = ("open", "high", "low", "close", "volume", "amount")
COLUMNS = ("timestamp",) + VALUE_COLUMNS
_CONTROLS = {chr(c) for c in (*range(32), 127)}


def text_problem(text: str, *, controls: bool = False) -> str | None:
    """What makes ``text`` unfit to be kept and shown, None when nothing does: a NUL (PostgreSQL refuses it), an
    unpaired surrogate (it has no UTF-8 form) and, with ``controls``, any other control character (a tab, a
    newline: a name is one line)."""
    for ch in text:
        if ch == "\0" or (controls and ch in _CONTROLS):
            return f"contains the control character {ch!r}"
        if "\ud800" <= ch <= "\udfff":
            return f"contains {ch!r}, half of a surrogate pair, which is not text (send it as UTF-8)"
    return None


def check_symbol(symbol: str) -> str:
    """``symbol`` when it is one printable line; else the InputError naming what is wrong with it."""
    problem = text_problem(symbol, controls=True)
    if problem is not None:
        raise InputError(f"the symbol {symbol!r} {problem}", {"symbol": symbol},
                         Fix("give {setting} as printable characters only", "symbol"))
    return symbol


VENUE_SEPARATOR = ":"  # between a known venue and the symbol in a series' name (EXCHANGE:SYMBOL, as charting sites write it)


def venue_name(venue: str | None) -> str | None:
    """A venue (an exchange) as series names hold it: stripped and in lower case, as ccxt names exchanges; None
    when none is known."""
    if venue is None:
        return None
    text = str(venue).strip().lower()
    if not text:
        return None
    problem = text_problem(text, controls=True)
    if problem is not None:
        raise InputError(f"the exchange {venue!r} {problem}", {"exchange": venue},
                         Fix("give {setting} as printable characters only", "exchange"))
    return text


def series_symbol(symbol: str, venue: str | None) -> str:
    """The name a series is known by in the ledger, the registry, the Screener and batch: the symbol the user or
    the source names it by, qualified by the venue its bars come from only where that is known
    (``bitstamp:BTC/USD``: a source's exchange, a file's exchange column, one the user gives). A file's name never
    enters it: every day's download of one series is that series. Two exchanges' bars of one symbol whose venues
    are not known are one name; the bars themselves tell them apart (a forecast is scored only by bars that
    continue the history it read, a champion serves only bars that hold the window it learned from)."""
    return symbol if not venue else f"{venue}{VENUE_SEPARATOR}{symbol}"


def instrument_symbol(series: str, venue: str | None) -> str:
    """The symbol a source is asked for, of the series named ``series`` (``series_symbol``) at ``venue``."""
    prefix = f"{venue}{VENUE_SEPARATOR}" if venue else ""
    return series[len(prefix):] if prefix and series.startswith(prefix) else series


@dataclass
class Bars:
    """OHLCV(+amount) bars with where-they-came-from metadata.

    ``frame`` columns are exactly COLUMNS: ``timestamp`` is tz-aware (nanosecond unit) in the
    market's local wall clock, value columns are float64, the index is a RangeIndex. Order and
    uniqueness of timestamps are *not* enforced here: the quality gate reports them so that
    nothing is changed silently (see quality.check_bars / apply_fixes).
    """

    frame: pd.DataFrame
    source: str
    symbol: str
    interval: str
    calendar: str | None = None
    timezone: str = ""
    fetched_at: pd.Timestamp | None = None
    stale: bool = False
    age: timedelta | None = None
    origin: str = ""
    amount_filled: bool = False
    timezone_assumed: bool = False
    notes: list[str] = field(default_factory=list)
    # What the bar times said about the calendar when none was given (calendar_inference.with_inferred_calendar):
    # the calendar inferred, or why none was, and the evidence. None when the calendar was given.
    calendar_inference: CalendarInference | None = None
    # Where the bars come from, when known: the exchange of a source (ccxt's), of a file's exchange column, or one
    # the user gave (``venue_name``). Part of the series' name (``series_symbol``); None: not known.
    venue: str | None = None
    # How the series came by its name when no one gave it one ("after the file's name AAPL_2026-11-25.csv, its
    # trailing date left out"): said with the bars (``kronos_studio.bars_input.quality_gate``). None: the name
    # was given (a symbol, a symbol column, a source's symbol).
    naming: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {tuple(SOURCES)}, got {self.source!r}")
        if isinstance(self.symbol, str):
            check_symbol(self.symbol)
        self.venue = venue_name(self.venue)
        f = self.frame
        if not isinstance(f, pd.DataFrame) or tuple(f.columns) != COLUMNS:
            cols = list(f.columns) if isinstance(f, pd.DataFrame) else type(f).__name__
            raise DataFormatError(f"bars frame must have columns {list(COLUMNS)}, got {cols}; build it with Bars.from_frame()")
        ts = f["timestamp"]
        if not isinstance(ts.dtype, pd.DatetimeTZDtype):
            raise DataFormatError(f"bars 'timestamp' must be tz-aware datetimes, got {ts.dtype}; localise it (Bars.from_frame(timezone=...))")
        for c in VALUE_COLUMNS:
            if f[c].dtype != np.float64:
                raise DataFormatError(f"bars column {c!r} must be float64, got {f[c].dtype}; build it with Bars.from_frame()")
        if not isinstance(f.index, pd.RangeIndex) or f.index.start != 0 or f.index.step != 1:
            raise DataFormatError("bars frame must have a 0-based RangeIndex; call frame.reset_index(drop=True)")
        tz = str(ts.dt.tz)
        if not self.timezone:
            self.timezone = tz
        elif self.timezone != tz:
            raise DataFormatError(f"bars metadata says timezone {self.timezone!r} but timestamps are in {tz!r}")
        if self.age is not None and not isinstance(self.age, timedelta):
            raise TypeError("age must be a timedelta or None")

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        source: str,
        symbol: str,
        interval: str,
        timezone: str | None = None,
        **meta,
    ) -> Bars:
        """Normalise a frame holding timestamp/open/high/low/close/volume[/amount] into Bars.

        Naive timestamps are localised to ``timezone`` (or UTC, flagged ``timezone_assumed``);
        aware ones are converted to ``timezone`` when given. A missing ``amount`` is filled with
        volume * mean(open, high, low, close), as the Kronos predictor does, and flagged.
        """
        missing = [c for c in ("timestamp",) + VALUE_COLUMNS[:-1] if c not in frame.columns]
        if missing:
            raise DataFormatError(f"missing columns {missing}; columns are {list(frame.columns)}")
        out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
        # .array, not .to_numpy(): tz-aware times would become one Timestamp object per row.
        ts = pd.to_datetime(pd.Series(frame["timestamp"].array), errors="raise")
        notes = list(meta.pop("notes", []) or [])
        assumed = bool(meta.pop("timezone_assumed", False))
        if getattr(ts.dt, "tz", None) is None:
            if timezone is None:
                timezone, assumed = "UTC", True
            ts = ts.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            if ts.isna().any() and not pd.isna(frame["timestamp"]).any():
                raise DataFormatError(
                    f"{int(ts.isna().sum())} timestamps do not exist or are ambiguous in {timezone} "
                    "(daylight-saving change); give timestamps with a UTC offset or use timezone='UTC'"
                )
        elif timezone is not None:
            ts = ts.dt.tz_convert(timezone)
        out["timestamp"] = ts.dt.as_unit("ns").reset_index(drop=True)
        for c in VALUE_COLUMNS[:-1]:
            out[c] = pd.to_numeric(pd.Series(frame[c].to_numpy()), errors="coerce").astype("float64")
        amount_filled = bool(meta.pop("amount_filled", False))
        if "amount" in frame.columns and not pd.isna(frame["amount"]).all():
            out["amount"] = pd.to_numeric(pd.Series(frame["amount"].to_numpy()), errors="coerce").astype("float64")
        else:
            out["amount"] = out["volume"] * out[list(PRICE_COLUMNS)].mean(axis=1)
            amount_filled = True
        return cls(
            frame=out,
            source=source,
            symbol=symbol,
            interval=interval,
            timezone=str(out["timestamp"].dt.tz),
            amount_filled=amount_filled,
            timezone_assumed=assumed,
            notes=notes,
            **meta,
        )

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.frame["timestamp"])

    def future_timestamps(self, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` bar times after the last bar on the bars' calendar, read from the whole history
        (not only the bars a model reads): every caller (the Forecast page, the Screener, the CLI, batch)
        gets the same times for the same bars."""
        return future_timestamps(self.timestamps, horizon, interval=self.interval, calendar=self.calendar)

    def price_decimals(self) -> int:
        """The decimals the bars' closes are written with (numbers.price_decimals): how pages show prices."""
        return price_decimals(self.frame["close"].to_numpy())

    @property
    def series_symbol(self) -> str:
        """The name of the series in the ledger, the registry and the Screener: its symbol, with its venue when
        known (``series_symbol``)."""
        return series_symbol(self.symbol, self.venue)

    @property
    def calendar_inferred(self) -> bool:
        """True when ``calendar`` was inferred from the bar times (not given)."""
        return self.calendar_inference is not None and self.calendar_inference.calendar is not None

    def replace(self, **changes) -> Bars:
        """Copy with some fields changed (the frame is copied, notes list too)."""
        changes.setdefault("notes", list(self.notes))
        if "frame" not in changes:
            changes["frame"] = self.frame.copy()
        return dataclasses.replace(self, **changes)

    def tail(self, n: int) -> Bars:
        """The last ``n`` bars, metadata kept."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return self.replace(frame=self.frame.iloc[len(self.frame) - min(n, len(self.frame)):].reset_index(drop=True))

    def identity(self) -> tuple:
        """Everything that shapes what the quality gate says about these bars: the values (content
        hash) and the metadata and notes the reader attached (the venue and how the series was named among
        them: a copy kept under this identity keeps them). Equal data read from two different files (other
        columns, other options) is *not* the same identity."""
        return (self.content_hash(), self.source, self.symbol, self.interval, self.calendar, self.timezone,
                self.origin, self.amount_filled, self.timezone_assumed, tuple(self.notes), self.calendar_inference,
                self.venue, self.naming)

    def content_hash(self) -> str:
        """sha256 over timezone, timestamps (UTC ns) and values: equal data, equal key."""
        h = hashlib.sha256()
        h.update(b"kronos-bars-v1\0")
        h.update(self.timezone.encode())
        h.update(b"\0")
        h.update(np.ascontiguousarray(self.frame["timestamp"].dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy(), dtype="<i8").tobytes())
        vals = self.frame[list(VALUE_COLUMNS)].to_numpy(dtype="<f8")
        # NaN payload bits can differ between producers; hash one canonical NaN.
        vals = np.where(np.isnan(vals), np.nan, vals)
        h.update(np.ascontiguousarray(vals).tobytes())
        return h.hexdigest()

    def summary(self) -> str:
        if len(self) == 0:
            return f"{self.symbol} {self.interval}: no bars"
        ts = self.frame["timestamp"]
        # The range in time order, also for rows not (yet) sorted.
        return f"{self.symbol} {self.interval} ({self.source}): {len(self)} bars {ts.min()} -> {ts.max()}"
