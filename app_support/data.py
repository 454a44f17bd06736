"""Cached bar loaders and the data-quality gate UI. Every data failure becomes an st.error with the
reason and what to do (never a traceback); callers get None and stop the page.

Large files: an upload is parsed once (with a progress bar) and its bars are kept, one parsed copy per
session, in session state; every rerun gets that same object back. The bars' content hash, the key of
the gate's findings, the accepted fixes, the forecast store, the trust reports and the exports, is
computed once per bars object (``LoadedBars``), not at every use."""
from __future__ import annotations

import dataclasses
import hashlib

import streamlit as st

from data_sources import Bars, DataSourceError
from data_sources.calendar_inference import calendar_provenance  # noqa: F401  (pages record it with the data)
from data_sources.errors import SourceUnavailableError
from data_sources.sources import FILE_UPLOAD, SAMPLE_PICKER, SOURCES
from kronos.lazy import pd

from .errors import app_message, control

NETWORK_EXTRA = 300  # bars fetched beyond the lookback: room for a horizon of actuals in backtests
UPLOAD_STATE = "_studio_upload"  # session state: the current upload and its parse (one copy)
STAGES = {"reading": "reading the file", "parsing": "parsing the columns", "dates": "reading the dates",
          "numbers": "reading the numbers", "checking": "checking the rows", "done": "indexing the bars"}


class LoadedBars(Bars):
    """Bars as the app holds them: the content hash is computed once per object. The app never
    changes loaded bars in place (fixes and slices are new objects through ``Bars.replace``, and
    hash afresh); a frame put in place of another one is hashed again."""

    def content_hash(self) -> str:
        memo = self.__dict__.get("_content_hash")
        if memo is None or memo[0] is not self.frame:
            memo = self._content_hash = (self.frame, super().content_hash())
        return memo[1]


def loaded(bars: Bars) -> LoadedBars:
    """The same bars (frame and notes shared, not copied) as a ``LoadedBars``."""
    if isinstance(bars, LoadedBars):
        return bars
    return LoadedBars(**{f.name: getattr(bars, f.name) for f in dataclasses.fields(Bars)})


def _hashed(bars: Bars) -> LoadedBars:
    """Loaded bars with their hash computed: a cache_data copy of them carries it along."""
    bars = loaded(bars)
    bars.content_hash()
    return bars


def _bars_key(bars: Bars):
    # Findings and fixed bars carry the reader's notes: key them by everything that produced them.
    return bars.identity()


BARS_HASH = {Bars: _bars_key, LoadedBars: _bars_key}  # st.cache_* look hash_funcs up by exact type


@st.cache_data(show_spinner=False, max_entries=16)
def sample_bars(name: str, adjusted: bool = True) -> Bars:
    from data_sources import load_sample

    return _hashed(load_sample(name, adjusted=adjusted))


@st.cache_data(show_spinner=False, ttl=600, max_entries=32)
def market_bars(source: str, symbol: str, interval: str, lookback: int, exchange: str | None) -> Bars:
    from data_sources import load_bars

    return _hashed(load_bars(source, symbol, interval, lookback=lookback, exchange=exchange))


@dataclasses.dataclass
class HeldUpload:
    """One upload (Streamlit's file id, size and name) and what reading it gave, by (timezone,
    calendar, symbol): bars (at most one parsed copy) or the DataSourceError it raised."""
    upload: tuple
    results: dict = dataclasses.field(default_factory=dict)
    digest: str | None = None  # sha256 of the bytes, computed when first needed


HANDED_FILE = "_studio_handed_file"  # session state: a bar file the Screener handed to the Forecast page


@dataclasses.dataclass(frozen=True)
class HandedFile:
    """A bar file handed from one page to another (a file uploader cannot be set by code): it answers
    what ``file_bars`` asks of an upload (name, size, file id, bytes)."""
    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def file_id(self) -> str:
        return "handed:" + hashlib.sha256(self.data).hexdigest()[:16]

    def getvalue(self) -> bytes:
        return self.data


def hand_file(name: str, data: bytes) -> None:
    """Keep a file for the Forecast page's sidebar to use while its uploader is empty."""
    st.session_state[HANDED_FILE] = HandedFile(name, data)


def handed_file() -> HandedFile | None:
    return st.session_state.get(HANDED_FILE)


def _held(upload) -> HeldUpload:
    held = st.session_state.get(UPLOAD_STATE)
    ident = (upload.file_id, upload.size, upload.name)
    if not isinstance(held, HeldUpload) or held.upload != ident:
        st.session_state.pop(UPLOAD_STATE, None)  # let the previous file's bars go before reading this one
        held = st.session_state[UPLOAD_STATE] = HeldUpload(ident)
    return held


