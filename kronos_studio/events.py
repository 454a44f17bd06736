"""Exogenous event inputs for Kronos: scheduled US macro releases and cross-asset leader returns,
turned into a [bars x 20] matrix for the event embedding (``Kronos.attach_event_embedding``).

The channel layout (``CHANNEL_NAMES``; documented in docs/events.md, the one place it is described):

====== ====================== ================================================================
 index  name                   value for bar i (bar spans [t_i, e_i), e_i = t_i + interval)
====== ====================== ================================================================
 0-4    flag_<kind>            1 if a release of that kind happened in [e_i - 24 h, e_i), else 0
 5-9    surprise_<kind>        z-score of the latest such release in that 24 h window, 0 when
                               unknown; only from the release time on and only if the release is
                               at or before the as-of time (the forecast cut-off)
 10-14  until_<kind>           cos(pi * log1p(h) / log1p(1080)), h = hours from e_i to the next
                               scheduled release (capped at 45 days): 1 just before it, -1 far
                               away; 0 outside the calendar's coverage of that kind
 15-18  leader_<name>          log return (percent, clipped to +-10) of a leader over the bar,
                               from leader bars completed by e_i; 0 when missing / after as-of
 19     leader_mask            fraction of the four leaders present for the bar
====== ====================== ================================================================

Kinds: fomc, cpi, nfp, gdp, pce. Leaders: index (e.g. S&P 500 / SPY), rates (e.g. 10-year yield),
dollar (e.g. DXY / UUP), crypto (e.g. BTC). Calendar times are US Eastern when naive.

No look-ahead: row i uses only releases with time < e_i (flags are scheduled, so known in advance;
surprise values additionally need release time <= as-of) and leader bars completed by min(e_i, as-of).
The ``until`` channels read the *schedule* ahead, which is public before the fact.
"""
from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kronos.errors import UserError
from kronos.lazy import np, pd
from kronos_studio import ASSETS

KINDS = ("fomc", "cpi", "nfp", "gdp", "pce")
LEADERS = ("index", "rates", "dollar", "crypto")
CHANNEL_NAMES = tuple([f"flag_{k}" for k in KINDS] + [f"surprise_{k}" for k in KINDS]
                      + [f"until_{k}" for k in KINDS] + [f"leader_{name}" for name in LEADERS] + ["leader_mask"])
CHANNELS = len(CHANNEL_NAMES)  # 20
SCHEMA = "kronos-studio-events-v1"
FLAG_WINDOW = pd.Timedelta(hours=24)
UNTIL_CAP_HOURS = 45 * 24
SURPRISE_CLIP = 5.0
MIN_SURPRISE_HISTORY = 5  # prior known surprises of a kind needed for its std
LEADER_CLIP = 10.0
CALENDAR_TZ = "America/New_York"
BUNDLED_CALENDAR = ASSETS / "events" / "us_macro_calendar.csv"

TYPE_ALIASES = {
    "fomc": "fomc", "fomc decision": "fomc", "fomc rate decision": "fomc", "rate decision": "fomc",
    "fed": "fomc", "fed funds": "fomc", "interest rate decision": "fomc",
    "cpi": "cpi", "consumer price index": "cpi", "inflation": "cpi",
    "nfp": "nfp", "nonfarm payrolls": "nfp", "non-farm payrolls": "nfp", "payrolls": "nfp",
    "employment situation": "nfp", "jobs report": "nfp",
    "gdp": "gdp", "gdp advance": "gdp", "gross domestic product": "gdp",
    "pce": "pce", "core pce": "pce", "personal income and outlays": "pce",
}


class EventError(UserError, ValueError):
    """A calendar or leader input that cannot be used, with what to fix."""


