"""The Screener page's logic: a watchlist (bundled samples, tickers or pairs, uploaded files) forecast in
one batch (``kronos_studio.batch``) with the sidebar's model and sampling settings, the results kept per
session, filters, a small fan per row, downloads, and opening a row on the Forecast page with the
settings of the run that made it (same model, horizon, paths, seed and lookback: the same fan)."""
from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import streamlit as st

from data_sources import list_samples
from data_sources.intervals import span_text
from data_sources.numbers import MIN_PRICE_DECIMALS
from data_sources.quality import FIX_DESCRIPTIONS
from data_sources.requests import BarsRequest
from data_sources.sources import FILE_UPLOAD, INPUT_KINDS, SAMPLE_PICKER, SOURCES, SYMBOL_TEXT, with_input
from kronos.errors import UserError
from kronos.lazy import np, pd
from kronos.quantiles import BAND_NAME
from kronos.settings import ForecastSettings
from kronos_studio.desk import RISK_KNOBS, BatchSettings, Desk, Entry, RiskSettings, ScreenRequest, WatchlistError
from kronos_studio.desk.exports import csv_text, parquet_bytes
from kronos_studio.desk.watchlists import (
    UPLOAD_SUFFIXES,
    file_instruments,
    sample_entries,
    symbol_entries_of,
    upload_entries,
    upload_names,
)

from . import sidebar
from .errors import app_message, control
from .forecasts import desk
from .formats import PROBABILITY_COLUMN_FORMAT, price_text, probability_points
from .knob_widgets import knob_controls
from .models import wait_for_torch

RESULT_KEY = "_screener_run"  # session state: the latest ScreenerRun
SPARK_BARS = 30  # history closes drawn before the fan
ROW_HEIGHT = 40  # px a table row takes, so that a fan's sparkline is legible
ROWS_IN_VIEW = 15  # rows the table shows before it scrolls (Streamlit's own default is ten rows of 35 px)
HEADER_HEIGHT = 37  # px of the grid's header row and borders
SPARK_W, SPARK_H = 120, 34
HISTORY_COLOUR, FAN_COLOUR = "#7a8494", "#1f77b4"
SHOWN = ("fan", "series", "status", "p_up", "expected_return", "close_p50", "close_p10", "close_p90", "band_width",
         "expected_max_drawdown")
PRICE_SHOWN = ("close_p50", "close_p10", "close_p90", "last_close")
DETAILS = ("last_close", "history_end", "horizon_end", "bars_used", "warnings", "origin")
FAILED_COLUMNS = {"series": "Series", "status": st.column_config.TextColumn("Reason", width="large"),
                  "origin": st.column_config.TextColumn("From", width="medium")}
FIXES = FIX_DESCRIPTIONS  # the gate's fixes a run may accept for every series: name -> what it does


@dataclass(frozen=True)
class RunSettings:
    """What a screener run used: the sidebar's model and its forecast settings when it started."""

    model_key: str
    model_label: str
    model_ref: str
    context: int
    forecast: ForecastSettings  # the lookback as the Forecast page reads it
    risk: RiskSettings = BatchSettings.risk  # the risk columns' levels, positions and volatility interval

    def batch(self) -> BatchSettings:
        return BatchSettings(self.forecast, risk=self.risk)

    def describe(self) -> str:
        f = self.forecast
        return f"{self.model_label} · horizon {f.horizon} · {f.paths} paths · seed {f.seed} · lookback {f.lookback}"


def run_settings(inputs: sidebar.Inputs, risk: RiskSettings = BatchSettings.risk) -> RunSettings:
    """The sidebar's settings as a screener run uses them (the lookback as the Forecast page reads it), with the
    risk columns' ``risk``."""
    m = inputs.model
    return RunSettings(m.key, m.label, m.ref, m.context, inputs.settings(lookback=inputs.lookback_for(m)), risk)


RISK_PREFIX = "scr_risk_"  # the risk columns' widgets' keys


