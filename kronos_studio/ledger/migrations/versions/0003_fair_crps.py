"""Scores with the fair CRPS: every stored step is rescored from its prediction's stored close paths with
the path-count-unbiased estimator, and each step records the estimator that scored it.

Revision ID: 0003_fair_crps
Revises: 0002_track_records

The first two versions scored with the plain sample CRPS (pair sum over S²), which is biased upward by
E|X - X'| / 2S: a 30-path forecast looked worse than a 200-path one of the same distribution. The paths
are stored bit for bit, so the fair score of every old step can be computed exactly here; downgrading
restores the plain score from the same paths.
"""
import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0003_fair_crps"
down_revision = "0002_track_records"
branch_labels = None
depends_on = None

PATH_DTYPE = "<f4"  # as kronos_studio.ledger.schema at this revision (a migration never imports the live schema)


def _rescore(fair: bool) -> None:
    from kronos_studio.evaluation.metrics import crps_samples

    conn = op.get_bind()
    meta = sa.MetaData()
    paths = sa.Table("prediction_paths", meta, sa.Column("prediction_id"), sa.Column("fields", sa.JSON),
                     sa.Column("n_paths"), sa.Column("horizon"), sa.Column("data", sa.LargeBinary))
    evaluations = sa.Table("evaluations", meta, sa.Column("prediction_id"), sa.Column("step"),
                           sa.Column("actual_close"), sa.Column("crps"))
    scored = sa.select(evaluations.c.prediction_id).distinct().scalar_subquery()
    for p in conn.execute(sa.select(paths).where(paths.c.prediction_id.in_(scored))).all():
        close = np.frombuffer(p.data, dtype=PATH_DTYPE).reshape(p.n_paths, p.horizon, len(p.fields))
        close = close[:, :, list(p.fields).index("close")]
        steps = conn.execute(sa.select(evaluations.c.step, evaluations.c.actual_close)
                             .where(evaluations.c.prediction_id == p.prediction_id)).all()
        idx = np.array([s.step - 1 for s in steps])
        crps = crps_samples(close[:, idx], np.array([s.actual_close for s in steps]), fair=fair)
        for s, value in zip(steps, crps):
            conn.execute(evaluations.update().where((evaluations.c.prediction_id == p.prediction_id)
                                                    & (evaluations.c.step == s.step)).values(crps=float(value)))


def upgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.add_column(sa.Column("crps_estimator", sa.String(16), nullable=False, server_default="fair"))
    _rescore(fair=True)


def downgrade() -> None:
    _rescore(fair=False)
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("crps_estimator")