# --- calendars -------------------------------------------------------------------------------------
@dataclass
class EventCalendar:
    """Scheduled releases: ``frame`` has columns time (UTC), type (a KINDS name, or the user's own
    type, which is drawn as a marker but has no channel), event (label), actual, consensus,
    surprise_z (computed, no look-ahead)."""

    frame: pd.DataFrame
    name: str = "calendar"
    coverage: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = field(default_factory=dict)

    def __post_init__(self):
        f = self.frame.sort_values("time", kind="stable").reset_index(drop=True)
        f["surprise_z"] = _surprise_z(f)
        self.frame = f
        for k in KINDS:  # a kind counts as covered from one spacing before its first release to its last
            t = f.loc[f["type"] == k, "time"]
            if len(t):
                self.coverage.setdefault(k, (t.iloc[0] - pd.Timedelta(hours=UNTIL_CAP_HOURS), t.iloc[-1]))

    def __len__(self) -> int:
        return len(self.frame)

    def times(self, kind: str) -> np.ndarray:
        return _ns(self.frame.loc[self.frame["type"] == kind, "time"])

    def markers(self, start=None, end=None, short: bool = False) -> list[tuple[pd.Timestamp, str]]:
        """(time in US Eastern, label) for the chart, optionally within [start, end]; ``short``: the
        type's upper-case name (FOMC, CPI, NFP ...) instead of the event description."""
        f = self.frame
        t = f["time"]
        keep = np.ones(len(f), bool)
        if start is not None:
            keep &= t >= _utc_ts(start)
        if end is not None:
            keep &= t <= _utc_ts(end)
        out = []
        for _, row in f.loc[keep].iterrows():
            label = str(row["event"]) if isinstance(row["event"], str) and row["event"] and not short \
                else str(row["type"]).upper()
            out.append((row["time"].tz_convert(CALENDAR_TZ), label))
        return out

    def digest(self) -> str:
        """What the calendar holds (times, types, values), for the keys of results that read it."""
        f = self.frame[["time", "type", "actual", "consensus"]]
        return hashlib.sha256(pd.util.hash_pandas_object(f, index=False).values.tobytes()).hexdigest()[:12]

    def merged(self, other: EventCalendar) -> EventCalendar:
        return EventCalendar(pd.concat([self.frame, other.frame], ignore_index=True).drop(columns="surprise_z"),
                             f"{self.name} + {other.name}")


