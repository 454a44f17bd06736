"""A series is what the user names it, with its venue where that is known; a file's name is no part of it
(issue 62 item 1). Rows written while a file's series carried the file's name (``FILE:SYMBOL``, from
2026-11-25 to this revision) are renamed to the symbol, so that a newer download of the series scores their
forecasts, and a ccxt series gains its exchange (``binance:BTC/USDT``), which its forecasts recorded beside it.

The names, per table:

- ``predictions``: a file's row (``source`` 'file', no exchange recorded) whose symbol holds ':' is renamed to
  what follows the first ':' (the file's name came first; an instrument's own ':' stays, as in
  ``x:NASDAQ:AAPL``); a ccxt row with its exchange becomes ``exchange:symbol``.
- ``adapters`` and ``track_records``: a file's entry by the same rule; a ccxt entry gains the exchange its
  series' forecasts in the same workspace were recorded with, when they name exactly one (else it keeps its
  name: which exchange it learned from was never recorded).

Two old names that become one series (two exchanges' files of BTC, each with its file's name) meet: their
forecasts join one series, which scoring tells apart by the bars themselves (a forecast is scored only by
bars that continue the history it read). Where the registry allows one of a kind, the newest stays: of two
champions the one decided last serves and the other is retired, with an ``adapter_events`` row saying why
(by ``migration``); an entry whose very window is already registered under the new name, and a track record
of a model the new name already has, keep their old name. Going down leaves the names as they are.

Revision ID: 0011_series_names
Revises: 0010_covariates
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0011_series_names"
down_revision = "0010_covariates"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
SEPARATOR = ":"  # data_sources.schema: between a file's name and its symbol before, a venue and its symbol now
FILE, CCXT = "file", "ccxt"
MIGRATION = "migration"  # adapter_events.by of the moves this revision makes

PREDICTIONS = sa.table("predictions", sa.column("id", ID), sa.column("workspace", sa.String),
                       sa.column("source", sa.String), sa.column("symbol", sa.String),
                       sa.column("interval", sa.String), sa.column("exchange", sa.String))
ADAPTERS = sa.table("adapters", sa.column("id", ID), sa.column("workspace", sa.String), sa.column("kind", sa.String),
                    sa.column("source", sa.String), sa.column("symbol", sa.String), sa.column("interval", sa.String),
                    sa.column("base_hash", sa.String), sa.column("window_hash", sa.String),
                    sa.column("status", sa.String), sa.column("reason", sa.String), sa.column("created_at", TIME),
                    sa.column("decided_at", TIME))
EVENTS = sa.table("adapter_events", sa.column("adapter_id", ID), sa.column("workspace", sa.String),
                  sa.column("at", TIME), sa.column("event", sa.String), sa.column("by", sa.String),
                  sa.column("reason", sa.String), sa.column("scores", sa.JSON))
TRACK_RECORDS = sa.table("track_records", sa.column("id", ID), sa.column("workspace", sa.String),
                         sa.column("source", sa.String), sa.column("symbol", sa.String),
                         sa.column("interval", sa.String), sa.column("model_key", sa.String),
                         sa.column("updated_at", TIME))


def file_symbol(symbol: str) -> str:
    """A file's series name without the file's name in front of it."""
    return symbol.split(SEPARATOR, 1)[1] if SEPARATOR in symbol else symbol


def venue_symbol(symbol: str, exchange: str) -> str:
    return f"{exchange.strip().lower()}{SEPARATOR}{symbol}"


def upgrade() -> None:
    conn = op.get_bind()
    p = PREDICTIONS.c
    # predictions: per old name, one UPDATE
    renamed = conn.execute(sa.select(p.source, p.symbol, p.exchange).distinct().where(sa.or_(
        sa.and_(p.source == FILE, p.exchange.is_(None), p.symbol.contains(SEPARATOR, autoescape=True)),
        sa.and_(p.source == CCXT, p.exchange.is_not(None), p.exchange != "")))).all()
    for source, symbol, exchange in renamed:
        new = file_symbol(symbol) if source == FILE else venue_symbol(symbol, exchange)
        same_exchange = p.exchange.is_(None) if exchange is None else p.exchange == exchange
        conn.execute(PREDICTIONS.update().where(p.source == source, p.symbol == symbol, same_exchange)
                     .values(symbol=new))
    # the exchange of each ccxt series, where its forecasts name one (per workspace)
    named = conn.execute(sa.select(p.workspace, p.symbol, p.interval, p.exchange).distinct()
                         .where(p.source == CCXT, p.exchange.is_not(None), p.exchange != "")).all()
    exchanges: dict[tuple, set] = {}
    for workspace, symbol, interval, exchange in named:
        bare = symbol.split(SEPARATOR, 1)[1] if symbol.startswith(exchange.strip().lower() + SEPARATOR) else symbol
        exchanges.setdefault((workspace, bare, interval), set()).add(exchange.strip().lower())

    def new_name(workspace, source, symbol, interval) -> str | None:
        if source == FILE:
            return file_symbol(symbol)
        if source == CCXT:
            found = exchanges.get((workspace, symbol, interval), set())
            return venue_symbol(symbol, next(iter(found))) if len(found) == 1 else None
        return None

    _rename_adapters(conn, new_name)
    _rename_track_records(conn, new_name)


def _rename_adapters(conn, new_name) -> None:
    a = ADAPTERS.c
    rows = conn.execute(sa.select(ADAPTERS)).all()
    moves = []
    for r in rows:
        new = new_name(r.workspace, r.source, r.symbol, r.interval)
        if new is not None and new != r.symbol:
            moves.append((r, new))
    if not moves:
        return
    moving = {r.id for r, _ in moves}
    # what already stands under each name: the rows that keep theirs
    windows = {(r.workspace, r.source, r.symbol, r.interval, r.kind, r.base_hash, r.window_hash)
               for r in rows if r.id not in moving}
    champions = {(r.workspace, r.source, r.symbol, r.interval, r.kind)
                 for r in rows if r.id not in moving and r.status == "champion"}
    now = datetime.now(timezone.utc)
    # champions first, the last decided first: of two champions meeting under one name, the newer serves
    order = sorted(moves, key=lambda m: (m[0].status != "champion",
                                         -(m[0].decided_at or m[0].created_at).timestamp()))
    for r, new in order:
        window = (r.workspace, r.source, new, r.interval, r.kind, r.base_hash, r.window_hash)
        if window in windows:  # this very window is registered under the new name already: keep the old name
            continue
        windows.add(window)
        values = {"symbol": new}
        series = (r.workspace, r.source, new, r.interval, r.kind)
        if r.status == "champion":
            if series in champions:
                reason = (f"retired when its series' name {r.symbol!r} became {new!r}: a file's name is no "
                          "part of a series, and another champion of that series was decided later")
                values.update(status="retired", reason=reason, decided_at=now)
                conn.execute(EVENTS.insert().values(adapter_id=r.id, workspace=r.workspace, at=now, event="retired",
                                                    by=MIGRATION, reason=reason, scores=None))
            else:
                champions.add(series)
        conn.execute(ADAPTERS.update().where(a.id == r.id).values(**values))


def _rename_track_records(conn, new_name) -> None:
    t = TRACK_RECORDS.c
    rows = conn.execute(sa.select(TRACK_RECORDS)).all()
    moves = [(r, new) for r in rows
             if (new := new_name(r.workspace, r.source, r.symbol, r.interval)) is not None and new != r.symbol]
    moving = {r.id for r, _ in moves}
    taken = {(r.workspace, r.source, r.symbol, r.interval, r.model_key) for r in rows if r.id not in moving}
    for r, new in sorted(moves, key=lambda m: -m[0].updated_at.timestamp()):  # the newest record of a model stays
        key = (r.workspace, r.source, new, r.interval, r.model_key)
        if key in taken:
            continue
        taken.add(key)
        conn.execute(TRACK_RECORDS.update().where(t.id == r.id).values(symbol=new))


def downgrade() -> None:
    """The names stay as they are: which file each row came from was never recorded."""
