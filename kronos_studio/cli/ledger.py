"""``kronos ledger``: score recorded forecasts on the bars that arrived since, export the track record, judge drift,
say where the ledger is: each the desk's use case (``Desk.score``, ``steps``, ``ledger_info``, ``drift``) on the
ledger ``open_ledger`` opens, its requests drawn from the options. ``kronos forecast`` records every forecast
(``--no-ledger`` opts out) through ``open_in_background`` and ``record`` below."""
from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from data_sources.requests import FILE_KNOBS, BarsRequest
from kronos.quantiles import BAND_NAME, band_nominal
from kronos.settings import from_knobs, knob_values
from kronos_studio.desk import Desk, DriftRequest, ModelsQuery, RecordRequest, RiskSettings, ScoreRequest, StepsRequest
from kronos_studio.desk.cells import counted
from kronos_studio.desk.ledger_tables import drift_table, exceptions_table, scored_said
from kronos_studio.desk.risk_record import record_body

from .commands import add_command
from .common import CliError, add_knob_options, options_of
from .errors import cli_line, notice_line
from .models import process_desk
from .tables import printed

if TYPE_CHECKING:
    from concurrent.futures import Future


def register(sub) -> None:
    p = add_command(sub, "ledger",
                    description="The forecast ledger: every forecast kept, scored when its bars arrive. It is "
                                "the database in $KRONOS_STUDIO_DB (any SQLAlchemy URL), else a SQLite file in "
                                "the cache folder.")
    ledger_sub = p.add_subparsers(dest="ledger_command", required=True)
    s = ledger_sub.add_parser("score", help="score due forecasts on newer bars",
                              description="Score every recorded forecast whose bars have arrived: with FILEs, on "
                                          "the bars in them, read through the data-quality gate as a forecast's are "
                                          "(the series is --symbol with --exchange, else the file's symbol column or "
                                          "its name without a date that ends it); without, on every series with "
                                          "forecasts to score whose bars can be fetched or are bundled.")
    s.add_argument("files", nargs="*", metavar="FILE", help="CSV or Parquet bar files")
    s.add_argument("--symbol", default=None, metavar="NAME",
                   help="the series name (as `kronos forecast --symbol`); without FILE: only this series")
    add_knob_options(s, BarsRequest, FILE_KNOBS[1:])  # how FILEs are read: as kronos forecast reads its file
    s.set_defaults(func=run_score)
    e = ledger_sub.add_parser("export", help="write the track record to a Parquet file",
                              description="One row per (forecast, step): what was forecast (close p10/p50/p90) "
                                          "and, once scored, what happened (actual bar, CRPS, coverage, PIT).")
    e.add_argument("--out", required=True, metavar="FILE.parquet", help="Parquet file to write")
    add_knob_options(e.add_argument_group("which forecasts"), StepsRequest)
    e.set_defaults(func=run_export)
    i = ledger_sub.add_parser("info", help="where the ledger is and what it holds")
    i.set_defaults(func=run_info)
    d = ledger_sub.add_parser("drift", help="is a model still calibrated and better than the random walk?",
                              description="Per workspace, series and model, over the newest scored forecasts: "
                                          f"{BAND_NAME} coverage of the first forecast bar (binomial test against "
                                          f"{band_nominal():.2f}), PIT uniformity (Kolmogorov-Smirnov) and CRPS skill against "
                                          "the random walk with its 95% interval; the state ok, drifting or too "
                                          "few scored forecasts (docs/ledger.md#drift).")
    d.add_argument("--json", default=None, metavar="OUT", help="also write one JSON entry per series and model")
    d.add_argument("--workspace", default=None, metavar="W", help="only this workspace (default: every one)")
    add_knob_options(d.add_argument_group("which forecasts"), DriftRequest)
    d.set_defaults(func=run_drift)
    add_exceptions(ledger_sub)


def add_exceptions(ledger_sub) -> None:
    """``kronos ledger exceptions``: its levels and positions are ``RiskSettings``' own, generated from their knobs."""
    x = ledger_sub.add_parser(
        "exceptions", help="VaR exceptions of the recorded forecasts, tested per series and model",
        description="Each recorded forecast whose horizon's bar has arrived, judged as a risk forecast: its VaR "
                    "read from its recorded paths, and an exception when the realized return over its horizon was "
                    "a loss beyond it. Per workspace, series and model: exceptions against the expected count, Kupiec and "
                    "Christoffersen p-values, on non-overlapping forecasts only (each starting at or after the "
                    "previous one's horizon end; the others are counted as left out) (docs/risk.md).")
    add_knob_options(x, RiskSettings, RISK_TESTED)
    x.add_argument("--json", default=None, metavar="OUT",
                   help="also write the JSON: per series and model the tests, per forecast its readings")
    x.add_argument("--workspace", default=None, metavar="W", help="only this workspace (default: every one)")
    x.add_argument("--symbol", default=None, metavar="NAME", help="only this series")
    x.add_argument("--model", default=None, metavar="NAME", help="only this model (as the ledger names it)")
    x.add_argument("--experiments", action="store_true",
                   help="count forecasts made at non-default sampling settings too")
    add_knob_options(x, ModelsQuery, only=("replay",))
    x.set_defaults(func=run_exceptions)


RISK_TESTED = ("levels", "positions")  # the risk settings a risk record's tests read (``kronos ledger exceptions``)


def open_ledger(hint: str = "", workspace: str | None = None):
    """The ledger (``workspace``: only that workspace's rows), or the CliError saying why it cannot be opened."""
    from kronos_studio.desk.ledger import LedgerError
    from kronos_studio.desk.ledger import open_ledger as opened

    try:
        return opened(workspace=workspace)
    except LedgerError as e:
        raise CliError(f"{e}{hint}") from None


