"""Watches (issue 65): ``kronos watch`` keeps its watches, the ticks they ran (one row per watch and tick time:
the claim that makes a tick run once, and what it did) and the alerts it sent or failed to send; and a ``replay``
label on what a replay writes (``predictions``, the registry's ``adapters`` and ``adapter_events``): '' for every
live row (all rows kept before this revision), a replay's name for its own, so that a replay's forecasts, scores
and champions stay apart from the live ones. A registry entry's uniqueness (one entry per trained window, one
champion per series) now holds per replay.

SQLite cannot change a table's UNIQUE constraint in place, and batch mode's copy of ``adapters`` would delete
through the foreign key of ``adapter_events`` on the old table's drop: the two tables are rebuilt by hand in the
migration's transaction, the events kept aside while ``adapters`` is rebuilt, every id kept.

Revision ID: 0012_watch
Revises: 0011_series_names
"""
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0012_watch"
down_revision = "0011_series_names"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
DEFAULT = "default"  # kronos_studio.ledger.schema.DEFAULT_WORKSPACE when this revision was written
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
ONE_CHAMPION = "status = 'champion'"
LIVE = ""  # kronos_studio.ledger.schema.LIVE: the replay label of a live row
WINDOW = ("workspace", "source", "symbol", "interval", "kind", "base_hash", "window_hash")
SERIES = ("workspace", "source", "symbol", "interval", "kind")
ADAPTER_COLUMNS = ("id", "parent_id", "kind", "workspace", "source", "symbol", "interval", "base_model", "base_hash",
                   "first_bar_at", "last_bar_at", "window_bars", "window_hash", "path", "content_sha256", "settings",
                   "scores", "status", "reason", "made_by", "created_at", "decided_at", "replaced_by")
EVENT_COLUMNS = ("id", "adapter_id", "workspace", "at", "event", "by", "reason", "scores")


def _replay():
    return sa.Column("replay", sa.String(64), nullable=False, server_default=LIVE)


