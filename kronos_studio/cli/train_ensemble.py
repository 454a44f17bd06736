"""``kronos train ensemble``: retrain the ensemble's meta-learner on your own bars (signal evaluations:
every member's walk-forward forecast at past cut-offs and what happened next), or with ``--from-ledger``
on the ensemble forecasts the ledger scored, and use it with ``kronos forecast/evaluate --model ensemble
--meta DIR``.

    kronos train ensemble --data FILE ... --out DIR --horizon N   # a meta-learner over your files
    kronos train ensemble --from-ledger --out DIR                 # over the ledger's scored forecasts
    kronos train ensemble FILE --horizon N [--cutoffs K]          # stacking weights fitted to this series,
                                                                  # stored in the studio's cache by its key
"""
from __future__ import annotations

import sys
from pathlib import Path

from kronos.settings import default

from .common import CliError, cli_device, error_line, quality_gate, read_bars
from .errors import cli_line
from .models import add_chronos2_option


def register(train_sub) -> None:
    p = train_sub.add_parser("ensemble", help="retrain the ensemble's meta-learner on your bars or the ledger",
                             description="Walk-forward every ensemble member on your bars (--data) and fit the "
                                         "LightGBM meta-learner that weighs them (time-ordered); or fit it on the "
                                         "ensemble forecasts the ledger scored (--from-ledger); or fit the "
                                         "ensemble to one series (FILE).")
    p.add_argument("series", nargs="?", metavar="FILE",
                   help="fit the ensemble to this one series (stacking weights on its own history), stored in the "
                        "studio's cache under a key of its bars, interval, horizon and members")
    p.add_argument("--data", nargs="+", default=None, metavar="FILE", help="CSV/Parquet bar files (with --out)")
    p.add_argument("--out", metavar="DIR", help="folder for meta_learner.txt + meta_learner.json (with --data or "
                                                 "--from-ledger; with FILE: a copy besides the cache)")
    p.add_argument("--horizon", type=int, default=None, help="bars ahead (with --data or FILE)")
    p.add_argument("--from-ledger", action="store_true",
                   help="learn from the ledger's ensemble forecasts scored on the bars that came after them, each "
                        "member on its own paths, with the features the ensemble saw when it forecast (no --data); "
                        "--out must be a new or empty folder")
    p.add_argument("--since", default=None, metavar="DATE",
                   help="with --from-ledger: learn only what was known before DATE (UTC when no zone is given; "
                        "default now): forecasts whose last bar seen and every forecast bar are before DATE, all "
                        "of them scored; later forecasts and bars are left out (e.g. to test the learner on them)")
    p.add_argument("--min-evaluations", type=int, default=None, metavar="N",
                   help="with --from-ledger: the fewest usable ensemble forecasts to train on (default 50)")
    p.add_argument("--cutoffs", type=int, default=None,
                   help="cut-offs per file, spread over its history (default 60; 40 for one series)")
    p.add_argument("--paths", type=int, default=default("paths"))
    p.add_argument("--model", default=None, help="the Kronos member (default: the bundled model)")
    add_chronos2_option(p)
    p.add_argument("--timezone", default=None)
    p.add_argument("--calendar", default=None)
    p.add_argument("--fix", action="append", default=[], metavar="FIX")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    p.set_defaults(func=run_train_ensemble)


def run_train_ensemble(args) -> int:
    if args.from_ledger:
        if args.series is not None:
            raise CliError("--from-ledger learns from the stored forecasts: leave out the series FILE")
        return run_from_ledger(args)
    if args.since is not None or args.min_evaluations is not None:
        raise CliError("--since and --min-evaluations go with --from-ledger")
    if (args.series is None) == (args.data is None):
        raise CliError("give one series FILE (fit the ensemble to it) or --data FILE ... --out DIR, not both "
                       "(or --from-ledger --out DIR to learn from the ledger)")
    if args.horizon is None:
        raise CliError("--horizon N is needed to walk the members forward")
    if args.data is not None and args.out is None:
        raise CliError("--data needs --out DIR (the folder for the meta-learner)")
    return run_walk_forward(args)


def validation_line(meta) -> str:
    """'method quantile; validation CRPS: quantile 1.322%, softmax 1.333%, equal 1.335%, ... of price'."""
    validation = meta.info["validation_crps_pct"]
    scores = ", ".join(f"{k} {v:.3f}%" for k, v in validation.items() if not k.startswith("member:"))
    return f"method {meta.method}; validation CRPS {scores} of price"