def risk_settings(where) -> RiskSettings | None:
    """The risk columns' settings from their controls (``RiskSettings``' knobs a row depends on, generated), or
    None with the refusal said in ``where``."""
    try:
        return RiskSettings(per_step=False, **knob_controls(where, RiskSettings, RISK_PREFIX, only=RISK_KNOBS,
                                                            handed=False))
    except UserError as e:
        where.error(f"**No risk columns for these settings.** {app_message(e)}", icon=":material/error:")
        return None


@dataclass
class ScreenerRun:
    watchlist: str  # what was screened, in words
    settings: RunSettings
    entries: dict[str, Entry]  # by series name
    rows: pd.DataFrame  # kronos_studio.batch's result rows, in watchlist order
    steps: pd.DataFrame | None
    elapsed_s: float
    series_per_s: float
    sparks: dict[str, str] = field(default_factory=dict)  # series -> SVG data URL
    fixes: tuple[str, ...] = ()  # the data-quality gate's fixes accepted for every series
    calendar: str | None = None  # the uploaded files' calendar (None: inferred from each file's bar times)
    notices: list = field(default_factory=list)  # what the desk said of the rows (``Screened.notices``)
    risk_columns: list = field(default_factory=list)  # the risk measures' columns (``Screened.risk_columns``)


# --- watchlists ---------------------------------------------------------------------------------------

def instrument_pickers(files: list[tuple[str, bytes]]) -> dict[str, list[str]]:
    """A multiselect (all chosen at first) for each uploaded bar file of several instruments: the
    instruments chosen for each such file, by its series name."""
    try:
        entries = upload_entries(files) if files else []
    except WatchlistError:  # said when the screener runs
        return {}
    chosen = {}
    for e in {e.file: e for e in entries if e.symbol is not None}.values():
        found = file_instruments(e.file)
        name = Path(e.file).name
        key = "scr_instruments_" + hashlib.sha256(e.file.encode()).hexdigest()[:12]
        chosen[Path(e.file).stem] = st.multiselect(
            f"Instruments in {name}", found, default=found, key=key,
            help="Each chosen instrument is screened as a series of its own: rows of different instruments are "
                 "never mixed into one series")
        st.caption(f"**{name}** holds {len(found)} instruments: {len(chosen[Path(e.file).stem])} chosen.")
    return chosen


# --- the watchlist's inputs, one function per kind of source input -----------------------------------

WATCHLIST_KINDS = {SAMPLE_PICKER: "Bundled samples", SYMBOL_TEXT: "Tickers or pairs", FILE_UPLOAD: "Upload files"}


@dataclass
class WatchlistInputs:
    """What the watchlist's inputs give: the series to screen (raises WatchlistError) and their name."""

    label: str  # what is screened, in words
    entries: Callable[[], list[Entry]]
    files: bool = False  # uploaded files: the calendar of uploaded files applies


def _sample_watchlist() -> WatchlistInputs:
    names = [s.name for s in list_samples()]
    chosen = st.multiselect("Samples", names, default=names, key="scr_samples",
                            placeholder="Choose bundled samples (offline)")
    return WatchlistInputs(f"{len(chosen)} bundled samples", lambda: sample_entries(chosen))


def _symbol_watchlist() -> WatchlistInputs:
    typed = with_input(SYMBOL_TEXT)
    c1, c2, c3 = st.columns([2, 1.2, 1])
    source = c1.selectbox("Source", list(typed), format_func=lambda k: SOURCES[k].list_label, key="scr_source")
    origin = SOURCES[source]
    # The box stays in place, greyed out, for a source without exchanges.
    offered = origin.exchanges or tuple(dict.fromkeys(e for k in typed for e in SOURCES[k].exchanges))
    exchange = c2.selectbox("Exchange", list(offered), key="scr_exchange", accept_new_options=True,
                            disabled=not origin.needs_exchange)
    interval = c3.selectbox("Interval", list(origin.intervals), key=f"scr_interval_{source}")
    text = st.text_area("Tickers or pairs", ", ".join(origin.examples), key=f"scr_symbols_{source}",
                        help="Separated by commas, spaces or new lines")
    return WatchlistInputs(f"{origin.list_label} ({interval})",
                           lambda: symbol_entries_of(source, text, interval, exchange))


