"""Helpers shared by the ``kronos`` subcommands: the one-line error, reading bars through the quality
gate, the data and training options, device and logging. Subcommands import these; nothing here
imports a subcommand."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_BAD_INPUT = 2


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def quantile_levels(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--quantiles must be comma-separated numbers like 0.1,0.5,0.9, got '{text}'") from None
    if not levels or any(not 0 < q < 1 for q in levels):
        raise argparse.ArgumentTypeError(f"--quantiles must lie strictly between 0 and 1, got '{text}'")
    return levels


def read_bars(path: str, timezone: str | None = None, calendar: str | None = None, symbol: str | None = None):
    """A bars file through ``data_sources``' reader, whose errors name the problem and the fix."""
    from kronos_studio.bars_input import BarsInputError
    from kronos_studio.bars_input import read_bars as read

    try:
        return read(path, timezone=timezone, calendar=calendar, symbol=symbol)
    except BarsInputError as e:
        raise CliError(str(e)) from None


def quality_gate(bars, fixes: list[str]):
    """``kronos_studio.bars_input.quality_gate``: (gated bars, note and warning lines), a block as a CliError."""
    from kronos_studio.bars_input import BarsInputError
    from kronos_studio.bars_input import quality_gate as gate

    try:
        return gate(bars, fixes)
    except BarsInputError as e:
        raise CliError(str(e)) from None


def positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return v
    return parse


def add_sampling_options(p: argparse.ArgumentParser, lookback_help: str) -> None:
    """The sampling options every forecasting command shares, their defaults read from the one
    ``kronos.settings.ForecastSettings``: --horizon, --paths, --seed, --temperature, --top-p, --top-k,
    --lookback, --no-anchor."""
    from kronos.settings import default

    g = p.add_argument_group("sampling")
    # Numbers are checked by ForecastSettings itself: one rule and one message for every caller.
    g.add_argument("--horizon", type=int, required=True, help="bars to forecast")
    g.add_argument("--paths", type=int, default=default("paths"),
                   help=f"sample paths (default {default('paths')})")
    g.add_argument("--seed", type=int, default=default("seed"), help="random seed: same seed, same paths")
    g.add_argument("--temperature", type=float, default=default("temperature"),
                   help=f"sampling temperature, 0 = greedy (default {default('temperature')})")
    g.add_argument("--top-p", type=float, default=default("top_p"), help=f"nucleus share (default {default('top_p')})")
    g.add_argument("--top-k", type=int, default=default("top_k"), help="keep the k likeliest tokens (0 = off)")
    g.add_argument("--lookback", type=int, default=default("lookback"), help=lookback_help)
    g.add_argument("--no-anchor", action="store_true",
                   help="do not move Kronos paths to start from the actual last close (the official output exactly: "
                        "the fan then starts from the tokenizer's reconstruction of the last bar)")


def sampling_settings(args):
    """The ``ForecastSettings`` the sampling options ask for (one line naming a bad value otherwise)."""
    from kronos.settings import ForecastSettings

    try:
        return ForecastSettings(horizon=args.horizon, paths=args.paths, seed=args.seed, temperature=args.temperature,
                                top_p=args.top_p, top_k=args.top_k, lookback=args.lookback, anchor=not args.no_anchor)
    except ValueError as e:
        raise CliError(str(e)) from None


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
    t.add_argument("--quiet", action="store_true")


def error_line(e: Exception):
    return CliError(str(e).splitlines()[0] if str(e) else type(e).__name__)


def load_series(args):
    from kronos_studio.training.datasets import BUNDLED_TRAIN_SAMPLES, DataError, as_series, load_sample_series

    series = []
    for f in args.data:
        try:
            series.append(as_series(read_bars(f), name=Path(f).stem))
        except (DataError, ValueError) as e:
            raise CliError(f"'{f}': {e}") from None
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


def cli_device(args):
    from kronos.device import resolve_device

    try:
        return resolve_device(args.device)
    except ValueError as e:
        raise error_line(e) from None


def make_log(args):
    return None if args.quiet else (lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True))


def report_training(kind, result):
    status = "finished" if result.finished else "stopped (resume with the same command)"
    best = f", best val {result.best_val:.4f} at step {result.best_step}" if result.best_val is not None else ""
    print(f"{kind} training {status} at step {result.step}{best}; checkpoint in {result.out_dir} "
          f"({result.wall_s:.0f} s)", file=sys.stderr)




def add_context_option(p: argparse.ArgumentParser) -> None:
    from kronos.config import DEFAULT_BUNDLE_CONTEXT

    p.add_argument("--context", type=positive(int), default=None, metavar="BARS",
                   help="bars the model was trained to read, for a model folder without bundle.json (official "
                        "models and folders with a bundle.json know theirs; without it such a folder is assumed "
                        f"to read {DEFAULT_BUNDLE_CONTEXT}, and the output says so)")


def context_note(pair) -> str:
    """What the output says of a context that was guessed, "" when it was known or given (or no model)."""
    if pair is None or not pair.context_assumed:
        return ""
    return f", context {pair.context} assumed (no bundle.json: pass --context)"


def add_model_option(p: argparse.ArgumentParser) -> None:
    from kronos_studio.forecasters import ENSEMBLE, STATISTICAL

    p.add_argument("--model", default=None,
                   help=f"official name (mini, small, base), Hub repo id, local folder, '{ENSEMBLE}' (the bundled "
                        f"ensemble) or a statistical model ({', '.join(STATISTICAL)}); default: the bundled model")


def load_forecaster(args, bars):
    """(forecaster, the Kronos pair it loaded) for ``args.model`` (official name, Hub id, folder, 'ensemble',
    a statistical model's key or None for the bundled default) with ``args.tokenizer``/``args.revision``/
    ``args.context``/``args.device``/``args.precision``/``args.meta`` where present and the sampling options
    (``add_sampling_options``). The pair is None for a model without one (the random walk, GARCH)."""
    from kronos.checkpoints import CheckpointError, load_pair
    from kronos.config import trained_context
    from kronos_studio.forecasters import resolve

    context = getattr(args, "context", None)
    loaded = []

    def load(model_ref):
        known = trained_context(model_ref)
        if context is not None and known is not None and context != known:
            # Reading more bars than a model was trained for is not a setting to override quietly.
            raise CliError(f"--context {context} contradicts the {known} bars {args.model or 'the bundled model'} "
                           "was trained to read: leave --context out (it is for a folder without bundle.json)")
        loaded.append(load_pair(model_ref, getattr(args, "tokenizer", None), revision=getattr(args, "revision", None),
                                context=context, device=cli_device(args), precision=getattr(args, "precision", None)))
        return loaded[-1]

    try:
        forecaster = resolve(args.model, bars, sampling_settings(args), load_pair=load, meta=getattr(args, "meta", None))
    except (CheckpointError, FileNotFoundError, ValueError) as e:
        raise CliError(str(e)) from None
    return forecaster, loaded[0] if loaded else None
