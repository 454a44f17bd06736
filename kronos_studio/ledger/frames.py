"""The ledger read as DataFrames: predictions with their realized scores, the long (prediction, step)
table the export and the meta-learner read, the series and what is still to score.

Filters (all optional, combined with AND): ``source``, ``symbol``, ``interval``, ``models`` (names),
``since`` (created at or after; a date or time, UTC when naive), ``last_bar_from`` (forecasts whose last bar seen
is at or after this time: a watch's newest), ``ids`` (prediction ids), ``parents`` (the
member rows of these ensemble predictions), ``member_rows`` (False: only the forecasts as made, without the
rows an ensemble forecast keeps for each of its members), ``workspace``, ``replay`` (one label's rows: the live
ones, ``schema.LIVE``, unless a replay's name is given; ``schema.EVERY_REPLAY``: all, each with its label).
Every view reads its rows through ``conditions``, so a replay's rows never mix with the live ones."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select, true
from sqlalchemy.engine import Connection

from kronos.config import BAR_COLUMNS
from kronos.lazy import np, pd
from kronos.quantiles import level_name
from kronos.settings import sampling_defaults

from .codec import decode_array, decode_times
from .rows import MEMBER_PREFIX
from .schema import EVERY_REPLAY, LIVE, evaluations, predictions
from .scoring import QUANTILE_LEVELS

P, E = predictions.c, evaluations.c
SERIES = ["source", "symbol", "interval"]
IDENTITY = ["created_at", "source", "symbol", "interval", "timezone", "model", "model_revision", "calibrated",
            "horizon", "paths", "seed", "temperature", "top_p", "top_k", "lookback", "last_bar_at", "last_close",
            "parent_id", "weight", "replay"]


def as_utc(when) -> pd.Timestamp:
    t = pd.Timestamp(when)
    return t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")


def conditions(*, source: str | None = None, symbol: str | None = None, interval: str | None = None,
               models: Sequence[str] | None = None, since=None, last_bar_from=None, ids: Sequence[int] | None = None,
               parents: Sequence[int] | None = None, member_rows: bool = True,
               workspace: str | None = None, replay: str = LIVE) -> list:
    out = [] if replay == EVERY_REPLAY else [P.replay == replay]
    for column, value in (("source", source), ("symbol", symbol), ("interval", interval), ("workspace", workspace)):
        if value is not None:
            out.append(P[column] == value)
    if models is not None:
        out.append(P.model.in_(list(models)))
    if since is not None:
        out.append(P.created_at >= as_utc(since).to_pydatetime())
    if last_bar_from is not None:
        out.append(P.last_bar_at >= as_utc(last_bar_from).to_pydatetime())
    if ids is not None:
        out.append(P.id.in_([int(i) for i in ids]))
    if parents is not None:
        out.append(P.parent_id.in_([int(i) for i in parents]))
    if not member_rows:
        out.append(P.parent_id.is_(None))
    return out


def _frame(conn: Connection, query, columns: list[str]) -> pd.DataFrame:
    rows = conn.execute(query).all()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    for c in columns:
        if c.endswith("_at") or c in ("timestamp", "bar_time", "latest"):
            frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame


def _share(flag):
    """AVG of a boolean on every backend (PostgreSQL has no AVG(boolean))."""
    return func.avg(case((flag, 1.0), else_=0.0))


def non_default_settings(provenance: dict | None, columns: dict) -> str:
    """The sampling settings of one forecast that differ from the defaults (``kronos.settings.sampling_defaults``),
    as 'temperature 2.0, top_p 0.05'; '' for a forecast at the defaults. Read from the settings its provenance
    recorded, else (older rows) from its ``columns`` (temperature, top_p, top_k); a setting recorded nowhere
    counts as unknown, not as changed."""
    prov = provenance if isinstance(provenance, dict) else {}
    recorded = {**columns, **(prov.get("settings") or {}), "precision": prov.get("precision")}
    return ", ".join(f"{name} {recorded[name]}" for name, value in sampling_defaults().items()
                     if recorded.get(name) is not None and recorded[name] != value)


def default_settings_only(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(the forecasts of a ``predictions_frame`` made at the default sampling settings, how many were left out):
    what a summary pools unless experiments are asked for."""
    keep = table["non_default_settings"] == ""
    return table[keep], int((~keep).sum())