def _upload_watchlist() -> WatchlistInputs:
    files = st.file_uploader("Bar files (one series each, named by the file; one per instrument in a file of several) "
                             "or one watchlist CSV (columns source,symbol,interval[,exchange])",
                             type=list(UPLOAD_SUFFIXES), accept_multiple_files=True, key="scr_upload")
    uploaded = [(f.name, f.getvalue()) for f in files]
    instruments = instrument_pickers(uploaded)
    return WatchlistInputs(f"{len(files)} uploaded files", lambda: upload_entries(uploaded, instruments), files=True)


WATCHLISTS = {SAMPLE_PICKER: _sample_watchlist, SYMBOL_TEXT: _symbol_watchlist, FILE_UPLOAD: _upload_watchlist}
if set(WATCHLISTS) != set(WATCHLIST_KINDS) or set(WATCHLISTS) != set(INPUT_KINDS):
    raise RuntimeError(f"app_support.screener draws the watchlist kinds {sorted(WATCHLISTS)}, the registry has "
                       f"{sorted(INPUT_KINDS)}: add the missing kind's function and name")


def watchlist_inputs() -> WatchlistInputs:
    """The watchlist's kind (of the kinds the registered sources have) and that kind's inputs."""
    kinds = [k for k in WATCHLIST_KINDS if with_input(k)]
    kind = st.segmented_control("Watchlist", kinds, format_func=WATCHLIST_KINDS.get, default=kinds[0],
                                key="scr_kind") or kinds[0]
    return WATCHLISTS[kind]()


# --- running ------------------------------------------------------------------------------------------

def chunk_size(n: int) -> int:
    """Series per batch call: about ten progress updates, at least four series per call, at most 32."""
    return min(32, max(4, math.ceil(n / 10)))


def run(entries: list[Entry], settings: RunSettings, watchlist: str, fixes: tuple[str, ...] = (),
        calendar: str | None = None) -> ScreenerRun:
    """``Desk.screen`` of every entry under a progress bar, with the gate's ``fixes`` accepted and the uploaded files'
    ``calendar``; raises what the desk raises (bad model, no series, an unknown calendar or fix)."""
    from .auth import workspace  # whose champions the model ``champion`` serves

    wait_for_torch()  # torch imported and its threads set, as for a single forecast
    n = len(entries)
    bar = st.progress(0.0, text=f"Loading and checking {n} series, loading {settings.model_label}…")
    rate = [float("nan")]

    def progress(done: int, todo: int, per_s: float) -> None:
        rate[0] = per_s
        bar.progress(done / max(todo, 1), text=f"Forecast {done} of {todo} series · {per_s:.1f} series/s")

    started = time.perf_counter()
    try:
        done = desk().screen(ScreenRequest(tuple(entries), settings.batch(), model=settings.model_ref,
                                           fixes=tuple(fixes), calendar=calendar, chunk=chunk_size(n)),
                             progress=progress, workspace=workspace())
        bar.progress(1.0, text="Drawing the fans…")
        rows = done.rows.copy()
        for c in ("origin", "status", "warnings"):  # uploads by their names (table, reasons, downloads)
            if c in rows.columns:
                rows[c] = rows[c].map(upload_names)
        bar.progress(1.0, text="Reading each series' risk champion…")
        rows = with_served(rows, entries, settings, fixes, calendar)
        out = ScreenerRun(watchlist, settings, {e.series: e for e in entries}, rows, done.steps,
                          time.perf_counter() - started, rate[0], fixes=tuple(fixes), calendar=calendar,
                          notices=done.notices, risk_columns=done.risk_columns)
        out.sparks = sparklines(out)
    finally:
        bar.empty()
    st.session_state[RESULT_KEY] = out
    return out


