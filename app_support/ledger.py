"""The forecast ledger in the app: one ledger per database and process (``desk.ledger.open_ledger``), shared by all
sessions. Pages record the forecasts they show (``Desk.record``: each once, however often it is shown again), bars
score the forecasts due when they load (``Desk.score``), and the Track record page reads it (``Desk.track_record``).
A ledger that cannot be opened costs the app its track record, never a page: the reason is said where a forecast
could not be recorded."""
from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict

import streamlit as st

from data_sources.intervals import is_intraday
from data_sources.sources import SOURCES
from kronos.errors import first_line
from kronos.lazy import pd
from kronos.quantiles import BAND_NAME
from kronos_studio.desk import RecordRequest, ScoreRequest, TrackRecordRequest
from kronos_studio.desk.ledger import counted, import_old_track_records, ledger_place, open_ledger
from kronos_studio.desk.ledger_tables import scored_said

from . import auth
from .errors import app_message
from .forecasts import desk

RETRY_AFTER_S = 60  # a database that could not be opened is tried again after this long, not on every rerun
SCORED_MEMO = 256  # bars objects remembered as scored (per process): a rerun does not query the ledger again
RECORDED_MEMO = 256
LAST_SERIES = "_ledger_series"  # session state: (source, symbol, interval) of the bars loaded last


class _Held:
    """The process's ledger for one URL, or why it could not be opened, and what was done with it."""

    def __init__(self, url: str):
        self.url = url
        self.ledger = None
        self.error: str | None = None
        self.failed_at: float | None = None  # time.monotonic() of the last failed opening
        self.lock = threading.Lock()
        self.recorded: OrderedDict = OrderedDict()  # id(forecast) -> (weakref to it, prediction id)
        self.scored: OrderedDict = OrderedDict()  # (series, content hash) -> None

    def get(self):
        with self.lock:
            due = self.failed_at is None or time.monotonic() - self.failed_at > RETRY_AFTER_S
            if self.ledger is None and due:
                try:
                    self.ledger = open_ledger(self.url)
                    self.error = None
                except Exception as e:  # LedgerError, or a database failing in an unforeseen way
                    self.error = first_line(e)
                    self.failed_at = time.monotonic()
                    return None
                try:  # earlier versions kept each track record in a JSON file: brought in once (files stay)
                    import_old_track_records(self.ledger)
                except Exception:  # an unreadable folder or a failed write: those records stay in their files
                    pass
            return self.ledger

    def empty_and_unmade(self) -> bool:
        """Whether the ledger is a SQLite file not made yet and no old track record waits to come in: it then
        holds no forecast to score, and making it (Alembic's migrations: about 0.5 s of a first page) waits
        for the first forecast it records."""
        return self.ledger is None and ledger_place(self.url).unmade()


@st.cache_resource(show_spinner=False)
def _held(url: str) -> _Held:
    return _Held(url)


def current() -> _Held:
    return _held(ledger_place().url)


def ledger():
    """The ledger of ``$KRONOS_STUDIO_DB`` (or the default SQLite file) as this session's workspace sees it
    (``auth.workspace``), or None when it cannot be opened."""
    book = current().get()
    return None if book is None else book.scoped(auth.workspace())


def problem() -> str | None:
    """Why the ledger is unavailable (None when it is open)."""
    held = current()
    return None if held.get() is not None else held.error


def warn_unavailable(what: str) -> None:
    """Say that the ledger is unavailable and what that costs (on every run it does: the page is redrawn)."""
    st.warning(f"**The forecast ledger is unavailable**, so {what}: {problem() or 'unknown reason'}. Check "
               "KRONOS_STUDIO_DB (a database URL), or unset it for the local SQLite file.", icon=":material/database:")


def record(forecast, bars, *, calibration=None, exchange: str | None = None) -> int | None:
    """Record a forecast shown on a page (the prediction id, or None when the ledger is unavailable).
    The same forecast object shown again on a rerun is not written again."""
    held = current()
    key = (auth.workspace(), id(forecast))
    with held.lock:
        seen = held.recorded.get(key)
    if seen is not None and seen[0]() is forecast:
        return seen[1]
    book = ledger()
    if book is None:
        warn_unavailable("forecasts are not recorded")
        return None
    if exchange is None and SOURCES[bars.source].needs_exchange:  # where `kronos ledger score` fetches the bars again
        from .sidebar import current as inputs

        exchange = inputs().exchange.strip().lower() or None
    try:
        pid = desk(computing=False).record(RecordRequest(forecast, bars, calibration, exchange), ledger=book).id
    except Exception as e:  # a failed write must not cost the user the fan on screen
        st.warning(f"This forecast could not be recorded in the ledger ({app_message(e)}).",
                   icon=":material/database:")
        return None
    with held.lock:
        held.recorded[key] = (weakref.ref(forecast), pid)
        while len(held.recorded) > RECORDED_MEMO:
            held.recorded.popitem(last=False)
    return pid