def predictions_frame(conn: Connection, **filters) -> pd.DataFrame:
    """One row per prediction, newest first: its identity and settings, and what is known so far:
    scored_steps, crps (mean over the scored steps, price units) and crps_pct (% of the last close),
    coverage (share of scored steps inside p10-p90), direction_hit (share of scored steps whose median
    moved the way the close did), last_scored_step and its actual close, realized_return (that close
    vs the last close the forecast saw), waiting (why the bars offered last could not score it, or None),
    non_default_settings (``non_default_settings``: '' at the defaults)."""
    where = conditions(**filters)
    chosen = E.prediction_id.in_(select(P.id).where(*where)) if where else true()
    agg = (select(E.prediction_id, func.count().label("scored_steps"), func.avg(E.crps).label("crps"),
                  _share(E.covered).label("coverage"), _share(E.direction_hit).label("direction_hit"),
                  func.max(E.step).label("last_scored_step"))
           .where(chosen)  # aggregate the chosen forecasts' steps only, not the whole ledger's
           .group_by(E.prediction_id).subquery())
    last = evaluations.alias("last_step")
    query = (select(P.id, *[P[c] for c in IDENTITY], func.coalesce(agg.c.scored_steps, 0), agg.c.crps,
                    agg.c.coverage, agg.c.direction_hit, agg.c.last_scored_step, last.c.actual_close,
                    P.waiting_reason, P.provenance)
             .outerjoin(agg, agg.c.prediction_id == P.id)
             .outerjoin(last, (last.c.prediction_id == P.id) & (last.c.step == agg.c.last_scored_step))
             .where(*where).order_by(P.created_at.desc(), P.id.desc()))
    columns = ["prediction_id", *IDENTITY, "scored_steps", "crps", "coverage", "direction_hit", "last_scored_step",
               "last_actual_close", "waiting", "provenance"]
    frame = _frame(conn, query, columns)
    frame["non_default_settings"] = [non_default_settings(p, r) for p, r in
                                     zip(frame.pop("provenance"), frame[["temperature", "top_p", "top_k"]].to_dict("records"))]
    frame["waiting"] = frame["waiting"].astype(object).where(frame["waiting"].notna(), None)
    frame["scored_steps"] = frame["scored_steps"].astype("int64")
    for c in ("crps", "coverage", "direction_hit", "last_scored_step", "last_actual_close"):  # NULL: not scored yet
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    _member_columns(frame)
    frame["crps_pct"] = frame["crps"] / frame["last_close"].abs() * 100
    frame["realized_return"] = frame["last_actual_close"] / frame["last_close"] - 1
    return frame


