"""Cached bar loaders and the data-quality gate UI. Every data failure becomes an st.error with the
reason and what to do (never a traceback); callers get None and stop the page."""
from __future__ import annotations

import streamlit as st

from data_sources import Bars, DataSourceError
from data_sources.errors import SourceUnavailableError

NETWORK_EXTRA = 300  # bars fetched beyond the lookback: room for a horizon of actuals in backtests


def _bars_key(bars: Bars):
    # Findings and fixed bars carry the reader's notes: key them by everything that produced them.
    return bars.identity()


@st.cache_data(show_spinner=False, max_entries=16)
def sample_bars(name: str, adjusted: bool = True) -> Bars:
    from data_sources import load_sample

    return load_sample(name, adjusted=adjusted)


@st.cache_data(show_spinner=False, ttl=600, max_entries=32)
def market_bars(source: str, symbol: str, interval: str, lookback: int, exchange: str | None) -> Bars:
    from data_sources import load_bars

    return load_bars(source, symbol, interval, lookback=lookback, exchange=exchange)


@st.cache_data(show_spinner=False, max_entries=8)
def file_bars(data: bytes, name: str, timezone: str | None = None, calendar: str | None = None,
              symbol: str | None = None) -> Bars:
    from data_sources import read_bars_file

    return read_bars_file(data, name=name, timezone=timezone, calendar=calendar, symbol=symbol)


def _uploaded_bars(inputs) -> Bars | None:
    """The uploaded file's bars; a file of several instruments asks which one (never a mixture)."""
    import hashlib

    from data_sources import MultipleSymbolsError

    upload = inputs.upload
    data = upload.getvalue()
    try:
        return file_bars(data, upload.name, inputs.timezone, inputs.calendar)
    except MultipleSymbolsError as e:
        key = "file_symbol_" + hashlib.sha256(data).hexdigest()[:16]
        pick = st.selectbox(f"Instrument in {upload.name}", e.symbols, index=None, key=key,
                            placeholder=f"Choose one of the {len(e.symbols)} instruments in the file")
        if pick is None:
            st.info(f"**{upload.name} holds {len(e.symbols)} instruments.** Choose the one to forecast above; "
                    "rows of different instruments are never mixed into one series.")
            return None
        return file_bars(data, upload.name, inputs.timezone, inputs.calendar, symbol=pick)


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs={Bars: _bars_key})
def findings(bars: Bars, lookback: int) -> list:
    from data_sources import check_bars

    return check_bars(bars, lookback=lookback)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs={Bars: _bars_key})
def fixed(bars: Bars, fixes: tuple[str, ...]) -> Bars:
    from data_sources import apply_fixes

    return apply_fixes(bars, list(fixes))


def load(inputs) -> Bars | None:
    """The bars the sidebar asks for, or None after showing why they could not be loaded."""
    try:
        if inputs.source == "sample":
            return sample_bars(inputs.sample, inputs.adjusted)
        if inputs.source == "file":
            if inputs.upload is None:
                st.info("Upload a CSV or Parquet file of bars in the sidebar (columns date, open, high, low, close, "
                        "volume), or pick a bundled sample.")
                return None
            return _uploaded_bars(inputs)
        symbol = inputs.symbol.strip()
        if not symbol:
            st.info("Type a ticker or pair in the sidebar.")
            return None
        exchange = inputs.exchange.strip().lower() if inputs.source == "ccxt" else None
        with st.spinner(f"Fetching {symbol} {inputs.interval} bars…"):
            return market_bars(inputs.source, symbol, inputs.interval, inputs.lookback + NETWORK_EXTRA, exchange)
    except SourceUnavailableError as e:
        st.error(f"**Could not reach the data source.** {e}\n\nCheck the network connection, or work offline "
                 "with a bundled sample or an uploaded file.")
    except DataSourceError as e:
        st.error(f"**Could not load the bars.** {e}")
    except Exception as e:  # a source library failing in an unforeseen way must not end the session
        st.error(f"**Could not load the bars** ({type(e).__name__}: {e}). Try again, or pick another source.")
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
            st.markdown(f"{ICONS.get(f.severity, '')} **{f.code}**{rows}: {f.message}")
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
    ts = bars.frame["timestamp"]
    span = f"{ts.iloc[0]:%Y-%m-%d %H:%M} → {ts.iloc[-1]:%Y-%m-%d %H:%M}" if len(bars) else "no bars"
    return f"**{bars.symbol}** · {bars.interval} · {len(bars)} bars · {span} · calendar {bars.calendar or 'inferred'}"


def show_staleness(bars: Bars) -> None:
    if bars.stale:
        st.warning(f"Showing cached bars (the source could not be reached; they are {bars.age} old).",
                   icon=":material/cloud_off:")
