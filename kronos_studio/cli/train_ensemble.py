"""``kronos train ensemble``: retrain the ensemble's meta-learner on your own bars (signal evaluations:
every member's walk-forward forecast at past cut-offs and what happened next), and use it with
``kronos forecast/evaluate --model ensemble --meta DIR``.

    kronos train ensemble --data FILE ... --out DIR --horizon N   # a meta-learner over your files
    kronos train ensemble FILE --horizon N [--cutoffs K]          # stacking weights fitted to this series,
                                                                  # stored in the studio's cache by its key
"""
from __future__ import annotations

import sys
from pathlib import Path

from kronos.settings import default

from .common import CliError, cli_device, quality_gate, read_bars


def register(train_sub) -> None:
    p = train_sub.add_parser("ensemble", help="retrain the ensemble's meta-learner on your bars",
                             description="Walk-forward every ensemble member on your bars and fit the LightGBM "
                                         "meta-learner that weighs them (time-ordered).")
    p.add_argument("series", nargs="?", metavar="FILE",
                   help="fit the ensemble to this one series (stacking weights on its own history), stored in the "
                        "studio's cache under a key of its bars, interval, horizon and members")
    p.add_argument("--data", nargs="+", metavar="FILE", help="CSV/Parquet bar files (with --out)")
    p.add_argument("--out", metavar="DIR", help="folder for meta_learner.txt + meta_learner.json (with --data; "
                                                 "with FILE: a copy besides the cache)")
    p.add_argument("--horizon", type=int, required=True)
    p.add_argument("--cutoffs", type=int, default=None,
                   help="cut-offs per file, spread over its history (default 60; 40 for one series)")
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
    from kronos_studio.ensemble.members import default_members
    from kronos_studio.forecasting import studio_pipeline

    if (args.series is None) == (args.data is None):
        raise CliError("give one series FILE (fit the ensemble to it) or --data FILE ... --out DIR, not both")
    if args.data is not None and args.out is None:
        raise CliError("--data needs --out DIR (the folder for the meta-learner)")
    cutoffs = args.cutoffs or (60 if args.data else 40)
    if args.horizon < 1 or cutoffs < 4 or args.paths < 1:
        raise CliError("--horizon and --paths must be at least 1 and --cutoffs at least 4")
    try:
        pair = load_pair(args.model or default_model_path(), device=cli_device(args))
    except (CheckpointError, FileNotFoundError) as e:
        raise CliError(str(e)) from None
    pipeline = studio_pipeline(pair)
    lookback = default_lookback(pair.context, args.horizon)
    members = default_members(pipeline, paths=args.paths, lookback=lookback)
    if args.series is not None:
        return fit_series(args, members, cutoffs)
    return fit_files(args, members, cutoffs, pair, lookback)


def fit_series(args, members, cutoffs: int) -> int:
    from kronos_studio.ensemble.series import fit_to_series

    bars, _ = quality_gate(read_bars(args.series, args.timezone, args.calendar), args.fix)
    try:
        meta = fit_to_series(bars, members, args.horizon, cutoffs, args.paths, name=Path(args.series).name)
    except ValueError as e:
        raise CliError(f"'{args.series}': {e}") from None
    if args.out:
        meta.save(args.out)
    weights = meta.combinations["stacking"]["weights"]
    group = next((g for g in weights if g != "all"), "all")
    shown = ", ".join(f"{k} {w:.0%}" for k, w in weights[group].items() if w >= 0.005)
    validation = meta.info["validation_crps_pct"]
    applied = "stacking weights" if meta.method == "stacking" else "equal weights (stacking did not beat them)"
    print(f"ensemble fitted to '{Path(args.series).name}' ({meta.info['provenance']['cutoffs']} cut-offs, "
          f"horizon {args.horizon}): applies {applied}; stacking weights {shown}; validation CRPS "
          f"{validation['stacking']:.3f}% of price ({validation['equal']:.3f}% with equal weights); key "
          f"{meta.info['provenance']['series_key']}, saved to {meta.folder}; use it with --model ensemble "
          f"--meta {meta.folder}", file=sys.stderr)
    return 0


def fit_files(args, members, cutoffs: int, pair, lookback: int) -> int:
    from kronos_studio.ensemble.features import asset_class
    from kronos_studio.ensemble.train import SeriesSpec, fit_meta, signal_evaluations
    from kronos_studio.evaluation.walk_forward import choose_cutoffs

    specs = []
    for f in args.data:
        bars, _ = quality_gate(read_bars(f, args.timezone, args.calendar), args.fix)
        try:
            chosen = choose_cutoffs(len(bars.frame), args.horizon, cutoffs, max(lookback, 120))
        except ValueError as e:
            raise CliError(f"'{f}': {e}") from None
        specs.append(SeriesSpec(Path(f).stem, bars, bars.interval, asset_class(bars.calendar, bars.source),
                                args.horizon, chosen))
    evals = signal_evaluations(specs, members)
    try:
        meta = fit_meta(evals, args.paths, info={"provenance": {"trained_on": [s.name for s in specs],
                                                                "kronos": pair.name, "horizon": args.horizon}})
    except ValueError as e:
        raise CliError(str(e)) from None
    meta.save(args.out)
    validation = meta.info["validation_crps_pct"]
    print(f"meta-learner over {meta.members} trained on {len(evals.cutoffs)} cut-offs; method {meta.method} "
          f"({', '.join(f'{k} {v:.3f}%' for k, v in validation.items() if not k.startswith('member:'))} validation "
          f"CRPS of price); saved to {args.out}", file=sys.stderr)
    return 0
