"""The first ledger: predictions, their sampled paths and their evaluations.

Revision ID: 0001_initial
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# The types as they stood at this revision (a migration never imports today's schema module).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("forecast_key", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(200), nullable=False),
        sa.Column("interval", sa.String(16), nullable=False),
        sa.Column("calendar", sa.String(32)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("exchange", sa.String(64)),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("last_bar_at", TIME, nullable=False),
        sa.Column("last_close", sa.Float(), nullable=False),
        sa.Column("first_target_at", TIME, nullable=False),
        sa.Column("last_target_at", TIME, nullable=False),
        sa.Column("target_times", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("model_ref", sa.String(500)),
        sa.Column("model_revision", sa.String(64)),
        sa.Column("members", sa.JSON()),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("paths", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("top_p", sa.Float(), nullable=False),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("lookback", sa.Integer()),
        sa.Column("calibrated", sa.Boolean(), nullable=False),
        sa.Column("calibration_levels", sa.JSON()),
        sa.Column("quantile_levels", sa.JSON(), nullable=False),
        sa.Column("quantiles", sa.LargeBinary(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        sa.UniqueConstraint("forecast_key", name="uq_predictions_forecast_key"),
    )
    op.create_index("ix_predictions_source_symbol_interval_last_bar_at", "predictions",
                    ["source", "symbol", "interval", "last_bar_at"])
    op.create_index("ix_predictions_model", "predictions", ["model"])
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_table(
        "prediction_paths",
        sa.Column("prediction_id", ID, nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("n_paths", sa.Integer(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("prediction_id", name="pk_prediction_paths"),
        sa.ForeignKeyConstraint(["prediction_id"], ["predictions.id"], ondelete="CASCADE",
                                name="fk_prediction_paths_prediction_id_predictions"),
    )
    op.create_table(
        "evaluations",
        sa.Column("prediction_id", ID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("bar_time", TIME, nullable=False),
        sa.Column("actual_open", sa.Float(), nullable=False),
        sa.Column("actual_high", sa.Float(), nullable=False),
        sa.Column("actual_low", sa.Float(), nullable=False),
        sa.Column("actual_close", sa.Float(), nullable=False),
        sa.Column("actual_volume", sa.Float(), nullable=False),
        sa.Column("crps", sa.Float(), nullable=False),
        sa.Column("pit", sa.Float(), nullable=False),
        sa.Column("covered", sa.Boolean(), nullable=False),
        sa.Column("direction_hit", sa.Boolean(), nullable=False),
        sa.Column("scored_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("prediction_id", "step", name="pk_evaluations"),
        sa.ForeignKeyConstraint(["prediction_id"], ["predictions.id"], ondelete="CASCADE",
                                name="fk_evaluations_prediction_id_predictions"),
    )


def downgrade() -> None:
    op.drop_table("evaluations")
    op.drop_table("prediction_paths")
    op.drop_index("ix_predictions_created_at", "predictions")
    op.drop_index("ix_predictions_model", "predictions")
    op.drop_index("ix_predictions_source_symbol_interval_last_bar_at", "predictions")
    op.drop_table("predictions")
