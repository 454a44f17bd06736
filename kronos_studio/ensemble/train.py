"""Training the meta-learner from signal evaluations: every member's walk-forward forecast at past
cut-offs and what happened next, scored with the evaluation code.

Time order is kept twice: a cut-off's features come from the bars before it (``features.py``), and the
temperature and spread are chosen on the latest cut-offs after the booster was fitted on the earlier
ones (the booster is then refitted on all of them).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kronos.bars import bars_frame
from kronos.settings import default
from kronos_studio.evaluation.metrics import crps_samples
from kronos_studio.evaluation.walk_forward import compare

from .ensemble import cutoff_rows, mix
from .meta import REFERENCE, MetaLearner, fit_booster

TEMPERATURES = (0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 1e6)  # 1e6: equal weights
SPREADS = (0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5)
VALIDATION_SHARE = 0.3  # the latest share of cut-offs that chooses temperature and spread


@dataclass
class SeriesSpec:
    """One series to learn from: its bars, kind and the cut-offs (row positions) to forecast from."""

    name: str
    bars: object  # data_sources.Bars or a bars frame
    interval: str
    asset: str
    horizon: int
    cutoffs: list[int]
    skip_members: tuple[str, ...] = ()  # members that trained on this series: their rows would flatter them


@dataclass
class SignalEvaluations:
    """``table``: one row per (series, cut-off, member) with the features, the member's mean CRPS in % of
    the last close and ``target`` = log(CRPS member / CRPS random walk). ``cutoffs``: per (series,
    cut-off) the members' paths and the actual closes, for choosing temperature and spread."""

    table: pd.DataFrame
    cutoffs: list[dict] = field(default_factory=list)


def signal_evaluations(specs: Sequence[SeriesSpec], members: Mapping, seed: int = 0,
                       progress: Callable[[str, int, int], None] | None = None) -> SignalEvaluations:
    if REFERENCE not in members:
        raise ValueError(f"the members must include the reference '{REFERENCE}'")
    rows, records = [], []
    for spec in specs:
        frame = bars_frame(spec.bars)
        results = compare(dict(members), frame, horizon=spec.horizon, cutoffs=spec.cutoffs, seed=seed,
                          keep_paths=True,
                          progress=(lambda name, i, n, s=spec.name: progress(f"{s}: {name}", i, n)) if progress else None)
        ref = results[REFERENCE]
        for i, c in enumerate(ref.cutoffs):
            paths = {k: r.paths[i] for k, r in results.items()}
            features = cutoff_rows(frame.iloc[:c], paths, spec.horizon, spec.interval, spec.asset)
            crps_pct = {k: float(r.crps[i].mean() / abs(r.last[i]) * 100) for k, r in results.items()}
            add_cutoff(rows, records, spec.name, ref.cutoff_times[i], features, crps_pct, float(ref.last[i]),
                       ref.actual[i], paths, spec.skip_members)
    return SignalEvaluations(pd.DataFrame(rows), records)


def add_cutoff(rows: list, records: list, series: str, cutoff_time, features: pd.DataFrame, crps_pct: dict,
               history_last: float, actual: np.ndarray, paths: dict, skip_members=()) -> None:
    """Append one cut-off's training rows (one per member: features, crps_pct, target) and its record (what
    temperature and spread are chosen on): the one definition of the target, for the walk-forward's cut-offs
    and the ledger's realized ones alike."""
    for _, row in features.iterrows():
        key = row["member"]
        rows.append({**row.to_dict(), "series": series, "cutoff_time": cutoff_time, "crps_pct": crps_pct[key],
                     "target": float(np.log(crps_pct[key] / crps_pct[REFERENCE])), "used": key not in skip_members})
    records.append({"series": series, "cutoff_time": cutoff_time, "history_last": history_last, "actual": actual,
                    "paths": paths, "features": features, "complete": not skip_members})


def mixture_crps_pct(record: dict, meta: MetaLearner, temperature: float, spread: float, paths: int) -> float:
    """The mixture's mean CRPS (% of the last close) at one recorded cut-off, with a trial temperature and spread."""
    mixed = mix(record["paths"], meta.weights(record["features"], temperature), paths, spread)
    return float(crps_samples(mixed[:, :, 3], record["actual"]).mean() / abs(record["history_last"]) * 100)


def fit_meta(evals: SignalEvaluations, paths: int = default("paths"), info: dict | None = None) -> MetaLearner:
    """Booster on the earlier cut-offs, temperature and spread on the latest ones (complete cut-offs
    only: every member forecast them honestly), then the booster refitted on all rows."""
    table = evals.table[evals.table["used"]]
    members = sorted(table["member"].unique(), key=lambda k: (k != "kronos", k))
    times = np.sort(pd.DatetimeIndex(pd.to_datetime(table["cutoff_time"], utc=True)).unique())
    split = times[int(len(times) * (1 - VALIDATION_SHARE))]
    when = pd.to_datetime(table["cutoff_time"], utc=True)
    early = fit_booster(table[when < split], members)
    held = [r for r in evals.cutoffs if r["complete"] and pd.Timestamp(r["cutoff_time"]).tz_convert("UTC") >= split]
    if not held:
        raise ValueError("no complete cut-off in the validation share: give series where every member forecast")
    trial = MetaLearner(early, members)
    grid = {(t, s): np.mean([mixture_crps_pct(r, trial, t, s, paths) for r in held])
            for t in TEMPERATURES for s in SPREADS}
    temperature, spread = min(grid, key=grid.get)
    equal = grid[(1e6, 1.0)]
    meta_info = {**(info or {}), "rows": int(len(table)), "validation_cutoffs": len(held),
                 "validation_split": str(split), "validation_crps_pct": float(grid[(temperature, spread)]),
                 "validation_crps_pct_equal_weights": float(equal)}
    return MetaLearner(fit_booster(table, members), members, float(temperature), float(spread), meta_info)