def _adapters(replay: bool):
    """``adapters`` as 0008 made it, with ``replay`` in it and in its uniqueness when ``replay``."""
    window, series = (WINDOW + ("replay",), SERIES + ("replay",)) if replay else (WINDOW, SERIES)
    op.create_table(
        "adapters",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("parent_id", ID, nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(200), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("base_model", sa.String(200), nullable=False),
        sa.Column("base_hash", sa.String(128), nullable=False),
        sa.Column("first_bar_at", TIME, nullable=False),
        sa.Column("last_bar_at", TIME, nullable=False),
        sa.Column("window_bars", sa.Integer(), nullable=False),
        sa.Column("window_hash", sa.String(64), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("made_by", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("replaced_by", ID, nullable=True),
        *([_replay()] if replay else []),
        sa.PrimaryKeyConstraint("id", name="pk_adapters"),
        sa.ForeignKeyConstraint(["parent_id"], ["adapters.id"], name="fk_adapters_parent_id_adapters"),
        sa.ForeignKeyConstraint(["replaced_by"], ["adapters.id"], name="fk_adapters_replaced_by_adapters"),
        sa.UniqueConstraint(*window, name="uq_adapters_window"),
    )
    op.create_index("uq_adapters_one_champion", "adapters", list(series), unique=True,
                    sqlite_where=sa.text(ONE_CHAMPION), postgresql_where=sa.text(ONE_CHAMPION))


def _events(replay: bool):
    op.create_table(
        "adapter_events",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("adapter_id", ID, nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT),
        sa.Column("at", TIME, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("scores", sa.JSON(), nullable=True),
        *([_replay()] if replay else []),
        sa.PrimaryKeyConstraint("id", name="pk_adapter_events"),
        sa.ForeignKeyConstraint(["adapter_id"], ["adapters.id"], name="fk_adapter_events_adapter_id_adapters"),
    )
    op.create_index("ix_adapter_events_adapter_id", "adapter_events", ["adapter_id"])
    op.create_index("ix_adapter_events_workspace_at", "adapter_events", ["workspace", "at"])


def _rebuild_registry_sqlite(replay: bool) -> None:
    """Both registry tables made again with (``replay``) or without the replay label, every row and id kept: the
    events aside first (nothing then refers to ``adapters``), ``adapters`` renamed, made anew and filled in one
    statement (its own parent and replaced-by ids are all there at the statement's end), the old copy dropped, the
    events put back."""
    conn = op.get_bind()
    where = "" if replay else f" WHERE replay = '{LIVE}'"  # going down: a replay's entries leave with its label
    events = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    adapters = ", ".join(f'"{c}"' for c in ADAPTER_COLUMNS)
    conn.exec_driver_sql(f"CREATE TEMP TABLE _events_0011 AS SELECT {events} FROM adapter_events{where}")
    conn.exec_driver_sql("DROP TABLE adapter_events")
    conn.exec_driver_sql("DROP INDEX uq_adapters_one_champion")
    conn.exec_driver_sql("ALTER TABLE adapters RENAME TO _adapters_0011")
    _adapters(replay)
    conn.exec_driver_sql(f"INSERT INTO adapters ({adapters}) SELECT {adapters} FROM _adapters_0011{where}")
    conn.exec_driver_sql("DROP TABLE _adapters_0011")
    _events(replay)
    conn.exec_driver_sql(f"INSERT INTO adapter_events ({events}) SELECT {events} FROM _events_0011")
    conn.exec_driver_sql("DROP TABLE _events_0011")


def upgrade() -> None:
    # A plain ADD COLUMN: batch mode would copy predictions, deleting every stored path and score on the old
    # copy's drop through their ON DELETE CASCADE (as 0008 says).
    op.add_column("predictions", _replay())
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _rebuild_registry_sqlite(replay=True)
    else:
        op.add_column("adapters", _replay())
        op.add_column("adapter_events", _replay())
        op.drop_constraint("uq_adapters_window", "adapters", type_="unique")
        op.create_unique_constraint("uq_adapters_window", "adapters", list(WINDOW + ("replay",)))
        op.drop_index("uq_adapters_one_champion", table_name="adapters")
        op.create_index("uq_adapters_one_champion", "adapters", list(SERIES + ("replay",)), unique=True,
                        postgresql_where=sa.text(ONE_CHAMPION))
    op.create_table(
        "watches",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("replay", sa.String(64), nullable=False, server_default=LIVE),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("request_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("made_by", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_watches"),
        sa.UniqueConstraint("workspace", "name", name="uq_watches_workspace_name"),
    )
    op.create_table(
        "watch_ticks",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("watch_id", ID, nullable=False),
        sa.Column("tick_at", TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claim", sa.String(64), nullable=True),
        sa.Column("holder", sa.String(200), nullable=True),
        sa.Column("claimed_at", TIME, nullable=True),
        sa.Column("lease_until", TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_watch_ticks"),
        sa.ForeignKeyConstraint(["watch_id"], ["watches.id"], name="fk_watch_ticks_watch_id_watches",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("watch_id", "tick_at", name="uq_watch_ticks_watch_id_tick_at"),
    )
    op.create_table(
        "watch_alerts",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("watch_id", ID, nullable=False),
        sa.Column("tick_id", ID, nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("event", sa.String(400), nullable=False),
        sa.Column("series", sa.String(300), nullable=True),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("sent_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_watch_alerts"),
        sa.ForeignKeyConstraint(["watch_id"], ["watches.id"], name="fk_watch_alerts_watch_id_watches",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tick_id"], ["watch_ticks.id"], name="fk_watch_alerts_tick_id_watch_ticks",
                                ondelete="CASCADE"),
        sa.UniqueConstraint("watch_id", "event", "channel", "target", name="uq_watch_alerts_watch_id_event_channel_target"),
    )
    op.create_index("ix_watch_alerts_tick_id", "watch_alerts", ["tick_id"])


def downgrade() -> None:
    op.drop_index("ix_watch_alerts_tick_id", table_name="watch_alerts")
    op.drop_table("watch_alerts")
    op.drop_table("watch_ticks")
    op.drop_table("watches")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _rebuild_registry_sqlite(replay=False)
    else:
        # a replay's registry entries and their events go with the label that kept them apart
        conn.exec_driver_sql(f"DELETE FROM adapter_events WHERE replay <> '{LIVE}'")
        conn.exec_driver_sql(f"UPDATE adapters SET parent_id = NULL WHERE parent_id IN (SELECT id FROM adapters "
                             f"WHERE replay <> '{LIVE}')")
        conn.exec_driver_sql(f"DELETE FROM adapters WHERE replay <> '{LIVE}'")
        op.drop_index("uq_adapters_one_champion", table_name="adapters")
        op.create_index("uq_adapters_one_champion", "adapters", list(SERIES), unique=True,
                        postgresql_where=sa.text(ONE_CHAMPION))
        op.drop_constraint("uq_adapters_window", "adapters", type_="unique")
        op.create_unique_constraint("uq_adapters_window", "adapters", list(WINDOW))
        op.drop_column("adapter_events", "replay")
        op.drop_column("adapters", "replay")
    conn.exec_driver_sql(f"DELETE FROM predictions WHERE replay <> '{LIVE}'")  # paths and scores cascade
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        conn.exec_driver_sql("ALTER TABLE predictions DROP COLUMN replay")  # in place, as 0010 explains
    else:
        with op.batch_alter_table("predictions") as batch:
            batch.drop_column("replay")
