"""The options of the training subcommands (data, time split, optimiser) and reading them."""
from __future__ import annotations

import argparse
import sys
import time

from kronos_studio.desk.pretrain import PretrainRequest, TrainingData, TrainingOptions

from .common import add_knob_options, add_threads_option, cli_device, error_line, options_of, process_desk, read_bars


def add_series_options(d) -> None:
    """``--data FILE...`` and ``--samples [NAME...]``: the series a training command learns from (``kronos train
    tokenizer``/``predictor``'s ``TrainingData.files``/``samples``, ``kronos train lora``'s ``FineTuneRequest``)."""
    d.add_argument("--data", nargs="+", default=[], metavar="FILE",
                   help="CSV/Parquet bar files (timestamp, open, high, low, close[, volume, amount])")
    d.add_argument("--samples", nargs="*", default=None, metavar="NAME",
                   help="offline sample series (no names: the bundled training corpus)")


def samples(args) -> tuple[str, ...] | None:
    """``--samples`` as the requests take it: None when not given, () (the bundled corpus) when given bare."""
    return None if args.samples is None else tuple(args.samples)


def add_data_and_training_options(p: argparse.ArgumentParser) -> None:
    """The data and training options: the series, then one option per ``Knob`` of the desk's ``TrainingData`` and
    ``TrainingOptions`` (``desk.pretrain``), their defaults read from there."""
    d = p.add_argument_group("data")
    add_series_options(d)
    add_knob_options(d, TrainingData)
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, help="run folder: checkpoints (official layout), state, history")
    add_knob_options(t, TrainingOptions)
    t.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    t.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    add_threads_option(t)
    t.add_argument("--quiet", action="store_true")


def pretrain(args, model: str, architecture: dict, **request):
    """``Desk.pretrain`` of ``model`` ('tokenizer' or 'predictor') from the data, training and device options;
    ``request``: the rest of the ``PretrainRequest`` (a predictor's tokenizer, bundle and context)."""
    device = cli_device(args)
    data = options_of(TrainingData, args, files=tuple(args.data), samples=samples(args))
    options = options_of(TrainingOptions, args)
    try:
        return process_desk().pretrain(PretrainRequest(model, data, args.out, options, args.init,
                                               architecture=architecture, device=device,
                                               resume=not args.no_resume, **request),
                               read=read_bars, log=make_log(args))
    except ValueError as e:  # no series, a file or sample that cannot be used, a split that leaves no windows
        raise error_line(e) from None


def make_log(args):
    return None if args.quiet else (lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True))


def report_training(kind, result):
    status = "finished" if result.finished else "stopped (resume with the same command)"
    best = f", best val {result.best_val:.4f} at step {result.best_step}" if result.best_val is not None else ""
    print(f"{kind} training {status} at step {result.step}{best}; checkpoint in {result.out_dir} "
          f"({result.wall_s:.0f} s)", file=sys.stderr)
