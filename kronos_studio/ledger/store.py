"""The forecast ledger: a database of every forecast made, scored once the bars it forecast arrive.

    ledger = Ledger.open()                       # $KRONOS_STUDIO_DB, else a SQLite file under the storage root
    ledger.record(forecast, bars)                # -> Recorded(id, new)
    ledger.score(newer_bars)                     # -> ScoreReport: the due steps scored and stored
    ledger.evaluations_frame()                   # one row per scored (prediction, step)
    team = ledger.scoped("research")             # the same database, one workspace's rows only
    past = ledger.replaying("watchlist 2018")    # the same database, one replay's rows only

A ledger opened without a workspace reads every workspace's rows (the single-user studio, an admin) and
records into ``DEFAULT_WORKSPACE``; a scoped one records into, reads, scores and deletes its own only. Every
ledger reads and writes one replay label's rows: the live ones (``LIVE``) unless opened ``replaying`` a replay
(``kronos watch --replay-from``), whose forecasts, scores and registry entries never meet the live ones.

Any SQLAlchemy URL works; SQLite and PostgreSQL are tested. Opening runs the schema's migrations
(Alembic, shipped in ``migrations/``) under a lock, so several processes may open a new or old ledger
at once. SQLite runs in WAL mode with a busy timeout, write transactions take the write lock at
their start (``BEGIN IMMEDIATE``), and every write retries when a concurrent writer got in first:
several Streamlit sessions and command-line runs share one file without losing a row.
"""
from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from data_sources.storage import atomic_write
from kronos.errors import Notice
from kronos.lazy import np, pd

from . import frames, scoring
from .codec import decode_array
from .engine import ENV_DB, LedgerError, create_ledger_engine, dumps, ledger_url, migrate, revision, shown_url
from .horizons import horizon_outcomes
from .legacy import import_files
from .rows import member_rows, prediction_row, utc
from .schema import (
    DEFAULT_WORKSPACE,
    EVERY_REPLAY,
    IN_TRAINING_PERIOD,
    LIVE,
    REPLAY_CHARS,
    evaluations,
    legacy_imports,
    prediction_paths,
    predictions,
)
from .schema import track_records as track_records_table

WRITE_ATTEMPTS = 8


def _retryable(error: DBAPIError) -> bool:
    """A concurrent writer got in first: the same work, done again, succeeds or finds its result."""
    if isinstance(error, IntegrityError):  # someone inserted the same forecast or step a moment ago
        return True
    code = getattr(error.orig, "sqlstate", None)
    if code in ("40001", "40P01"):  # PostgreSQL serialization failure, deadlock
        return True
    text = str(error.orig).lower()
    return "locked" in text or "busy" in text


@dataclass(frozen=True)
class Recorded:
    id: int
    new: bool  # False: the same forecast was already in the ledger (it is kept once)


@dataclass
class ScoreReport:
    """What one scoring stored. Counts forecasts as made: an ensemble's member rows, scored with it, are
    counted apart (``member_steps``), so that a message about forecasts does not count each ensemble 5 times."""

    predictions: int = 0  # predictions that got new scores
    steps: int = 0  # (prediction, step) rows stored
    completed: int = 0  # predictions now scored on every step
    skipped: list[str] = field(default_factory=list)  # why some due predictions could not be scored
    member_steps: int = 0  # (member row, step) rows stored

    def __add__(self, other: ScoreReport) -> ScoreReport:
        return ScoreReport(self.predictions + other.predictions, self.steps + other.steps,
                           self.completed + other.completed, self.skipped + other.skipped,
                           self.member_steps + other.member_steps)


