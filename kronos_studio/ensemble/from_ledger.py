"""The meta-learner's training table from the ledger: ensemble forecasts made before anyone knew the
outcome, each member scored on the bars that really came after (its member rows), instead of a
walk-forward's backtest.

Only what was known before ``before`` is read: a forecast counts when its last bar seen (its origin) and
every bar it forecast, all of them scored, lie before that time; later forecasts, forecasts still waiting
for bars and the scores of bars at or after it change nothing. The features are those the ensemble
computed when it forecast (stored with each member row, from the history it read): the ledger keeps no
history, so no feature is recomputed from bars read later.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.config import BAR_COLUMNS
from kronos.lazy import np, pd

from .combine import group_key
from .features import ASSET_CLASSES
from .meta import FEATURES, REFERENCE
from .train import ScoredCutoff, SignalEvaluations, add_cutoff

MIN_EVALUATIONS = 50  # ensemble forecasts; fewer fit a booster on noise


@dataclass
class LedgerEvaluations:
    """``evals``: the training table and records, one cut-off per usable ensemble forecast (by origin);
    ``skipped``: why other ensemble forecasts were left out (reason -> count); ``paths``: the fewest paths
    any of them sampled (what a trial mixture draws); ``known_at``, ``path_counts``: per cut-off, the last bar
    any of its rows was scored on and the paths it sampled."""

    evals: SignalEvaluations
    skipped: dict[str, int]
    paths: int
    known_at: list = field(default_factory=list)
    path_counts: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.evals.cutoffs)

    def known_before(self, before) -> LedgerEvaluations:
        """The cut-offs whose origin and every scored bar lie before ``before``: what ``ledger_evaluations``
        with that time returns of these forecasts, without reading the ledger again."""
        from kronos_studio.ledger.frames import as_utc

        before = as_utc(before)
        keep = [pd.Timestamp(r["cutoff_time"]) < before and pd.Timestamp(k) < before
                for r, k in zip(self.evals.cutoffs, self.known_at)]
        rows = np.repeat(keep, [len(r["features"]) for r in self.evals.cutoffs])  # add_cutoff's rows, in order
        later = len(keep) - sum(keep)
        skipped = {**self.skipped, **({"made or scored at or after the since time": later} if later else {})}
        pick = [i for i, k in enumerate(keep) if k]
        union = set().union(*(self.evals.cutoffs[i]["paths"] for i in pick)) if pick else set()
        records = [{**self.evals.cutoffs[i], "complete": set(self.evals.cutoffs[i]["paths"]) == union} for i in pick]
        return LedgerEvaluations(
            SignalEvaluations(self.evals.table[rows].reset_index(drop=True), records, self.evals.identities),
            skipped, min((self.path_counts[i] for i in pick), default=0), [self.known_at[i] for i in pick],
            [self.path_counts[i] for i in pick])


def ledger_evaluations(ledger, before) -> LedgerEvaluations:
    """Signal evaluations of the ledger's ensemble forecasts fully scored, members included, before
    ``before`` (a time; naive is UTC), time-ordered by origin."""
    from kronos_studio.ledger.frames import as_utc

    before = as_utc(before)
    table = ledger.predictions_frame()
    members = table[table["parent_id"].notna()]
    parents = table[table["prediction_id"].isin(members["parent_id"].astype("int64"))]
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    ids = [*parents["prediction_id"], *members["prediction_id"]]
    scored = ledger.steps_frame(scored_only=True, ids=ids) if ids else pd.DataFrame(columns=["prediction_id"])
    last_scored = scored.groupby("prediction_id")["bar_time"].max() if len(scored) else pd.Series(dtype=object)
    known = ledger.features(members["prediction_id"])
    rows, records, used, known_at = [], [], [], []
    for parent in parents.sort_values(["last_bar_at", "prediction_id"]).itertuples(index=False):
        own = members[members["parent_id"] == parent.prediction_id]
        everyone = [parent, *own.itertuples(index=False)]
        if parent.last_bar_at >= before:
            skip("made at or after the since time")
            continue
        if any(p.scored_steps < p.horizon for p in everyone):
            skip("not scored on every step yet")
            continue
        if any(last_scored[p.prediction_id] >= before for p in everyone):
            skip("bars scored at or after the since time")
            continue
        keys = {p.model.split("/", 1)[1]: p for p in own.itertuples(index=False)}
        if REFERENCE not in keys or any(p.prediction_id not in known for p in keys.values()):
            skip(f"no scored '{REFERENCE}' member or no stored features")
            continue
        if any(set(FEATURES) - {"member"} - set(known[p.prediction_id]) for p in keys.values()):
            skip("features of an earlier version of the meta-learner")
            continue
        steps = scored[scored["prediction_id"] == parent.prediction_id].sort_values("step")
        features = pd.DataFrame([{"member": k, **known[p.prediction_id]} for k, p in keys.items()])
        group = group_key(ASSET_CLASSES[int(features["asset_class"].iloc[0])], parent.interval)
        crps_pct = {k: float(p.crps_pct) for k, p in keys.items()}
        paths = {k: _bar_paths(*ledger.paths(p.prediction_id)) for k, p in keys.items()}
        add_cutoff(rows, records, ScoredCutoff(f"{parent.source}:{parent.symbol} {parent.interval}", parent.last_bar_at,
                                               features, crps_pct, float(parent.last_close),
                                               steps["actual_close"].to_numpy(np.float64), paths, group))
        used.append(parent)
        known_at.append(max(last_scored[p.prediction_id] for p in everyone))
    union = set().union(*(r["paths"] for r in records)) if records else set()
    for r in records:  # temperature and spread are chosen where every member forecast
        r["complete"] = set(r["paths"]) == union
    fewest = min((int(p.paths) for p in used), default=0)
    return LedgerEvaluations(SignalEvaluations(pd.DataFrame(rows), records), skipped, fewest, known_at,
                             [int(p.paths) for p in used])


def _bar_paths(fields: tuple[str, ...], stored: np.ndarray) -> np.ndarray:
    """[paths, horizon, 6] in BAR_COLUMNS order from the stored close/high/low (the open is the close: only
    the close is scored, and the spread step moves open, high and low with it)."""
    out = np.zeros((*stored.shape[:2], len(BAR_COLUMNS)), np.float32)
    for name in ("high", "low", "close"):
        out[:, :, BAR_COLUMNS.index(name)] = stored[:, :, fields.index(name)]
    out[:, :, BAR_COLUMNS.index("open")] = out[:, :, BAR_COLUMNS.index("close")]
    return out
