"""``kronos retrain``: the gated rolling fine-tune of one series (``kronos_studio.training.retrain``), and
``kronos adapters``: the registry it keeps (list, show, promote by hand, roll back)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import EXIT_LOCKED, CliError, cli_device, error_line, positive
from .ledger import open_ledger


def register(sub) -> None:
    from kronos.quantiles import BAND_NAME
    from kronos_studio.training.gate import COVERAGE_TOLERANCE, NOMINAL_COVERAGE
    from kronos_studio.training.retrain import RetrainSettings

    d = RetrainSettings(horizon=1)
    p = sub.add_parser(
        "retrain", help="train a LoRA challenger on recent bars; it serves only if it beats the champion",
        description="Train a LoRA challenger on the latest --window bars before each retraining point, score it, "
                    "the series' champion and the base model on held-out cut-offs after its data (fair CRPS), and "
                    "promote it only when the paired 95% interval of the CRPS difference excludes 0 in its favour "
                    f"and its {BAND_NAME} coverage is no more than {COVERAGE_TOLERANCE} further from "
                    f"{NOMINAL_COVERAGE * 100:.0f}% than the champion's. "
                    f"Exit codes: 0 done, 2 bad input or refused, {EXIT_LOCKED} another retrain of the series is "
                    "running.")
    p.add_argument("file", help="CSV or Parquet bars (the series is the file's name, or --symbol)")
    p.add_argument("--horizon", type=positive(int), required=True, help="bars each held-out forecast covers")
    p.add_argument("--window", type=positive(int), default=d.window, help=f"bars a challenger learns from "
                                                                          f"(default {d.window})")
    p.add_argument("--every", type=positive(int), default=None, metavar="K",
                   help="walk forward through the history, deciding every K bars from bars before each point only")
    p.add_argument("--since", default=None, metavar="DATE", help="with --every: the first retraining point")
    p.add_argument("--json", default=None, metavar="OUT", help="write one entry per decision and the final champion")
    p.add_argument("--model", default=None, help="the base model (default: the bundled one)")
    p.add_argument("--lookback", type=positive(int), default=d.lookback, help=f"history bars (default {d.lookback})")
    p.add_argument("--cutoffs", type=positive(int), default=d.n_cutoffs,
                   help=f"held-out cut-offs per decision (default {d.n_cutoffs})")
    p.add_argument("--steps", type=positive(int), default=d.steps, help=f"training steps (default {d.steps})")
    p.add_argument("--paths", type=positive(int), default=d.paths, help=f"paths per forecast (default {d.paths})")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--symbol", default=None, metavar="NAME", help="the series' name (as `kronos forecast --symbol`)")
    p.add_argument("--timezone", default=None, help="IANA timezone of times without a UTC offset")
    p.add_argument("--calendar", default=None, help="trading calendar of the bars (default: inferred)")
    p.add_argument("--fix", action="append", default=[], metavar="FIX", help="accept a data-quality fix")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    p.set_defaults(func=run_retrain)

    a = sub.add_parser("adapters", help="the model registry: list, show, promote, roll back",
                       description="Every adapter `kronos retrain` trained, with its lineage, scores and status.")
    a_sub = a.add_subparsers(dest="adapters_command", required=True)
    ls = a_sub.add_parser("list", help="the registry's entries (one line each)")
    ls.add_argument("--symbol", default=None, metavar="NAME", help="only this series")
    ls.add_argument("--json", action="store_true", help="JSON instead of lines")
    ls.set_defaults(func=run_list)
    show = a_sub.add_parser("show", help="one entry, whole, as JSON, with its events (every move, in order)")
    show.add_argument("id", type=int)
    show.set_defaults(func=run_show)
    promote = a_sub.add_parser("promote", help="make an entry its series' champion by hand (bypasses the gate)")
    promote.add_argument("id", type=int)
    promote.set_defaults(func=run_promote)
    rollback = a_sub.add_parser("rollback", help="retire a series' champion; the one it replaced serves again")
    rollback.add_argument("id", type=int, help="the champion's id (or any entry of the series)")
    rollback.set_defaults(func=run_rollback)


def run_retrain(args) -> int:
    from kronos.checkpoints import CheckpointError, load_pair
    from kronos_studio.bundled import default_model_path, model_reference
    from kronos_studio.ledger import LedgerError
    from kronos_studio.training.retrain import Retrainer, RetrainError, RetrainSettings, SeriesLocked

    from .bars_process import GatedBars

    with GatedBars(args.file, args.timezone, args.calendar, args.symbol, args.fix) as gated:
        bars, warnings = gated.result()
    for line in warnings:
        print(line, file=sys.stderr)
    try:
        pair = load_pair(model_reference(args.model) if args.model else default_model_path(), device=cli_device(args))
    except (CheckpointError, FileNotFoundError) as e:
        raise error_line(e) from None
    settings = RetrainSettings(horizon=args.horizon, window=args.window, lookback=args.lookback,
                               n_cutoffs=args.cutoffs, paths=args.paths, seed=args.seed, steps=args.steps)
    with open_ledger() as ledger:
        try:
            retrainer = Retrainer(pair, bars, ledger, settings, log=lambda line: print(f"kronos retrain: {line}",
                                                                                     file=sys.stderr))
            if args.since and not args.every:
                raise CliError("--since picks the first retraining point of a walk: give --every K with it")
            report = retrainer.run(retrainer.points(args.every, args.since))
        except SeriesLocked as e:
            print(f"kronos: {e}", file=sys.stderr)
            return EXIT_LOCKED
        except (RetrainError, LedgerError) as e:
            raise error_line(e) from None
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    promoted = sum(d["decision"] == "promoted" for d in report.decisions)
    print(f"{len(report.decisions)} decisions on {bars.symbol}: {promoted} promoted; champion "
          f"{report.champion if report.champion is not None else 'none (the base model serves)'}")
    return 0


def _registry():
    from kronos_studio.ledger.registry import Registry

    ledger = open_ledger()
    return ledger, Registry(ledger)


def _line(e) -> str:
    crps = (e.scores or {}).get("crps", {})
    scores = ", ".join(f"{k} {v:.3f}%" for k, v in crps.items())
    return (f"{e.id:>4}  {e.status:<10} {e.source}:{e.symbol}:{e.interval}  {e.first_bar_at:%Y-%m-%d %H:%M} to "
            f"{e.last_bar_at:%Y-%m-%d %H:%M}  parent {e.parent_id or '-'}  {scores}  {e.reason or ''}")


def run_list(args) -> int:
    from kronos_studio.ledger import LedgerError

    ledger, registry = _registry()
    with ledger:
        try:
            entries = [e for e in registry.entries() if args.symbol is None or e.symbol == args.symbol]
        except LedgerError as e:
            raise error_line(e) from None
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2, default=str))
    else:
        for e in entries:
            print(_line(e))
        if not entries:
            print("the registry is empty: `kronos retrain FILE --horizon H` trains the first challenger",
                  file=sys.stderr)
    return 0


def _entry_command(args, move) -> int:
    from kronos_studio.ledger import LedgerError

    ledger, registry = _registry()
    with ledger:
        try:
            return move(registry, registry.get(args.id))
        except LedgerError as e:
            raise error_line(e) from None


def run_show(args) -> int:
    def show(registry, entry):
        events = [e.to_dict() for e in registry.history(entry_id=entry.id)]
        print(json.dumps({**entry.to_dict(), "events": events}, indent=2, default=str))
        return 0

    return _entry_command(args, show)


def run_promote(args) -> int:
    from kronos_studio.ledger.registry import MANUAL

    def move(registry, entry):
        promoted = registry.promote(entry.id, reason=MANUAL)
        print(f"adapter {promoted.id} is the champion of {promoted.series}: promoted by hand, it bypassed the gate "
              "(recorded as such)")
        return 0

    return _entry_command(args, move)


def run_rollback(args) -> int:
    def move(registry, entry):
        retired, restored = registry.rollback(entry.series, entry.kind)
        now = f"adapter {restored.id} serves again" if restored else "the base model serves"
        print(f"rolled back adapter {retired.id} of {retired.series}: {now}")
        return 0

    return _entry_command(args, move)
