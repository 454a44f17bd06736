"""``kronos train lora``: LoRA + event-embedding fine-tuning from the command line (``Desk.fine_tune``): the options
translated into a ``FineTuneRequest`` (the plan's from its knobs), the adapter's numbers and each series' before/after
walk-forward table printed, the tables written to ``before_after.csv``."""
from __future__ import annotations

import sys
from pathlib import Path

from data_sources.requests import BarsRequest
from kronos.lazy import pd
from kronos.settings import ForecastSettings, default, knob_values
from kronos_studio.desk import FineTunePlan, FineTuneRequest
from kronos_studio.desk.exports import write_csv

from .common import CliError, add_knob_options, add_threads_option, options_of
from .errors import cli_line, notice_line
from .models import cli_desk, desk_call
from .training_options import add_series_options, make_log, samples


def register(train_sub) -> None:
    """Add ``kronos train lora`` to the ``kronos train`` subcommands."""
    p = train_sub.add_parser("lora", help="LoRA fine-tuning with event inputs (base model frozen)",
                             description="Train rank-8 LoRA adapters on the attention q/v projections together "
                                         "with the event embedding; write an adapter folder and a before/after "
                                         "walk-forward evaluation.")
    d = p.add_argument_group("data")
    add_series_options(d)
    add_knob_options(d, FineTuneRequest, ("val_start", "test_start"))
    a = p.add_argument_group("model and events")
    a.add_argument("--model", default=None, help="base model: bundled/local folder, official name or repo id "
                                                 "(default: the bundled model)")
    a.add_argument("--tokenizer", default=None)
    a.add_argument("--calendar", nargs="*", default=[], metavar="CSV",
                   help="event calendars (datetime, type, actual, consensus); added to the bundled one")
    add_knob_options(a, FineTuneRequest, ("bundled_calendar",))
    a.add_argument("--leader", action="append", default=[], metavar="NAME=FILE",
                   help="leader bars for index, rates, dollar or crypto (CSV/Parquet), e.g. index=spy.csv")
    t = p.add_argument_group("training and the before/after walk-forward")
    t.add_argument("--out", required=True, help="the adapter's folder (its resume state too)")
    t.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(t)
    t.add_argument("--quiet", action="store_true")
    add_knob_options(t, FineTunePlan)
    s = p.add_argument_group("sampling (the before/after evaluation)")
    s.add_argument("--horizon", type=int, default=10)
    s.add_argument("--paths", type=int, default=default("paths"))
    add_knob_options(s)
    p.set_defaults(func=run_train_lora)


def leader(item: str) -> tuple[str, BarsRequest]:
    """--leader NAME=FILE as (name, the file's bars request)."""
    name, _, path = item.partition("=")
    if not path:
        raise CliError(f"--leader expects NAME=FILE, got '{item}'")
    return name, BarsRequest(file=path)


def run_train_lora(args) -> int:
    # checked before training: a bad knob refuses at once, not after the run; no lookback: each model reads its
    # own window of the cut-off's history (Kronos: context - horizon)
    plan = desk_call(lambda: FineTunePlan(**knob_values(args, FineTunePlan)))
    settings = desk_call(lambda: ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed,
                                                  **knob_values(args)))
    request = options_of(FineTuneRequest, args, data=tuple(BarsRequest(file=f) for f in args.data),
                         settings=settings, out=args.out, model=args.model, plan=plan, samples=samples(args),
                         calendars=tuple(args.calendar), leaders=tuple(leader(item) for item in args.leader))
    desk, _ = cli_desk(args)
    done = desk_call(lambda: desk.fine_tune(request, log=make_log(args)))

    for notice in done.notices:
        print(notice_line(notice), file=sys.stderr)
    c = done.counts
    print(f"trainable {c['trainable']:,} of {c['total']:,} parameters ({c['trainable_pct']:.2f}%): "
          f"LoRA {c['lora']:,} + event embedding {c['event_emb']:,}; base {c['total'] - c['trainable']:,} frozen")
    print(f"validation loss {done.base_val} before, {done.best_val} after (best step {done.best_step}); "
          f"adapter in {args.out}")
    for name, refusal in done.refused.items():  # a library error's fix worded as its flag (--include-training-period)
        print(f"{name}: no walk-forward evaluation ({cli_line(refusal)})", file=sys.stderr)
    rows = []
    for name, res in done.evaluations.items():
        table = res.table()
        print(f"\nwalk-forward on {name} from {done.start} ({plan.eval_cutoffs} cut-offs, horizon {args.horizon}):")
        for note in res.notes():
            print(note, file=sys.stderr)
        print(table[["crps_pct", "mae_pct", "coverage_p10_p90", "direction_hit"]].round(4).to_string())
        rows.append(table.assign(series=name).reset_index())
    if rows:
        write_csv(pd.concat(rows), Path(args.out) / "before_after.csv")
    return 0
