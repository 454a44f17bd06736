"""The history a forecast read, as a fingerprint: a forecast is scored only with bars that hold the bars it
read unchanged (one close within a tolerance let another exchange's bars of the same pair score it), and
why the bars offered last could not score it.

Revision ID: 0004_history_fingerprint
Revises: 0003_fair_crps

Forecasts kept before this revision have no fingerprint: they are still scored by their last close.
"""
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0004_history_fingerprint"
down_revision = "0003_fair_crps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("history_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("fingerprint_bars", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("waiting_reason", sa.String(1000), nullable=True))


def downgrade() -> None:
    columns = ("waiting_reason", "fingerprint_bars", "history_fingerprint")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        # SQLite drops these plain columns in place. Batch mode would copy the table and drop the old one, and
        # that drop deletes every stored path and score through their ON DELETE CASCADE.
        for column in columns:
            conn.exec_driver_sql(f"ALTER TABLE predictions DROP COLUMN {column}")
        return
    with op.batch_alter_table("predictions") as batch:
        for column in columns:
            batch.drop_column(column)
