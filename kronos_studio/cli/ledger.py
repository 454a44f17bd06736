"""``kronos ledger``: score recorded forecasts on the bars that arrived since, export the track record, judge drift,
say where the ledger is. ``kronos forecast`` records every forecast (``--no-ledger`` opts out) through
``open_in_background`` and ``record`` below."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .commands import add_command
from .common import CliError, error_line, read_bars

if TYPE_CHECKING:
    from concurrent.futures import Future

# Series fetched again for scoring (no file given): at most this many bars back, enough for years of
# daily bars; older forecasts of an intraday series are scored from a file instead.
MAX_FETCH_BARS = 5000


def register(sub) -> None:
    p = add_command(sub, "ledger",
                    description="The forecast ledger: every forecast kept, scored when its bars arrive. It is "
                                "the database in $KRONOS_STUDIO_DB (any SQLAlchemy URL), else a SQLite file in "
                                "the cache folder.")
    ledger_sub = p.add_subparsers(dest="ledger_command", required=True)
    s = ledger_sub.add_parser("score", help="score due forecasts on newer bars",
                              description="Score every recorded forecast whose bars have arrived: with FILEs, on "
                                          "the bars in them (the series is --symbol with --exchange, else the "
                                          "file's symbol column or its name without a date that ends it); without, "
                                          "on every series with forecasts to score whose bars can be fetched or "
                                          "are bundled.")
    s.add_argument("files", nargs="*", metavar="FILE", help="CSV or Parquet bar files")
    s.add_argument("--symbol", default=None, metavar="NAME",
                   help="the series name (as `kronos forecast --symbol`); without FILE: only this series")
    s.add_argument("--exchange", default=None, metavar="NAME",
                   help="with FILE: the exchange its bars come from (as `kronos forecast --exchange`)")
    s.add_argument("--timezone", default=None, help="IANA timezone of times without a UTC offset (as for forecast)")
    s.add_argument("--calendar", default=None, help="trading calendar of the files' bars (as for forecast)")
    s.set_defaults(func=run_score)
    e = ledger_sub.add_parser("export", help="write the track record to a Parquet file",
                              description="One row per (forecast, step): what was forecast (close p10/p50/p90) "
                                          "and, once scored, what happened (actual bar, CRPS, coverage, PIT).")
    e.add_argument("--out", required=True, metavar="FILE.parquet", help="Parquet file to write")
    e.add_argument("--since", default=None, metavar="DATE", help="only forecasts made on or after DATE (UTC)")
    e.add_argument("--symbol", default=None, metavar="NAME", help="only this series")
    e.set_defaults(func=run_export)
    i = ledger_sub.add_parser("info", help="where the ledger is and what it holds")
    i.set_defaults(func=run_info)
    from kronos.quantiles import BAND_NAME, band_nominal

    d = ledger_sub.add_parser("drift", help="is a model still calibrated and better than the random walk?",
                              description="Per workspace, series and model, over the newest scored forecasts: "
                                          f"{BAND_NAME} coverage of the first forecast bar (binomial test against "
                                          f"{band_nominal():.2f}), PIT uniformity (Kolmogorov-Smirnov) and CRPS skill against "
                                          "the random walk with its 95% interval; the state ok, drifting or too "
                                          "few scored forecasts (docs/ledger.md#drift).")
    d.add_argument("--json", default=None, metavar="OUT", help="also write one JSON entry per series and model")
    d.add_argument("--last", type=int, default=None, metavar="N",
                   help="judge the N newest scored forecasts of each series and model (default: the drift setting)")
    d.add_argument("--workspace", default=None, metavar="W", help="only this workspace (default: every one)")
    d.add_argument("--symbol", default=None, metavar="NAME", help="only this series")
    d.add_argument("--experiments", action="store_true",
                   help="count forecasts made at non-default sampling settings too")
    d.set_defaults(func=run_drift)
    add_exceptions(ledger_sub)


def add_exceptions(ledger_sub) -> None:
    """``kronos ledger exceptions``: its levels and positions are ``RiskSettings``' own (their defaults, help)."""
    from kronos.settings import knobs
    from kronos_studio.risk.measures import RiskSettings

    x = ledger_sub.add_parser(
        "exceptions", help="VaR exceptions of the recorded forecasts, tested per series and model",
        description="Each recorded forecast whose horizon's bar has arrived, judged as a risk forecast: its VaR "
                    "read from its recorded paths, and an exception when the realized return over its horizon was "
                    "a loss beyond it. Per workspace, series and model: exceptions against the expected count, Kupiec and "
                    "Christoffersen p-values, on non-overlapping forecasts only (each starting at or after the "
                    "previous one's horizon end; the others are counted as left out) (docs/risk.md).")
    for name, metavar in (("levels", "LEVEL"), ("positions", "POSITION")):
        default, knob = knobs(RiskSettings)[name]
        x.add_argument(f"--{name}", action="append", default=None, metavar=metavar,
                       type=float if name == "levels" else str,
                       help=f"{knob.help} (repeatable; default {' and '.join(map(str, default))})")
    x.add_argument("--json", default=None, metavar="OUT",
                   help="also write the JSON: per series and model the tests, per forecast its readings")
    x.add_argument("--workspace", default=None, metavar="W", help="only this workspace (default: every one)")
    x.add_argument("--symbol", default=None, metavar="NAME", help="only this series")
    x.add_argument("--model", default=None, metavar="NAME", help="only this model (as the ledger names it)")
    x.add_argument("--experiments", action="store_true",
                   help="count forecasts made at non-default sampling settings too")
    x.set_defaults(func=run_exceptions)


