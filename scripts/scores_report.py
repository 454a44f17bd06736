"""How the studio's own ruler moves its numbers: CRPS skill against the random walk and p10-p90 coverage
of the bundled Kronos on every offline sample, scored with the plain sample CRPS (the old estimator) and
with the fair one, anchored at the last close and not, and how many cut-offs lie inside the model's
training period (the training-period guard). Also the first step's gap from the last close and
P(touch +5% within the horizon) with and without the anchor.

    .venv/bin/python scripts/scores_report.py                     # studio-tiny, every sample
    .venv/bin/python scripts/scores_report.py --model studio-small --cutoffs 20

Prints one JSON line per series, then a Markdown table (docs/scores.md holds the last run).
Model paths 30, baseline paths 200, as the Evaluate page and `kronos evaluate` use them.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from data_sources.samples import list_samples
from kronos.checkpoints import load_pair
from kronos.config import CLOSE
from kronos.pipeline import KronosPipeline
from kronos.settings import ForecastSettings, default
from kronos_studio.bundled import bundled_models
from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.evaluation.metrics import crps_samples
from kronos_studio.evaluation.training_period import trained_on
from kronos_studio.evaluation.walk_forward import WalkForward, last_cutoffs, walk_forward
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasters.period import training_period
from kronos_studio.training.datasets import load_sample_series

HORIZONS = {"1d": 10, "1h": 14, "1m": 30}  # as in the model cards' evaluation
TOUCH = 0.05


def crps_pct(result, fair: bool) -> np.ndarray:
    """[C] mean CRPS of each cut-off in % of its last close, from the kept paths."""
    scores = [crps_samples(p[:, :, CLOSE], y, fair=fair).mean() / abs(last) * 100
              for p, y, last in zip(result.paths, result.actual, result.last)]
    return np.array(scores)


def first_step_gap(result) -> np.ndarray:
    """[C] the first bar's median open over the last close, minus 1."""
    return np.array([np.median(p[:, 0, 0]) / last - 1 for p, last in zip(result.paths, result.last)])


def touch(result) -> np.ndarray:
    """[C] share of paths whose high reaches the last close + TOUCH within the horizon."""
    return np.array([(p[:, :, 1].max(axis=1) >= last * (1 + TOUCH)).mean() for p, last in zip(result.paths, result.last)])


def run(pair, sample: str, paths: int, n_cutoffs: int, seed: int, top_p: float) -> dict:
    series = load_sample_series(sample)
    frame = series.frame
    horizon = HORIZONS.get(series.interval, 10)
    lookback = pair.context - horizon
    cutoffs = last_cutoffs(len(frame), horizon, n_cutoffs, horizon, min_history=lookback)
    pipeline = KronosPipeline(pair)
    period = training_period(pair)
    started = time.perf_counter()
    settings = ForecastSettings(horizon=horizon, paths=paths, seed=seed, lookback=lookback, top_p=top_p)
    kept = WalkForward(keep_paths=True)
    results = {anchor: walk_forward(KronosForecaster(pipeline), frame, dataclasses.replace(settings, anchor=anchor),
                                    cutoffs, kept)
               for anchor in (False, True)}
    rw = walk_forward(RandomWalk(paths=200), frame, settings, cutoffs, kept)
    inside = trained_on(period, frame["timestamp"].iloc[[c for c in cutoffs]])
    out = {"series": sample, "model": pair.name, "horizon": horizon, "cutoffs": len(cutoffs),
           "first_cutoff": str(rw.cutoff_times[0].date()), "last_cutoff": str(rw.cutoff_times[-1].date()),
           "in_training_period": int(inside.sum()), "rw_coverage": round(float(rw.covered.mean()), 3)}
    for fair in (False, True):
        ref = crps_pct(rw, fair)
        for anchor, r in results.items():
            key = f"{'fair' if fair else 'plain'}_{'anchored' if anchor else 'unanchored'}"
            out[f"skill_{key}"] = round(float(1 - crps_pct(r, fair).mean() / ref.mean()), 4)
            if (~inside).sum() >= 2 and fair:
                out[f"skill_{key}_outside_training"] = round(
                    float(1 - crps_pct(r, fair)[~inside].mean() / ref[~inside].mean()), 4)
    for anchor, r in results.items():
        tag = "anchored" if anchor else "unanchored"
        gap = first_step_gap(r)
        out[f"coverage_{tag}"] = round(float(r.covered.mean()), 3)
        out[f"first_step_gap_{tag}"] = {"median": round(float(np.median(gap)) * 100, 3),
                                        "mean_abs": round(float(np.abs(gap).mean()) * 100, 3)}
        out[f"p_touch_{tag}"] = round(float(touch(r).mean()), 3)
    out["rw_p_touch"] = round(float(touch(rw).mean()), 3)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="studio-tiny", choices=sorted(bundled_models()))
    parser.add_argument("--samples", nargs="+", default=[s.name for s in list_samples()])
    parser.add_argument("--paths", type=int, default=30)
    parser.add_argument("--cutoffs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=default("top_p"),
                        help="Kronos' nucleus (docs/scores.md's table: 0.9, the default when it was measured)")
    args = parser.parse_args()
    pair = load_pair(bundled_models()[args.model])
    rows = []
    for sample in args.samples:
        row = run(pair, sample, args.paths, args.cutoffs, args.seed, args.top_p)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| series | cut-offs (in training period) | skill plain, unanchored | skill fair, unanchored | "
          "skill fair, anchored | coverage unanchored / anchored (RW) | first-step gap median, unanchored / "
          "anchored | P(touch +5%) unanchored / anchored (RW) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        g0, g1 = r["first_step_gap_unanchored"], r["first_step_gap_anchored"]
        print(f"| {r['series']} (h={r['horizon']}, {r['first_cutoff']} to {r['last_cutoff']}) | {r['cutoffs']} "
              f"({r['in_training_period']}) | {r['skill_plain_unanchored']:+.3f} | {r['skill_fair_unanchored']:+.3f} | "
              f"{r['skill_fair_anchored']:+.3f} | {r['coverage_unanchored']:.2f} / {r['coverage_anchored']:.2f} "
              f"({r['rw_coverage']:.2f}) | {g0['median']:+.2f}% / {g1['median']:+.2f}% | "
              f"{r['p_touch_unanchored']:.2f} / {r['p_touch_anchored']:.2f} ({r['rw_p_touch']:.2f}) |")


if __name__ == "__main__":
    main()