def _read_upload(upload, timezone: str | None, calendar: str | None, symbol: str | None,
                 exchange: str | None = None) -> LoadedBars:
    """Parse the upload under a progress bar fed by the reader."""
    from data_sources import read_bars_file

    label = f"Reading {upload.name} ({upload.size / 1e6:,.1f} MB)"
    bar = st.progress(0.0, text=f"{label}…")

    def progress(stage: str, fraction: float) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=f"{label}: {STAGES.get(stage, stage)}…")

    try:
        bars = read_bars_file(upload.getvalue(), name=upload.name, timezone=timezone, calendar=calendar,
                              symbol=symbol, exchange=exchange, progress=progress)
        return _hashed(bars)
    finally:
        bar.empty()


def file_bars(upload, timezone: str | None = None, calendar: str | None = None,
              symbol: str | None = None, exchange: str | None = None) -> LoadedBars:
    """The upload's bars, read once per (upload, timezone, calendar, symbol, exchange): later reruns get the same
    object back (no re-hash of the bytes, no copy). Only one parsed copy is kept per session."""
    held = _held(upload)
    options = (timezone, calendar, symbol, exchange)
    if options not in held.results:
        try:
            bars = _read_upload(upload, timezone, calendar, symbol, exchange)
        except DataSourceError as e:  # remembered too: a bad 100 MB file is not parsed again every rerun
            held.results[options] = e.with_traceback(None)
        else:
            for key in [k for k, v in held.results.items() if isinstance(v, Bars)]:
                del held.results[key]  # one parsed copy: other options' bars give way
            held.results[options] = bars
    result = held.results[options]
    if isinstance(result, Exception):
        raise result.with_traceback(None)
    return result


def _upload_digest(upload) -> str:
    held = _held(upload)
    if held.digest is None:
        import hashlib

        held.digest = hashlib.sha256(upload.getvalue()).hexdigest()
    return held.digest


def instrument_key(digest: str) -> str:
    """The widget key of the instrument picker for a file of several, by the SHA-256 of its bytes."""
    return "file_symbol_" + digest[:16]


def _uploaded_bars(inputs) -> Bars | None:
    """The uploaded file's bars; a file of several instruments asks which one (never a mixture)."""
    from data_sources import MultipleSymbolsError

    upload = inputs.upload
    named, exchange = inputs.symbol.strip() or None, inputs.exchange.strip() or None  # the sidebar's, if typed
    try:
        return file_bars(upload, inputs.timezone, inputs.calendar, named, exchange)
    except MultipleSymbolsError as e:
        key = instrument_key(_upload_digest(upload))
        pick = st.selectbox(f"Instrument in {upload.name}", e.symbols, index=None, key=key,
                            placeholder=f"Choose one of the {len(e.symbols)} instruments in the file")
        if pick is None:
            st.info(f"**{upload.name} holds {len(e.symbols)} instruments.** Choose the one to forecast above; "
                    "rows of different instruments are never mixed into one series.")
            return None
        return file_bars(upload, inputs.timezone, inputs.calendar, symbol=pick, exchange=exchange)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs=BARS_HASH)
def findings(bars: Bars, lookback: int) -> list:
    from data_sources import check_bars

    return check_bars(bars, lookback=lookback)


@st.cache_resource(show_spinner=False, max_entries=4, hash_funcs=BARS_HASH)
def fixed(bars: Bars, fixes: tuple[str, ...]) -> Bars:
    """The bars with the accepted fixes: one shared object per (bars, fixes), never copied per rerun
    (nothing changes bars in place)."""
    from data_sources import apply_fixes

    return _hashed(apply_fixes(bars, list(fixes)))


def load(inputs) -> Bars | None:
    """The bars the sidebar asks for, or None after showing why they could not be loaded."""
    origin = SOURCES[inputs.source]
    if origin.input != FILE_UPLOAD or inputs.upload is None:
        st.session_state.pop(UPLOAD_STATE, None)  # no upload on screen: its bars go
    try:
        if origin.input == SAMPLE_PICKER:
            return sample_bars(inputs.sample, inputs.adjusted)
        if origin.input == FILE_UPLOAD:
            if inputs.upload is None:
                st.info("Upload a CSV or Parquet file of bars in the sidebar (columns date, open, high, low, close, "
                        "volume), or pick a bundled sample.")
                return None
            return _uploaded_bars(inputs)
        symbol = inputs.symbol.strip()
        if not symbol:
            st.info("Type a ticker or pair in the sidebar.")
            return None
        exchange = inputs.exchange.strip().lower() if origin.needs_exchange else None
        with st.spinner(f"Fetching {symbol} {inputs.interval} bars…"):
            return market_bars(inputs.source, symbol, inputs.interval, inputs.lookback + NETWORK_EXTRA, exchange)
    except SourceUnavailableError as e:
        st.error(f"**Could not reach the data source.** {app_message(e)}\n\nCheck the network connection, or work offline "
                 "with a bundled sample or an uploaded file.")
    except DataSourceError as e:
        st.error(f"**Could not load the bars.** {app_message(e)}")
    except Exception as e:  # a source library failing in an unforeseen way must not end the session
        st.error(f"**Could not load the bars** ({app_message(e)}). Try again, or pick another source.")
    return None


