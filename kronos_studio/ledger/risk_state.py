"""What a recalibrated risk model has learnt, kept per workspace, series, model and horizon (table ``risk_state``).

    states = RiskStates(ledger)                        # a scoped ledger: that workspace's rows only
    kept = states.get(series, identity, horizon)       # None: nothing learnt yet
    states.put(series, model, identity, horizon, state, through)

The state itself is the risk library's (``kronos_studio.risk.recalibrate``: each level's adaptive tail probability,
the variance ratios, the readings served whose horizon has not ended); the ledger keeps it as JSON and never reads
inside it. ``put`` replaces the row in one write transaction; two writers of one row: the later wins, whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .registry import SeriesKey
from .schema import DEFAULT_WORKSPACE, risk_state


@dataclass(frozen=True)
class StoredRiskState:
    """One ``risk_state`` row."""

    model: str
    identity: str
    horizon: int
    state: dict
    through: datetime | None
    updated_at: datetime


class RiskStates:
    """The risk states of ``ledger``'s workspace (``DEFAULT_WORKSPACE`` for an unscoped ledger)."""

    def __init__(self, ledger):
        self.ledger = ledger
        self.workspace = ledger.workspace or DEFAULT_WORKSPACE

    def _where(self, series: SeriesKey, identity: str, horizon: int):
        r = risk_state.c
        return (r.workspace == self.workspace, r.source == series.source, r.symbol == series.symbol,
                r.interval == series.interval, r.identity == identity, r.horizon == int(horizon))

    def get(self, series: SeriesKey, identity: str, horizon: int) -> StoredRiskState | None:
        row = self.ledger.read(lambda conn: conn.execute(
            select(risk_state).where(*self._where(series, identity, horizon))).first())
        if row is None:
            return None
        m = row._mapping
        return StoredRiskState(m["model"], m["identity"], int(m["horizon"]), dict(m["state"]), m["through"],
                               m["updated_at"])

    def put(self, series: SeriesKey, model: str, identity: str, horizon: int, state: dict,
            through: datetime | None) -> None:
        """Keep ``state`` (plain JSON values) as what ``model`` has learnt on ``series`` at ``horizon``."""
        values = {"model": model[:500], "state": state, "through": through, "updated_at": datetime.now(timezone.utc)}

        def work(conn: Connection) -> None:
            done = conn.execute(risk_state.update().where(*self._where(series, identity, horizon)).values(**values))
            if done.rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(risk_state.insert().values(
                        workspace=self.workspace, source=series.source, symbol=series.symbol,
                        interval=series.interval, identity=identity, horizon=int(horizon), **values))
            except IntegrityError:  # another writer inserted it meanwhile: ours replaces it
                conn.execute(risk_state.update().where(*self._where(series, identity, horizon)).values(**values))

        self.ledger.write(work)

    def all(self, series: SeriesKey | None = None) -> list[StoredRiskState]:
        """Every state of the workspace (of ``series``), oldest update first."""
        r = risk_state.c
        where = [r.workspace == self.workspace]
        if series is not None:
            where += [r.source == series.source, r.symbol == series.symbol, r.interval == series.interval]
        rows = self.ledger.read(lambda conn: conn.execute(select(risk_state).where(*where)
                                                          .order_by(r.updated_at, r.id)).all())
        return [StoredRiskState(m["model"], m["identity"], int(m["horizon"]), dict(m["state"]), m["through"],
                                m["updated_at"]) for m in (row._mapping for row in rows)]
