"""``kronos evaluate``: walk-forward of a model and every naive baseline on the latest cut-offs of a
file, as JSON (CRPS, MAE, coverage, CRPS skill against the random walk with its 95% interval, and the
conformal calibration's held-out check)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import CliError, add_sampling_options, quality_gate, read_bars, sampling_settings
from .models import add_context_option, add_model_option, context_note, load_forecaster


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="walk-forward a model and the naive baselines on a file",
                       description="Score a model against the naive baselines on the latest cut-offs.")
    p.add_argument("file", help="CSV or Parquet bars")
    add_model_option(p)
    add_context_option(p)
    p.add_argument("--cutoffs", type=int, default=20, help="latest cut-offs, one horizon apart (default 20)")
    add_sampling_options(p, "bars of history per cut-off (default: context - horizon)")
    p.add_argument("--json", required=True, metavar="OUT", help="JSON file to write")
    p.add_argument("--timezone", default=None)
    p.add_argument("--calendar", default=None)
    p.add_argument("--symbol", default=None, metavar="NAME")
    p.add_argument("--fix", action="append", default=[], metavar="FIX")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    p.add_argument("--meta", default=None, metavar="DIR",
                   help="with --model ensemble: a meta-learner from `kronos train ensemble` (default: the bundled one)")
    p.add_argument("--include-training-period", action="store_true",
                   help="also score cut-offs whose forecast starts inside the model's training period (left out "
                        "by default: such scores measure memory); the JSON says how many there are either way")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args) -> int:
    from kronos.quantiles import BAND_NAME
    from kronos_studio.evaluation.baselines import REFERENCE
    from kronos_studio.evaluation.trust import TrainingPeriodError, evaluate, guard_note
    from kronos_studio.evaluation.walk_forward import walk_forward

    for name in ("horizon", "cutoffs", "paths"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name} must be at least 1, got {getattr(args, name)}")
    bars, warnings = quality_gate(read_bars(args.file, args.timezone, args.calendar, args.symbol), args.fix)
    forecaster, pair = load_forecaster(args, bars)
    lookback = args.lookback or forecaster.lookback(args.horizon)
    # A mixture's walk-forward keeps what each member gave it, so each member is scored on those paths.
    fn = forecaster.walk_forward_fn(sampling_settings(args))
    period = forecaster.training_period()
    try:
        report = evaluate(fn, bars.frame, horizon=args.horizon, n_cutoffs=args.cutoffs, lookback=lookback,
                          seed=args.seed, period=period, include_trained=args.include_training_period)
    except TrainingPeriodError as e:
        raise CliError(f"{e} (--include-training-period)") from None
    except ValueError as e:
        raise CliError(str(e)) from None
    results = {"model": ("model", report.model)}
    results |= {f"member_{key}": ("member", walk_forward(fn.replay(key), bars.frame, horizon=args.horizon,
                                             cutoffs=report.model.cutoffs, lookback=lookback,
                                             seed=report.model.seeds[0], name=member.name))
                for key, member in forecaster.members.items()}
    results |= {key: ("baseline", r) for key, r in report.baselines.items()}
    out = {"file": str(Path(args.file).resolve()), "symbol": bars.symbol, "horizon": args.horizon,
           "cutoffs": report.cutoffs, "paths": args.paths, "seed": args.seed, "lookback": lookback,
           "first_cutoff": str(report.model.cutoff_times[0]), "last_cutoff": str(report.model.cutoff_times[-1]),
           "crps_estimator": report.badge()["crps_estimator"], **report.guard, "model": forecaster.describe(),
           "models": {key: model_scores(r, role, report.baselines[REFERENCE]) for key, (role, r) in results.items()}}
    check = report.check
    out["models"]["model"]["calibration_held_out"] = None if check is None else {
        "fit_cutoffs": check.n_fit, "held_out_cutoffs": check.n_test, "coverage_before": check.before,
        "coverage_after": check.after, "crps_before": check.crps_before, "crps_after": check.crps_after}
    Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    if report.cutoffs < args.cutoffs:
        warnings.append(f"kronos: warning: only {report.cutoffs} of the {args.cutoffs} cut-offs were scored: each "
                        f"needs {lookback} bars of history and {args.horizon} after it (lower --lookback or load "
                        "more bars)" + (", and those inside the model's training period are left out "
                                        "(--include-training-period)" if report.guard["in_training_period"] else ""))
    if guard_note(report.guard):
        warnings.append(f"kronos: warning: {guard_note(report.guard)}")
    for line in warnings:
        print(line, file=sys.stderr)
    m = out["models"]["model"]
    print(f"wrote {args.json}: {report.cutoffs} cut-offs{context_note(pair)}, CRPS skill vs "
          f"random walk {m['crps_skill_vs_random_walk']:+.3f} (95% CI {m['crps_skill_ci95'][0]:+.3f} to "
          f"{m['crps_skill_ci95'][1]:+.3f}), {BAND_NAME} coverage {m['coverage_p10_p90']:.2f}", file=sys.stderr)
    return 0


def model_scores(result, role: str, reference) -> dict:
    """One entry of the JSON's ``models``: CRPS, MAE, coverage and skill against ``reference`` (the random
    walk's result on the same cut-offs) with its paired-bootstrap 95% interval."""
    from kronos_studio.evaluation.trust import skill_interval, skill_score

    s, ref = result.summary(), reference.crps_pct_by_cutoff()
    lo, hi = skill_interval(result.crps_pct_by_cutoff(), ref)
    return {"name": result.name, "role": role, "crps": s["crps"], "crps_pct": s["crps_pct"], "mae": s["mae_median"],
            "coverage_p10_p90": s["coverage_p10_p90"], "paths": s["paths"],
            "crps_skill_vs_random_walk": skill_score(s["crps_pct"], float(ref.mean())), "crps_skill_ci95": [lo, hi]}
