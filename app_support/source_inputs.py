"""The sidebar's inputs for a data source, one function per kind of input (``data_sources.sources.INPUT_KINDS``),
and the sidebar state that shows a given series: the sidebar and the Screener loop over the source registry and
own no source's widget keys or names."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from data_sources.samples import has_split_jumps, list_samples
from data_sources.sources import FILE_UPLOAD, INPUT_KINDS, SAMPLE_PICKER, SOURCES, SYMBOL_TEXT, Source, with_input

from . import data

# The boxes' first option, "as in the file" and "infer": a value, not None, since a selectbox whose value
# is set to None (as the Screener sets it when it opens a file) shows an empty box.
FROM_FILE = ""
TIMEZONES = [FROM_FILE, "UTC", "America/New_York", "Europe/London", "Europe/Berlin", "Asia/Tokyo", "Asia/Shanghai",
             "Asia/Hong_Kong", "Australia/Sydney"]
CALENDARS = [FROM_FILE, "XNYS", "XNAS", "XLON", "XETR", "XTKS", "XHKG", "XSHG", "24/7", "FX"]
SOURCE_KEY = "sb_source"  # the sidebar's source box
FILE_NAME_KEY, FILE_EXCHANGE_KEY = "sb_file_symbol", "sb_file_exchange"  # an upload's series name and exchange


@dataclass
class Chosen:
    """What a source's sidebar inputs give: the series asked for."""

    sample: str = ""
    symbol: str = ""
    exchange: str = ""
    interval: str = "1d"
    upload: object | None = None  # streamlit UploadedFile, or the file the Screener handed over
    timezone: str = FROM_FILE  # uploads: how to read naive times
    calendar: str = FROM_FILE  # uploads: the trading calendar
    adjusted: bool = True  # bundled samples: split-adjusted (the raw file one toggle away)


def first_value(key: str, value) -> str:
    """``key``, with ``value`` put in session state while it holds none: the widget's first value. A widget
    given a default too would contend with the values the Screener sets when it opens a row (Streamlit
    warns, and which one wins is Streamlit's choice)."""
    st.session_state.setdefault(key, value)
    return key


def symbol_keys(source: str) -> tuple[str, str, str]:
    """The widget keys of a typed-symbol source's symbol, interval and exchange: one set per source, so each
    keeps its own symbol."""
    return f"sb_symbol_{source}", f"sb_interval_{source}", f"sb_exchange_{source}"


@st.cache_data(show_spinner=False)
def _sample_names() -> list[str]:
    from data_sources import list_samples

    return [s.name for s in list_samples()]


@st.cache_data(show_spinner=False)
def _unadjusted_samples() -> set[str]:
    return {s.name for s in list_samples() if has_split_jumps(s)}


def _sample_picker(sb, source: Source) -> Chosen:
    sample = sb.selectbox("Sample", _sample_names(), key="sb_sample")
    adjusted = True
    if sample in _unadjusted_samples():
        adjusted = sb.toggle("Split-adjusted", key=first_value("sb_adjusted", True),
                             help="This sample's file is unadjusted: stock splits show as overnight jumps. "
                                  "On: adjusted by the quality gate's split fix (noted in the data notes).")
    return Chosen(sample=sample, adjusted=adjusted)


def _symbol_text(sb, source: Source) -> Chosen:
    symbol_key, interval_key, exchange_key = symbol_keys(source.key)
    exchange = ""
    if source.needs_exchange:
        exchange = sb.selectbox("Exchange", list(source.exchanges), key=exchange_key, accept_new_options=True)
    symbol = sb.text_input(source.symbol_label, key=first_value(symbol_key, source.examples[0]),
                           help=source.symbols[:1].upper() + source.symbols[1:])
    interval = sb.selectbox("Interval", list(source.intervals), key=interval_key)
    return Chosen(symbol=symbol, exchange=exchange, interval=interval)


