"""``kronos retrain``: the gated rolling fine-tune of one series (``kronos_studio.training.retrain``) or of a
watchlist's; the registry it keeps is ``kronos adapters`` (``adapters.py``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kronos.quantiles import BAND_NAME
from kronos.settings import knob_values
from kronos_studio.desk import COVERAGE_TOLERANCE, NOMINAL_COVERAGE, Engine, RetrainSettings, RetrainWatchlistRequest

from .bars_process import GatedBars
from .commands import add_command
from .common import (
    EXIT_BAD_INPUT,
    EXIT_LOCKED,
    CliError,
    add_bars_file_options,
    add_knob_options,
    add_training_period_switch,
    cli_device,
    error_line,
    options_of,
    positive,
)
from .errors import cli_line
from .ledger import open_ledger
from .models import cli_desk, desk_call


def register(sub) -> None:
    p = add_command(sub, "retrain",
                    description="Train a LoRA challenger on the latest --window bars before each retraining point, score it, "
                    "the series' champion and the base model on held-out cut-offs after its data (fair CRPS), and "
                    "promote it only when the paired 95% interval of the CRPS difference excludes 0 in its favour "
                    f"and its {BAND_NAME} coverage is no more than {COVERAGE_TOLERANCE} further from "
                    f"{NOMINAL_COVERAGE * 100:.0f}% than the champion's. "
                    "Given a watchlist (as kronos batch takes), every series is retrained, each under its own lock "
                    "on the --engine. "
                    f"Exit codes: 0 done (every series decided), 2 bad input or refused (any series), {EXIT_LOCKED} "
                    "another retrain of the series (of a series, none refused) is running.")
    p.add_argument("file", help="CSV or Parquet bars (the series is --symbol, else the file's symbol column or its "
                                "name without a date that ends it), or a watchlist: "
                                "a folder of bar files or a CSV with columns source,symbol,interval[,exchange]")
    p.add_argument("--horizon", type=positive(int), required=True, help="bars each held-out forecast covers")
    add_knob_options(p, RetrainWatchlistRequest, ("every", "since"))  # one series' retrain takes them too
    p.add_argument("--json", default=None, metavar="OUT", help="write one entry per decision and the final champion (a watchlist: per series, with its status)")
    p.add_argument("--model", default=None, help="the base model (default: the one the series' champion was trained "
                                                 "on; the bundled one when it has none)")
    add_knob_options(p.add_argument_group("the retrain's settings"), RetrainSettings)
    add_training_period_switch(p, "held-out cut-offs whose forecast starts")
    add_bars_file_options(p)
    add_knob_options(p.add_argument_group("a watchlist's series: where they run"), Engine)
    p.set_defaults(func=run_retrain)


def log_line(line: str) -> None:
    print(f"kronos retrain: {line}", file=sys.stderr)


def retrain_settings(args):
    if args.since and not args.every:
        raise CliError("--since picks the first retraining point of a walk: give --every K with it")
    # the settings' own checks, one rule for every face, worded with flags
    return options_of(RetrainSettings, args, horizon=args.horizon, include_training_period=args.include_training_period)


def run_retrain(args) -> int:
    from kronos.checkpoints import CheckpointError
    from kronos_studio.desk import Desk, RetrainError, RetrainRequest, SeriesLocked, TrainingPeriodError
    from kronos_studio.desk.ledger import LedgerError

    if Desk.is_watchlist(args.file):
        return run_retrain_watchlist(args)
    if args.engine != "local" or args.ray_address or args.workers:
        raise CliError("--engine, --ray-address and --workers spread a watchlist's series: give a watchlist (a folder "
                       "of bar files or a source,symbol,interval CSV), or leave them out for one series")
    settings = retrain_settings(args)
    with GatedBars(args.file, args.timezone, args.calendar, args.symbol, args.fix, exchange=args.exchange) as gated:
        bars, warnings = gated.result()
    for line in warnings:
        print(line, file=sys.stderr)
    desk, _ = cli_desk(args)
    with open_ledger() as ledger:
        try:
            report = desk.retrain(RetrainRequest(bars, args.model, settings, args.every, args.since), ledger=ledger,
                                  log=log_line).run()
        except SeriesLocked as e:
            print(f"kronos: {e}", file=sys.stderr)
            return EXIT_LOCKED
        except (RetrainError, TrainingPeriodError, LedgerError, CheckpointError, FileNotFoundError) as e:
            raise error_line(e) from None
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2, default=str))
    promoted = sum(d["decision"] == "promoted" for d in report.decisions)
    print(f"{len(report.decisions)} decisions on {bars.series_symbol}: {promoted} promoted; champion "
          f"{report.champion if report.champion is not None else 'none (the base model serves)'}")
    return 0


def run_retrain_watchlist(args) -> int:
    """Every series of the watchlist ``args.file``: 0 when each was decided, 2 when any was refused, 3 when
    any was locked and none refused."""
    from kronos_studio.desk import DECIDED, LOCKED, REFUSED, Engine, RetrainWatchlistRequest

    if args.symbol or args.timezone or args.exchange:
        raise CliError("--symbol, --exchange and --timezone name one series' bars: a watchlist names its series (by "
                       "file or by its CSV's rows); leave them out")
    settings = retrain_settings(args)
    desk, _ = cli_desk(args)
    request = desk_call(lambda: RetrainWatchlistRequest(
        desk.watchlist(args.file), settings, model=args.model, engine=Engine(**knob_values(args, Engine)),
        device=cli_device(args), **knob_values(args, RetrainWatchlistRequest)))
    results = []

    def said(outcome) -> None:  # each series as it is decided
        message = None if outcome.error is None else cli_line(outcome.error)
        results.append(outcome.to_dict(message))
        if outcome.status == DECIDED:
            promoted = sum(d["decision"] == "promoted" for d in outcome.decisions)
            champion = outcome.champion if outcome.champion is not None else "none (the base model serves)"
            print(f"{outcome.series}: {len(outcome.decisions)} decisions, {promoted} promoted; champion {champion}")
        else:
            print(f"{outcome.series}: {outcome.status}: {message}")

    with open_ledger() as ledger:
        done = desk_call(lambda: desk.retrain_watchlist(request, ledger=ledger, log=log_line, progress=said))
    if args.json:
        Path(args.json).write_text(json.dumps({"series": results}, indent=2, default=str))
    print(f"{len(results)} series: {done.count(DECIDED)} decided, {done.count(REFUSED)} refused, {done.count(LOCKED)} "
          f"locked ({request.engine.engine} engine)", file=sys.stderr)
    if done.count(REFUSED):
        return EXIT_BAD_INPUT
    return EXIT_LOCKED if done.count(LOCKED) else 0
