"""What a recalibrated risk model has learnt (issue 66): ``risk_state``, one row per workspace, series, model (with
its recalibration) and horizon: the adaptive level of each position and level, the latest realized-to-forecast
variance ratios, the counts, and the readings served whose horizon has not yet ended (``risk.recalibrate``).
Nothing else changes: a new table.

Revision ID: 0013_risk_state
Revises: 0011_series_names
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_risk_state"
down_revision = "0011_series_names"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
DEFAULT = "default"  # kronos_studio.ledger.schema.DEFAULT_WORKSPACE when this revision was written
ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_state",
        sa.Column("id", ID, nullable=False, autoincrement=True),
        sa.Column("workspace", sa.String(64), nullable=False, server_default=DEFAULT),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(200), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("identity", sa.String(64), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("through", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_risk_state"),
        sa.UniqueConstraint("workspace", "source", "symbol", "interval", "identity", "horizon",
                            name="uq_risk_state_series_model"),
    )


def downgrade() -> None:
    op.drop_table("risk_state")