def with_served(rows: pd.DataFrame, entries: list[Entry], settings: RunSettings, fixes=(), calendar=None) -> pd.DataFrame:
    """``rows`` with each "ok" series' risk-champion columns: ``Desk.screen_served`` in this session's workspace."""
    from .auth import workspace

    return desk().screen_served(entries, rows, settings.forecast, settings.risk, fixes=tuple(fixes),
                                calendar=calendar, workspace=workspace())


def latest() -> ScreenerRun | None:
    return st.session_state.get(RESULT_KEY)


# --- the table ----------------------------------------------------------------------------------------

def sparkline(history: np.ndarray, p10: np.ndarray, p50: np.ndarray, p90: np.ndarray, up: bool | None = None) -> str:
    """A small fan as an SVG data URL: the history closes (grey), then the p10–p90 band and the p50 line
    from the last close, and a dotted line at the last close's level."""
    history = np.asarray(history, dtype=float)
    history = history[np.isfinite(history)]
    p10, p50, p90 = (np.asarray(a, dtype=float) for a in (p10, p50, p90))
    values = np.concatenate([history, p10, p50, p90])
    values = values[np.isfinite(values)]
    if not len(values):
        return ""
    lo, hi = float(values.min()), float(values.max())
    pad = (hi - lo) * 0.06 or abs(hi) * 0.01 or 1.0
    lo, hi = lo - pad, hi + pad
    split = SPARK_W * (0.55 if len(history) > 1 and len(p50) else 1.0 if len(history) > 1 else 0.0)

    def y(v: float) -> float:
        return round(SPARK_H - (v - lo) / (hi - lo) * SPARK_H, 2)

    def hx(i: int) -> float:
        return round(split * i / max(len(history) - 1, 1), 2)

    def fx(i: int) -> float:  # step i (0 = the last close)
        return round(split + (SPARK_W - split) * i / max(len(p50), 1), 2)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SPARK_W}" height="{SPARK_H}" '
             f'viewBox="0 0 {SPARK_W} {SPARK_H}">']
    if len(p50):
        start = history[-1] if len(history) else p50[0]
        upper = [(fx(0), y(start))] + [(fx(i + 1), y(v)) for i, v in enumerate(p90)]
        lower = [(fx(i + 1), y(v)) for i, v in enumerate(p10)][::-1] + [(fx(0), y(start))]
        band = " ".join(f"{a},{b}" for a, b in upper + lower)
        mid = " ".join(f"{a},{b}" for a, b in [(fx(0), y(start))] + [(fx(i + 1), y(v)) for i, v in enumerate(p50)])
        colour = FAN_COLOUR if up is None else ("#2e7d32" if up else "#c62828")
        parts += [f'<line x1="{fx(0)}" y1="{y(start)}" x2="{SPARK_W}" y2="{y(start)}" stroke="{HISTORY_COLOUR}" '
                  'stroke-width="0.8" stroke-dasharray="2,2"/>',
                  f'<polygon points="{band}" fill="{FAN_COLOUR}" fill-opacity="0.25" stroke="none"/>',
                  f'<polyline points="{mid}" fill="none" stroke="{colour}" stroke-width="1.6"/>']
    if len(history) > 1:
        line = " ".join(f"{hx(i)},{y(v)}" for i, v in enumerate(history))
        parts.append(f'<polyline points="{line}" fill="none" stroke="{HISTORY_COLOUR}" stroke-width="1.2"/>')
    parts.append("</svg>")
    return "data:image/svg+xml;base64," + base64.b64encode("".join(parts).encode()).decode()


def _history_closes(run_: ScreenerRun) -> dict[str, np.ndarray]:
    """The last SPARK_BARS closes up to each forecast row's last bar (``Desk.screen_history``: the bars read
    again, files and samples from disk, tickers from the bar cache)."""
    return Desk.screen_history(run_.entries.values(), run_.rows, SPARK_BARS, fixes=run_.fixes, calendar=run_.calendar)


