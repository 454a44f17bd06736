"""Training the meta-learner from signal evaluations: every member's walk-forward forecast at past
cut-offs and what happened next, scored with the evaluation code.

Time order is kept twice: a cut-off's features come from the bars before it (``features.py``), and
every combination method (``combine.py``) is scored on the latest cut-offs (``VALIDATION_SHARE``) by
fits on the cut-offs before each of them (``fit_meta``), where its temperature and spread are chosen
and the methods compared; the winner is recorded, and every method is then refitted on all cut-offs.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kronos.bars import bars_frame
from kronos.errors import Fix, InputError
from kronos.lazy import np, pd
from kronos.quantiles import band_nominal
from kronos.settings import ForecastSettings, default
from kronos_studio.evaluation.metrics import band_covers, crps_samples
from kronos_studio.evaluation.walk_forward import WalkForward, compare

from .combine import (
    ALL,
    EQUAL,
    METHODS,
    group_key,
    member_quantiles,
    pool_terms,
    quantile_average_closes,
    quantile_weights,
    stacking_weights,
)
from .ensemble import apply_spread, cutoff_rows, member_lookback, mix
from .members import member_identity
from .meta import REFERENCE, MetaLearner, fit_booster, softmax_weights

TEMPERATURES = (0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 1e6)  # 1e6: equal weights
SPREADS = (0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5)
VALIDATION_SHARE = 0.3  # the latest share of cut-offs that chooses temperature and spread
VALIDATION_BLOCKS = 12  # the validation share is forecast in this many blocks, each by methods fitted before it
MIN_GROUP_CUTOFFS = 20  # fewer complete cut-offs of an asset class and interval: it takes the pooled weights


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
    identities: dict = field(default_factory=dict)  # member key -> ``members.member_identity``

    def __add__(self, other: SignalEvaluations) -> SignalEvaluations:
        if self.identities and other.identities and self.identities != other.identities:
            raise ValueError("signal evaluations of different members (identities) cannot be pooled")
        return SignalEvaluations(pd.concat([self.table, other.table], ignore_index=True),
                                 self.cutoffs + other.cutoffs, self.identities or other.identities)


def signal_evaluations(specs: Sequence[SeriesSpec], members: Mapping, settings: ForecastSettings,
                       progress: Callable[[str, int, int], None] | None = None) -> SignalEvaluations:
    """Every member walked forward on each spec's cut-offs with ``settings`` (its sampling, paths and seed;
    the spec's horizon; each member reading the bars it reads in an ensemble forecast, ``member_lookback``)."""
    if REFERENCE not in members:
        raise ValueError(f"the members must include the reference '{REFERENCE}'")
    rows, records = [], []
    for spec in specs:
        frame = bars_frame(spec.bars)
        at = dataclasses.replace(settings, horizon=spec.horizon)
        results = {k: compare({k: m}, frame, dataclasses.replace(at, lookback=member_lookback(m, at)), spec.cutoffs,
                              WalkForward(keep_paths=True),
                              (lambda name, i, n, s=spec.name: progress(f"{s}: {name}", i, n)) if progress else None)[k]
                   for k, m in members.items()}
        ref = results[REFERENCE]
        for i, c in enumerate(ref.cutoffs):
            paths = {k: r.paths[i] for k, r in results.items()}
            features = cutoff_rows(frame.iloc[:c], paths, spec.horizon, spec.interval, spec.asset)
            crps_pct = {k: float(r.crps[i].mean() / abs(r.last[i]) * 100) for k, r in results.items()}
            add_cutoff(rows, records, ScoredCutoff(spec.name, ref.cutoff_times[i], features, crps_pct, float(ref.last[i]),
                                                   ref.actual[i], paths, group_key(spec.asset, spec.interval),
                                                   tuple(spec.skip_members)))
    return SignalEvaluations(pd.DataFrame(rows), records, {k: member_identity(m) for k, m in members.items()})


