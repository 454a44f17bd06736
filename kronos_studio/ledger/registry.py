"""The model registry: every adapter (and meta-learner) trained for a series, in the ledger's database.

    registry = Registry(ledger)                  # a scoped ledger: that workspace's entries only
    entry = registry.register(Candidate(...))    # a challenger (or the entry already there for that window)
    registry.promote(entry.id, scores, reason)   # it serves; the champion it replaces is retired
    registry.reject(entry.id, scores, reason)
    registry.rollback(series)                    # the previous champion serves again (or the base model)
    registry.champion(series)                    # what ``--model champion`` uses, None: the base model

Each move is one write transaction, and the database allows at most one champion per workspace, series
and kind (a partial unique index): two processes promoting at once cannot both win. Status moves:
challenger -> champion | rejected; champion -> retired (replaced, or rolled back); retired -> champion
(a rollback, or a manual promote).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.engine import Connection

from .engine import LedgerError
from .schema import CHALLENGER, CHAMPION, DEFAULT_WORKSPACE, REJECTED, RETIRED, adapters

LORA, META_LEARNER = "lora", "meta_learner"  # the kinds of entry
MANUAL = "manual promote (bypassed the gate)"  # what a promote by hand records as its reason


@dataclass(frozen=True)
class SeriesKey:
    """A series as the ledger names it (``predictions``' source, symbol, interval)."""

    source: str
    symbol: str
    interval: str

    @classmethod
    def of(cls, bars) -> SeriesKey:
        return cls(bars.source, bars.symbol, bars.interval)

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

    @property
    def series(self) -> SeriesKey:
        return SeriesKey(self.source, self.symbol, self.interval)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("first_bar_at", "last_bar_at", "created_at", "decided_at"):
            out[k] = None if out[k] is None else out[k].isoformat()
        return out


def _entry(row) -> Entry:
    return Entry(**{f.name: row._mapping[f.name] for f in fields(Entry)})


class Registry:
    """The registry of ``ledger``'s workspace (``DEFAULT_WORKSPACE`` for an unscoped ledger)."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.workspace = ledger.workspace or DEFAULT_WORKSPACE

    def _series(self, series: SeriesKey, kind: str):
        a = adapters.c
        return (a.workspace == self.workspace, a.source == series.source, a.symbol == series.symbol,
                a.interval == series.interval, a.kind == kind)

    # --- reading -------------------------------------------------------------------------------------
    def get(self, entry_id: int) -> Entry:
        row = self.ledger.read(lambda conn: conn.execute(select(adapters).where(
            adapters.c.id == int(entry_id), adapters.c.workspace == self.workspace)).first())
        if row is None:
            raise LedgerError(f"no adapter {entry_id} in the registry of workspace '{self.workspace}': "
                              "`kronos adapters list` shows the ids")
        return _entry(row)

    def entries(self, series: SeriesKey | None = None, kind: str | None = None) -> list[Entry]:
        """Every entry (of ``series``, of ``kind``), oldest first."""
        a = adapters.c
        where = [a.workspace == self.workspace]
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
                  "made_by": c.made_by, "created_at": _now()}
        new_id = self.ledger.write(lambda conn: conn.execute(
            adapters.insert().values(**values).returning(adapters.c.id)).scalar_one())
        return self.get(new_id)

    def promote(self, entry_id: int, scores: dict | None = None, reason: str = MANUAL) -> Entry:
        """``entry_id`` becomes its series' champion; the champion it replaces is retired (and is what a
        rollback of this one restores)."""
        def work(conn: Connection) -> None:
            entry = self._locked(conn, entry_id)
            if entry.status == CHAMPION:
                return
            now = _now()
            current = conn.execute(select(adapters.c.id).where(*self._series(entry.series, entry.kind),
                                                               adapters.c.status == CHAMPION)).scalar()
            if current is not None:
                conn.execute(adapters.update().where(adapters.c.id == current).values(
                    status=RETIRED, reason=f"replaced by adapter {entry.id}", replaced_by=entry.id, decided_at=now))
            conn.execute(adapters.update().where(adapters.c.id == entry.id).values(
                status=CHAMPION, reason=reason[:1000], decided_at=now, replaced_by=None,
                **({"scores": scores} if scores is not None else {})))

        self.ledger.write(work)
        return self.get(entry_id)

    def reject(self, entry_id: int, scores: dict | None, reason: str) -> Entry:
        def work(conn: Connection) -> None:
            entry = self._locked(conn, entry_id)
            if entry.status == CHAMPION:
                raise LedgerError(f"adapter {entry.id} is the champion of {entry.series}: roll it back instead")
            conn.execute(adapters.update().where(adapters.c.id == entry.id).values(
                status=REJECTED, scores=scores, reason=reason[:1000], decided_at=_now()))

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
                                  "model serves): `kronos adapters list` shows its entries")
            previous = conn.execute(select(a.id).where(*self._series(series, kind), a.replaced_by == current.id)
                                    .order_by(a.decided_at.desc(), a.id.desc())).scalar()
            now = _now()
            conn.execute(adapters.update().where(a.id == current.id).values(
                status=RETIRED, reason="rolled back", decided_at=now))
            if previous is not None:
                conn.execute(adapters.update().where(a.id == previous).values(
                    status=CHAMPION, reason=f"restored by rolling back adapter {current.id}", replaced_by=None,
                    decided_at=now))
            return int(current.id), previous

        retired, restored = self.ledger.write(work)
        return self.get(retired), None if restored is None else self.get(restored)

    def _locked(self, conn: Connection, entry_id: int) -> Entry:
        query = select(adapters).where(adapters.c.id == int(entry_id), adapters.c.workspace == self.workspace)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise LedgerError(f"no adapter {entry_id} in the registry of workspace '{self.workspace}': "
                              "`kronos adapters list` shows the ids")
        return _entry(row)


def _now() -> datetime:
    return datetime.now(timezone.utc)
