"""The covariates a forecast was conditioned on (issue 56): ``predictions.covariates``, each other series it
read (as named, its series, interval and the hash of its bars) and the scheduled events, null for a forecast
that read none (every forecast kept before this revision).

Revision ID: 0010_covariates
Revises: 0009_adapter_events
"""
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0010_covariates"
down_revision = "0009_adapter_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("covariates", sa.JSON(), nullable=True))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        # In place: batch mode would copy the table and drop the old one, deleting every stored path and score
        # through their ON DELETE CASCADE (as 0004 says).
        conn.exec_driver_sql("ALTER TABLE predictions DROP COLUMN covariates")
        return
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("covariates")