@dataclass(frozen=True)
class ScoredCutoff:
    """One cut-off every member forecast and was scored at (a walk-forward's, or the ledger's realized)."""

    series: str
    cutoff_time: object
    features: pd.DataFrame  # one row per member (``ensemble.cutoff_rows``)
    crps_pct: dict  # member key -> its mean CRPS in % of the last close
    history_last: float  # the last close before the cut-off
    actual: np.ndarray  # the closes that followed
    paths: dict  # member key -> its paths
    group: str = ALL  # ``combine.group_key``
    skip_members: tuple = ()  # members that trained on this series: their rows would flatter them


def add_cutoff(rows: list, records: list, cutoff: ScoredCutoff) -> None:
    """Append one cut-off's training rows (one per member: features, crps_pct, target) and its record (what
    the methods are fitted and validated on): the one definition of the target, for the walk-forward's
    cut-offs and the ledger's realized ones alike."""
    c, crps_pct = cutoff, cutoff.crps_pct
    for _, row in c.features.iterrows():
        key = row["member"]
        rows.append({**row.to_dict(), "series": c.series, "cutoff_time": c.cutoff_time, "crps_pct": crps_pct[key],
                     "target": float(np.log(crps_pct[key] / crps_pct[REFERENCE])), "used": key not in c.skip_members})
    records.append({"series": c.series, "cutoff_time": c.cutoff_time, "history_last": c.history_last,
                    "actual": c.actual, "paths": c.paths, "features": c.features, "group": c.group,
                    "complete": not c.skip_members})


def combined_scores(record: dict, method: str, weights: dict[str, float], spread: float, paths: int,
                    seed: int) -> tuple[float, float]:
    """(mean fair CRPS in % of the last close, p10–p90 coverage) at one recorded cut-off of ``method`` with
    these weights and spread ("pool": a linear pool; "quantile": quantile averaging)."""
    if method == "quantile":
        closes = quantile_average_closes(record["paths"], weights, record["history_last"], paths,
                                         np.random.default_rng(seed))
        combined = apply_spread(np.repeat(closes[:, :, None], 6, axis=2), spread)
    else:
        combined = mix(record["paths"], weights, paths, spread)
    closes = combined[:, :, 3]
    return (float(crps_samples(closes, record["actual"]).mean() / abs(record["history_last"]) * 100),
            float(band_covers(closes, record["actual"]).mean()))


def mean_scores(records: list[dict], weights_of: Callable[[int, dict], dict], method: str, spread: float,
                paths: int) -> tuple[float, float]:
    """(mean CRPS %, mean coverage) over ``records``; cut-off i draws with seed i."""
    scores = np.array([combined_scores(r, method, weights_of(i, r), spread, paths, i) for i, r in enumerate(records)])
    return float(scores[:, 0].mean()), float(scores[:, 1].mean())


def group_weight_table(records: list[dict], members: list[str], fit: Callable[[list[dict]], np.ndarray]) -> dict:
    """{group: {member: weight}} fitted by ``fit`` on each group with enough cut-offs, and on all (``ALL``)."""
    groups = {ALL: records}
    for r in records:
        if r["group"] != ALL:
            groups.setdefault(r["group"], []).append(r)
    return {g: dict(zip(members, np.round(fit(rs), 4).tolist())) for g, rs in groups.items()
            if g == ALL or len(rs) >= MIN_GROUP_CUTOFFS}


def computed_once(record: dict, key: str, compute: Callable[[], object]):
    """``record[key]``, computed and stored the first time (the block validation refits every method many
    times on the same cut-offs; ``dict.setdefault`` would compute its default on every call)."""
    if key not in record:
        record[key] = compute()
    return record[key]


def fit_pool(records: list[dict], members: list[str]) -> dict:
    """Stacking: CRPS-optimal linear-pool weights per group."""
    def fit(rs):
        return stacking_weights([computed_once(r, "pool_terms", lambda r=r: pool_terms(r["paths"], members, r["actual"],
                                                                                      r["history_last"])) for r in rs])
    return group_weight_table(records, members, fit)


