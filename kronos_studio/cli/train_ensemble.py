"""``kronos train ensemble``: retrain the ensemble's meta-learner on your own bars (signal evaluations:
every member's walk-forward forecast at past cut-offs and what happened next) and use it with ``kronos
forecast/evaluate --model ensemble --meta DIR``; or with ``--from-ledger`` on the ensemble forecasts the
ledger scored, through the champion/challenger gate: it serves the workspace's ensemble only when it beats
the serving meta-learner on the newest scored forecasts it was not trained on.

    kronos train ensemble --data FILE ... --out DIR --horizon N   # a meta-learner over your files
    kronos train ensemble --from-ledger [--holdout N]             # over the ledger's scored forecasts, gated
    kronos train ensemble FILE --horizon N [--cutoffs K]          # stacking weights fitted to this series,
                                                                  # stored in the studio's cache by its key
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from kronos.settings import ForecastSettings, default, knob_values
from kronos_studio.desk import ModelChoice, TrainEnsembleRequest

from .common import (
    CliError,
    add_bars_file_options,
    add_knob_options,
    cli_device,
    error_line,
    process_desk,
    quality_gate,
    read_bars,
)
from .errors import cli_line, notice_line
from .ledger import open_ledger
from .models import cli_desk, desk_call, model_choice


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
                        "registered in the model registry, it serves the workspace's ensemble only if the gate "
                        "promotes it (--out: a copy, in a new or empty folder)")
    p.add_argument("--since", default=None, metavar="DATE",
                   help="with --from-ledger: learn only what was known before DATE (UTC when no zone is given; "
                        "default now): forecasts whose last bar seen and every forecast bar are before DATE, all "
                        "of them scored; later forecasts and bars are left out (e.g. to test the learner on them)")
    p.add_argument("--holdout", type=holdout_value, default=None, metavar="N|SHARE",
                   help="with --from-ledger: the newest usable forecasts held out for the gate, a count or a share "
                        "below 1 (default 0.2, at least 5); the challenger learns only from forecasts known before "
                        "the first of them, and replaces the serving meta-learner only if it wins on them")
    p.add_argument("--min-evaluations", type=int, default=None, metavar="N",
                   help="with --from-ledger: the fewest usable ensemble forecasts to train on (default 50)")
    p.add_argument("--cutoffs", type=int, default=None,
                   help="cut-offs per file, spread over its history (default 60; 40 for one series)")
    p.add_argument("--paths", type=int, default=default("paths"))
    p.add_argument("--model", default=None, help="the Kronos member (default: the bundled model)")
    add_knob_options(p, ModelChoice, ("chronos2",))
    add_knob_options(p.add_argument_group("sampling (every member's walk-forward, as the ensemble's forecasts sample)"))
    add_bars_file_options(p, symbol=False)
    p.set_defaults(func=run_train_ensemble)


def holdout_value(text: str) -> float:
    """--holdout: a count (a whole number, at least 1) or a share (between 0 and 1)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < 1 or (value >= 1 and value.is_integer())):
        raise argparse.ArgumentTypeError(f"'{text}' is neither a count (5, 20) nor a share between 0 and 1 (0.2)")
    return value


def run_train_ensemble(args) -> int:
    if args.from_ledger:
        if args.series is not None:
            raise CliError("--from-ledger learns from the stored forecasts: leave out the series FILE")
        return run_from_ledger(args)
    if args.since is not None or args.min_evaluations is not None or args.holdout is not None:
        raise CliError("--since, --min-evaluations and --holdout go with --from-ledger")
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
    """``Desk.train_ensemble`` over the --data files (each through the quality gate), saved to --out."""
    from kronos.checkpoints import CheckpointError

    if args.series is not None:
        return fit_series(args)
    if args.horizon < 1 or (args.cutoffs and args.cutoffs < 4) or args.paths < 1:
        raise CliError("--horizon and --paths must be at least 1 and --cutoffs at least 4")
    settings = walk_settings(args)
    series = tuple((f, quality_gate(read_bars(f, args.timezone, args.calendar), args.fix)[0]) for f in args.data)
    try:
        done = process_desk().train_ensemble(TrainEnsembleRequest(
            series, settings, args.model, **({"n_cutoffs": args.cutoffs} if args.cutoffs else {}),
            chronos2=args.chronos2, device=cli_device(args)))
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise error_line(e) from None
    for notice in done.notices:
        print(notice_line(notice), file=sys.stderr)
    meta = done.meta
    meta.save(args.out)
    print(f"meta-learner over {meta.members} trained on {done.cutoffs} cut-offs; {validation_line(meta)}; "
          f"saved to {args.out}", file=sys.stderr)
    return 0