def run_walk_forward(args) -> int:
    from kronos.checkpoints import CheckpointError, load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import default_model_path, model_reference
    from kronos_studio.ensemble.bundled import default_members
    from kronos_studio.ensemble.chronos2 import ensemble_member
    from kronos_studio.forecasting import studio_pipeline

    cutoffs = args.cutoffs or (60 if args.data else 40)
    if args.horizon < 1 or cutoffs < 4 or args.paths < 1:
        raise CliError("--horizon and --paths must be at least 1 and --cutoffs at least 4")
    try:
        pair = load_pair(model_reference(args.model) or default_model_path(), device=cli_device(args))
    except (CheckpointError, FileNotFoundError) as e:
        raise error_line(e) from None
    pipeline = studio_pipeline(pair)
    # the members `kronos forecast --model ensemble` will mix, Chronos-2 included when it joins there
    chronos2, status = ensemble_member(args.chronos2, args.paths, pair.device)
    print(f"note: {status}", file=sys.stderr)
    settings = ForecastSettings(horizon=args.horizon, paths=args.paths)
    members = default_members(pipeline, settings, chronos2=chronos2)
    if args.series is not None:
        return fit_series(args, members, settings, cutoffs)
    return fit_files(args, members, settings, cutoffs, pair)


def fit_series(args, members, settings, cutoffs: int) -> int:
    from kronos_studio.ensemble.series import SeriesFit, fit_to_series

    bars, _ = quality_gate(read_bars(args.series, args.timezone, args.calendar), args.fix)
    try:
        meta = fit_to_series(bars, members, settings, SeriesFit(cutoffs, name=Path(args.series).name))
    except ValueError as e:
        raise CliError(f"'{args.series}': {cli_line(e)}") from None
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


def fit_files(args, members, settings, cutoffs: int, pair) -> int:
    from kronos.config import default_lookback
    from kronos_studio.ensemble.features import asset_class
    from kronos_studio.ensemble.train import SeriesSpec, fit_meta, signal_evaluations
    from kronos_studio.evaluation.walk_forward import choose_cutoffs

    specs = []
    for f in args.data:
        bars, _ = quality_gate(read_bars(f, args.timezone, args.calendar), args.fix)
        try:
            chosen = choose_cutoffs(len(bars.frame), args.horizon, cutoffs,
                                    max(default_lookback(pair.context, args.horizon), 120))
        except ValueError as e:
            raise CliError(f"'{f}': {cli_line(e)}") from None
        specs.append(SeriesSpec(Path(f).stem, bars, bars.interval, asset_class(bars.calendar, bars.source),
                                args.horizon, chosen))
    evals = signal_evaluations(specs, members, settings)
    try:
        meta = fit_meta(evals, args.paths, info={"provenance": {"trained_on": [s.name for s in specs],
                                                                "kronos": pair.name, "horizon": args.horizon}})
    except ValueError as e:
        raise error_line(e) from None
    meta.save(args.out)
    print(f"meta-learner over {meta.members} trained on {len(evals.cutoffs)} cut-offs; {validation_line(meta)}; "
          f"saved to {args.out}", file=sys.stderr)
    return 0


def run_from_ledger(args) -> int:
    import pandas as pd

    from kronos_studio.ensemble.from_ledger import MIN_EVALUATIONS, ledger_evaluations
    from kronos_studio.ensemble.train import fit_meta
    from kronos_studio.ledger.frames import as_utc

    from .ledger import open_ledger

    if args.data or args.horizon is not None:
        raise CliError("--from-ledger learns from the stored forecasts and their features: leave out --data and "
                       "--horizon")
    if args.out is None:
        raise CliError("--from-ledger needs --out DIR (a new or empty folder for the meta-learner)")
    least = MIN_EVALUATIONS if args.min_evaluations is None else args.min_evaluations
    if least < 4:
        raise CliError("--min-evaluations must be at least 4")
    try:
        before = as_utc(args.since) if args.since else pd.Timestamp.now(tz="UTC")
    except (ValueError, TypeError):
        raise CliError(f"--since must be a date or time like 2024-06-01, got '{args.since}'") from None
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"--out {out} already exists and is not an empty folder: name a new one (a meta-learner "
                       "there is kept, never overwritten)")
    ledger = open_ledger()
    try:
        found = ledger_evaluations(ledger, before)
    finally:
        ledger.close()
    if found.count < least:
        left = "; ".join(f"{n} {why}" for why, n in found.skipped.items())
        raise CliError(f"only {found.count} ensemble forecasts in the ledger are scored, members included, before "
                       f"{before:%Y-%m-%d %H:%M} UTC (need at least {least}{'; left out: ' + left if left else ''}): "
                       "let more be scored (kronos ledger score), or lower --min-evaluations")
    try:
        meta = fit_meta(found.evals, found.paths, info={"provenance": {
            "trained_on": "ledger", "before": str(before), "evaluations": found.count}})
    except ValueError as e:
        raise error_line(e) from None
    meta.save(out)
    print(f"meta-learner over {meta.members} trained on {found.count} scored ensemble forecasts before "
          f"{before:%Y-%m-%d %H:%M} UTC; {validation_line(meta)}; saved to {out}", file=sys.stderr)
    return 0
