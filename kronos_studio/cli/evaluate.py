"""``kronos evaluate``: walk-forward of a model and every naive baseline on the latest cut-offs of a
file, as JSON (CRPS, MAE, coverage, CRPS skill against the random walk with its 95% interval, and the
conformal calibration's held-out check)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import CliError, add_context_option, context_note, load_forecast_model, quality_gate, read_bars


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="walk-forward a model and the naive baselines on a file",
                       description="Score a model against the naive baselines on the latest cut-offs.")
    p.add_argument("file", help="CSV or Parquet bars")
    p.add_argument("--model", default=None,
                   help="as for `kronos forecast`, or 'ensemble' (the bundled ensemble); default: the bundled model")
    add_context_option(p)
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--cutoffs", type=int, default=20, help="latest cut-offs, one horizon apart (default 20)")
    p.add_argument("--paths", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lookback", type=int, default=None, help="bars of history per cut-off (default: context - horizon)")
    p.add_argument("--json", required=True, metavar="OUT", help="JSON file to write")
    p.add_argument("--timezone", default=None)
    p.add_argument("--calendar", default=None)
    p.add_argument("--symbol", default=None, metavar="NAME")
    p.add_argument("--fix", action="append", default=[], metavar="FIX")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    p.add_argument("--meta", default=None, metavar="DIR",
                   help="with --model ensemble: a meta-learner from `kronos train ensemble` (default: the bundled one)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args) -> int:
    from kronos_studio.evaluation.baselines import REFERENCE
    from kronos_studio.evaluation.trust import evaluate, skill_interval, skill_score

    for name in ("horizon", "cutoffs", "paths"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name} must be at least 1, got {getattr(args, name)}")
    bars, warnings = quality_gate(read_bars(args.file, args.timezone, args.calendar, args.symbol), args.fix)
    model = load_forecast_model(args, bars)
    lookback = args.lookback or model.lookback
    try:
        report = evaluate(model.fn, bars.frame, horizon=args.horizon, n_cutoffs=args.cutoffs, lookback=lookback,
                          seed=args.seed)
    except ValueError as e:
        raise CliError(str(e)) from None
    reference = report.baselines[REFERENCE].crps_pct_by_cutoff()
    out = {"file": str(Path(args.file).resolve()), "symbol": bars.symbol, "horizon": args.horizon,
           "cutoffs": report.cutoffs, "paths": args.paths, "seed": args.seed, "lookback": lookback,
           "first_cutoff": str(report.model.cutoff_times[0]), "last_cutoff": str(report.model.cutoff_times[-1]),
           "model": model.describe(), "models": {}}
    for key, result in {"model": report.model, **report.baselines}.items():
        s = result.summary()
        lo, hi = skill_interval(result.crps_pct_by_cutoff(), reference)
        out["models"][key] = {"name": result.name, "crps": s["crps"], "crps_pct": s["crps_pct"],
                              "mae": s["mae_median"], "coverage_p10_p90": s["coverage_p10_p90"],
                              "crps_skill_vs_random_walk": skill_score(s["crps_pct"], float(reference.mean())),
                              "crps_skill_ci95": [lo, hi]}
    check = report.check
    out["models"]["model"]["calibration_held_out"] = None if check is None else {
        "fit_cutoffs": check.n_fit, "held_out_cutoffs": check.n_test, "coverage_before": check.before,
        "coverage_after": check.after, "crps_before": check.crps_before, "crps_after": check.crps_after}
    Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    if report.cutoffs < args.cutoffs:
        warnings.append(f"kronos: warning: only {report.cutoffs} of the {args.cutoffs} cut-offs fit: each needs "
                        f"{lookback} bars of history and {args.horizon} after it (lower --lookback or load more bars)")
    for line in warnings:
        print(line, file=sys.stderr)
    m = out["models"]["model"]
    print(f"wrote {args.json}: {report.cutoffs} cut-offs{context_note(model.pipeline.pair)}, CRPS skill vs "
          f"random walk {m['crps_skill_vs_random_walk']:+.3f} (95% CI {m['crps_skill_ci95'][0]:+.3f} to "
          f"{m['crps_skill_ci95'][1]:+.3f}), p10-p90 coverage {m['coverage_p10_p90']:.2f}", file=sys.stderr)
    return 0
