"""What a spread per asset class would choose: each group of the bundled meta-learner's training cut-offs
validated on the latest share (``train.VALIDATION_SHARE``) of its own complete cut-offs, the quantile
average weighted as fitted on the complete cut-offs before that group's split, at every spread of the grid.

    .venv/bin/python scripts/measure_group_spreads.py [--evals-cache FILE]

The walk-forwards are ``scripts/train_ensemble.py``'s (same series, horizons, members and cut-offs; none
of them held out; ~4 minutes on 2 cores, or read from the scratch file ``train_ensemble.py --evals-cache``
writes). Prints one JSON line per group: its validation cut-offs, the coverage and CRPS at every spread,
the coverage's naive standard error at spread 1.0 (cut-offs overlap, so it is a lower bound) and the
sharpest spread whose p10-p90 band covers its nominal share (``train.calibrated_spread``).
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from train_ensemble import PATHS, train_specs, walk_forwards

from kronos.checkpoints import load_pair
from kronos_studio.bundled import default_model_path
from kronos_studio.ensemble.combine import ALL
from kronos_studio.ensemble.train import (
    SPREADS,
    VALIDATION_SHARE,
    calibrated_spread,
    combined_scores,
    fit_quantile_average,
    utc,
)
from kronos_studio.forecasting import studio_pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals-cache", default=None, metavar="FILE",
                        help="keep the walk-forwards in this scratch file (reused when it exists)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    evals = walk_forwards(pipeline, train_specs(), args.evals_cache)
    members = sorted(evals.table["member"].unique(), key=lambda k: (k != "kronos", k))
    complete = sorted((r for r in evals.cutoffs if r["complete"]), key=lambda r: utc(r["cutoff_time"]))
    for group in sorted({r["group"] for r in complete}):
        own = [r for r in complete if r["group"] == group]
        split = utc(own[int(len(own) * (1 - VALIDATION_SHARE))]["cutoff_time"])
        held = [r for r in own if utc(r["cutoff_time"]) >= split]
        fitted = fit_quantile_average([r for r in complete if utc(r["cutoff_time"]) < split], members)
        weights = fitted.get(group, fitted[ALL])
        by_spread = {}
        for spread in SPREADS:
            scores = np.array([combined_scores(r, "quantile", weights, spread, PATHS, i) for i, r in enumerate(held)])
            by_spread[spread] = (float(scores[:, 0].mean()), float(scores[:, 1].mean()), scores[:, 1])
        at_one = by_spread[1.0][2]
        print(json.dumps({
            "group": group, "validation_cutoffs": len(held), "from": str(split.date()),
            "weights": {k: round(v, 3) for k, v in weights.items() if v},
            "by_spread": {str(s): {"crps_pct": round(c, 4), "coverage": round(cov, 3)} for s, (c, cov, _) in by_spread.items()},
            "coverage_se_at_1": round(float(at_one.std(ddof=1) / np.sqrt(len(at_one))), 3),
            "sharpest_covering": calibrated_spread({s: (c, cov) for s, (c, cov, _) in by_spread.items()})}), flush=True)


if __name__ == "__main__":
    main()
