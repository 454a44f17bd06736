"""The watches ``kronos watch`` keeps in the ledger's database: each watch's request, one row per tick it ran and
the alerts it sent (``schema.watches``, ``watch_ticks``, ``watch_alerts``).

    book = WatchBook(ledger)                         # a scoped ledger: that workspace's watches only
    watch = book.ensure("fx desk", request, key)     # the watch of that name (refused: another request)
    claim = book.claim(watch.id, tick_at)            # Claim, or DONE / BUSY: a tick runs once
    book.finish(claim, DONE, summary)

**A tick runs once** by the database's keys, never by timing: its row is unique per (watch, tick time), and
the process that inserts it (or takes over a stale one) holds its claim, a random token every later write of the
tick names. A second process finds the row: ``DONE`` (nothing to do), or ``BUSY`` while its holder lives. A
claim is stale, and taken over, when its holder is a process of this machine that no longer runs (killed with
-9: the operating system says so at once) or when its lease has passed (a holder on another machine, which
renews its lease as it goes). The take-over is one compare-and-set on the old token, so of two processes taking
over one tick, one wins.
"""
from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from kronos.errors import Fix

from .engine import LedgerError
from .schema import (
    ACTIVE,
    DEFAULT_WORKSPACE,
    DONE,
    FAILED,
    LIVE,
    PAUSED,
    RUNNING,
    SENT,
    watch_alerts,
    watch_ticks,
    watches,
)

LEASE = timedelta(minutes=30)  # how long a claim holds without renewal (a holder on another machine)
BUSY = "busy"  # claim's answer: another process holds the tick now
STATUSES = (ACTIVE, PAUSED)
ERROR_CHARS = 2000


class WatchConflict(LedgerError):
    """A watch of that name exists with another request."""


@dataclass(frozen=True)
class Watch:
    id: int
    workspace: str
    name: str
    replay: str
    request: dict
    request_key: str
    status: str
    made_by: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["created_at"], out["updated_at"] = self.created_at.isoformat(), self.updated_at.isoformat()
        return out


@dataclass(frozen=True)
class Tick:
    id: int
    watch_id: int
    tick_at: datetime
    status: str
    attempts: int
    claimed_at: datetime | None
    finished_at: datetime | None
    summary: dict | None
    error: str | None

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("tick_at", "claimed_at", "finished_at"):
            out[k] = None if out[k] is None else out[k].isoformat()
        return out


@dataclass(frozen=True)
class Alert:
    id: int
    watch_id: int
    tick_id: int
    rule: str
    event: str
    series: str | None
    message: str
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for k in ("created_at", "sent_at"):
            out[k] = None if out[k] is None else out[k].isoformat()
        return out


@dataclass(frozen=True)
class Claim:
    """A tick held by this process: its row, the token its writes name, and whether an earlier attempt was cut
    off (``attempts`` > 1)."""

    tick_id: int
    token: str
    attempts: int


def _of(cls, row):
    return cls(**{f.name: row._mapping[f.name] for f in fields(cls)})


