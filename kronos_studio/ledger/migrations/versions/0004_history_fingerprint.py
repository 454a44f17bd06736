"""The history a forecast read, as a fingerprint: a forecast is scored only with bars that hold the bars it
read unchanged (one close within a tolerance let another exchange's bars of the same pair score it), and
why the bars offered last could not score it.

Revision ID: 0004_history_fingerprint
Revises: 0003_fair_crps

Forecasts kept before this revision have no fingerprint: they are still scored by their last close.
"""
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
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("waiting_reason")
        batch.drop_column("fingerprint_bars")
        batch.drop_column("history_fingerprint")
