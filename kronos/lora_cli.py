"""``kronos train lora``: LoRA + event-embedding fine-tuning from the command line (``kronos.lora``),
with a before/after walk-forward evaluation. Imports torch only when the command runs."""
from __future__ import annotations

from pathlib import Path


def register_cli(tsub, common) -> None:
    """Add ``kronos train lora`` to the ``kronos train`` subcommands (``common``: the shared data and
    training options of ``kronos.train_cli``)."""
    p = tsub.add_parser("lora", help="LoRA fine-tuning with event inputs (base model frozen)",
                        description="Train rank-8 LoRA adapters on the attention q/v projections together "
                                    "with the event embedding; write an adapter folder and a before/after "
                                    "walk-forward evaluation.")
    common(p)
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
    a.add_argument("--paths", type=int, default=30)
    p.set_defaults(func=run_train_lora)


def _cli_builder(args):
    from .cli import CliError, _read_bars
    from .events import EventBuilder, EventError, bundled_calendar, load_calendar

    try:
        cal = None if args.no_bundled_calendar else bundled_calendar()
        for f in args.calendar:
            c = load_calendar(f)
            cal = c if cal is None else cal.merged(c)
        leaders = {}
        for item in args.leader:
            name, _, path = item.partition("=")
            if not path:
                raise CliError(f"--leader expects NAME=FILE, got '{item}'")
            leaders[name] = _read_bars(path)
        return EventBuilder(cal, leaders or None)
    except EventError as e:
        raise CliError(str(e)) from None


def run_train_lora(args) -> int:
    import sys

    import pandas as pd

    from .cli import CliError
    from .datasets import DataError, TimeSplit, build_train_data
    from .evaluation import summary_table
    from .hub import CheckpointError, load_pair
    from .lora import apply_adapter, before_after, finetune_lora
    from .train_cli import _device, _log, _series, _train_config

    device = _device(args)
    log = _log(args)
    if args.model is None:
        from .bundled import default_model_path

        try:
            args.model = str(default_model_path())
        except FileNotFoundError as e:
            raise CliError(str(e)) from None
    try:
        pair = load_pair(args.model, args.tokenizer, device=device)
    except CheckpointError as e:
        raise CliError(str(e).splitlines()[0]) from None
    builder = _cli_builder(args)
    series = _series(args)
    lookback = args.lookback or max(2, args.window * 3 // 4)
    try:
        if args.val_start:
            val_start = pd.Timestamp(args.val_start)
        else:
            from .datasets import fraction_split

            val_start = fraction_split(max(series, key=len), args.val_fraction).val_start
        test_start = pd.Timestamp(args.test_start) if args.test_start else None
        data = build_train_data(series, TimeSplit(val_start, test_start), args.window, lookback, stride=args.stride)
    except (DataError, ValueError) as e:
        raise CliError(str(e).splitlines()[0]) from None
    cfg = _train_config(args, 1e-3, 1.0)
    result = finetune_lora(pair, data, builder, cfg, args.out, device=device, log=log,
                           run_info={"base": args.model, "calendars": args.calendar, "leaders": args.leader})
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
                res = before_after(pair, adapted, s.frame, builder, horizon=args.horizon, start=start,
                                   n_cutoffs=args.eval_cutoffs, lookback=min(lookback, pair.context),
                                   paths=args.paths, seed=args.seed)
            except ValueError as e:
                print(f"{s.name}: no walk-forward evaluation ({e})", file=sys.stderr)
                continue
            table = summary_table(res)
            print(f"\nwalk-forward on {s.name} from {start} ({args.eval_cutoffs} cut-offs, horizon {args.horizon}):")
            print(table[["crps_pct", "mae_pct", "coverage_p10_p90", "direction_hit"]].round(4).to_string())
            rows.append(table.assign(series=s.name).reset_index())
        if rows:
            pd.concat(rows).to_csv(Path(args.out) / "before_after.csv", index=False)
    return 0