def open_ledger(hint: str = "", workspace: str | None = None):
    """The ledger (``workspace``: only that workspace's rows), or the CliError saying why it cannot be opened."""
    from kronos_studio.ledger import Ledger, LedgerError

    try:
        return Ledger.open(workspace=workspace)
    except LedgerError as e:
        raise CliError(f"{e}{hint}") from None


def open_in_background() -> Future:
    """Open the ledger while the model samples: importing the database layer and checking the schema
    then costs the forecast no wall time."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
    try:
        return pool.submit(open_ledger, " (or pass --no-ledger)")
    finally:
        pool.shutdown(wait=False)  # the opening runs on; ``record`` waits for it


def record(opening: Future, forecast, bars) -> str:
    """Record ``forecast`` in the ledger being opened, after scoring the series' earlier forecasts that
    ``bars`` (newer bars of it, maybe) can score; the line that says so."""
    ledger = opening.result()  # raises the CliError of a ledger that cannot be opened
    # Imported only now: the opening thread imports the ledger package, and two threads importing it at
    # once can see it half-initialised (KeyError 'kronos_studio.ledger').
    from kronos_studio.ledger.frames import counted

    try:
        scored = ledger.score(bars)
        done = ledger.record(forecast, bars)
    finally:
        ledger.close()
    kept = "recorded" if done.new else "already recorded"
    line = f"{kept} in the ledger as forecast {done.id} of {bars.series_symbol} {bars.interval}"
    if scored.steps:
        line += (f"; these bars scored {counted(scored.steps, 'step')} of "
                 f"{counted(scored.predictions, 'earlier forecast')}")
    return line


def _report_line(label: str, report) -> str:
    from kronos_studio.ledger.frames import counted

    if not report.steps:
        return f"{label}: nothing to score"
    return (f"{label}: scored {counted(report.steps, 'step')} of {counted(report.predictions, 'forecast')} "
            f"({report.completed} now scored on every step)")


def run_score(args) -> int:
    ledger = open_ledger()
    try:
        if args.files:
            for path in args.files:
                bars = read_bars(path, args.timezone, args.calendar, args.symbol, args.exchange)
                report = ledger.score(bars)
                print(_report_line(f"{Path(path).name} ({bars.series_symbol} {bars.interval})", report), file=sys.stderr)
                for why in report.skipped:
                    print(f"kronos: warning: {why}", file=sys.stderr)
            return 0
        pending = ledger.pending_series()
        if args.symbol is not None:
            pending = pending[pending["symbol"] == args.symbol]
        if pending.empty:
            print("nothing to score: every recorded forecast" + (f" of {args.symbol}" if args.symbol else "")
                  + " is scored on every step", file=sys.stderr)
            return 0
        for row in pending.itertuples(index=False):
            label = f"{row.symbol} {row.interval} ({row.source})"
            try:
                bars = _fetch(row)
            except CliError as e:
                print(f"kronos: warning: {label}: {e}", file=sys.stderr)
                continue
            report = ledger.score(bars)
            print(_report_line(label, report), file=sys.stderr)
            for why in report.skipped:
                print(f"kronos: warning: {why}", file=sys.stderr)
        return 0
    finally:
        ledger.close()


def _fetch(row):
    """The bars of a pending series without a file: the bundled sample, or cached bars brought up to
    date from the source (yfinance, ccxt). Raises CliError with what to do instead."""
    import math

    import pandas as pd

    from data_sources.sources import SOURCES
    from kronos_studio.ledger.frames import counted

    origin = SOURCES.get(row.source)
    if origin is None or not origin.by_symbol:
        raise CliError(f"{counted(row.predictions, 'forecast')} from a file: score them with "
                       "`kronos ledger score FILE`")
    if origin.frozen:  # a sample's series is found by its symbol and interval, not its display name
        from data_sources import list_samples, load_sample

        for sample in list_samples():
            bars = load_sample(sample.name)
            if (bars.symbol, bars.interval) == (row.symbol, row.interval):
                return bars
        raise CliError("no bundled sample of this series")
    from data_sources import DataSourceError, load_bars
    from data_sources.intervals import parse_interval
    from data_sources.schema import instrument_symbol

    since = pd.Timestamp(row.oldest_last_bar_at)
    since = since.tz_localize("UTC") if since.tzinfo is None else since
    try:
        step = parse_interval(row.interval)
    except ValueError as e:
        raise error_line(e) from None
    needed = math.ceil((pd.Timestamp.now(tz="UTC") - since) / step) + int(row.longest_horizon) + 2
    if origin.needs_exchange and not row.exchange:
        raise CliError(f"the exchange of these {row.source} bars was not recorded: score them with a file")
    try:
        return load_bars(row.source, instrument_symbol(row.symbol, row.exchange), row.interval,
                         lookback=min(needed, MAX_FETCH_BARS), exchange=row.exchange)
    except DataSourceError as e:
        raise CliError(f"could not fetch the bars ({e})") from None


def run_export(args) -> int:
    import pandas as pd

    from kronos_studio.ledger.frames import counted

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise CliError(f"--out must name a Parquet file (.parquet), got '{args.out}'")
    filters = {}
    if args.since:
        try:
            filters["since"] = pd.Timestamp(args.since)
        except (ValueError, TypeError):
            raise CliError(f"--since must be a date or time like 2024-06-01, got '{args.since}'") from None
    if args.symbol:
        filters["symbol"] = args.symbol
    ledger = open_ledger()
    try:
        table = ledger.steps_frame(**filters)
    finally:
        ledger.close()
    try:
        from data_sources.storage import atomic_write

        atomic_write(out, lambda tmp: table.to_parquet(tmp, index=False))
    except OSError as e:
        raise CliError(f"cannot write '{args.out}': {e.strerror or e}") from None
    scored = int(table["crps"].notna().sum()) if len(table) else 0
    forecasts = table["prediction_id"].nunique() if len(table) else 0
    print(f"wrote {counted(len(table), 'row')} ({counted(forecasts, 'forecast')}, {counted(scored, 'step')} scored) "
          f"to {args.out}", file=sys.stderr)
    return 0


def run_info(args) -> int:
    from kronos_studio.ledger import shown_url
    from kronos_studio.ledger.frames import counted
    from kronos_studio.ledger.store import schema_revision

    ledger = open_ledger()
    try:
        counts, series = ledger.counts(), ledger.series_frame()
        print(f"ledger: {shown_url(ledger.url)} (schema {schema_revision(ledger)})")
        print(f"{counted(counts['predictions'], 'forecast')} of {len(series)} series, "
              f"{counted(counts['evaluations'], 'step')} scored, "
              f"{counted(counts['track_records'], 'walk-forward track record')}")
    finally:
        ledger.close()
    return 0


def run_drift(args) -> int:
    import json

    from kronos_studio.ledger.drift import DRIFT_LAST, MIN_SCORED, drift_report

    last = DRIFT_LAST if args.last is None else args.last
    if last < MIN_SCORED:
        raise CliError(f"--last {last} is below the {MIN_SCORED} scored forecasts a drift test needs: "
                       f"use --last {MIN_SCORED} or more")
    ledger = open_ledger()
    try:
        book = ledger.scoped(args.workspace) if args.workspace else ledger
        report = drift_report(book, last, experiments=args.experiments,
                              **({"symbol": args.symbol} if args.symbol else {}))
    finally:
        ledger.close()
    if not report:
        where = f" of workspace {args.workspace}" if args.workspace else ""
        print(f"no forecasts{where}{f' of {args.symbol}' if args.symbol else ''} in the ledger: nothing to judge",
              file=sys.stderr)
    for d in report:
        print(f"{d.workspace}  {d.symbol} {d.interval} ({d.source})  {d.model}  {d.numbers()}  {d.detail}")
    if args.json:
        try:
            Path(args.json).write_text(json.dumps([d.to_dict() for d in report], indent=2))
        except OSError as e:
            raise CliError(f"cannot write '{args.json}': {e.strerror or e}") from None
        print(f"wrote {args.json}: {len(report)} series and models", file=sys.stderr)
    return 0


def exceptions_line(row: dict) -> str:
    """One series, model, position and level of a risk record's tests, as ``kronos ledger exceptions`` prints it."""
    def p(x):
        return "n/a" if x is None else f"{x:.3g}"

    head = (f"{row['workspace']}  {row['symbol']} {row['interval']} ({row['source']})  {row['model']}  {row['position']} {row['level']:g}: "
            f"{row['exceptions']} exceptions in {row['used']} forecasts (expected {row['expected']:.2f})")
    tests = (f"; {row['untested']}" if row["untested"] else
             f"; Kupiec p {p(row['kupiec_p'])}, Christoffersen independence p {p(row['christoffersen_ind_p'])}, "
             f"conditional coverage p {p(row['christoffersen_cc_p'])}" + (f", zone {row['zone']}" if row["zone"] else ""))
    return (f"{head}{tests}; {row['overlapping']} left out for overlapping, {row['pending']} waiting for their "
            "horizon's bar")


