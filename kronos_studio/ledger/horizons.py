"""Each recorded forecast at the end of its horizon: the close it saw last, the close that happened at its last
step once that bar has arrived (``evaluations``), and the close of every sampled path at that step
(``prediction_paths``). What a risk forecast read from the stored paths is judged on
(``kronos_studio.risk.record``): nothing beyond what recording and scoring keep is needed."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from kronos.lazy import np, pd

from .codec import decode_array
from .frames import conditions, non_default_settings
from .schema import evaluations, prediction_paths, predictions

P = predictions.c
COLUMNS = ["prediction_id", "created_at", "workspace", "source", "symbol", "interval", "model", "horizon", "paths", "last_bar_at",
           "last_close", "horizon_bar_at", "horizon_close", "non_default_settings"]
CHUNK = 200  # predictions whose paths are read in one query


def horizon_outcomes(conn: Connection, *, member_rows: bool = False, **filters) -> tuple[pd.DataFrame, dict]:
    """(one row per prediction matching ``filters`` (``frames.conditions``; an ensemble's member rows only with
    ``member_rows``), ordered by workspace, series, model, last bar and id: its identity, ``last_close``, and once the bar
    of its last step has been scored ``horizon_bar_at`` (that bar's time) and ``horizon_close`` (its close), else
    NaT and NaN; ``non_default_settings`` as ``frames.non_default_settings``;
    prediction id -> [paths] float32 close of each path at the last step, for the scored ones only)."""
    last = evaluations.alias("horizon_step")
    query = (select(P.id, P.created_at, P.workspace, P.source, P.symbol, P.interval, P.model, P.horizon, P.paths, P.last_bar_at,
                    P.last_close, last.c.bar_time, last.c.actual_close, P.provenance, P.temperature, P.top_p, P.top_k)
             .outerjoin(last, (last.c.prediction_id == P.id) & (last.c.step == P.horizon))
             .where(*conditions(member_rows=member_rows, **filters))
             .order_by(P.workspace, P.source, P.symbol, P.interval, P.model, P.last_bar_at, P.id))
    rows = conn.execute(query).all()
    frame = pd.DataFrame({
        **{c: [r[i] for r in rows] for i, c in enumerate(COLUMNS[:-1])},
        "non_default_settings": [non_default_settings(r.provenance, {"temperature": r.temperature,
                                                                     "top_p": r.top_p, "top_k": r.top_k})
                                 for r in rows]}, columns=COLUMNS)
    for c in ("created_at", "last_bar_at", "horizon_bar_at"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    for c in ("last_close", "horizon_close"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    for c in ("prediction_id", "horizon", "paths"):
        frame[c] = frame[c].astype("int64")
    scored = frame.loc[frame["horizon_close"].notna(), "prediction_id"].tolist()
    closes = {}
    for i in range(0, len(scored), CHUNK):
        chunk = scored[i:i + CHUNK]
        for r in conn.execute(select(prediction_paths).where(prediction_paths.c.prediction_id.in_(chunk))):
            fields = list(r.fields)
            paths = decode_array(r.data, (r.n_paths, r.horizon, len(fields)))
            closes[int(r.prediction_id)] = np.array(paths[:, -1, fields.index("close")])
    return frame, closes