def this_holder() -> str:
    """host:pid of this process: what tells a dead holder of this machine."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_gone(holder: str | None) -> bool:
    """Whether ``holder`` (host:pid) is a process of this machine that no longer runs (a zombie counts as gone)."""
    if not holder or ":" not in holder:
        return False
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: it runs
        return False
    try:  # Linux: a killed child its parent has not reaped yet is a zombie, no longer running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def _now() -> datetime:
    return datetime.now(timezone.utc)


class WatchBook:
    """The watches of ``ledger``'s workspace (``DEFAULT_WORKSPACE`` for an unscoped ledger)."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.workspace = ledger.workspace or DEFAULT_WORKSPACE

    # --- watches -------------------------------------------------------------------------------------------
    def ensure(self, name: str, request: dict, request_key: str, *, replay: str = LIVE,
               made_by: str = "kronos watch") -> Watch:
        """The watch ``name`` of this workspace, made with ``request`` if new; refused (``WatchConflict``) when one
        of that name runs another request (its ticks would mix two settings)."""
        now = _now()

        def work(conn: Connection) -> int:
            w = watches.c
            row = conn.execute(select(watches).where(w.workspace == self.workspace, w.name == name)).first()
            if row is None:
                return conn.execute(watches.insert().values(
                    workspace=self.workspace, name=name, replay=replay, request=request, request_key=request_key,
                    status=ACTIVE, made_by=made_by[:200], created_at=now, updated_at=now).returning(w.id)).scalar_one()
            if row.request_key != request_key or row.replay != replay:
                raise WatchConflict(
                    f"a watch named '{name}' already runs with other settings in workspace '{self.workspace}': its "
                    "ticks would mix two settings", {"watch": name, "workspace": self.workspace},
                    (Fix("name this one otherwise ({setting})", "name"), Fix("or delete that watch first")))
            return int(row.id)

        return self.get(self.ledger.write(work))

    def get(self, watch) -> Watch:
        """The watch by id or name."""
        w = watches.c
        which = w.id == int(watch) if isinstance(watch, int) else w.name == str(watch)
        row = self.ledger.read(lambda conn: conn.execute(select(watches).where(w.workspace == self.workspace,
                                                                               which)).first())
        if row is None:
            raise LedgerError(f"no watch {watch!r} in workspace '{self.workspace}'", {"watch": watch},
                              Fix("{setting} shows the watches", "watches"))
        return _of(Watch, row)

    def list(self) -> list[Watch]:
        w = watches.c
        rows = self.ledger.read(lambda conn: conn.execute(select(watches).where(w.workspace == self.workspace)
                                                          .order_by(w.id)).all())
        return [_of(Watch, r) for r in rows]

    def set_status(self, watch, status: str) -> Watch:
        if status not in STATUSES:
            raise LedgerError(f"a watch is {' or '.join(STATUSES)}, not {status!r}", {"status": status})
        found = self.get(watch)
        self.ledger.write(lambda conn: conn.execute(watches.update().where(watches.c.id == found.id)
                                                    .values(status=status, updated_at=_now())))
        return self.get(found.id)

    def delete(self, watch) -> None:
        """The watch with its ticks and alerts (what it forecast stays in the ledger)."""
        found = self.get(watch)

        def work(conn: Connection) -> None:  # children first: SQLite's cascade needs foreign keys on, which it has
            conn.execute(watch_alerts.delete().where(watch_alerts.c.watch_id == found.id))
            conn.execute(watch_ticks.delete().where(watch_ticks.c.watch_id == found.id))
            conn.execute(watches.delete().where(watches.c.id == found.id))

        self.ledger.write(work)

    # --- ticks ---------------------------------------------------------------------------------------------
    def claim(self, watch_id: int, tick_at: datetime, *, now: datetime | None = None, lease: timedelta = LEASE,
              holder: str | None = None):
        """Hold the tick of ``watch_id`` at ``tick_at``: a ``Claim``; ``DONE`` when it ran already; ``BUSY`` while
        a live process holds it. A failed tick, or one whose holder is gone or whose lease passed, is taken over."""
        now, holder, token = now or _now(), holder or this_holder(), uuid.uuid4().hex
        t = watch_ticks.c

        def work(conn: Connection):
            query = select(watch_ticks).where(t.watch_id == int(watch_id), t.tick_at == tick_at)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            held = {"status": RUNNING, "claim": token, "holder": holder[:200], "claimed_at": now,
                    "lease_until": now + lease, "finished_at": None, "error": None}
            if row is None:  # two inserting at once: one wins, the other's IntegrityError is retried and finds it
                new_id = conn.execute(watch_ticks.insert().values(watch_id=int(watch_id), tick_at=tick_at,
                                                                  attempts=1, **held).returning(t.id)).scalar_one()
                return Claim(int(new_id), token, 1)
            if row.status == DONE:
                return DONE
            stale = row.status == FAILED or holder_gone(row.holder) or (
                row.lease_until is not None and row.lease_until < now)
            if row.status == RUNNING and not stale:
                return BUSY
            taken = conn.execute(watch_ticks.update().where(t.id == row.id, t.claim == row.claim)
                                 .values(attempts=row.attempts + 1, **held)).rowcount
            return Claim(int(row.id), token, row.attempts + 1) if taken else BUSY

        return self.ledger.write(work)

    def renew(self, claim: Claim, *, now: datetime | None = None, lease: timedelta = LEASE) -> bool:
        """Extend the claim's lease; False when another process took the tick over (this one should stop)."""
        now = now or _now()
        t = watch_ticks.c
        return bool(self.ledger.write(lambda conn: conn.execute(
            watch_ticks.update().where(t.id == claim.tick_id, t.claim == claim.token, t.status == RUNNING)
            .values(lease_until=now + lease)).rowcount))

    def finish(self, claim: Claim, status: str, summary: dict | None = None, error: str | None = None,
               *, now: datetime | None = None) -> bool:
        """Close the tick ``DONE`` or ``FAILED`` with what it did; False when it was taken over meanwhile."""
        t = watch_ticks.c
        values = {"status": status, "finished_at": now or _now(), "summary": summary,
                  "error": None if error is None else error[:ERROR_CHARS], "lease_until": None}
        return bool(self.ledger.write(lambda conn: conn.execute(
            watch_ticks.update().where(t.id == claim.tick_id, t.claim == claim.token).values(**values)).rowcount))

    def ticks(self, watch_id: int, limit: int | None = None, *, done_only: bool = False) -> list[Tick]:
        """The watch's ticks, newest first (``limit``: that many)."""
        t = watch_ticks.c
        query = select(watch_ticks).where(t.watch_id == int(watch_id), *([t.status == DONE] if done_only else []))
        query = query.order_by(t.tick_at.desc())
        if limit is not None:
            query = query.limit(int(limit))
        return [_of(Tick, r) for r in self.ledger.read(lambda conn: conn.execute(query).all())]

    def previous(self, watch_id: int, tick_at: datetime) -> Tick | None:
        """The watch's last tick done before ``tick_at``."""
        t = watch_ticks.c
        query = (select(watch_ticks).where(t.watch_id == int(watch_id), t.tick_at < tick_at, t.status == DONE)
                 .order_by(t.tick_at.desc()).limit(1))
        row = self.ledger.read(lambda conn: conn.execute(query).first())
        return None if row is None else _of(Tick, row)

    def done_count(self, watch_id: int, before: datetime) -> int:
        """Ticks of the watch done before ``before``: a schedule's count (a retrain every N ticks)."""
        t = watch_ticks.c
        return int(self.ledger.read(lambda conn: conn.execute(select(func.count()).select_from(watch_ticks).where(
            t.watch_id == int(watch_id), t.tick_at < before, t.status == DONE)).scalar_one()))

    def counts(self, watch_id: int) -> tuple[int, int, int, int]:
        """How many ticks the watch kept and how many of them are done; of its alerts, how many were sent and how
        many failed."""
        t, a = watch_ticks.c, watch_alerts.c

        def work(conn: Connection) -> tuple[int, int, int, int]:
            ticks = dict(conn.execute(select(t.status, func.count()).where(t.watch_id == int(watch_id))
                                      .group_by(t.status)).all())
            alerts = dict(conn.execute(select(a.status, func.count()).where(a.watch_id == int(watch_id))
                                       .group_by(a.status)).all())
            return sum(ticks.values()), ticks.get(DONE, 0), alerts.get(SENT, 0), alerts.get(FAILED, 0)

        return self.ledger.read(work)

    # --- alerts --------------------------------------------------------------------------------------------
    def alert(self, watch_id: int, event: str, channel: str, target: str) -> Alert | None:
        """The alert already kept for this event and target, if any."""
        a = watch_alerts.c
        row = self.ledger.read(lambda conn: conn.execute(select(watch_alerts).where(
            a.watch_id == int(watch_id), a.event == event[:400], a.channel == channel, a.target == target)).first())
        return None if row is None else _of(Alert, row)

    def keep_alert(self, watch_id: int, tick_id: int, *, rule: str, event: str, series: str | None, message: str,
                   channel: str, target: str, sent: bool, attempts: int, last_error: str | None) -> Alert:
        """Record one delivery (sent, or failed after ``attempts``), adding to the attempts of an earlier one of the
        same event and target (a failed alert retried by a later run)."""
        now = _now()
        a = watch_alerts.c
        values = {"status": SENT if sent else FAILED, "last_error": None if last_error is None else last_error[:1000],
                  "sent_at": now if sent else None, "tick_id": int(tick_id), "message": message[:2000]}

        def work(conn: Connection) -> int:
            row = conn.execute(select(a.id, a.attempts).where(
                a.watch_id == int(watch_id), a.event == event[:400], a.channel == channel, a.target == target)).first()
            if row is None:
                return conn.execute(watch_alerts.insert().values(
                    watch_id=int(watch_id), rule=rule, event=event[:400], series=series, channel=channel,
                    target=target, attempts=attempts, created_at=now, **values).returning(a.id)).scalar_one()
            conn.execute(watch_alerts.update().where(a.id == row.id).values(attempts=row.attempts + attempts, **values))
            return int(row.id)

        alert_id = self.ledger.write(work)
        return _of(Alert, self.ledger.read(lambda conn: conn.execute(
            select(watch_alerts).where(a.id == alert_id)).first()))

    def alerts(self, watch_id: int, tick_id: int | None = None) -> list[Alert]:
        """The watch's alerts (of one tick), oldest first."""
        a = watch_alerts.c
        query = select(watch_alerts).where(a.watch_id == int(watch_id), *([a.tick_id == int(tick_id)]
                                                                           if tick_id is not None else []))
        return [_of(Alert, r) for r in self.ledger.read(lambda conn: conn.execute(query.order_by(a.id)).all())]


def live_watches(ledger) -> list[Watch]:
    """Every active live watch of every workspace (not a replay, not paused): what a service ticks."""
    w = watches.c
    rows = ledger.read(lambda conn: conn.execute(select(watches).where(w.replay == LIVE, w.status == ACTIVE)
                                                 .order_by(w.id)).all())
    return [_of(Watch, r) for r in rows]
