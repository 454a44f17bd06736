"""The model registry: every adapter (and meta-learner) trained for a series, in the ledger's database.

    registry = Registry(ledger)                  # a scoped ledger: that workspace's entries only
    entry = registry.register(Candidate(...))    # a challenger (or the entry already there for that window)
    registry.promote(entry.id, scores, reason)   # it serves; the champion it replaces is retired
    registry.reject(entry.id, scores, reason)
    registry.rollback(series)                    # the previous champion serves again (or the base model)
    registry.champion(series)                    # what ``--model champion`` uses, None: the base model
    registry.history(series)                     # every move of its entries, in order (``Event``s)

Each move is one write transaction, and the database allows at most one champion per workspace, series
and kind (a partial unique index): two processes promoting at once cannot both win. Status moves:
challenger -> champion | rejected; champion -> retired (replaced, or rolled back); retired -> champion
(a rollback, or a manual promote).

Each move also appends its events (``adapter_events``) in the same transaction: what happened, what made
it (``gate``, ``manual``, ``rollback``), the reason and the gate's scores. An entry's ``reason`` and
``decided_at`` are its latest state; its events keep the earlier ones (the gate's reason of a champion
later retired, a promote that bypassed the gate).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.engine import Connection

from kronos.errors import Fix

from .engine import LedgerError
from .schema import (
    BY_GATE,
    BY_MANUAL,
    BY_ROLLBACK,
    CHALLENGER,
    CHAMPION,
    DEFAULT_WORKSPACE,
    LIVE,
    PROMOTED,
    REGISTERED,
    REJECTED,
    REJECTED_EVENT,
    RESTORED,
    RETIRED,
    RETIRED_EVENT,
    ROLLED_BACK,
    adapter_events,
    adapters,
)
from .scoring import window_held

LORA, META_LEARNER = "lora", "meta_learner"  # the kinds of entry
RISK_CHAMPION = "risk_champion"  # a series' risk model (kronos_studio.risk.champion): no weights, ``path`` empty
MANUAL = "manual promote (bypassed the gate)"  # what a promote by hand records as its reason
ROLLED_BACK_REASON = "rolled back"  # what a rollback records as the reason of the champion it retires


@dataclass(frozen=True)
class SeriesKey:
    """A series as the ledger names it (``predictions``' source, symbol, interval): ``symbol`` is the bars'
    ``series_symbol``, the name the user or the source gives it with its venue where that is known (two
    exchanges' bars of one symbol are two series, each with its own champion, when their venues are known; a
    file's name is no part of it)."""

    source: str
    symbol: str
    interval: str

    @classmethod
    def of(cls, bars) -> SeriesKey:
        return cls(bars.source, bars.series_symbol, bars.interval)

    def __str__(self) -> str:
        return f"{self.source}:{self.symbol}:{self.interval}"


@dataclass(frozen=True)
class Candidate:
    """What a new entry records: the series, the base model, the data window and the training settings."""

    series: SeriesKey
    base_model: str
    base_hash: str
    first_bar_at: datetime
    last_bar_at: datetime
    window_bars: int
    window_hash: str
    path: str
    settings: dict
    made_by: str
    kind: str = LORA
    parent_id: int | None = None
    content_sha256: str | None = None


@dataclass(frozen=True)
class Entry:
    """One registry row."""

    id: int
    parent_id: int | None
    kind: str
    workspace: str
    source: str
    symbol: str
    interval: str
    base_model: str
    base_hash: str
    first_bar_at: datetime
    last_bar_at: datetime
    window_bars: int
    window_hash: str
    path: str
    content_sha256: str | None
    settings: dict
    scores: dict | None
    status: str
    reason: str | None
    made_by: str
    created_at: datetime
    decided_at: datetime | None
    replaced_by: int | None
    replay: str = LIVE  # the replay that trained it (LIVE: none)

    @property
    def series(self) -> SeriesKey:
        return SeriesKey(self.source, self.symbol, self.interval)

    def window_held(self, frame) -> bool | None:
        """Whether bars ``frame`` hold the window this adapter learned from unchanged (True), other bars over its
        span (False: a split adjusted in since, another exchange's bars of the series' name), or do not span it
        (None: nothing to compare); ``scoring.window_held``."""
        return window_held(frame, self.first_bar_at, self.last_bar_at, self.window_bars, self.window_hash)

    @property
    def served(self) -> tuple:
        """What names this adapter for good in a process's caches: its id with its files' folder and digest (an
        id alone repeats across the ledgers one process may open)."""
        return self.id, self.path, self.content_sha256

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("first_bar_at", "last_bar_at", "created_at", "decided_at"):
            out[k] = None if out[k] is None else out[k].isoformat()
        return out


@dataclass(frozen=True)
class Event:
    """One move of one entry (an ``adapter_events`` row)."""

    id: int
    adapter_id: int
    at: datetime
    event: str  # registered, promoted, rejected, retired, rolled_back, restored
    by: str  # gate, manual, rollback (a registered event: the entry's made_by)
    reason: str | None
    scores: dict | None

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["at"] = self.at.isoformat()
        return out


def _entry(row) -> Entry:
    return Entry(**{f.name: row._mapping[f.name] for f in fields(Entry)})


class Registry:
    """The registry of ``ledger``'s workspace (``DEFAULT_WORKSPACE`` for an unscoped ledger) and replay label (a
    replay's entries, trained and promoted as it went, are a registry of their own: they never serve live)."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.workspace = ledger.workspace or DEFAULT_WORKSPACE
        self.replay = ledger.replay

    def _mine(self):
        return (adapters.c.workspace == self.workspace, adapters.c.replay == self.replay)

    def _series(self, series: SeriesKey, kind: str):
        a = adapters.c
        return (*self._mine(), a.source == series.source, a.symbol == series.symbol,
                a.interval == series.interval, a.kind == kind)

    # --- reading -------------------------------------------------------------------------------------
    def get(self, entry_id: int) -> Entry:
        row = self.ledger.read(lambda conn: conn.execute(select(adapters).where(
            adapters.c.id == int(entry_id), *self._mine())).first())
        if row is None:
            raise LedgerError(f"no adapter {entry_id} in the registry of workspace '{self.workspace}'",
                              {"adapter": entry_id}, Fix("{setting} shows the ids", "adapters"))
        return _entry(row)

    def entries(self, series: SeriesKey | None = None, kind: str | None = None) -> list[Entry]:
        """Every entry (of ``series``, of ``kind``), oldest first."""
        a = adapters.c
        where = list(self._mine())
        if series is not None:
            where += [a.source == series.source, a.symbol == series.symbol, a.interval == series.interval]
        if kind is not None:
            where.append(a.kind == kind)
        rows = self.ledger.read(lambda conn: conn.execute(select(adapters).where(*where).order_by(a.id)).all())
        return [_entry(r) for r in rows]

    def champion(self, series: SeriesKey, kind: str = LORA) -> Entry | None:
        """The series' current champion, None when the base model serves."""
        row = self.ledger.read(lambda conn: conn.execute(select(adapters).where(
            *self._series(series, kind), adapters.c.status == CHAMPION)).first())
        return None if row is None else _entry(row)

    def find_window(self, series: SeriesKey, base_hash: str, window_hash: str, kind: str = LORA) -> Entry | None:
        """The entry already trained on this window of this series on this base, if any."""
        a = adapters.c
        row = self.ledger.read(lambda conn: conn.execute(select(adapters).where(
            *self._series(series, kind), a.base_hash == base_hash, a.window_hash == window_hash)).first())
        return None if row is None else _entry(row)

    def history(self, series: SeriesKey | None = None, kind: str | None = None,
                entry_id: int | None = None) -> list[Event]:
        """The events of the entries of ``series`` (of ``kind``; or of the one entry ``entry_id``), oldest first."""
        a, ev = adapters.c, adapter_events.c
        where = [ev.workspace == self.workspace, ev.replay == self.replay]
        if series is not None:
            where += [a.source == series.source, a.symbol == series.symbol, a.interval == series.interval]
        if kind is not None:
            where.append(a.kind == kind)
        if entry_id is not None:
            where.append(ev.adapter_id == int(entry_id))
        query = (select(adapter_events).join(adapters, a.id == ev.adapter_id).where(*where)
                 .order_by(ev.at, ev.id))
        rows = self.ledger.read(lambda conn: conn.execute(query).all())
        return [Event(**{f.name: r._mapping[f.name] for f in fields(Event)}) for r in rows]

    # --- moves (one transaction each) -------------------------------------------------------------------
    def register(self, candidate: Candidate) -> Entry:
        """A new challenger; the entry already registered for the same window when there is one."""
        known = self.find_window(candidate.series, candidate.base_hash, candidate.window_hash, candidate.kind)
        if known is not None:
            return known
        c = candidate
        values = {"parent_id": c.parent_id, "kind": c.kind, "workspace": self.workspace, "source": c.series.source,
                  "symbol": c.series.symbol, "interval": c.series.interval, "base_model": c.base_model,
                  "base_hash": c.base_hash, "first_bar_at": c.first_bar_at, "last_bar_at": c.last_bar_at,
                  "window_bars": int(c.window_bars), "window_hash": c.window_hash, "path": str(c.path),
                  "content_sha256": c.content_sha256, "settings": c.settings, "status": CHALLENGER,
                  "made_by": c.made_by, "created_at": _now(), "replay": self.replay}

        def work(conn: Connection) -> int:
            new_id = conn.execute(adapters.insert().values(**values).returning(adapters.c.id)).scalar_one()
            self._event(conn, new_id, values["created_at"], REGISTERED, c.made_by)
            return new_id

        return self.get(self.ledger.write(work))

    def promote(self, entry_id: int, scores: dict | None = None, reason: str = MANUAL,
                by: str | None = None) -> Entry:
        """``entry_id`` becomes its series' champion; the champion it replaces is retired (and is what a
        rollback of this one restores). ``by``: what decided it, ``manual`` when ``reason`` is ``MANUAL``
        (a promote by hand), else the gate."""
        by = _decider(by or (BY_MANUAL if reason == MANUAL else BY_GATE))

        def work(conn: Connection) -> None:
            entry = self._locked(conn, entry_id)
            if entry.status == CHAMPION:
                return
            now = _now()
            current = conn.execute(select(adapters.c.id).where(*self._series(entry.series, entry.kind),
                                                               adapters.c.status == CHAMPION)).scalar()
            if current is not None:
                replaced = f"replaced by adapter {entry.id}"
                conn.execute(adapters.update().where(adapters.c.id == current).values(
                    status=RETIRED, reason=replaced, replaced_by=entry.id, decided_at=now))
                self._event(conn, current, now, RETIRED_EVENT, by, replaced)
            conn.execute(adapters.update().where(adapters.c.id == entry.id).values(
                status=CHAMPION, reason=reason[:1000], decided_at=now, replaced_by=None,
                **({"scores": scores} if scores is not None else {})))
            self._event(conn, entry.id, now, PROMOTED, by, reason, scores)

        self.ledger.write(work)
        return self.get(entry_id)

    def reject(self, entry_id: int, scores: dict | None, reason: str, by: str = BY_GATE) -> Entry:
        by = _decider(by)

        def work(conn: Connection) -> None:
            entry = self._locked(conn, entry_id)
            if entry.status == CHAMPION:
                raise LedgerError(f"adapter {entry.id} is the champion of {entry.series}: roll it back instead")
            now = _now()
            conn.execute(adapters.update().where(adapters.c.id == entry.id).values(
                status=REJECTED, scores=scores, reason=reason[:1000], decided_at=now))
            self._event(conn, entry.id, now, REJECTED_EVENT, by, reason, scores)

        self.ledger.write(work)
        return self.get(entry_id)

    def rollback(self, series: SeriesKey, kind: str = LORA) -> tuple[Entry, Entry | None]:
        """Retire the series' champion and restore the one it replaced (None: the base model serves).
        Returns (the retired champion, the restored one)."""
        def work(conn: Connection) -> tuple[int, int | None]:
            a = adapters.c
            current = conn.execute(select(adapters).where(*self._series(series, kind), a.status == CHAMPION)).first()
            if current is None:
                raise LedgerError(f"{series} has no champion to roll back in workspace '{self.workspace}' (the base "
                                  "model serves)", {"series": str(series)}, Fix("{setting} shows its entries", "adapters"))
            previous = conn.execute(select(a.id).where(*self._series(series, kind), a.replaced_by == current.id)
                                    .order_by(a.decided_at.desc(), a.id.desc())).scalar()
            now = _now()
            conn.execute(adapters.update().where(a.id == current.id).values(
                status=RETIRED, reason=ROLLED_BACK_REASON, decided_at=now))
            self._event(conn, current.id, now, ROLLED_BACK, BY_ROLLBACK, ROLLED_BACK_REASON)
            if previous is not None:
                restored = f"restored by rolling back adapter {current.id}"
                conn.execute(adapters.update().where(a.id == previous).values(
                    status=CHAMPION, reason=restored, replaced_by=None, decided_at=now))
                self._event(conn, previous, now, RESTORED, BY_ROLLBACK, restored)
            return int(current.id), previous

        retired, restored = self.ledger.write(work)
        return self.get(retired), None if restored is None else self.get(restored)

    def _event(self, conn: Connection, entry_id: int, at: datetime, event: str, by: str, reason: str | None = None,
               scores: dict | None = None) -> None:
        """Append one event, in the move's own transaction."""
        conn.execute(adapter_events.insert().values(
            adapter_id=int(entry_id), workspace=self.workspace, replay=self.replay, at=at, event=event, by=by[:200],
            reason=None if reason is None else reason[:1000], scores=scores))

    def _locked(self, conn: Connection, entry_id: int) -> Entry:
        query = select(adapters).where(adapters.c.id == int(entry_id), *self._mine())
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise LedgerError(f"no adapter {entry_id} in the registry of workspace '{self.workspace}'",
                              {"adapter": entry_id}, Fix("{setting} shows the ids", "adapters"))
        return _entry(row)


def _decider(by: str) -> str:
    """``by`` when it names what may decide a promote or a reject (the gate, or a person by hand)."""
    if by not in (BY_GATE, BY_MANUAL):
        raise LedgerError(f"a registry decision is made by {BY_GATE!r} or {BY_MANUAL!r}, not {by!r}")
    return by


def _now() -> datetime:
    return datetime.now(timezone.utc)
