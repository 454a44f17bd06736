"""Where the ledger lives and how it is reached: the URL (``$KRONOS_STUDIO_DB``, else a SQLite file under
the storage root), an engine with the ledger's connection rules (SQLite: WAL, a busy timeout, foreign keys,
explicit BEGINs; PostgreSQL through psycopg 3), and the schema's migrations (Alembic, run under a lock)."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from data_sources.storage import storage_path
from kronos.errors import UNREACHABLE, UserError
from kronos.lazy import np

from .schema import HEAD

ENV_DB = "KRONOS_STUDIO_DB"  # any SQLAlchemy URL; unset: the SQLite file below
DB_FILE = "ledger.sqlite"  # under data_sources.storage's root
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_MS = 30_000  # how long a SQLite writer waits for another one before the retry loop takes over
PG_CONNECT_TIMEOUT_S = 5  # a team database that is down says so in seconds, not minutes
MIGRATION_LOCK = 0x4B524F4E  # PostgreSQL advisory lock id held while migrating ("KRON")
# Alembic keeps its running migration in module globals: two ledgers migrating at once in one process
# (the database locks below only order those on the same database) must take turns.
_ALEMBIC = threading.Lock()


class LedgerError(UserError):
    """The ledger cannot be opened or used as asked; the message names the problem and the fix."""

    refusal = UNREACHABLE


def ledger_url() -> str:
    """``$KRONOS_STUDIO_DB``, else ``sqlite:///<storage root>/ledger.sqlite`` (read on every call)."""
    url = os.environ.get(ENV_DB, "").strip()
    if url:
        return url

    return f"sqlite:///{storage_path(DB_FILE)}"


def shown_url(url: str) -> str:
    """The URL with any password masked, fit for messages and the command line."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)  # paths, timestamps: their text is what a reader wants


def dumps(value) -> str:
    return json.dumps(value, default=json_default)


def create_ledger_engine(url: str) -> Engine:
    """An engine for ``url`` with the ledger's connection rules: for SQLite WAL, a busy timeout, foreign
    keys and explicit BEGINs; ``postgresql://`` uses psycopg 3 (the driver we depend on)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(f"{ENV_DB}={url!r} is not a database URL: use e.g. sqlite:////path/to/ledger.sqlite "
                          "or postgresql+psycopg://user:password@host:5432/dbname") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict = {"json_serializer": dumps, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise LedgerError(f"cannot create the ledger's folder {folder} ({e.strerror or e}): set "
                                  f"{ENV_DB} to a database URL in a writable place") from None
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_MS / 1000}
    elif parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise LedgerError(f"no database driver for {shown_url(url)} ({e}): install it, or use a sqlite:/// or "
                          "postgresql+psycopg:// URL") from None
    if engine.dialect.name == "sqlite":
        _sqlite_rules(engine)
    return engine


def _sqlite_rules(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, _record):
        # pysqlite's own transaction handling would BEGIN late (deferred) and commit before DDL; we
        # emit BEGIN ourselves (below) so that a writer holds the write lock from its first statement.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")  # first: the next pragma may wait for a lock
        _enter_wal(cursor)  # readers never block the writer, nor it them
        cursor.execute("PRAGMA synchronous = NORMAL")  # WAL: durable against a crashed process, no fsync per commit
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn):
        # IMMEDIATE takes the write lock now: two deferred writers that both read first would otherwise
        # deadlock on the upgrade, and SQLite answers that with an immediate "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("ledger_write") else "BEGIN")


def _enter_wal(cursor) -> None:
    """Switch the database to WAL. Switching needs the lock to itself, and SQLite answers a switch that
    meets another connection's (several first opens of a new file at once) with "database is locked" at
    once, without the busy handler: retry until the busy timeout, as a busy writer would be waited for."""
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(engine: Engine) -> None:
    """Bring the schema to HEAD. Cheap when it is there already (one query, no Alembic import);
    otherwise Alembic upgrades inside one transaction that holds the write lock (SQLite) or an
    advisory lock (PostgreSQL), so that concurrent first opens migrate once."""
    if revision(engine) == HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _ALEMBIC, engine.connect() as conn:
        conn.execution_options(ledger_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as e:  # e.g. a ledger written by a newer Kronos Studio
                raise LedgerError(f"cannot migrate the ledger at {shown_url(str(engine.url))}: {e}; if a newer "
                                  "Kronos Studio wrote it, upgrade this one") from None


def revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