ICONS = {"error": ":material/error:", "warning": ":material/warning:", "info": ":material/info:"}


def quality_gate(bars: Bars, lookback: int, key: str = "fix") -> Bars | None:
    """List the gate's findings with a checkbox for every fix the user may accept; returns the bars
    with the accepted fixes, or None while an error-level finding stands (the run is blocked)."""
    found = findings(bars, lookback)
    if not found:
        st.success("Data quality: no findings.", icon=":material/check_circle:")
        return bars
    serious = [f for f in found if f.severity != "info"]
    accepted, blocking = [], []
    with st.expander(f"Data quality: {len(serious)} to review, {len(found) - len(serious)} notes",
                     expanded=any(f.severity == "error" for f in found), icon=ICONS["warning" if serious else "info"]):
        for f in found:
            rows = f" ({f.rows} bars)" if f.rows else ""
            st.markdown(f"{ICONS.get(f.severity, '')} **{f.code}**{rows}: {f.worded(control)}")
            if f.fix:
                if st.checkbox(f"Accept fix: {f.fix_description or f.fix}", key=f"{key}_{f.code}"):
                    accepted.append(f.fix)
                    continue
            if f.severity == "error":
                blocking.append(f)
    if blocking:
        names = ", ".join(f.code for f in blocking)
        st.error(f"**The forecast cannot run on these bars** ({names}). Accept the offered fix, load more "
                 "history, lower the lookback or pick other data.")
        return None
    return fixed(bars, tuple(sorted(set(accepted)))) if accepted else bars


def describe(bars: Bars) -> str:
    """One line on the bars; the span runs from the earliest to the latest time, whatever the rows' order."""
    ts = bars.frame["timestamp"]
    first, last = ts.min(), ts.max()  # NaT skipped
    if not len(bars):
        span = "no bars"
    elif pd.isna(first):
        span = "no readable times"
    else:
        span = f"{first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M}"
    if bars.calendar is None:
        calendar = "no calendar (the history's own rhythm)"
    else:
        calendar = f"calendar {bars.calendar}" + (" (inferred)" if bars.calendar_inferred else "")
    return f"**{bars.symbol}** · {bars.interval} · {len(bars)} bars · {span} · {calendar}"


def naming_note(bars: Bars) -> str | None:
    """The header's line on a series no one named (``Bars.naming``): the name its forecasts, scores and champion are
    kept under, and where to give it one."""
    if bars.naming is None:
        return None
    return (f"Series **{bars.series_symbol}**, named {bars.naming}: its forecasts, scores and champion are kept under "
            "this name. To name it yourself, give it a **Series name** in the sidebar (the same for every download "
            "of it).")


def calendar_note(bars: Bars) -> str | None:
    """The header's line on a calendar inferred from the bar times: which, why, and how to choose another."""
    if not bars.calendar_inferred:
        return None
    return (f"Calendar **{bars.calendar}** inferred from the bar times: {bars.calendar_inference.evidence}. Future "
            "bar times follow it; if it is wrong, choose the calendar in the sidebar (**Calendar**).")


def calendar_warning(bars: Bars) -> str | None:
    """What to say beside the fan when no calendar could be inferred and the history's own rhythm has holes:
    future bar times may fall where the market is closed."""
    found = bars.calendar_inference
    if bars.calendar is not None or found is None or not found.ambiguous:
        return None
    return (f"**Future bar times are a guess.** No trading calendar could be inferred from the bar times: "
            f"{found.evidence}. Choose the calendar in the sidebar (**Calendar**) so the forecast skips the market's "
            "holidays and closed hours.")


def show_staleness(bars: Bars) -> None:
    if bars.stale:
        st.warning(f"Showing cached bars (the source could not be reached; they are {bars.age} old).",
                   icon=":material/cloud_off:")
