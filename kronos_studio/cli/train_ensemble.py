"""``kronos train ensemble``: retrain the ensemble's meta-learner on your own bars (signal evaluations:
every member's walk-forward forecast at past cut-offs and what happened next), and use it with
``kronos forecast/evaluate --model ensemble --meta DIR``."""
from __future__ import annotations

import sys
from pathlib import Path

from kronos.settings import default

from .common import CliError, cli_device, quality_gate, read_bars


def register(train_sub) -> None:
    p = train_sub.add_parser("ensemble", help="retrain the ensemble's meta-learner on your bars",
                             description="Walk-forward every ensemble member on your bars and fit the LightGBM "
                                         "meta-learner that weighs them (time-ordered).")
    p.add_argument("--data", nargs="+", required=True, metavar="FILE", help="CSV/Parquet bar files")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for meta_learner.txt + meta_learner.json")
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--cutoffs", type=int, default=60, help="cut-offs per file, spread over its history (default 60)")
    p.add_argument("--paths", type=int, default=default("paths"))
    p.add_argument("--model", default=None, help="the Kronos member (default: the bundled model)")
    p.add_argument("--timezone", default=None)
    p.add_argument("--calendar", default=None)
    p.add_argument("--fix", action="append", default=[], metavar="FIX")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    p.set_defaults(func=run_train_ensemble)


def run_train_ensemble(args) -> int:
    from kronos.checkpoints import CheckpointError, load_pair
    from kronos.config import default_lookback
    from kronos_studio.bundled import default_model_path
    from kronos_studio.ensemble.features import asset_class
    from kronos_studio.ensemble.members import default_members
    from kronos_studio.ensemble.train import SeriesSpec, fit_meta, signal_evaluations
    from kronos_studio.evaluation.walk_forward import choose_cutoffs
    from kronos_studio.forecasting import studio_pipeline

    if args.horizon < 1 or args.cutoffs < 4 or args.paths < 1:
        raise CliError("--horizon and --paths must be at least 1 and --cutoffs at least 4")
    try:
        pair = load_pair(args.model or default_model_path(), device=cli_device(args))
    except (CheckpointError, FileNotFoundError) as e:
        raise CliError(str(e)) from None
    pipeline = studio_pipeline(pair)
    lookback = default_lookback(pair.context, args.horizon)
    specs = []
    for f in args.data:
        bars, _ = quality_gate(read_bars(f, args.timezone, args.calendar), args.fix)
        try:
            cutoffs = choose_cutoffs(len(bars.frame), args.horizon, args.cutoffs, max(lookback, 120))
        except ValueError as e:
            raise CliError(f"'{f}': {e}") from None
        specs.append(SeriesSpec(Path(f).stem, bars, bars.interval, asset_class(bars.calendar, bars.source),
                                args.horizon, cutoffs))
    members = default_members(pipeline, paths=args.paths, lookback=lookback)
    evals = signal_evaluations(specs, members)
    try:
        meta = fit_meta(evals, args.paths, info={"provenance": {"trained_on": [s.name for s in specs],
                                                                "kronos": pair.name, "horizon": args.horizon}})
    except ValueError as e:
        raise CliError(str(e)) from None
    meta.save(args.out)
    print(f"meta-learner over {meta.members} trained on {len(evals.cutoffs)} cut-offs; temperature {meta.temperature}, "
          f"spread {meta.spread}; validation CRPS {meta.info['validation_crps_pct']:.3f}% of price "
          f"({meta.info['validation_crps_pct_equal_weights']:.3f}% with equal weights); saved to {args.out}",
          file=sys.stderr)
    return 0
