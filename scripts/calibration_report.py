"""Band coverage of the bundled models before and after conformal calibration, on the held-out test
period of the offline samples (bars never trained on), with the trust panel's own code.

    .venv/bin/python scripts/calibration_report.py            # both bundled models, three series
    .venv/bin/python scripts/calibration_report.py --models studio-small --cutoffs 40

Prints one JSON line per (model, series) and then a Markdown table. Cut-offs are the latest ones in
the test period, ``horizon`` bars apart; the calibration is fitted on the earlier half of them and its
coverage scored on the later half (the held-out check), exactly as the Evaluate page does.
"""
from __future__ import annotations

import argparse
import json
import time

from kronos.checkpoints import load_pair
from kronos.pipeline import KronosPipeline
from kronos.settings import ForecastSettings
from kronos_studio.bundled import bundled_models
from kronos_studio.evaluation.trust import TrustPlan, evaluate
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.training.datasets import BUNDLED_EVAL_SAMPLES, BUNDLED_SPLIT, load_sample_series

HORIZONS = {"1d": 10, "1h": 14, "1m": 30}  # as in the model cards' evaluation

MIN_FIT_CUTOFFS = 10  # below this the README marks a calibration as resting on too few cut-offs


def run(model: str, sample: str, paths: int, max_cutoffs: int, seed: int) -> dict:
    pair = load_pair(bundled_models()[model])
    series = load_sample_series(sample)
    horizon = HORIZONS.get(series.interval, 10)
    lookback = pair.context - horizon
    in_test = int((series.frame["timestamp"] >= BUNDLED_SPLIT.test_start).sum())
    n_cutoffs = min(max_cutoffs, (in_test - horizon) // horizon + 1)
    started = time.perf_counter()
    report = evaluate(KronosForecaster(KronosPipeline(pair)), series.frame,
                      ForecastSettings(horizon=horizon, paths=paths, seed=seed, lookback=lookback), TrustPlan(n_cutoffs))
    b, ck = report.badge(), report.check
    return {"model": model, "series": sample, "horizon": horizon, "cutoffs": report.cutoffs,
            "first_cutoff": b["first"], "last_cutoff": b["last"], "paths": paths,
            "coverage_all": round(b["coverage"], 3), "random_walk_coverage": round(b["reference_coverage"], 3),
            "crps_skill_vs_random_walk": round(b["crps_skill"], 3),
            "crps_skill_ci95": [round(x, 3) for x in b["crps_skill_ci"]],
            "held_out_cutoffs": ck.n_test, "fit_cutoffs": ck.n_fit, "held_out_before": round(ck.before, 3),
            "held_out_after": round(ck.after, 3), "held_out_crps_before": round(ck.crps_before, 4),
            "held_out_crps_after": round(ck.crps_after, 4), "guaranteed": ck.guaranteed,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=sorted(bundled_models()))
    parser.add_argument("--samples", nargs="+", default=list(BUNDLED_EVAL_SAMPLES))
    parser.add_argument("--paths", type=int, default=30)
    parser.add_argument("--cutoffs", type=int, default=60, help="at most this many per series")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for model in args.models:
        for sample in args.samples:
            rows.append(run(model, sample, args.paths, args.cutoffs, args.seed))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| model | series | horizon | cut-offs (held-out) | p10–p90 coverage, all | random walk | "
          "held-out raw | held-out calibrated | held-out CRPS raw → calibrated | CRPS skill vs random walk (95% CI) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    few = False
    for r in rows:
        mark = "†" if r["fit_cutoffs"] < MIN_FIT_CUTOFFS else ""
        few |= bool(mark)
        print(f"| {r['model']} | {r['series']} | {r['horizon']} | {r['cutoffs']} ({r['held_out_cutoffs']}) | "
              f"{r['coverage_all']:.2f} | {r['random_walk_coverage']:.2f} | {r['held_out_before']:.2f} | "
              f"{r['held_out_after']:.2f}{mark} | {r['held_out_crps_before']:.3f} → {r['held_out_crps_after']:.3f}{mark} | "
              f"{r['crps_skill_vs_random_walk']:+.2f} ({r['crps_skill_ci95'][0]:+.2f} to {r['crps_skill_ci95'][1]:+.2f}) |")
    if few:
        print(f"\n† calibration fitted on fewer than {MIN_FIT_CUTOFFS} cut-offs: too few for its finite-sample "
              "guarantee; read these calibrated numbers as indicative only.")

if __name__ == "__main__":
    main()
