"""The options of the training subcommands (data, time split, optimiser) and reading them."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import CliError, add_threads_option, error_line, positive, read_bars
from .errors import cli_line


def add_data_and_training_options(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", default=[], metavar="FILE",
                   help="CSV/Parquet bar files (timestamp, open, high, low, close[, volume, amount])")
    d.add_argument("--samples", nargs="*", default=None, metavar="NAME",
                   help="offline sample series (no names: the bundled training corpus)")
    d.add_argument("--window", type=positive(int), default=128, help="bars per training window (default 128)")
    d.add_argument("--lookback", type=positive(int), default=None,
                   help="leading bars of each window whose mean/std normalise it (default 3/4 of the window)")
    d.add_argument("--val-start", default=None,
                   help="timestamp where validation starts (default: the last --val-fraction of the bars)")
    d.add_argument("--val-fraction", type=float, default=0.1)
    d.add_argument("--stride", type=positive(int), default=1, help="step between training window starts")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, help="run folder: checkpoints (official layout), state, history")
    t.add_argument("--steps", type=positive(int), default=1000)
    t.add_argument("--batch-size", type=positive(int), default=32)
    t.add_argument("--lr", type=positive(float), default=None)
    t.add_argument("--weight-decay", type=float, default=0.1)
    t.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 5%% of --steps)")
    t.add_argument("--grad-clip", type=positive(float), default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--eval-every", type=positive(int), default=100)
    t.add_argument("--save-every", type=positive(int), default=100)
    t.add_argument("--time-limit", type=positive(float), default=None, metavar="SECONDS",
                   help="stop (saved, resumable) after this long")
    t.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    t.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(t)
    t.add_argument("--quiet", action="store_true")


def load_series(args):
    from kronos_studio.training.datasets import BUNDLED_TRAIN_SAMPLES, DataError, as_series, load_sample_series

    series = []
    for f in args.data:
        try:
            series.append(as_series(read_bars(f), name=Path(f).stem))
        except (DataError, ValueError) as e:
            raise CliError(f"'{f}': {cli_line(e)}") from None
    if args.samples is not None:
        names = args.samples or list(BUNDLED_TRAIN_SAMPLES)
        for n in names:
            try:
                series.append(load_sample_series(n))
            except Exception as e:
                raise CliError(f"sample '{n}': {e}") from None
    if not series:
        raise CliError("no training data: pass --data FILE... and/or --samples")
    return series


def build_data(args, series):
    import numpy as np
    import pandas as pd

    from kronos_studio.training.datasets import DataError, TimeSplit, build_train_data

    lookback = args.lookback or max(2, args.window * 3 // 4)
    if lookback > args.window:
        raise CliError(f"--lookback {lookback} is longer than --window {args.window}")
    try:
        if args.val_start:
            split = TimeSplit(pd.Timestamp(args.val_start))
        else:
            if not 0 < args.val_fraction < 1:
                raise CliError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
            stamps = np.concatenate([pd.DatetimeIndex(s.frame["timestamp"]).tz_localize(None).asi8
                                     if pd.DatetimeIndex(s.frame["timestamp"]).tz is None else
                                     pd.DatetimeIndex(s.frame["timestamp"]).tz_convert("UTC").asi8 for s in series])
            cut = pd.Timestamp(int(np.quantile(stamps, 1 - args.val_fraction)), tz="UTC")
            split = TimeSplit(cut)
        return build_train_data(series, split, args.window, lookback, stride=args.stride)
    except (DataError, ValueError) as e:
        raise error_line(e) from None


def train_config(args, lr_default: float, clip_default: float):
    from kronos_studio.training.loop import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr or lr_default,
                       weight_decay=args.weight_decay,
                       warmup_steps=args.warmup if args.warmup is not None else max(1, args.steps // 20),
                       grad_clip=args.grad_clip or clip_default, seed=args.seed, eval_every=args.eval_every,
                       save_every=args.save_every, log_every=max(1, min(25, args.steps // 20)),
                       time_limit_s=args.time_limit)


def make_log(args):
    return None if args.quiet else (lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True))


def report_training(kind, result):
    status = "finished" if result.finished else "stopped (resume with the same command)"
    best = f", best val {result.best_val:.4f} at step {result.best_step}" if result.best_val is not None else ""
    print(f"{kind} training {status} at step {result.step}{best}; checkpoint in {result.out_dir} "
          f"({result.wall_s:.0f} s)", file=sys.stderr)