class Ledger:
    def __init__(self, engine: Engine, url: str, workspace: str | None = None, owns_engine: bool = True,
                 replay: str = LIVE):
        self.engine = engine
        self.url = url
        self.workspace = workspace  # None: every workspace's rows
        self.owns_engine = owns_engine
        self.replay = check_replay(replay)  # LIVE: the live rows; a replay's name: its rows only

    # --- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str | None = None, workspace: str | None = None, replay: str = LIVE) -> Ledger:
        """The ledger at ``url`` (default ``ledger_url()``), created or migrated to the current schema;
        ``workspace``: only that workspace's rows (``scoped``); ``replay``: that replay's rows (``replaying``)."""
        url = url or ledger_url()
        engine = create_ledger_engine(url)
        try:
            migrate(engine)
        except OperationalError as e:
            engine.dispose()
            first = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
            raise LedgerError(f"cannot open the ledger at {shown_url(url)}: {first}; check {ENV_DB} and that the "
                              "database is reachable") from None
        except Exception:
            engine.dispose()
            raise
        return cls(engine, url, workspace, replay=replay)

    def scoped(self, workspace: str) -> Ledger:
        """The same database seen by one workspace: it records into, reads, scores and deletes only its
        own rows (of this ledger's replay label). Shares this ledger's engine (closing it leaves the engine open)."""
        return Ledger(self.engine, self.url, workspace, owns_engine=False, replay=self.replay)

    def replaying(self, replay: str) -> Ledger:
        """The same database (and workspace) seen by one replay: its forecasts are recorded with the label
        ``replay`` (part of their key: a replayed forecast never meets a live one), and it reads, scores and
        deletes that label's rows only, its registry that replay's entries (``LIVE``: the live rows). Shares this
        ledger's engine."""
        return Ledger(self.engine, self.url, self.workspace, owns_engine=False, replay=replay)

    def close(self) -> None:
        if self.owns_engine:
            self.engine.dispose()

    def _filters(self, filters: dict) -> dict:
        """``filters`` with this ledger's workspace (a scoped ledger never reads another's rows) and replay label
        (unless ``filters`` ask for ``EVERY_REPLAY``: the export's every row)."""
        out = {"replay": self.replay, **filters}
        return {**out, "workspace": self.workspace} if self.workspace is not None else out

    def _mine(self) -> list:
        """The conditions of this ledger's own rows: its workspace's (if scoped), of its replay label."""
        return frames.conditions(workspace=self.workspace, replay=self.replay)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        label = f", replay={self.replay!r}" if self.replay != LIVE else ""
        return f"Ledger({shown_url(self.url)!r}{label})"

    def write(self, work: Callable[[Connection], object]):
        """Run ``work(connection)`` in one write transaction, again on a concurrent writer's conflict."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(ledger_write=True)
                    with conn.begin():
                        return work(conn)
            except DBAPIError as e:
                if attempt == WRITE_ATTEMPTS - 1 or not _retryable(e):
                    raise
                time.sleep(random.uniform(0, 0.01 * 2 ** attempt))  # jitter: the writers do not collide again

    def read(self, work: Callable[[Connection], object]):
        with self.engine.connect() as conn:
            return work(conn)

    # --- recording ---------------------------------------------------------------------------------
    def record(self, forecast, bars, *, calibration=None, exchange: str | None = None) -> Recorded:
        """Keep ``forecast`` (a ``kronos.Forecast``) of ``bars`` (the ``data_sources.Bars`` it was made
        from: they name the series). ``calibration``: the ``FanCalibration`` that made a calibrated fan
        (a calibrated forecast is recorded as such in any case, from its provenance). The same forecast
        recorded twice is kept once. An ensemble forecast (``EnsembleForecast``) also keeps each member's
        own forecast as a row of its own (``rows.member_rows``), linked to it and scored like any other."""
        row, paths_blob = prediction_row(forecast, bars, calibration, exchange, self.workspace or DEFAULT_WORKSPACE,
                                         self.replay)
        members = member_rows(forecast, bars, row)

        def work(conn: Connection) -> Recorded:
            found = conn.execute(select(predictions.c.id).where(predictions.c.forecast_key == row["forecast_key"]))
            existing = found.scalar()
            if existing is not None:
                return Recorded(int(existing), False)
            new_id = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
            conn.execute(prediction_paths.insert().values(prediction_id=new_id, **paths_blob))
            for member, member_paths in members:  # in the same transaction: an ensemble is never kept without them
                mid = conn.execute(predictions.insert().values(**member, parent_id=new_id)
                                   .returning(predictions.c.id)).scalar_one()
                conn.execute(prediction_paths.insert().values(prediction_id=mid, **member_paths))
            return Recorded(int(new_id), True)

        return self.write(work)

    def made_from(self, bars, horizon: int, paths: int, seed: int) -> dict[int, dict]:
        """id -> provenance of the forecasts as made (not an ensemble's member rows) of ``bars``' series from their
        last bar, at this ``horizon``, path count and ``seed``, among this ledger's rows: what a watch's tick finds
        it recorded already (a tick run again forecasts nothing twice)."""
        p = predictions.c
        last = utc(bars.frame["timestamp"].iloc[-1])
        query = select(p.id, p.provenance).where(
            p.source == bars.source, p.symbol == bars.series_symbol, p.interval == bars.interval, p.last_bar_at == last,
            p.horizon == int(horizon), p.paths == int(paths), p.seed == int(seed), p.parent_id.is_(None), *self._mine())
        return {int(r.id): dict(r.provenance or {}) for r in self.read(lambda conn: conn.execute(query).all())}

    # --- scoring -----------------------------------------------------------------------------------
    def due(self, bars) -> pd.DataFrame:
        """The predictions of ``bars``' series that these bars can score further: prediction_id and the
        first and last step to score now (steps the bars hold after its last bar, not scored yet)."""
        plan, _, _, _ = self._plan(bars)
        return pd.DataFrame([(d.prediction_id, d.first_step, d.last_step) for d in plan],
                            columns=["prediction_id", "first_step", "last_step"])

    def _plan(self, bars) -> tuple[list[scoring.Due], dict[int, str], scoring.Actuals | None, dict[int, str | None]]:
        """(what is due, why some cannot be scored with these bars, the bars in time order, the reasons the
        ledger holds for the candidates). The bars are put in
        order only when the ledger holds forecasts of their series not fully scored: loading a large
        file of a series never forecast costs one query."""
        stamps = bars.frame["timestamp"]
        first, last = stamps.min(), stamps.max()  # NaT skipped
        if pd.isna(first) or first == last:
            return [], {}, None, {}
        first, last = utc(first), utc(last)
        p = predictions.c
        series = [p.source == bars.source, p.symbol == bars.series_symbol, p.interval == bars.interval,
                  p.last_bar_at >= first, p.last_bar_at < last, *self._mine()]
        scored = (select(evaluations.c.prediction_id, func.count().label("n"))
                  .where(evaluations.c.prediction_id.in_(select(p.id).where(*series)))  # this series' steps only
                  .group_by(evaluations.c.prediction_id).subquery())
        n_scored = func.coalesce(scored.c.n, 0)
        query = (select(p.id, p.last_bar_at, p.last_close, p.horizon, n_scored, p.history_fingerprint,
                        p.fingerprint_bars, p.waiting_reason)
                 .outerjoin(scored, scored.c.prediction_id == p.id)
                 .where(*series, n_scored < p.horizon))
        candidates = self.read(lambda conn: conn.execute(query).all())
        if not candidates:
            return [], {}, None, {}
        actual = scoring.Actuals.of(bars)
        due, waiting = scoring.plan([tuple(c)[:7] for c in candidates], actual)
        return due, waiting, actual, {int(c.id): c.waiting_reason for c in candidates}

    def score(self, bars) -> ScoreReport:
        """Score every due prediction of ``bars``' series on the bars that arrived after it was made, and
        store the scores. Cheap to call on every load: steps already scored are left alone."""
        plan, waiting, actual, stored = self._plan(bars)
        self._store_waiting(waiting, stored)
        report = ScoreReport(skipped=[f"prediction {pid}: {why}" for pid, why in waiting.items()])
        for chunk in _chunks(plan, 200):
            ids = [d.prediction_id for d in chunk]
            query = (select(prediction_paths.c.prediction_id, prediction_paths.c.data, prediction_paths.c.fields,
                            prediction_paths.c.n_paths, prediction_paths.c.horizon, predictions.c.last_close,
                            predictions.c.parent_id)
                     .join(predictions, predictions.c.id == prediction_paths.c.prediction_id)
                     .where(prediction_paths.c.prediction_id.in_(ids)))
            stored = {r.prediction_id: r for r in self.read(lambda conn, q=query: conn.execute(q).all())}
            rows = []
            for due in chunk:
                r = stored[due.prediction_id]
                paths = decode_array(r.data, (r.n_paths, r.horizon, len(r.fields)))
                rows += scoring.evaluation_rows(due, paths[:, :, list(r.fields).index("close")], r.last_close, actual)
            members = {pid for pid, r in stored.items() if r.parent_id is not None}
            report += self._store_scores(ids, rows, members)
        return report

    def _store_waiting(self, waiting: dict[int, str], stored: dict[int, str | None]) -> None:
        """Keep why each candidate cannot be scored with the bars offered now (cleared for those that can);
        ``stored``: the reasons the ledger held."""
        changed = {pid: waiting.get(pid) for pid, reason in stored.items() if waiting.get(pid) != reason}
        if not changed:
            return

        def work(conn: Connection) -> None:
            for pid, reason in changed.items():
                conn.execute(predictions.update().where(predictions.c.id == pid)
                             .values(waiting_reason=None if reason is None else reason[:1000]))

        self.write(work)

    def _store_scores(self, ids: list[int], rows: list[dict], members: set[int]) -> ScoreReport:
        """Insert the rows whose step is not scored yet (a concurrent scorer may have stored some);
        ``members``: the ids among ``ids`` of member rows."""
        now = datetime.now(timezone.utc)

        def work(conn: Connection) -> ScoreReport:
            e = evaluations.c
            have = {tuple(r) for r in conn.execute(select(e.prediction_id, e.step).where(e.prediction_id.in_(ids)))}
            new = [{**r, "scored_at": now} for r in rows if (r["prediction_id"], r["step"]) not in have]
            if not new:
                return ScoreReport()
            conn.execute(evaluations.insert(), new)
            touched = {r["prediction_id"] for r in new} - members
            complete = (select(func.count()).select_from(
                select(e.prediction_id).join(predictions, predictions.c.id == e.prediction_id)
                .where(e.prediction_id.in_(touched)).group_by(e.prediction_id, predictions.c.horizon)
                .having(func.count() >= predictions.c.horizon).subquery()))
            member_steps = sum(r["prediction_id"] in members for r in new)
            return ScoreReport(len(touched), len(new) - member_steps, conn.execute(complete).scalar_one(),
                               member_steps=member_steps)

        return self.write(work)

    def pending_series(self) -> pd.DataFrame:
        """Series with predictions not scored on every step yet: source, symbol, interval, exchange,
        predictions, oldest_last_bar_at (the earliest bar their scoring needs)."""
        return self.read(lambda conn: frames.pending_series(conn, self.workspace, self.replay))

    # --- reading -----------------------------------------------------------------------------------
    def predictions_frame(self, **filters) -> pd.DataFrame:
        """One row per prediction with its realized scores so far (see ``frames.predictions_frame``)."""
        return self.read(lambda conn: frames.predictions_frame(conn, **self._filters(filters)))

    def realized_members(self, parents) -> pd.DataFrame:
        """Each member's own realized score over the ensemble predictions ``parents`` (ids): see
        ``frames.realized_members``."""
        return self.read(lambda conn: frames.realized_members(conn, list(parents)))

    def steps_frame(self, *, scored_only: bool = False, **filters) -> pd.DataFrame:
        """One row per (prediction, step): what was forecast and, once scored, what happened."""
        return self.read(lambda conn: frames.steps_frame(conn, scored_only=scored_only, **self._filters(filters)))

    def horizon_outcomes(self, **filters) -> tuple[pd.DataFrame, dict]:
        """Each forecast at the end of its horizon: what happened there once scored, and every path's close
        there (see ``horizons.horizon_outcomes``)."""
        return self.read(lambda conn: horizon_outcomes(conn, **self._filters(filters)))

    def evaluations_frame(self, **filters) -> pd.DataFrame:
        """The scored (prediction, step) rows with their predictions' identity and settings: what a
        model trained on the realized track record (e.g. an ensemble's meta-learner) reads."""
        return self.steps_frame(scored_only=True, **filters)

    def export(self, path: str | os.PathLike, **filters) -> int:
        """Write ``steps_frame(**filters)`` to a Parquet file (every replay's rows too unless ``filters`` name one,
        each row with its ``replay`` label); returns the number of rows."""
        filters = {"replay": EVERY_REPLAY, **filters}

        table = self.steps_frame(**filters)
        atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
        return len(table)

    def series_frame(self) -> pd.DataFrame:
        """One row per series in the ledger: source, symbol, interval, predictions, models, latest."""
        return self.read(lambda conn: frames.series_frame(conn, self.workspace, self.replay))

    def paths(self, prediction_id: int) -> tuple[tuple[str, ...], np.ndarray]:
        """(fields, [paths, horizon, fields] float32) of one prediction, exactly as recorded."""
        mine = select(predictions.c.id).where(predictions.c.id == int(prediction_id), *self._mine())
        row = self.read(lambda conn: conn.execute(
            select(prediction_paths).where(prediction_paths.c.prediction_id.in_(mine))).first())
        if row is None:
            raise LedgerError(f"no prediction {prediction_id} in the ledger")
        return tuple(row.fields), decode_array(row.data, (row.n_paths, row.horizon, len(row.fields)))

    def features(self, ids) -> dict[int, dict]:
        """prediction id -> the meta-learner's feature row an ensemble gave that member (member rows only)."""
        query = (select(predictions.c.id, predictions.c.features)
                 .where(predictions.c.id.in_([int(i) for i in ids]), predictions.c.features.is_not(None)))
        return {int(r.id): dict(r.features) for r in self.read(lambda conn: conn.execute(query).all())}

    def delete(self, prediction_id: int) -> None:
        """Remove one prediction with its paths and scores (an ensemble's: its member rows too); a scoped
        ledger finds only its own."""
        pid = int(prediction_id)

        def work(conn: Connection) -> None:
            mine = conn.execute(select(predictions.c.id).where(predictions.c.id == pid, *self._mine())).first()
            if mine is None:
                raise LedgerError(f"no prediction {pid} in the ledger")
            ids = [pid, *conn.execute(select(predictions.c.id).where(predictions.c.parent_id == pid)).scalars()]
            conn.execute(evaluations.delete().where(evaluations.c.prediction_id.in_(ids)))
            conn.execute(prediction_paths.delete().where(prediction_paths.c.prediction_id.in_(ids)))
            conn.execute(predictions.delete().where(predictions.c.parent_id == pid))
            conn.execute(predictions.delete().where(predictions.c.id == pid))

        self.write(work)

    def counts(self) -> dict[str, int]:
        mine = self._mine()
        t = track_records_table.c

        def work(conn):
            return {"predictions": conn.execute(select(func.count()).select_from(predictions).where(*mine)).scalar_one(),
                    "evaluations": conn.execute(select(func.count()).select_from(evaluations).join(
                        predictions, predictions.c.id == evaluations.c.prediction_id).where(*mine)).scalar_one(),
                    "track_records": conn.execute(select(func.count()).select_from(track_records_table).where(
                        *([t.workspace == self.workspace] if self.workspace is not None else []))).scalar_one()}

        return self.read(work)

    # --- track records (the badge beside the fan) ----------------------------------------------------
    def put_track_record(self, series: tuple[str, str, str, str], record: dict) -> None:
        """Keep ``record`` (``TrackRecord.to_dict()``) as the latest of (source, symbol, interval, model key)."""
        source, symbol, interval, model_key = series
        values = {"updated_at": datetime.now(timezone.utc), "record": json.loads(dumps(record))}
        workspace = self.workspace or DEFAULT_WORKSPACE
        where = _series_filter(series, workspace)

        def work(conn: Connection) -> None:
            if conn.execute(select(track_records_table.c.id).where(where)).first() is None:
                conn.execute(track_records_table.insert().values(source=source, symbol=symbol, interval=interval,
                                                                 model_key=model_key, workspace=workspace, **values))
            else:
                conn.execute(track_records_table.update().where(where).values(**values))

        self.write(work)

    def track_record(self, series: tuple[str, str, str, str]) -> dict | None:
        """The latest walk-forward record of (source, symbol, interval, model key) in this ledger's
        workspace (``DEFAULT_WORKSPACE`` when it has none)."""
        row = self.read(lambda conn: conn.execute(
            select(track_records_table.c.record).where(
                _series_filter(series, self.workspace or DEFAULT_WORKSPACE))).first())
        return None if row is None else row[0]

    def import_track_record_files(self, folder: str | os.PathLike) -> dict[str, int]:
        """Bring the JSON track records an earlier version kept under ``folder`` into the ledger, once:
        each file is remembered by name and content; a series the ledger already has a record for keeps
        it (that one is newer). The files stay where they are. Returns counts by outcome."""
        return import_files(self, Path(folder))

    def legacy_imported(self) -> set[tuple[str, str]]:
        return set(self.read(lambda conn: conn.execute(select(legacy_imports.c.name, legacy_imports.c.sha256)).all()))


def replay_notices(replay: str) -> list[Notice]:
    """What a view of the replay ``replay``'s rows says first: that its ticks forecast bars the base model learned
    from, when its label carries the flag (``schema.IN_TRAINING_PERIOD``)."""
    if not replay.endswith(IN_TRAINING_PERIOD):
        return []
    return [Notice(f"replay '{replay}' forecast bars inside the base model's training period: its scores, drift and "
                   "exceptions partly measure memory, not forecasting", values={"replay": replay})]


def check_replay(replay: str) -> str:
    """``replay`` when it can label a replay's rows (``LIVE``, or a name of at most ``REPLAY_CHARS`` characters
    other than ``EVERY_REPLAY``)."""
    if not isinstance(replay, str) or replay == EVERY_REPLAY or len(replay) > REPLAY_CHARS:
        raise LedgerError(f"a replay's label is a name of at most {REPLAY_CHARS} characters (not {EVERY_REPLAY!r}), "
                          f"got {replay!r}", {"replay": replay})
    return replay


def _series_filter(series, workspace: str):
    source, symbol, interval, model_key = series
    t = track_records_table.c
    return ((t.workspace == workspace) & (t.source == source) & (t.symbol == symbol) & (t.interval == interval)
            & (t.model_key == model_key))


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def schema_revision(ledger: Ledger) -> str | None:
    """The revision the database is at (HEAD once opened)."""
    return revision(ledger.engine)
