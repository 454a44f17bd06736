"""The options of the training subcommands (data, time split, optimiser) and reading them."""
from __future__ import annotations

import argparse
import sys
import time

from kronos_studio.desk.pretrain import TrainingData, TrainingOptions

from .common import CliError, add_threads_option, cli_device, error_line, positive, process_desk, read_bars


def add_data_and_training_options(p: argparse.ArgumentParser) -> None:
    """The data and training options, their defaults the desk's (``desk.pretrain``: ``TrainingData``,
    ``TrainingOptions``)."""
    data, training = TrainingData(), TrainingOptions()
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", default=[], metavar="FILE",
                   help="CSV/Parquet bar files (timestamp, open, high, low, close[, volume, amount])")
    d.add_argument("--samples", nargs="*", default=None, metavar="NAME",
                   help="offline sample series (no names: the bundled training corpus)")
    d.add_argument("--window", type=positive(int), default=data.window,
                   help=f"bars per training window (default {data.window})")
    d.add_argument("--lookback", type=positive(int), default=None,
                   help="leading bars of each window whose mean/std normalise it (default 3/4 of the window)")
    d.add_argument("--val-start", default=None,
                   help="timestamp where validation starts (default: the last --val-fraction of the bars)")
    d.add_argument("--val-fraction", type=float, default=data.val_fraction)
    d.add_argument("--stride", type=positive(int), default=data.stride, help="step between training window starts")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, help="run folder: checkpoints (official layout), state, history")
    t.add_argument("--steps", type=positive(int), default=training.steps)
    t.add_argument("--batch-size", type=positive(int), default=training.batch_size)
    t.add_argument("--lr", type=positive(float), default=None)
    t.add_argument("--weight-decay", type=float, default=training.weight_decay)
    t.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 5%% of --steps)")
    t.add_argument("--grad-clip", type=positive(float), default=None)
    t.add_argument("--seed", type=int, default=training.seed)
    t.add_argument("--eval-every", type=positive(int), default=training.eval_every)
    t.add_argument("--save-every", type=positive(int), default=training.save_every)
    t.add_argument("--time-limit", type=positive(float), default=None, metavar="SECONDS",
                   help="stop (saved, resumable) after this long")
    t.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    t.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(t)
    t.add_argument("--quiet", action="store_true")


def pretrain(args, model: str, architecture: dict, **request):
    """``Desk.pretrain`` of ``model`` ('tokenizer' or 'predictor') from the data, training and device options;
    ``request``: the rest of the ``PretrainRequest`` (a predictor's tokenizer, bundle and context)."""
    from kronos_studio.desk import PretrainRequest, TrainingData, TrainingOptions

    device = cli_device(args)
    data = TrainingData(tuple(args.data), None if args.samples is None else tuple(args.samples), args.window,
                        args.lookback, args.val_start, args.val_fraction, args.stride)
    if not data.files and data.samples is None:
        raise CliError("no training data: pass --data FILE... and/or --samples")
    if data.window_lookback() > args.window:
        raise CliError(f"--lookback {data.window_lookback()} is longer than --window {args.window}")
    if not args.val_start and not 0 < args.val_fraction < 1:
        raise CliError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")
    options = TrainingOptions(args.steps, args.batch_size, args.lr, args.weight_decay, args.warmup, args.grad_clip,
                              args.seed, args.eval_every, args.save_every, args.time_limit)
    try:
        return process_desk().pretrain(PretrainRequest(model, data, args.out, options, args.init,
                                               architecture=architecture, device=device,
                                               resume=not args.no_resume, **request),
                               read=read_bars, log=make_log(args))
    except ValueError as e:  # a file or sample that cannot be used, a split that leaves no windows
        raise error_line(e) from None


def make_log(args):
    return None if args.quiet else (lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True))


def report_training(kind, result):
    status = "finished" if result.finished else "stopped (resume with the same command)"
    best = f", best val {result.best_val:.4f} at step {result.best_step}" if result.best_val is not None else ""
    print(f"{kind} training {status} at step {result.step}{best}; checkpoint in {result.out_dir} "
          f"({result.wall_s:.0f} s)", file=sys.stderr)