def _file_upload(sb, source: Source) -> Chosen:
    upload = sb.file_uploader("Bars file", type=["csv", "parquet", "pq", "txt"], key="sb_upload",
                              help="A date/time column and open, high, low, close (volume optional)")
    if upload is None and data.handed_file() is not None:  # a Screener row opened here
        upload = data.handed_file()
        sb.caption(f"Using **{upload.name}** from the Screener; upload a file to replace it.")
    # One per row: side by side the boxes cut their own values ("as in fi").
    timezone = sb.selectbox("Timezone", TIMEZONES, key="sb_file_tz", accept_new_options=True,
                            format_func=lambda z: z or "as in the file",
                            help="How to read times without a UTC offset (default: UTC, flagged)")
    calendar = sb.selectbox("Calendar", CALENDARS, key="sb_file_cal", accept_new_options=True,
                            format_func=lambda c: c or "infer from the bar times",
                            help="Trading calendar for gaps and future bars")
    name = sb.text_input("Series name", key=first_value(FILE_NAME_KEY, ""), placeholder="from the file",
                         help="The name this series' forecasts, scores and champion are kept under: give every "
                              "download of it the same one (default: the file's symbol column, else its file name "
                              "without a date that ends it). In a file of several instruments: the one to read")
    exchange = sb.text_input("Exchange", key=first_value(FILE_EXCHANGE_KEY, ""), placeholder="not known",
                             help="Where the bars come from, when known: part of the series' name, so two exchanges' "
                                  "bars of one symbol are two series (default: the file's exchange column)")
    return Chosen(upload=upload, symbol=name, exchange=exchange, timezone=timezone, calendar=calendar)


SIDEBAR = {SAMPLE_PICKER: _sample_picker, SYMBOL_TEXT: _symbol_text, FILE_UPLOAD: _file_upload}


def _sample_state(source: Source, symbol: str, interval: str, exchange: str | None, calendar: str | None):
    return {"sb_sample": symbol, "sb_adjusted": True}, None


def _symbol_state(source: Source, symbol: str, interval: str, exchange: str | None, calendar: str | None):
    if interval not in source.intervals:
        return None, f"the Forecast page offers the intervals {list(source.intervals)}, not {interval}"
    symbol_key, interval_key, exchange_key = symbol_keys(source.key)
    state = {symbol_key: symbol, interval_key: interval}
    if source.needs_exchange:
        state[exchange_key] = exchange
    return state, None


def _upload_state(source: Source, symbol: str, interval: str, exchange: str | None, calendar: str | None):
    return {"sb_file_tz": FROM_FILE, "sb_file_cal": calendar or FROM_FILE, FILE_NAME_KEY: "", FILE_EXCHANGE_KEY: ""}, None


STATES = {SAMPLE_PICKER: _sample_state, SYMBOL_TEXT: _symbol_state, FILE_UPLOAD: _upload_state}

for _table in (SIDEBAR, STATES):  # a kind of input without its function is an error here, not a wrong widget
    if set(_table) != set(INPUT_KINDS):
        raise RuntimeError(f"app_support.source_inputs draws the input kinds {sorted(_table)}, the registry has "
                           f"{sorted(INPUT_KINDS)}: add the missing kind's function")


def render(sb) -> tuple[str, Chosen]:
    """The source box and the chosen source's inputs: (source key, what they give)."""
    source = sb.selectbox("Source", list(SOURCES), format_func=lambda k: SOURCES[k].label, key=SOURCE_KEY)
    return source, SIDEBAR[SOURCES[source].input](sb, SOURCES[source])


def series_state(source: str | None, symbol: str = "", interval: str = "", exchange: str | None = None,
                 calendar: str | None = None) -> tuple[dict | None, str | None]:
    """(the sidebar's session state that shows this series, None) or (None, why the sidebar cannot show it).
    ``source`` None: an uploaded file (handed over apart, ``data.hand_file``), read with ``calendar``."""
    if source is None:
        source = with_input(FILE_UPLOAD)[0]
    origin = SOURCES.get(source)
    if origin is None:
        return None, f"source {source!r} has no place on the Forecast page"
    state, why = STATES[origin.input](origin, symbol, interval, exchange, calendar)
    return (None, why) if state is None else ({SOURCE_KEY: source, **state}, None)