def sparklines(run_: ScreenerRun) -> dict[str, str]:
    """An SVG fan per "ok" row: its history closes, then its p10/p50/p90 closes per step."""
    if run_.steps is None or run_.steps.empty:
        return {}
    closes = _history_closes(run_)
    p_up = dict(zip(run_.rows["series"], run_.rows["p_up"]))
    out = {}
    for name, part in run_.steps.groupby("series", sort=False):
        part = part.sort_values("step")
        up = p_up.get(name)
        out[name] = sparkline(closes.get(name, np.array([])), part["close_p10"], part["close_p50"], part["close_p90"],
                              up=None if up is None or pd.isna(up) else bool(up > 0.5))
    return out


def touch_columns(rows: pd.DataFrame) -> list[str]:
    return [c for c in rows.columns if c.startswith("p_touch_")]


VOL_SHOWN = ("vol_horizon", "vol_bar")  # the paths' realized volatility, over the horizon and per bar


def risk_shown(rows: pd.DataFrame, risk_columns: list) -> list[str]:
    """The risk columns the table shows: the risk model serving each series with its VaR and ES, then each risk
    measure of each position and level read from the paths (``risk_columns``: the desk's ``Screened.risk_columns``;
    their errors, tail paths and the volatility's interval are in the downloads), then the volatility."""
    named = {c.name for c in risk_columns}
    served = [c for c in rows.columns if c == "risk_model" or (c in named and c.startswith("served_"))]
    shown = [c for c in rows.columns if c in named and not c.startswith("served_")]
    return served + shown + [c for c in VOL_SHOWN if c in rows.columns]


def risk_flags(run_: ScreenerRun) -> list[str]:
    """What the desk said of the run's rows, in the app's words: too few paths for a band, a watchlist of several
    bar intervals, whose rows' horizons are of different lengths in time, and rows whose ES rests on too few paths
    beyond the VaR (``Screened.notices``)."""
    return [n.worded(control) for n in run_.notices]


HORIZON_TIME = "horizon_time"  # the table's column of each row's horizon in time ('5 h', '5 d')


def horizon_time(rows: pd.DataFrame) -> pd.Series:
    """Each row's horizon in time: its bars times its interval ('5 h' for 5 hourly bars), '' without a forecast."""
    if "interval" not in rows.columns or "horizon" not in rows.columns:
        return pd.Series("", index=rows.index)
    return pd.Series([span_text(i, int(h)) if isinstance(i, str) and h == h else ""
                      for i, h in zip(rows["interval"], rows["horizon"])], index=rows.index)


def table(rows: pd.DataFrame, sparks: dict[str, str], risk_columns: list) -> pd.DataFrame:
    """Result rows as the page shows them: the fan first, the screening columns, then details (``risk_columns``: the
    run's risk measures' columns, ``ScreenerRun.risk_columns``)."""
    rows = rows.copy()
    rows.insert(0, "fan", [sparks.get(s) for s in rows["series"]])
    for c in ("history_end", "horizon_end"):
        if c in rows.columns:
            rows[c] = pd.to_datetime(rows[c], utc=True).dt.tz_localize(None)
    for c in ("p_up", *touch_columns(rows)):  # whole percents, rounded as the Forecast page rounds them
        rows[c] = probability_points(rows[c])
    # Each series' prices at its own precision (EURUSD 1.20503, not 1.21), as text: one column format cannot
    # give every row its own decimals, and prices of different instruments do not sort into anything.
    decimals = (rows["price_decimals"] if "price_decimals" in rows.columns else pd.Series(index=rows.index))
    decimals = decimals.fillna(MIN_PRICE_DECIMALS).astype(int)
    for c in PRICE_SHOWN:
        if c in rows.columns:
            rows[c] = [None if v != v else price_text(float(v), d) for v, d in zip(rows[c], decimals)]
    rows[HORIZON_TIME] = horizon_time(rows)  # beside the VaR: a 5-hour and a 5-day VaR are told apart
    cols = [c for c in (*SHOWN, *touch_columns(rows), HORIZON_TIME, *risk_shown(rows, risk_columns), *DETAILS)
            if c in rows.columns]
    return rows[cols]


