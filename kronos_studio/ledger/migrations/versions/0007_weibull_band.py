"""Band coverage that does not depend on the path count: every stored step's ``covered`` is re-read from
its prediction's stored close paths with the band at the Weibull positions (``kronos.quantiles``).

Revision ID: 0007_weibull_band
Revises: 0006_workspaces

Until this revision a band was read with numpy's linear rule, whose p10-p90 band of 30 draws holds a new
draw of the same distribution 75% of the time, of 200 draws 79%: a 30-path forecast looked less well
calibrated than a 200-path one of the same distribution. The paths are stored bit for bit, so every old
step's coverage is recomputed exactly here; downgrading restores the linear rule's. The quantile tables
stored with each prediction are the forecast as it was shown then, and stay as they are.
"""
import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0007_weibull_band"
down_revision = "0006_workspaces"
branch_labels = None
depends_on = None

PATH_DTYPE = "<f4"  # as kronos_studio.ledger.schema at this revision (a migration never imports the live schema)
BAND = (0.1, 0.9)  # kronos.quantiles.BAND when this revision was written


def _recover(method: str) -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    paths = sa.Table("prediction_paths", meta, sa.Column("prediction_id"), sa.Column("fields", sa.JSON),
                     sa.Column("n_paths"), sa.Column("horizon"), sa.Column("data", sa.LargeBinary))
    evaluations = sa.Table("evaluations", meta, sa.Column("prediction_id"), sa.Column("step"),
                           sa.Column("actual_close"), sa.Column("covered", sa.Boolean))
    scored = sa.select(evaluations.c.prediction_id).distinct().scalar_subquery()
    for p in conn.execute(sa.select(paths).where(paths.c.prediction_id.in_(scored))).all():
        close = np.frombuffer(p.data, dtype=PATH_DTYPE).reshape(p.n_paths, p.horizon, len(p.fields))
        close = close[:, :, list(p.fields).index("close")].astype(np.float64)
        steps = conn.execute(sa.select(evaluations.c.step, evaluations.c.actual_close)
                             .where(evaluations.c.prediction_id == p.prediction_id)).all()
        idx = np.array([s.step - 1 for s in steps])
        lo, hi = np.quantile(close[:, idx], BAND, axis=0, method=method)
        actual = np.array([s.actual_close for s in steps])
        for s, covered in zip(steps, (actual >= lo) & (actual <= hi)):
            conn.execute(evaluations.update().where((evaluations.c.prediction_id == p.prediction_id)
                                                    & (evaluations.c.step == s.step)).values(covered=bool(covered)))


def upgrade() -> None:
    _recover("weibull")


def downgrade() -> None:
    _recover("linear")