def _utc_ts(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize(CALENDAR_TZ).tz_convert("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _ns(values) -> np.ndarray:
    return pd.DatetimeIndex(values).asi8.astype(np.int64)


def _surprise_z(f: pd.DataFrame) -> np.ndarray:
    """(actual - consensus) / std of the same kind's earlier surprises (at least MIN_SURPRISE_HISTORY
    known), clipped; 0 when anything is unknown. Only earlier releases enter the std."""
    z = np.zeros(len(f))
    s = (pd.to_numeric(f["actual"], errors="coerce") - pd.to_numeric(f["consensus"], errors="coerce")).to_numpy()
    for kind in f["type"].unique():
        idx = np.flatnonzero((f["type"] == kind).to_numpy())
        seen: list[float] = []
        for i in idx:
            if np.isfinite(s[i]) and len(seen) >= MIN_SURPRISE_HISTORY:
                sd = float(np.std(seen, ddof=1))
                if sd > 0:
                    z[i] = float(np.clip(s[i] / sd, -SURPRISE_CLIP, SURPRISE_CLIP))
            if np.isfinite(s[i]):
                seen.append(float(s[i]))
    return z


def normalise_type(text) -> str:
    key = " ".join(str(text).strip().lower().replace("_", " ").split())
    return TYPE_ALIASES.get(key, key)


def calendar_from_frame(df: pd.DataFrame, name: str = "calendar") -> EventCalendar:
    """A frame with datetime, type[, actual, consensus, event] -> EventCalendar. Naive datetimes are
    US Eastern; datetimes with an offset are converted."""
    cols = {c.lower().strip(): c for c in df.columns}
    when = next((cols[c] for c in ("datetime", "time", "timestamp", "date") if c in cols), None)
    if when is None or "type" not in cols:
        raise EventError(f"an event calendar needs columns 'datetime' and 'type' (optional: actual, consensus); "
                         f"found {list(df.columns)}")
    raw = df[when].astype(str).str.strip()
    try:
        parsed = [_utc_ts(x) for x in raw]
    except (ValueError, TypeError) as e:
        raise EventError(f"could not read the datetime column ({e}); use e.g. '2024-07-31 14:00'") from None
    out = pd.DataFrame({
        "time": pd.DatetimeIndex(parsed).as_unit("ns") if parsed else pd.DatetimeIndex([], tz="UTC"),
        "type": [normalise_type(t) for t in df[cols["type"]]],
        "event": df[cols["event"]].fillna("").astype(str) if "event" in cols else "",
        "actual": pd.to_numeric(df[cols["actual"]], errors="coerce") if "actual" in cols else np.nan,
        "consensus": pd.to_numeric(df[cols["consensus"]], errors="coerce") if "consensus" in cols else np.nan,
    })
    if "basis" in cols:
        out["basis"] = df[cols["basis"]].fillna("").astype(str).to_numpy()
    if len(out) == 0:
        raise EventError("the event calendar has no rows")
    return EventCalendar(out, name)


def load_calendar(source, name: str | None = None) -> EventCalendar:
    """A CSV calendar from a path, bytes or a file-like object (e.g. a Streamlit upload)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    label = name or (Path(source).name if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "upload"))
    try:
        df = pd.read_csv(source)
    except Exception as e:
        raise EventError(f"could not read the calendar as CSV: {e}") from None
    return calendar_from_frame(df, str(label))


def bundled_calendar() -> EventCalendar:
    """The bundled US macro calendar 2022-2026 (assets/events; sources in SOURCES.md there)."""
    return load_calendar(BUNDLED_CALENDAR, "bundled US macro calendar")


def merged_calendars(calendars) -> EventCalendar | None:
    """``calendars`` as one (``EventCalendar.merged`` in order; the None among them left out), None when there is
    none: the bundled calendar and a user's, as ``kronos lora``, ``kronos forecast --adapter`` and the app take them."""
    given = [c for c in calendars if c is not None]
    if not given:
        return None
    out = given[0]
    for c in given[1:]:
        out = out.merged(c)
    return out


# --- bars ------------------------------------------------------------------------------------------
def _bar_times(timestamps, tz: str = CALENDAR_TZ) -> pd.DatetimeIndex:
    ts = pd.DatetimeIndex(pd.to_datetime(timestamps))
    return (ts.tz_localize(tz) if ts.tz is None else ts).tz_convert("UTC").as_unit("ns")


def bar_interval(timestamps, interval=None) -> pd.Timedelta:
    """The bar length: ``interval`` ('1h', '1d', a Timedelta) or the smallest gap between bars."""
    if interval is not None:
        try:
            return pd.Timedelta(interval)
        except ValueError:
            return pd.Timedelta(str(interval).replace("m", "min") if str(interval).endswith("m") else interval)
    ts = pd.DatetimeIndex(timestamps)
    gaps = np.diff(ts.asi8)
    gaps = gaps[gaps > 0]
    if not len(gaps):
        raise EventError("cannot tell the bar length from fewer than two distinct timestamps: pass interval")
    return pd.Timedelta(int(gaps.min()), "ns")


@dataclass
class Leader:
    """One leader series: closes indexed by the time each bar completed (timestamp + its interval)."""

    completed: np.ndarray  # int64 ns, increasing
    close: np.ndarray  # float64
    step: int  # bar length in ns

    @classmethod
    def from_bars(cls, bars, interval=None) -> Leader:
        df = getattr(bars, "frame", bars)
        if isinstance(df, pd.Series):
            ts, close = df.index, df.to_numpy(np.float64)
        else:
            df = df.rename(columns=str.lower)
            ts = df["timestamp"] if "timestamp" in df.columns else df.index
            close = pd.to_numeric(df["close"], errors="coerce").to_numpy(np.float64)
        t = _bar_times(ts)
        step = bar_interval(t, interval or getattr(bars, "interval", None))
        ok = np.isfinite(close) & (close > 0)
        return cls((t.asi8 + step.value)[ok], close[ok], int(step.value))


# --- the matrix ------------------------------------------------------------------------------------
def _until(hours: np.ndarray) -> np.ndarray:
    h = np.clip(hours, 0, UNTIL_CAP_HOURS)
    return np.cos(np.pi * np.log1p(h) / np.log1p(UNTIL_CAP_HOURS))


def event_matrix(timestamps, calendar: EventCalendar | None = None, leaders: Mapping[str, object] | None = None,
                 *, interval=None, asof=None) -> np.ndarray:
    """[len(timestamps), 20] float32 event inputs for bars starting at ``timestamps`` (see the module
    docstring). ``asof``: the forecast cut-off; surprises of later releases and leader returns after it
    are 0. ``leaders`` maps LEADERS names to Bars / frames / close Series (missing names: 0, masked)."""
    t = _bar_times(timestamps)
    n = len(t)
    out = np.zeros((n, CHANNELS), np.float32)
    if n == 0:
        return out
    step = bar_interval(t, interval)
    end = t.asi8 + step.value  # e_i
    asof_ns = None if asof is None else _utc_ts(asof).value
    if calendar is not None and len(calendar):
        f = calendar.frame
        times_all = _ns(f["time"])
        for k, kind in enumerate(KINDS):
            sel = (f["type"] == kind).to_numpy()
            r = times_all[sel]
            if not len(r):
                continue
            z = f.loc[sel, "surprise_z"].to_numpy(np.float64)
            # latest release strictly before each bar end
            last = np.searchsorted(r, end, side="left") - 1
            has = last >= 0
            recent = np.zeros(n, bool)
            recent[has] = end[has] - r[last[has]] <= FLAG_WINDOW.value
            out[recent, k] = 1.0
            zr = np.zeros(n)
            zr[recent] = z[last[recent]]
            if asof_ns is not None:
                zr[recent & (r[np.maximum(last, 0)] > asof_ns)] = 0.0
            out[:, 5 + k] = zr
            # hours to the next scheduled release at or after the bar end
            nxt = np.searchsorted(r, end, side="left")
            lo, hi = calendar.coverage[kind]
            covered = (nxt < len(r)) & (end >= lo.value) & (end <= hi.value)
            hours = (r[np.minimum(nxt, len(r) - 1)] - end) / 3.6e12
            out[covered, 10 + k] = _until(hours[covered])
    if leaders:
        unknown = sorted(set(leaders) - set(LEADERS))
        if unknown:
            raise EventError(f"unknown leader names {unknown}; use {list(LEADERS)}")
        prev_end = np.concatenate([[t.asi8[0]], end[:-1]])
        present = np.zeros((n, len(LEADERS)), bool)
        for j, name in enumerate(LEADERS):
            src = leaders.get(name)
            if src is None:
                continue
            lead = src if isinstance(src, Leader) else Leader.from_bars(src)
            c, close = lead.completed, lead.close
            if asof_ns is not None:
                keep = c <= asof_ns
                c, close = c[keep], close[keep]
            if not len(c):
                continue
            a = np.searchsorted(c, prev_end, side="right") - 1
            b = np.searchsorted(c, end, side="right") - 1
            ok = (a >= 0) & (c[-1] >= end - lead.step)
            if asof_ns is not None:
                ok &= end <= asof_ns
            ret = np.zeros(n)
            ret[ok] = 100 * np.log(close[b[ok]] / close[a[ok]])
            out[:, 15 + j] = np.clip(ret, -LEADER_CLIP, LEADER_CLIP)
            present[:, j] = ok
        out[:, 19] = present.mean(axis=1)
    return out


@dataclass
class EventBuilder:
    """The ``events`` callable of ``KronosPipeline.forecast``: (history timestamps, future timestamps) ->
    [history + horizon, 20], with the as-of time at the end of the last history bar."""

    calendar: EventCalendar | None = None
    leaders: Mapping[str, object] | None = None
    interval: object = None

    def __post_init__(self):
        if self.leaders:
            self.leaders = {k: v if isinstance(v, Leader) else Leader.from_bars(v) for k, v in self.leaders.items()}

    def __call__(self, history, future) -> np.ndarray:
        h, f = pd.DatetimeIndex(history), pd.DatetimeIndex(future)
        allts = h.append(f) if len(f) else h
        step = bar_interval(_bar_times(allts), self.interval)
        asof = _bar_times(h[-1:])[0] + step
        return event_matrix(allts, self.calendar, self.leaders, interval=step, asof=asof)

    def window(self, times: pd.DatetimeIndex, lookback: int) -> np.ndarray:
        """A training window: the first ``lookback`` bars are the history (as at forecast time)."""
        return self(times[:lookback], times[lookback:])

    def markers(self, start=None, end=None) -> list[tuple[pd.Timestamp, str]]:
        return self.calendar.markers(start, end) if self.calendar is not None else []