def filter_rows(rows: pd.DataFrame, p_up_min: float = 0.0, band_max: float | None = None,
                ok_only: bool = True) -> pd.DataFrame:
    """Rows with P(up) at least ``p_up_min`` and band width at most ``band_max`` (fractions). Rows with
    no forecast are kept unless ``ok_only`` (numeric filters apply to forecast rows only)."""
    ok = rows["status"] == "ok"
    keep = ok & (rows["p_up"] >= p_up_min - 1e-12)
    if band_max is not None:
        keep &= rows["band_width"] <= band_max + 1e-12
    if not ok_only:
        keep |= ~ok
    return rows[keep].reset_index(drop=True)


def column_config(rows: pd.DataFrame, risk_columns: list) -> dict:
    """The grid's columns. Fan and Series are pinned: a table wider than the page (at 1280 px about 40% of it
    shows) scrolls sideways, and each row must still say which series its numbers are of."""
    pct = st.column_config.NumberColumn
    config = {
        "fan": st.column_config.ImageColumn("Fan", width=SPARK_W + 16, pinned=True,
                                            help=f"The last {SPARK_BARS} closes (grey), the {BAND_NAME} band and the "
                                                 "median path (green: P(up) > 50%, red: below)"),
        "series": st.column_config.TextColumn("Series", pinned=True),
        "status": st.column_config.TextColumn("Status", width="small"),
        "p_up": pct("P(up)", format=PROBABILITY_COLUMN_FORMAT, help="Share of paths whose close at the horizon "
                                                                    "ends above the last close"),
        "expected_return": pct("Expected return", format="percent", help="Mean close at the horizon / last close − 1"),
        "band_width": pct("Band width", format="percent", help="(p90 − p10) of the close at the horizon / last close"),
        "expected_max_drawdown": pct("Exp. max drawdown", format="percent",
                                     help="Mean over the paths of the largest close-to-close fall from a running "
                                          "peak (the last close included)"),
        # Prices: text written by table() at each series' own decimals.
        "close_p50": st.column_config.TextColumn("Close p50"),
        "close_p10": st.column_config.TextColumn("Close p10"),
        "close_p90": st.column_config.TextColumn("Close p90"),
        "last_close": st.column_config.TextColumn("Last close"),
        "history_end": st.column_config.DatetimeColumn("Last bar (UTC)", format="YYYY-MM-DD HH:mm"),
        "horizon_end": st.column_config.DatetimeColumn("Horizon end (UTC)", format="YYYY-MM-DD HH:mm"),
        "bars_used": pct("Bars read", format="%d"),
        HORIZON_TIME: st.column_config.TextColumn("Horizon", help="The horizon in time: its bars × the series' bar "
                                                                  "interval ('5 h': 5 hourly bars). The VaR, ES, "
                                                                  "volatility and P(up) of the row are over it"),
        "warnings": st.column_config.TextColumn("Warnings"),
        "origin": FAILED_COLUMNS["origin"],
    }
    for c in touch_columns(rows):
        level = c.removeprefix("p_touch_")
        side = "low" if level.startswith("-") else "high"
        config[c] = pct(f"P(touch {level})", format=PROBABILITY_COLUMN_FORMAT,
                        help=f"Share of paths where some bar's {side} reaches the last close {level}")
    config |= risk_column_config(rows, risk_columns)
    return config


def risk_column_config(rows: pd.DataFrame, risk_columns: list) -> dict:
    """The risk columns as percentages of the position's value, named for people (``VaR 99% long``) as the risk
    measures' registry names them (``risk_columns``: ``Screened.risk_columns``)."""
    pct = st.column_config.NumberColumn
    config = {"risk_model": st.column_config.TextColumn(
        "Risk model", help="The risk model serving the series (its risk champion, else the default) and why: "
                           "risk_model_why in the downloads")}
    shown = set(risk_shown(rows, risk_columns))
    config |= {c.name: pct(c.label, format="percent", help=c.help) for c in risk_columns if c.name in shown}
    config["vol_horizon"] = pct("Volatility (horizon)", format="percent",
                                help="Close-to-close realized volatility of the paths over the horizon: the square "
                                     "root of their mean summed variance of log-returns")
    config["vol_bar"] = pct("Volatility (bar)", format="percent",
                            help="The same per bar; its interval across paths is vol_bar_low/high in the downloads")
    return config