def run_exceptions(args) -> int:
    import json

    from kronos_studio.desk import Desk
    from kronos_studio.desk.risk_record import record_body
    from kronos_studio.risk.measures import RiskSettings

    from .errors import notice_line

    try:
        risk = RiskSettings(**{k: tuple(v) for k, v in (("levels", args.levels), ("positions", args.positions))
                               if v is not None})
    except ValueError as e:
        raise error_line(e) from None
    filters = {k: v for k, v in (("symbol", args.symbol), ("models", [args.model] if args.model else None))
               if v is not None}
    ledger = open_ledger(workspace=args.workspace)
    try:
        done = Desk.risk_record(ledger, risk, experiments=args.experiments, **filters)
    finally:
        ledger.close()
    body = record_body(done)
    for n in done.notices:
        print(notice_line(n), file=sys.stderr)
    if not body["tests"]:
        where = f" of workspace {args.workspace}" if args.workspace else ""
        print(f"no forecasts{where} in the ledger match: nothing to judge", file=sys.stderr)
    for row in body["tests"]:
        print(exceptions_line(row))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(body, indent=2))
        except OSError as e:
            raise CliError(f"cannot write '{args.json}': {e.strerror or e}") from None
        print(f"wrote {args.json}: {len(body['tests'])} series, models, positions and levels, "
              f"{len(body['forecasts'])} scored forecasts", file=sys.stderr)
    return 0
