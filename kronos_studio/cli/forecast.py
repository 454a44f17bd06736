"""``kronos forecast``: sample future paths of the bars in a file and write per-step quantiles."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from kronos.settings import DEFAULT_PRECISION, PRECISIONS
from kronos_studio.desk import EventError, ForecastRequest, ModelChoice
from kronos_studio.desk.adapted import AdapterRequest, event_calendar, parse_leader
from kronos_studio.desk.covariates import conditioned_note
from kronos_studio.desk.exports import write_csv
from kronos_studio.desk.reading import ForecastReading

from . import ledger
from .bars_process import GatedBars
from .commands import add_command
from .common import (
    DEFAULT_LOOKBACK_WORDS,
    CliError,
    add_bars_file_options,
    add_covariate_options,
    add_knob_options,
    add_sampling_options,
    covariate_options,
    error_line,
    quantile_levels,
    sampling_settings,
)
from .errors import notice_line
from .models import (
    add_context_option,
    add_model_option,
    cli_desk,
    context_note,
    desk_call,
    model_choice,
)


def register(sub) -> None:
    p = add_command(sub, "forecast",
                    description="Sample future paths with Kronos and write per-step quantiles.")
    p.add_argument("file", help="CSV or Parquet with a timestamp column and open, high, low, close[, volume, amount]")
    add_model_option(p)
    p.add_argument("--tokenizer", default=None, help="tokenizer repo id or folder (official names know theirs)")
    p.add_argument("--revision", default=None, help="Hub revision (commit) of the model")
    add_context_option(p)
    add_sampling_options(p, f"history bars the model reads (default: {DEFAULT_LOOKBACK_WORDS}; a value given is used "
                            "as it is)")
    p.add_argument("--quantiles", type=quantile_levels, default=[0.1, 0.5, 0.9])
    p.add_argument("--out", required=True, help="quantiles CSV to write")
    p.add_argument("--paths-out", default=None, help="optional CSV/Parquet of every sampled path")
    p.add_argument("--provenance-out", default=None, help="optional JSON of settings and provenance")
    add_bars_file_options(p)
    add_covariate_options(p)
    a = p.add_argument_group("LoRA event adapter")
    a.add_argument("--adapter", default=None, metavar="FOLDER",
                   help="forecast with the LoRA event adapter in FOLDER (kronos lora writes one) on --model, reading "
                        "scheduled events and leader series")
    a.add_argument("--events", action="append", default=[], metavar="CSV",
                   help="with --adapter: an event calendar of your own (datetime, type, actual, consensus), merged "
                        "with the bundled US macro calendar (repeatable)")
    a.add_argument("--no-bundled-events", action="store_true",
                   help="with --adapter: leave out the bundled US macro calendar")
    a.add_argument("--leader", action="append", default=[], metavar="CHANNEL=SERIES",
                   help="with --adapter: a series read through the adapter's leader channel (index, rates, dollar or "
                        "crypto): a file, a bundled sample or a source:ticker, e.g. index=spy.csv (repeatable)")
    p.add_argument("--precision", choices=PRECISIONS, default=DEFAULT_PRECISION,
                   help="predictor compute precision: fp32 (default, the official numbers) or bf16 (same forecast "
                        "distribution, not the same numbers; faster only where the CPU/GPU has bf16 units)")
    add_knob_options(p, ModelChoice, ("meta",))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--no-ledger", action="store_true",
                   help="do not record the forecast in the ledger ($KRONOS_STUDIO_DB, else a SQLite file in the "
                        "cache folder), where it is scored once its bars arrive (kronos ledger score)")
    p.set_defaults(func=run_forecast)


def run_forecast(args) -> int:
    settings = sampling_settings(args)
    # The bars are read in a second process while this one imports torch and the model code (bars_process).
    with GatedBars(args.file, args.timezone, args.calendar, args.symbol, args.fix, horizon=settings.horizon,
                   exchange=args.exchange) as gated:
        bars, warnings = gated.result()
    opening = []

    def open_ledger():
        # In the background once sampling runs: importing the database layer holds the GIL, so opened
        # earlier it would delay the first sampling step; beside the sampler it costs no wall time.
        if not args.no_ledger and not opening:
            opening.append(ledger.open_in_background())

    desk, loaded = cli_desk(args)
    done = _forecast(desk, bars, settings, args, open_ledger, gated.future)
    fc = done.forecast
    open_ledger()
    recorded = ledger.record(opening[0], desk, fc, bars) if opening else None  # under the series' name

    table = ForecastReading(fc).quantiles(args.quantiles)
    write_csv(table.reset_index(), args.out)
    if args.paths_out:
        paths = fc.paths_frame()
        if args.paths_out.endswith((".parquet", ".pq")):
            paths.to_parquet(args.paths_out, index=False)
        else:
            write_csv(paths, args.paths_out)
    if args.provenance_out:
        from data_sources.calendar_inference import calendar_provenance

        # The series this forecast is of: its instrument, and the name the ledger, the registry and the screener
        # record it under (with its exchange where known; ``naming``: how it came by it when no one named it).
        series = {"symbol": bars.symbol, "series_symbol": bars.series_symbol, "exchange": bars.venue,
                  "naming": bars.naming, "source": bars.source,
                  "interval": bars.interval,
                  "calendar": bars.calendar, **calendar_provenance(bars), "timezone": bars.timezone,
                  "file": str(Path(args.file).resolve())}
        Path(args.provenance_out).write_text(json.dumps({**fc.provenance, "series": series}, indent=2, default=str))
    for line in warnings + [notice_line(n) for n in done.notices]:
        print(line, file=sys.stderr)
    lookback = _history_note(fc, done.lookback)
    pair = loaded[0] if loaded else None
    print(f"wrote {len(table)} rows x {len(fc.columns) * len(args.quantiles)} quantile columns to {args.out} "
          f"({fc.paths.shape[0]} paths, {fc.provenance['model']}{context_note(pair)}, {lookback}, "
          f"{fc.provenance['device']}, {fc.provenance['elapsed_s']} s)", file=sys.stderr)
    if "weighting" in fc.provenance:  # an ensemble: how its members were weighed, and whether Chronos-2 is one
        chronos2 = fc.provenance.get("chronos2")
        print(f"note: ensemble weighting: {fc.provenance['weighting']}" + (f"; {chronos2}" if chronos2 else ""),
              file=sys.stderr)
    if fc.provenance.get("conditioned_on") is not None:
        print(f"note: {conditioned_note(fc.provenance)}", file=sys.stderr)
    if recorded:
        print(recorded, file=sys.stderr)
    return 0




def adapter_request(args):
    """The ``desk.adapted.AdapterRequest`` the adapter options ask for (None without --adapter)."""
    if args.adapter is None:
        if args.leader or args.events or args.no_bundled_events:
            raise CliError("--leader, --events and --no-bundled-events go with --adapter FOLDER (a LoRA event adapter)")
        return None

    try:
        calendar = event_calendar(bundled=not args.no_bundled_events, user=args.events)
        return AdapterRequest(args.adapter, calendar, tuple(parse_leader(item) for item in args.leader))
    except (EventError, OSError) as e:
        raise CliError(f"could not read the event calendar: {e}") from None
    except ValueError as e:
        raise error_line(e) from None


def _history_note(fc, why: str) -> str:
    """What the output line says the forecast read, and why that much (``why``: ``window.lookback_note``'s,
    '' for a lookback asked for): the Kronos lookback, or each ensemble member's bars."""
    read = fc.provenance.get("members_read")
    why = f" ({why})" if why else ""
    if read is None:
        return f"lookback {len(fc.history)}{why}"
    members = ", ".join(f"{key} {n}" for key, n in read.items())
    return f"history {len(fc.history)} bars{why}, members read {members}"


def _forecast(desk, bars, settings, args, on_progress, future=None):
    """The desk's forecast with a progress bar (sampling steps, or the ensemble's members); ``on_progress()``
    at every report. ``future``: the bar times placed already (by the process that read the bars)."""
    bar = None
    if not args.quiet and (sys.stderr.isatty() or args.horizon >= 50):
        from tqdm import tqdm
        bar = tqdm(total=args.horizon, desc="sampling", unit="step", file=sys.stderr)

    def progress(i, n):
        on_progress()
        if bar is not None:
            bar.total, bar.n = n, i
            bar.refresh()

    try:
        asked = desk_call(lambda: ForecastRequest(bars, model_choice(args), settings, future=future,
                                                  covariates=covariate_options(args), adapter=adapter_request(args)))
        return desk_call(lambda: desk.forecast(asked, progress=progress))
    finally:
        if bar is not None:
            bar.close()