def walk_settings(args):
    """The members' ``ForecastSettings``: --horizon, --paths and the sampling options."""
    try:
        return ForecastSettings(horizon=args.horizon, paths=args.paths, **knob_values(args))
    except ValueError as e:
        raise error_line(e) from None


def fit_series(args) -> int:
    """``Desk.fit_ensemble`` of the series FILE, with the sampling options whole (the members sample as an ensemble
    forecast of it will); the fit stored by the series' key, and copied to ``--out`` when given."""
    from kronos_studio.desk import FitEnsembleRequest

    bars, warnings = quality_gate(read_bars(args.series, args.timezone, args.calendar), args.fix)
    name = Path(args.series).name
    desk, _ = cli_desk(args)
    request = desk_call(lambda: FitEnsembleRequest(
        bars, walk_settings(args), model_choice(args), **({} if args.cutoffs is None else {"n_cutoffs": args.cutoffs}),
        name=name))
    try:
        done = desk.fit_ensemble(request)
    except ValueError as e:  # a library refusal, worded with flags
        raise CliError(f"'{name}': {cli_line(e)}") from None
    for line in warnings + [notice_line(n) for n in done.notices]:
        print(line, file=sys.stderr)
    meta = done.meta
    if args.out:
        meta.save(args.out)
    weights = meta.combinations["stacking"]["weights"]
    group = next((g for g in weights if g != "all"), "all")
    shown = ", ".join(f"{k} {w:.0%}" for k, w in weights[group].items() if w >= 0.005)
    validation = meta.info["validation_crps_pct"]
    applied = "stacking weights" if meta.method == "stacking" else "equal weights (stacking did not beat them)"
    print(f"ensemble fitted to '{name}' ({meta.info['provenance']['cutoffs']} cut-offs, "
          f"horizon {args.horizon}): applies {applied}; stacking weights {shown}; validation CRPS "
          f"{validation['stacking']:.3f}% of price ({validation['equal']:.3f}% with equal weights); key "
          f"{meta.info['provenance']['series_key']}, saved to {meta.folder}; use it with --model ensemble "
          f"--meta {meta.folder}", file=sys.stderr)
    return 0


def run_from_ledger(args) -> int:
    """Hold out the newest scored ensemble forecasts, fit a challenger on the older ones and let the gate
    decide whether it serves the workspace's ensemble (``Desk.gate_ensemble``)."""
    from kronos_studio.desk import GateEnsembleRequest, MetaGateError
    from kronos_studio.desk.ledger import LedgerError

    if args.data or args.horizon is not None:
        raise CliError("--from-ledger learns from the stored forecasts and their features: leave out --data and "
                       "--horizon")
    if args.min_evaluations is not None and args.min_evaluations < 4:
        raise CliError("--min-evaluations must be at least 4")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"--out {out} already exists and is not an empty folder: name a new one (a meta-learner "
                       "there is kept, never overwritten)")
    request = GateEnsembleRequest(args.since, args.min_evaluations, args.holdout, args.model)
    ledger = open_ledger()
    try:
        made = process_desk().gate_ensemble(request, ledger=ledger,
                                    log=lambda line: print(f"note: {line}", file=sys.stderr)).decision
    except (MetaGateError, LedgerError, ValueError) as e:
        raise error_line(e) from None
    finally:
        ledger.close()
    entry, scores = made.entry, made.scores
    if out is not None:
        shutil.copytree(entry.path, out, dirs_exist_ok=True)
    if made.skipped:
        print(f"meta-learner {entry.id} was trained on these forecasts already and is {entry.status}: nothing "
              "refitted (let more forecasts be scored for a new challenger)")
        return 0
    crps = scores["crps"]
    serves = (f"it serves the workspace's ensemble (replacing the {made.current})" if entry.status == "champion"
              else f"the {made.current} keeps serving")
    print(f"meta-learner {entry.id} {scores['decision']}: {serves}; CRPS {crps['challenger']:.3f}% vs "
          f"{crps['champion']:.3f}% of price on the {scores['cutoffs']} newest scored ensemble forecasts "
          f"(trained on {entry.window_bars} older ones): {scores['reason']}"
          + (f"; copied to {out}" if out is not None else ""))
    return 0