def open_in_background() -> Future:
    """Open the ledger while the model samples: importing the database layer and checking the schema
    then costs the forecast no wall time."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
    try:
        return pool.submit(open_ledger, " (or pass --no-ledger)")
    finally:
        pool.shutdown(wait=False)  # the opening runs on; ``record`` waits for it


def record(opening: Future, desk, forecast, bars) -> str:
    """Record ``forecast`` in the ledger being opened (``Desk.record``: the series' earlier forecasts that ``bars``
    can score are scored first); the line that says so."""
    ledger = opening.result()  # raises the CliError of a ledger that cannot be opened
    try:
        done = desk.record(RecordRequest(forecast, bars), ledger=ledger)
    finally:
        ledger.close()
    kept = "recorded" if done.new else "already recorded"
    line = f"{kept} in the ledger as forecast {done.id} of {done.symbol} {done.interval}"
    if done.scored_steps:
        line += (f"; these bars scored {counted(done.scored_steps, 'step')} of "
                 f"{counted(done.scored_forecasts, 'earlier forecast')}")
    return line


def run_score(args) -> int:
    desk = process_desk()
    with open_ledger() as ledger:
        if args.files:
            for path in args.files:
                done = desk.score(ScoreRequest(from_knobs(BarsRequest, args, FILE_KNOBS, file=path)), ledger=ledger)
                for n in done.notices:
                    print(notice_line(n), file=sys.stderr)
                [one] = done.series
                print(f"{Path(path).name} ({one.symbol} {one.interval}): {scored_said(one)}", file=sys.stderr)
                for why in one.waiting:
                    print(f"kronos: warning: {why}", file=sys.stderr)
            return 0
        done = desk.score(ScoreRequest(symbol=args.symbol), ledger=ledger)
    if not done.series:
        print("nothing to score: every recorded forecast" + (f" of {args.symbol}" if args.symbol else "")
              + " is scored on every step", file=sys.stderr)
    for one in done.series:
        label = f"{one.symbol} {one.interval} ({one.source})"
        if one.refused is not None:
            print(f"kronos: warning: {label}: {cli_line(one.refused)}", file=sys.stderr)
            continue
        print(f"{label}: {scored_said(one)}", file=sys.stderr)
        for why in one.waiting:
            print(f"kronos: warning: {why}", file=sys.stderr)
    return 0


def run_export(args) -> int:
    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise CliError(f"--out must name a Parquet file (.parquet), got '{args.out}'")
    request = StepsRequest(**knob_values(args, StepsRequest))
    with open_ledger() as ledger:
        done = process_desk().steps(request, ledger=ledger)
    for n in done.notices:
        print(notice_line(n), file=sys.stderr)
    try:
        from data_sources.storage import atomic_write

        atomic_write(out, lambda tmp: done.steps.to_parquet(tmp, index=False))
    except OSError as e:
        raise CliError(f"cannot write '{args.out}': {e.strerror or e}") from None
    print(f"wrote {counted(len(done.steps), 'row')} ({counted(done.forecasts, 'forecast')}, "
          f"{counted(done.scored, 'step')} scored) to {args.out}", file=sys.stderr)
    return 0


def run_info(args) -> int:
    with open_ledger() as ledger:
        info = process_desk().ledger_info(ledger=ledger)
    print(f"ledger: {info.where} (schema {info.schema})")
    print(f"{counted(info.counts['predictions'], 'forecast')} of {len(info.series)} series, "
          f"{counted(info.counts['evaluations'], 'step')} scored, "
          f"{counted(info.counts['track_records'], 'walk-forward track record')}")
    return 0


def run_drift(args) -> int:
    request = DriftRequest(**knob_values(args, DriftRequest))
    with open_ledger(workspace=args.workspace) as ledger:
        done = process_desk().drift(request, ledger=ledger)
    for n in done.notices:
        print(notice_line(n), file=sys.stderr)
    report = done.drifts
    if not report:
        where = f" of workspace {args.workspace}" if args.workspace else ""
        print(f"no forecasts{where}{f' of {args.symbol}' if args.symbol else ''} in the ledger: nothing to judge",
              file=sys.stderr)
    else:
        print(printed([drift_table(done)]))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps([d.to_dict() for d in report], indent=2))
        except OSError as e:
            raise CliError(f"cannot write '{args.json}': {e.strerror or e}") from None
        print(f"wrote {args.json}: {len(report)} series and models", file=sys.stderr)
    return 0


def run_exceptions(args) -> int:
    risk = options_of(RiskSettings, args, RISK_TESTED)
    query = ModelsQuery(symbol=args.symbol, models=(args.model,) if args.model else (), replay=args.replay)
    ledger = open_ledger(workspace=args.workspace)
    try:
        done = Desk.risk_record(ledger, risk, experiments=args.experiments, **query.filters())
    finally:
        ledger.close()
    body = record_body(done)
    for n in done.notices:
        print(notice_line(n), file=sys.stderr)
    if not body["tests"]:
        where = f" of workspace {args.workspace}" if args.workspace else ""
        print(f"no forecasts{where} in the ledger match: nothing to judge", file=sys.stderr)
    else:
        print(printed([exceptions_table(done)]))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(body, indent=2))
        except OSError as e:
            raise CliError(f"cannot write '{args.json}': {e.strerror or e}") from None
        print(f"wrote {args.json}: {len(body['tests'])} series, models, positions and levels, "
              f"{len(body['forecasts'])} scored forecasts", file=sys.stderr)
    return 0