def score(bars) -> None:
    """Score the forecasts of ``bars``' series that these bars can score (once per bars object per
    process), and say so when some were."""
    st.session_state[LAST_SERIES] = (bars.source, bars.series_symbol, bars.interval)
    held = current()
    key = (auth.workspace(), bars.source, bars.series_symbol, bars.interval, bars.content_hash())
    with held.lock:
        if key in held.scored:
            return
    if held.empty_and_unmade():
        return
    book = ledger()
    if book is None:
        return
    try:
        [report] = desk(computing=False).score(ScoreRequest(bars), ledger=book).series
    except Exception:  # scoring is retried on the next load of these bars; the page goes on
        return
    with held.lock:
        held.scored[key] = None
        while len(held.scored) > SCORED_MEMO:
            held.scored.popitem(last=False)
    if report.steps:
        st.toast(f"New bars of {bars.series_symbol} {bars.interval} {scored_said(report)}: see **Track record**.",
                 icon=":material/fact_check:")


def last_series() -> tuple | None:
    """The series of the bars this session loaded last (the Track record page opens on it)."""
    return st.session_state.get(LAST_SERIES)


def track_record(bars, models=(), member_rows: bool = True):
    """``Desk.track_record`` of ``bars``' series (``models``: of these alone) in this session's workspace, the
    forecasts at the default sampling settings pooled; None when the ledger is unavailable."""
    book = ledger()
    if book is None:
        return None
    request = TrackRecordRequest(source=bars.source, symbol=bars.series_symbol, interval=bars.interval,
                                 models=tuple(models), member_rows=member_rows)
    return desk(computing=False).track_record(request, ledger=book)


def realized(bars, model: str) -> dict | None:
    """What the ledger knows of ``model``'s forecasts of ``bars``' series at the default sampling settings once
    scored (None: nothing yet); ``experiments``: how many forecasts at other settings were left out."""
    try:
        done = track_record(bars, [model])
    except Exception:
        return None
    if done is None or done.models.empty:
        return None
    return {**done.models.iloc[0].to_dict(), "experiments": done.experiments_left_out}


def realized_caption(bars, forecast) -> None:
    """Under the badge: how this model's past forecasts of this series fared once their bars arrived."""
    model = str(forecast.provenance.get("model"))
    r = realized(bars, model)
    if r is None:
        return
    st.caption(f"Realized: {counted(r['scored'], 'past forecast')} of {model} on {bars.series_symbol} scored "
               f"({counted(r['steps'], 'bar')}): "
               f"{BAND_NAME} held {r['coverage']:.0%}, CRPS {r['crps_pct']:.2f}% of price"
               + (f" ({counted(r['experiments'], 'forecast')} with non-default sampling settings left out)"
                  if r["experiments"] else "") + ". See **Track record**.")


def realized_panel(bars) -> None:
    """The Evaluate page's realized track record: every model's recorded forecasts of this series, scored
    on the bars that came after them, beside the walk-forward's backtest."""
    done = track_record(bars, member_rows=False)  # an ensemble's members: on Track record
    if done is None:
        st.caption(f"Realized track record unavailable: {problem()}.")
        return
    table, experiments = done.models, done.experiments_left_out
    with st.container(border=True):
        st.markdown(f"**Realized track record of {bars.series_symbol} {bars.interval}** — forecasts made on this series "
                    "and scored on the bars that really came after them (the forecast ledger)")
        if experiments:
            st.caption(f"{counted(experiments, 'forecast')} with non-default sampling settings left out "
                       "(experiments: see **Track record**).")
        if table.empty:
            st.caption("None scored yet: forecasts shown on the Forecast page are kept and scored once their bars "
                       "arrive; the walk-forward below backtests the model meanwhile.")
            return
        pct = st.column_config.NumberColumn
        st.dataframe(table, hide_index=True, key="ev_realized",
                     column_config={"forecasts": pct("forecasts kept"), "scored": pct("forecasts scored"),
                                    "steps": pct("bars scored"),
                                    "coverage": pct(f"{BAND_NAME} coverage", format="percent"),
                                    "crps_pct": pct("CRPS, % of price", format="%.3f"),
                                    "direction_hit": pct("direction hit", format="percent")})


# Sources whose bars never grow (the bundled samples end in 2013): their forecasts are never scored.
FROZEN_SOURCES = {k: s.frozen for k, s in SOURCES.items() if s.frozen}


def status(table: pd.DataFrame) -> pd.Series:
    """Where each recorded forecast of a ``predictions_frame`` stands, in words: scored, never to be scored
    (a bundled sample), waiting and why the bars loaded last could not score it, or waiting for its bars."""
    def one(row) -> str:
        if row["scored_steps"] >= row["horizon"]:
            return "scored"
        if row["source"] in FROZEN_SOURCES:
            return FROZEN_SOURCES[row["source"]]
        waiting = row.get("waiting")
        if isinstance(waiting, str) and waiting:
            return f"waiting: {waiting}"
        done = f"{row['scored_steps']} of {row['horizon']} bars scored; " if row["scored_steps"] else ""
        return f"{done}waiting for its bars (load this series again once they exist)"

    return table.apply(one, axis=1) if len(table) else pd.Series([], dtype=object)


def series_times(table: pd.DataFrame, column: str) -> pd.Series:
    """A UTC time column in each row's series time zone, without the zone (as the chart shows them)."""
    return pd.Series([pd.NaT if pd.isna(t) else t.tz_convert(z or "UTC").tz_localize(None)
                      for t, z in zip(table[column], table["timezone"])], index=table.index, dtype="datetime64[ns]")


def time_format(table: pd.DataFrame) -> str:
    """Bar times as dates where every row's bars are daily or longer (a midnight says nothing), else with the time."""
    return "YYYY-MM-DD HH:mm" if table["interval"].map(is_intraday).any() else "YYYY-MM-DD"