def steps_frame(conn: Connection, *, scored_only: bool = False, **filters) -> pd.DataFrame:
    """One row per (prediction, step), ordered by prediction and step: the prediction's identity and
    settings, ``timestamp`` (the bar time it forecast, UTC), close_p10 / close_p50 / close_p90, and once
    scored: bar_time (the actual bar's time), actual_open ... actual_volume, crps, pit, covered,
    direction_hit, scored_at. ``scored_only``: only the scored rows."""
    where = conditions(**filters)
    query = (select(P.id, *[P[c] for c in IDENTITY], P.target_times, P.quantile_levels, P.quantiles)
             .where(*where).order_by(P.id))
    rows = conn.execute(query).all()
    scores = _frame(conn, select(*[c for c in evaluations.c]).join(predictions, P.id == E.prediction_id)
                    .where(*where), [c.name for c in evaluations.c])
    head = ["prediction_id", *IDENTITY]
    bands = [f"close_{level_name(q)}" for q in QUANTILE_LEVELS]
    if not rows:
        empty = pd.DataFrame(columns=[*head, "step", "timestamp", *bands])
        return empty.merge(scores, on=["prediction_id", "step"], how="inner" if scored_only else "left")
    horizons = np.array([r.horizon for r in rows])
    ids = np.repeat([r.id for r in rows], horizons)
    steps = np.concatenate([np.arange(1, h + 1) for h in horizons])
    times = np.concatenate([decode_times(r.target_times).asi8 for r in rows])
    close = np.concatenate([_close_bands(r) for r in rows])
    long = pd.DataFrame({"prediction_id": ids, "step": steps})
    meta = pd.DataFrame.from_records([tuple(r)[:len(head)] for r in rows], columns=head)
    meta["created_at"] = pd.to_datetime(meta["created_at"], utc=True)
    meta["last_bar_at"] = pd.to_datetime(meta["last_bar_at"], utc=True)
    _member_columns(meta)
    long = long.merge(meta, on="prediction_id", how="left", sort=False)
    long["timestamp"] = pd.DatetimeIndex(times.astype("datetime64[ns]")).tz_localize("UTC")
    for j, name in enumerate(bands):
        long[name] = close[:, j].astype(np.float64)
    return long.merge(scores, on=["prediction_id", "step"], how="inner" if scored_only else "left", sort=False)


def _member_columns(frame: pd.DataFrame) -> None:
    """parent_id as nullable integers, weight as floats (NULL on forecasts as made)."""
    frame["parent_id"] = pd.array(frame["parent_id"].tolist(), dtype="Int64")
    frame["weight"] = pd.to_numeric(frame["weight"], errors="coerce").astype("float64")


def _close_bands(row) -> np.ndarray:
    """[horizon, 3]: the close at QUANTILE_LEVELS of one prediction, from its stored quantiles."""
    levels = [float(q) for q in row.quantile_levels]
    q = decode_array(row.quantiles, (len(levels), row.horizon, -1))
    close = BAR_COLUMNS.index("close")
    return np.stack([q[levels.index(level), :, close] for level in QUANTILE_LEVELS], axis=1)


def series_frame(conn: Connection, workspace: str | None = None, replay: str = LIVE) -> pd.DataFrame:
    """One row per series, the latest forecast first: source, symbol, interval, predictions, models,
    latest (created_at of its newest prediction). Forecasts as made: an ensemble's member rows are not counted."""
    query = (select(P.source, P.symbol, P.interval, func.count(), func.count(P.model.distinct()),
                    func.max(P.created_at))
             .where(*conditions(workspace=workspace, member_rows=False, replay=replay))
             .group_by(P.source, P.symbol, P.interval).order_by(func.max(P.created_at).desc()))
    return _frame(conn, query, [*SERIES, "predictions", "models", "latest"])


def pending_series(conn: Connection, workspace: str | None = None, replay: str = LIVE) -> pd.DataFrame:
    """Series with predictions not scored on every step: source, symbol, interval, exchange,
    predictions (forecasts as made, not counting an ensemble's member rows), oldest_last_bar_at,
    longest_horizon."""
    scored = select(E.prediction_id, func.count().label("n")).group_by(E.prediction_id).subquery()
    made = func.count(case((P.parent_id.is_(None), P.id)))  # forecasts as made: an ensemble's members go with it
    query = (select(P.source, P.symbol, P.interval, P.exchange, made, func.min(P.last_bar_at),
                    func.max(P.horizon))
             .outerjoin(scored, scored.c.prediction_id == P.id)
             .where(func.coalesce(scored.c.n, 0) < P.horizon, *conditions(workspace=workspace, replay=replay))
             .group_by(P.source, P.symbol, P.interval, P.exchange).order_by(P.source, P.symbol, P.interval))
    return _frame(conn, query, [*SERIES, "exchange", "predictions", "oldest_last_bar_at", "longest_horizon"])


