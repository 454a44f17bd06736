"""The model registry: every adapter (and meta-learner) trained for a series, its lineage, its scores at
decision and its status, at most one champion per workspace, series and kind; and the adapter a forecast
used (``predictions.adapter_id``).

Revision ID: 0008_registry
Revises: 0007_weibull_band
"""
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0008_registry"
down_revision = "0007_weibull_band"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
DEFAULT = "default"  # kronos_studio.ledger.schema.DEFAULT_WORKSPACE when this revision was written
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
ONE_CHAMPION = "status = 'champion'"


def upgrade() -> None:
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
        sa.PrimaryKeyConstraint("id", name="pk_adapters"),
        sa.ForeignKeyConstraint(["parent_id"], ["adapters.id"], name="fk_adapters_parent_id_adapters"),
        sa.ForeignKeyConstraint(["replaced_by"], ["adapters.id"], name="fk_adapters_replaced_by_adapters"),
        sa.UniqueConstraint("workspace", "source", "symbol", "interval", "kind", "base_hash", "window_hash",
                            name="uq_adapters_window"),
    )
    op.create_index("uq_adapters_one_champion", "adapters", ["workspace", "source", "symbol", "interval", "kind"],
                    unique=True, sqlite_where=sa.text(ONE_CHAMPION), postgresql_where=sa.text(ONE_CHAMPION))
    # A plain ADD COLUMN (no foreign key): batch mode would copy predictions, and dropping the old copy
    # deletes every stored path and score through their ON DELETE CASCADE.
    op.add_column("predictions", sa.Column("adapter_id", ID, nullable=True))
    op.create_index("ix_predictions_adapter_id", "predictions", ["adapter_id"])


def downgrade() -> None:
    op.drop_index("ix_predictions_adapter_id", table_name="predictions")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        conn.exec_driver_sql("ALTER TABLE predictions DROP COLUMN adapter_id")  # in place, as 0006 explains
    else:
        with op.batch_alter_table("predictions") as batch:
            batch.drop_column("adapter_id")
    op.drop_index("uq_adapters_one_champion", table_name="adapters")
    op.drop_table("adapters")
