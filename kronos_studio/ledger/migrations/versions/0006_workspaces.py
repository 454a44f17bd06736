"""Workspaces and API keys: every forecast and track record belongs to a workspace (the rows kept before
this revision go to "default"), and the service's API keys (hashed, each scoped to one workspace).

Revision ID: 0006_workspaces
Revises: 0005_member_rows
"""
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0006_workspaces"
down_revision = "0005_member_rows"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
DEFAULT = "default"  # kronos_studio.ledger.schema.DEFAULT_WORKSPACE when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT))
        batch.create_index("ix_predictions_workspace", ["workspace"])
    with op.batch_alter_table("track_records") as batch:
        batch.add_column(sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT))
        batch.drop_constraint("uq_track_records_source_symbol_interval_model_key", type_="unique")
        batch.create_unique_constraint("uq_track_records_workspace_source_symbol_interval_model_key",
                                       ["workspace", "source", "symbol", "interval", "model_key"])
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    with op.batch_alter_table("track_records") as batch:
        batch.drop_constraint("uq_track_records_workspace_source_symbol_interval_model_key", type_="unique")
        batch.create_unique_constraint("uq_track_records_source_symbol_interval_model_key",
                                       ["source", "symbol", "interval", "model_key"])
        batch.drop_column("workspace")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        # In place: batch mode would copy the table and drop the old one, and that drop deletes every stored
        # path and score through their ON DELETE CASCADE (as 0004's downgrade once did).
        conn.exec_driver_sql("DROP INDEX ix_predictions_workspace")
        conn.exec_driver_sql("ALTER TABLE predictions DROP COLUMN workspace")
        return
    with op.batch_alter_table("predictions") as batch:
        batch.drop_index("ix_predictions_workspace")
        batch.drop_column("workspace")