REALIZED = ["model", "forecasts", "scored", "steps", "coverage", "crps_pct", "direction_hit"]


def realized_by_model(table: pd.DataFrame) -> pd.DataFrame:
    """One row per model with scored steps in a ``predictions_frame``: forecasts (all recorded), scored
    (with at least one scored step), steps (scored), and over those steps: coverage of the p10-p90 band,
    mean CRPS in % of the last close, direction hit rate. Pooled over steps, so a forecast counts by
    how much of it has been seen."""
    scored = table[table["scored_steps"] > 0]
    if scored.empty:
        return pd.DataFrame(columns=REALIZED)
    steps = scored["scored_steps"]
    weighted = scored.assign(coverage=scored["coverage"] * steps, crps_pct=scored["crps_pct"] * steps,
                             direction_hit=scored["direction_hit"] * steps)
    g = weighted.groupby("model", sort=True)
    n = g["scored_steps"].sum()
    out = pd.DataFrame({"forecasts": table.groupby("model").size().reindex(n.index), "scored": g.size(),
                        "steps": n, "coverage": g["coverage"].sum() / n, "crps_pct": g["crps_pct"].sum() / n,
                        "direction_hit": g["direction_hit"].sum() / n})
    return out.reset_index()[REALIZED]


MEMBERS_REALIZED = ["member", "weight", "forecasts", "scored", "steps", "coverage", "crps_pct", "direction_hit"]


def realized_members(conn: Connection, parents: Sequence[int]) -> pd.DataFrame:
    """Each member's own realized score beside its ensemble's, over the ensemble predictions ``parents``
    (ids; those without member rows are left out): the first row is the ensembles' (``member`` "ensemble"),
    then one per member (``member``: its key, ``weight``: the mean weight the meta-learner gave it), with the
    columns of ``realized_by_model`` pooled over the scored steps. The members are scored on the very bars
    their ensemble is, so their steps are the ensemble's."""
    # the ids choose the rows, of whichever label they carry
    table = predictions_frame(conn, parents=parents, replay=EVERY_REPLAY) if len(parents) else pd.DataFrame()
    if table.empty:
        return pd.DataFrame(columns=MEMBERS_REALIZED)
    members = realized_by_model(table)
    if members.empty:
        return pd.DataFrame(columns=MEMBERS_REALIZED)
    members.insert(1, "weight", members["model"].map(table.groupby("model")["weight"].mean()).to_numpy())
    members.insert(0, "member", members.pop("model").str.removeprefix(MEMBER_PREFIX))
    ensembles = predictions_frame(conn, ids=table["parent_id"].astype("int64").unique().tolist(), replay=EVERY_REPLAY)
    own = realized_by_model(ensembles.assign(model="ensemble")).rename(columns={"model": "member"})
    return pd.concat([own.assign(weight=np.nan), members], ignore_index=True)[MEMBERS_REALIZED]


def workspaces(conn: Connection, replay: str = LIVE) -> list[str]:
    """The workspaces with forecasts (of ``replay``: the live ones unless named) in the ledger, by name."""
    return list(conn.execute(select(P.workspace).where(*conditions(replay=replay)).distinct()
                             .order_by(P.workspace)).scalars())


def replays(conn: Connection, workspace: str | None = None) -> pd.DataFrame:
    """The replays with forecasts in the ledger (of ``workspace``, None: every one): replay, predictions
    (forecasts as made), series, first_bar_at and last_bar_at (the bars their forecasts saw last), newest first."""
    where = [P.replay != LIVE, P.parent_id.is_(None), *([P.workspace == workspace] if workspace is not None else [])]
    query = (select(P.replay, func.count(), func.count(func.distinct(P.source + ":" + P.symbol + ":" + P.interval)),
                    func.min(P.last_bar_at), func.max(P.last_bar_at))
             .where(*where).group_by(P.replay).order_by(func.max(P.created_at).desc()))
    return _frame(conn, query, ["replay", "predictions", "series", "first_bar_at", "last_bar_at"])