def fit_quantile_average(records: list[dict], members: list[str]) -> dict:
    """Quantile averaging: weights per group minimising the quantile score of the averaged quantiles."""
    def fit(rs):
        qs = [computed_once(r, "quantiles", lambda r=r: member_quantiles(r["paths"], members, r["history_last"]))
              for r in rs]
        return quantile_weights(qs, [np.asarray(r["actual"], np.float64) / abs(r["history_last"]) * 100 for r in rs])
    return group_weight_table(records, members, fit)


FIXED_WEIGHTS = {"stacking": fit_pool, "quantile": fit_quantile_average}


def calibrated_spread(scores: dict[float, tuple[float, float]]) -> float:
    """The sharpest spread whose (CRPS, band coverage) ``scores`` say the band holds at least its nominal
    share (0.8 for p10–p90): sharpness subject to calibration, for the band the studio draws and scores. A
    CRPS-optimal spread left the validation band at 0.76, under what a p10–p90 band promises; where no spread
    covers enough, the widest."""
    nominal = band_nominal()
    covering = [s for s, (_, coverage) in scores.items() if coverage >= nominal]
    return min(covering) if covering else max(scores)


def utc(t) -> pd.Timestamp:
    return pd.Timestamp(t).tz_convert("UTC")


def fit_meta(evals: SignalEvaluations, paths: int = default("paths"), info: dict | None = None,
             methods: Sequence[str] = METHODS, spreads: Sequence[float] = SPREADS) -> MetaLearner:
    """Every method in ``methods`` scored on the latest complete cut-offs (``VALIDATION_SHARE``), as it is
    deployed: refitted on everything before them. The validation cut-offs are taken in
    ``VALIDATION_BLOCKS`` time-ordered blocks, each forecast by methods fitted on the cut-offs before the
    block (the booster on every usable row, the fixed weights on complete cut-offs: every member forecast
    them honestly). There the spreads are chosen (``calibrated_spread``: the sharpest whose band covers its
    nominal share), the temperature, and the methods compared with equal weights and every member alone;
    the best by CRPS among those whose band covers its nominal share is the one the ensemble applies (equal
    weights where no fitted method beat them). Then every method is refitted on all cut-offs. ``info``
    holds the validation CRPS and coverage of each, and of every spread tried."""
    unknown = set(methods) - set(METHODS)
    if unknown or not methods:
        raise ValueError(f"methods must be among {METHODS}, got {list(methods)}")
    table = evals.table[evals.table["used"]]
    members = sorted(table["member"].unique(), key=lambda k: (k != "kronos", k))
    times = np.sort(pd.DatetimeIndex(pd.to_datetime(table["cutoff_time"], utc=True)).unique())
    split = times[int(len(times) * (1 - VALIDATION_SHARE))]
    when = pd.to_datetime(table["cutoff_time"], utc=True)
    complete = sorted((r for r in evals.cutoffs if r["complete"]), key=lambda r: utc(r["cutoff_time"]))
    held = [r for r in complete if utc(r["cutoff_time"]) >= split]
    if not held:
        raise InputError("no complete cut-off in the validation share", {"cutoffs": len(complete)},
                         Fix("give series where every member forecast"))
    blocks = [list(b) for b in np.array_split(np.arange(len(held)), min(VALIDATION_BLOCKS, len(held)))]
    starts = [utc(held[b[0]]["cutoff_time"]) for b in blocks]
    before = [[r for r in complete if utc(r["cutoff_time"]) < start] for start in starts]
    block_of = {i: j for j, b in enumerate(blocks) for i in b}

    def member_only(k):
        return lambda i, r: {m: float(m == k) for m in members}

    def equal(i, r):
        return {m: 1 / len(members) for m in members}

    validation = {f"member:{k}": mean_scores(held, member_only(k), "pool", 1.0, paths) for k in members}
    validation[EQUAL] = mean_scores(held, equal, "pool", 1.0, paths)
    chosen: dict[str, dict] = {EQUAL: {"spread": 1.0}}
    by_spreads: dict[str, dict] = {}  # method -> {spread: (validation CRPS, coverage)}
    if "softmax" in methods:
        predicted = [None] * len(held)
        for b, start in zip(blocks, starts):
            trial = MetaLearner(fit_booster(table[when < start], members), members)
            for i in b:
                predicted[i] = trial.predict(held[i]["features"])
        grid = {t: {s: mean_scores(held, lambda i, r, t=t: dict(zip(r["features"]["member"],
                                                                      softmax_weights(predicted[i], t))),
                                   "pool", s, paths) for s in spreads} for t in TEMPERATURES}
        spread_of = {t: calibrated_spread(by_spread) for t, by_spread in grid.items()}
        temperature = min(grid, key=lambda t: grid[t][spread_of[t]][0])
        spread = spread_of[temperature]
        by_spreads["softmax"] = grid[temperature]
        chosen["softmax"] = {"temperature": float(temperature), "spread": float(spread)}
        validation["softmax"] = mean_scores(held, lambda i, r: dict(zip(r["features"]["member"],
                                                                        softmax_weights(predicted[i], temperature))),
                                            "pool", spread, paths)
    for method in (m for m in methods if m in FIXED_WEIGHTS):
        if len(before[0]) < MIN_GROUP_CUTOFFS:
            continue  # too few complete cut-offs before the validation share to fit weights on
        fitted = [FIXED_WEIGHTS[method](prior, members) for prior in before]

        def weights_of(i, r, fitted=fitted):
            w = fitted[block_of[i]]
            return w.get(r["group"], w[ALL])

        pool = "quantile" if method == "quantile" else "pool"
        by_spreads[method] = by_spread = {s: mean_scores(held, weights_of, pool, s, paths) for s in spreads}
        spread = calibrated_spread(by_spread)
        chosen[method] = {"spread": float(spread), "first_block_weights": fitted[0]}
        validation[method] = mean_scores(held, weights_of, pool, spread, paths)
    if len(chosen) == 1:
        least = round(MIN_GROUP_CUTOFFS / (1 - VALIDATION_SHARE))
        raise InputError(f"too few complete cut-offs to fit {list(methods)}", {"cutoffs": len(complete)},
                         Fix(f"give more cut-offs ({{setting}}, at least {least})", "cutoffs"))
    # Equal weights are a candidate too; a method whose band covers its nominal share beats one that does not.
    calibrated = [m for m in chosen if validation[m][1] >= band_nominal()] or list(chosen)
    best = min(calibrated, key=lambda m: validation[m][0])
    combinations = {m: {"weights": FIXED_WEIGHTS[m](complete, members), "spread": c["spread"]}
                    for m, c in chosen.items() if m in FIXED_WEIGHTS}  # refitted on every complete cut-off
    softmax = chosen.get("softmax", {"temperature": TEMPERATURES[-1], "spread": 1.0})
    meta_info = {**(info or {}), "rows": int(len(table)), "complete_cutoffs": len(complete),
                 "validation_cutoffs": len(held), "validation_split": str(split), "validation_blocks": len(blocks),
                 "validation_crps_pct": {m: round(v[0], 5) for m, v in validation.items()},
                 "validation_coverage_p10_p90": {m: round(v[1], 4) for m, v in validation.items()},
                 "chosen_by_validation": best,
                 "validation_by_spread": {m: {str(sp): [round(c, 5), round(v, 4)] for sp, (c, v) in by.items()}
                                          for m, by in by_spreads.items()},
                 "first_block_weights": {m: c["first_block_weights"] for m, c in chosen.items() if m in FIXED_WEIGHTS}}
    return MetaLearner(fit_booster(table, members), members, softmax["temperature"], softmax["spread"], meta_info,
                       method=best, combinations=combinations, identities=evals.identities)
