"""``kronos train lora``: LoRA + event-embedding fine-tuning from the command line (``kronos_studio.training.lora``),
with a before/after walk-forward evaluation. Imports torch only when the command runs."""
from __future__ import annotations

import sys
from pathlib import Path

from kronos.settings import default, knob_values
from kronos_studio.exports import write_csv

from .common import (
    CliError,
    add_knob_options,
    add_training_period_switch,
    cli_device,
    error_line,
    read_bars,
)
from .training_options import add_data_and_training_options, load_series, make_log, train_config


def register(train_sub) -> None:
    """Add ``kronos train lora`` to the ``kronos train`` subcommands."""
    p = train_sub.add_parser("lora", help="LoRA fine-tuning with event inputs (base model frozen)",
                        description="Train rank-8 LoRA adapters on the attention q/v projections together "
                                    "with the event embedding; write an adapter folder and a before/after "
                                    "walk-forward evaluation.")
    add_data_and_training_options(p)
    a = p.add_argument_group("model and events")
    a.add_argument("--model", default=None, help="base model: bundled/local folder, official name or repo id "
                                                 "(default: the bundled model)")
    a.add_argument("--tokenizer", default=None)
    a.add_argument("--calendar", nargs="*", default=[], metavar="CSV",
                   help="event calendars (datetime, type, actual, consensus); added to the bundled one")
    a.add_argument("--no-bundled-calendar", action="store_true")
    a.add_argument("--leader", action="append", default=[], metavar="NAME=FILE",
                   help="leader bars for index, rates, dollar or crypto (CSV/Parquet), e.g. index=spy.csv")
    a.add_argument("--test-start", default=None, help="held-out test period start: not trained or validated on; "
                                                      "the before/after evaluation runs there (default: --val-start)")
    a.add_argument("--eval-cutoffs", type=int, default=20, help="walk-forward cut-offs (0: no evaluation)")
    a.add_argument("--horizon", type=int, default=10)
    a.add_argument("--paths", type=int, default=default("paths"))
    add_training_period_switch(a, "cut-offs whose forecast starts")
    add_knob_options(p.add_argument_group("sampling (the before/after evaluation)"))
    p.set_defaults(func=run_train_lora)


def _cli_builder(args):
    from kronos_studio.events import EventBuilder, bundled_calendar, load_calendar, merged_calendars

    cal = merged_calendars([None if args.no_bundled_calendar else bundled_calendar(),
                            *(load_calendar(f) for f in args.calendar)])
    leaders = {}
    for item in args.leader:
        name, _, path = item.partition("=")
        if not path:
            raise CliError(f"--leader expects NAME=FILE, got '{item}'")
        leaders[name] = read_bars(path)
    return EventBuilder(cal, leaders or None)


def run_train_lora(args) -> int:
    import pandas as pd

    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import model_reference
    from kronos_studio.evaluation.trust import guard_note
    from kronos_studio.training.adapters import apply_adapter
    from kronos_studio.training.before_after import NO_EVENTS_NOTE, BeforeAfterOptions, before_after
    from kronos_studio.training.datasets import DataError, TimeSplit, build_train_data
    from kronos_studio.training.lora import finetune_lora

    from .errors import cli_line

    try:  # checked before training: a bad knob refuses at once, not after the run
        # no lookback: each model reads its own window of the cut-off's history (Kronos: context - horizon)
        settings = ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed, **knob_values(args))
    except ValueError as e:
        raise error_line(e) from None
    device = cli_device(args)
    log = make_log(args)
    if args.model is None:
        from kronos_studio.bundled import default_model_path

        try:
            args.model = str(default_model_path())
        except FileNotFoundError as e:
            raise error_line(e) from None
    pair = load_pair(model_reference(args.model), args.tokenizer, device=device)
    builder = _cli_builder(args)
    series = load_series(args)
    lookback = args.lookback or max(2, args.window * 3 // 4)
    try:
        if args.val_start:
            val_start = pd.Timestamp(args.val_start)
        else:
            from kronos_studio.training.datasets import fraction_split

            val_start = fraction_split(max(series, key=len), args.val_fraction).val_start
        test_start = pd.Timestamp(args.test_start) if args.test_start else None
        data = build_train_data(series, TimeSplit(val_start, test_start), args.window, lookback, stride=args.stride)
    except (DataError, ValueError) as e:
        raise error_line(e) from None
    cfg = train_config(args, 1e-3, 1.0)
    # file names only: the adapter folder may be shared, the paths of this machine stay here
    leaders = [f"{n}={Path(f).name}" for n, _, f in (item.partition("=") for item in args.leader)]
    result = finetune_lora(pair, data, builder, cfg, args.out, device=device, resume=not args.no_resume, log=log,
                           run_info={"calendars": [Path(f).name for f in args.calendar], "leaders": leaders})
    c = result.counts
    print(f"trainable {c['trainable']:,} of {c['total']:,} parameters ({c['trainable_pct']:.2f}%): "
          f"LoRA {c['lora']:,} + event embedding {c['event_emb']:,}; base {c['total'] - c['trainable']:,} frozen")
    print(f"validation loss {result.base_val} before, {result.best_val} after (best step {result.best_step}); "
          f"adapter in {args.out}")
    if args.eval_cutoffs > 0:
        adapted = apply_adapter(pair, result.adapter)
        start = test_start if test_start is not None else val_start
        rows = []
        for s in series:
            try:
                res = before_after(pair, adapted, s.frame, builder, settings, BeforeAfterOptions(
                    start=start, n_cutoffs=args.eval_cutoffs, min_history=min(lookback, pair.context),
                    include_training_period=args.include_training_period))
            except ValueError as e:  # a library error's fix worded as its flag (--include-training-period)
                print(f"{s.name}: no walk-forward evaluation ({cli_line(e)})", file=sys.stderr)
                continue
            table = res.table()
            print(f"\nwalk-forward on {s.name} from {start} ({args.eval_cutoffs} cut-offs, horizon {args.horizon}):")
            for note in (guard_note(res.guard), NO_EVENTS_NOTE if res.events_empty else None):
                if note:
                    print(note, file=sys.stderr)
            print(table[["crps_pct", "mae_pct", "coverage_p10_p90", "direction_hit"]].round(4).to_string())
            rows.append(table.assign(series=s.name).reset_index())
        if rows:
            write_csv(pd.concat(rows), Path(args.out) / "before_after.csv")
    return 0