def table_height(rows: int) -> int:
    """Pixels for a table of ``rows`` rows: every row up to ROWS_IN_VIEW, then it scrolls."""
    return HEADER_HEIGHT + ROW_HEIGHT * max(1, min(rows, ROWS_IN_VIEW))


def table_key(shown: pd.DataFrame) -> str:
    """The table's widget key: a new set of rows (other filters, a new run) starts with no selection."""
    text = "\n".join(shown["series"].astype(str)) + str(shown.get("p_up", pd.Series()).tolist())
    return "screener_table_" + hashlib.sha256(text.encode()).hexdigest()[:12]


def downloads(run_: ScreenerRun) -> dict[str, tuple]:
    """Label -> (a function giving the data, file name, MIME type): the results and per-step quantiles."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"screener_h{run_.settings.forecast.horizon}_seed{run_.settings.forecast.seed}")
    rows, steps = run_.rows, run_.steps
    out = {"Results CSV": (lambda: csv_text(rows), f"{stem}_results.csv", "text/csv"),
           "Results Parquet": (lambda: parquet_bytes(rows), f"{stem}_results.parquet", "application/octet-stream")}
    if steps is not None:
        out["Per-step quantiles CSV"] = (lambda: csv_text(steps), f"{stem}_steps.csv", "text/csv")
        out["Per-step quantiles Parquet"] = (lambda: parquet_bytes(steps), f"{stem}_steps.parquet",
                                             "application/octet-stream")
    return out


# --- opening a row on the Forecast page ---------------------------------------------------------------

def forecast_request(run_: ScreenerRun, series: str) -> tuple[sidebar.Handed | None, str | None]:
    """(``series`` as the Forecast page's request with the run's model and settings: the same fan, None) or
    (None, why it cannot be opened there)."""
    entry = run_.entries.get(series)
    if entry is None:
        return None, f"{series} is not in this run"
    s = run_.settings
    bars = BarsRequest(file=entry.file, symbol=entry.symbol, calendar=run_.calendar, fixes=run_.fixes) \
        if entry.file is not None else BarsRequest(source=entry.source, symbol=entry.symbol, interval=entry.interval,
                                                   exchange=entry.exchange, fixes=run_.fixes)
    handed = sidebar.Handed(bars, s.model_key, s.context, s.forecast)
    _, why = sidebar.widget_state(handed)
    return (None, why) if why is not None else (handed, None)


def open_on_forecast(series: str) -> None:
    """Button callback: the row's series with the run's model and settings handed to the Forecast page, which
    runs it at once."""
    run_ = latest()
    handed, _ = forecast_request(run_, series) if run_ is not None else (None, None)
    if handed is not None:
        sidebar.hand(handed)


def settings_changed(run_: ScreenerRun, inputs: sidebar.Inputs, risk: RiskSettings | None = None) -> list[str]:
    """The sidebar settings (and the risk columns' ``risk``; None: not compared) that differ from the run's, in
    words ("horizon 30 → 10")."""
    if inputs.model is None or not inputs.model.screens:
        return []
    return changes(run_.settings, run_settings(inputs, run_.settings.risk if risk is None else risk))


def changes(then: RunSettings, now: RunSettings) -> list[str]:
    """What differs between two runs' model and forecast settings, every field of ``ForecastSettings``
    (a new sampling knob too), in words ("horizon 30 → 10", "top-p 1.0 → 0.9")."""
    then, now = ({"model": s.model_label, **asdict(s.forecast), **{f"risk {k}": v for k, v in asdict(s.risk).items()}}
                 for s in (then, now))
    return [f"{k.replace('_', '-')} {then[k]} → {now[k]}" for k in now if then[k] != now[k]]
