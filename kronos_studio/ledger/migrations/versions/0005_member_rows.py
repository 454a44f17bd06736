"""One row per member of an ensemble forecast: ``parent_id`` (the ensemble's row), the weight the
meta-learner gave the member and the features it weighed it by.

Revision ID: 0005_member_rows
Revises: 0004_history_fingerprint

Rows kept before this revision get nulls (no ensemble forecast kept its members before). Downgrading
deletes the member rows (the earlier schema cannot tell them from forecasts the user made).
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_member_rows"
down_revision = "0004_history_fingerprint"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
FK = "fk_predictions_parent_id_predictions"
INDEX = "ix_predictions_parent_id"
COLUMNS = ("parent_id", "weight", "features")
CHILDREN = ("prediction_paths", "evaluations")  # tables whose rows reference predictions ON DELETE CASCADE


def _sqlite_rebuild(alter) -> None:
    """Rebuild SQLite's predictions table with ``alter(batch)`` (SQLite alters no foreign key in place). The
    rebuild drops the old table, and that drop deletes every row referencing it through ON DELETE CASCADE:
    those rows are kept aside meanwhile and put back."""
    conn = op.get_bind()
    for table in CHILDREN:
        conn.exec_driver_sql(f"CREATE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
    with op.batch_alter_table("predictions", recreate="always") as batch:
        alter(batch)
    for table in CHILDREN:
        conn.exec_driver_sql(f"DELETE FROM {table}")
        conn.exec_driver_sql(f"INSERT INTO {table} SELECT * FROM kept_{table}")
        conn.exec_driver_sql(f"DROP TABLE kept_{table}")


def upgrade() -> None:
    parent = sa.Column("parent_id", Id, nullable=True)
    if op.get_bind().dialect.name == "sqlite":
        def alter(batch):
            batch.add_column(parent)
            batch.create_foreign_key(FK, "predictions", ["parent_id"], ["id"], ondelete="CASCADE")
        _sqlite_rebuild(alter)
    else:
        op.add_column("predictions", parent)
        op.create_foreign_key(FK, "predictions", "predictions", ["parent_id"], ["id"], ondelete="CASCADE")
    op.add_column("predictions", sa.Column("weight", sa.Float(), nullable=True))
    op.add_column("predictions", sa.Column("features", sa.JSON(), nullable=True))
    op.create_index(INDEX, "predictions", ["parent_id"])


def downgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("DELETE FROM predictions WHERE parent_id IS NOT NULL")
    op.drop_index(INDEX, table_name="predictions")
    if conn.dialect.name == "sqlite":
        def alter(batch):
            batch.drop_constraint(FK, type_="foreignkey")
            for column in reversed(COLUMNS):
                batch.drop_column(column)
        _sqlite_rebuild(alter)
    else:
        op.drop_constraint(FK, "predictions", type_="foreignkey")
        for column in reversed(COLUMNS):
            op.drop_column("predictions", column)
