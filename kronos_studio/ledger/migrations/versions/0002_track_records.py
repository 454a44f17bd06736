"""Track records in the ledger: the latest walk-forward of each model on each series (the badge beside
the fan), formerly one JSON file each under the storage root, and which of those files were imported.

Revision ID: 0002_track_records
Revises: 0001_initial
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_track_records"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "track_records",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(200), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("model_key", sa.String(500), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_track_records"),
        sa.UniqueConstraint("source", "symbol", "interval", "model_key",
                            name="uq_track_records_source_symbol_interval_model_key"),
    )
    op.create_table(
        "legacy_imports",
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("imported_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name", "sha256", name="pk_legacy_imports"),
    )


def downgrade() -> None:
    op.drop_table("legacy_imports")
    op.drop_table("track_records")
