"""``kronos train tokenizer`` and ``kronos train predictor``: train from scratch or fine-tune an official /
local checkpoint (``--init``) on your own bars. Registered by ``kronos.cli`` when present."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'")
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return v
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    d = p.add_argument_group("data")
    d.add_argument("--data", nargs="+", default=[], metavar="FILE",
                   help="CSV/Parquet bar files (timestamp, open, high, low, close[, volume, amount])")
    d.add_argument("--samples", nargs="*", default=None, metavar="NAME",
                   help="offline sample series (no names: the bundled training corpus)")
    d.add_argument("--window", type=_positive(int), default=128, help="bars per training window (default 128)")
    d.add_argument("--lookback", type=_positive(int), default=None,
                   help="leading bars of each window whose mean/std normalise it (default 3/4 of the window)")
    d.add_argument("--val-start", default=None,
                   help="timestamp where validation starts (default: the last --val-fraction of the bars)")
    d.add_argument("--val-fraction", type=float, default=0.1)
    d.add_argument("--stride", type=_positive(int), default=1, help="step between training window starts")
    t = p.add_argument_group("training")
    t.add_argument("--out", required=True, help="run folder: checkpoints (official layout), state, history")
    t.add_argument("--steps", type=_positive(int), default=1000)
    t.add_argument("--batch-size", type=_positive(int), default=32)
    t.add_argument("--lr", type=_positive(float), default=None)
    t.add_argument("--weight-decay", type=float, default=0.1)
    t.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 5%% of --steps)")
    t.add_argument("--grad-clip", type=_positive(float), default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--eval-every", type=_positive(int), default=100)
    t.add_argument("--save-every", type=_positive(int), default=100)
    t.add_argument("--time-limit", type=_positive(float), default=None, metavar="SECONDS",
                   help="stop (saved, resumable) after this long")
    t.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    t.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)
    t.add_argument("--quiet", action="store_true")


def register(sub) -> None:
    train = sub.add_parser("train", help="train or fine-tune a tokenizer / predictor on bars",
                           description="Train Kronos models on your bars (leakage-free windows, time split).")
    tsub = train.add_subparsers(dest="train_command", required=True)

    tok = tsub.add_parser("tokenizer", help="train or fine-tune the BSQ tokenizer")
    _common(tok)
    a = tok.add_argument_group("architecture (ignored with --init)")
    a.add_argument("--init", default=None, help="start from a tokenizer: Hub repo id, folder, or official model "
                                                "name (its paired tokenizer)")
    a.add_argument("--d-model", type=_positive(int), default=64)
    a.add_argument("--n-heads", type=_positive(int), default=4)
    a.add_argument("--ff-dim", type=_positive(int), default=128)
    a.add_argument("--layers", type=_positive(int), default=3, help="n_enc_layers = n_dec_layers (blocks = layers-1)")
    tok.set_defaults(func=run_train_tokenizer)

    pred = tsub.add_parser("predictor", help="train or fine-tune the autoregressive predictor")
    _common(pred)
    a = pred.add_argument_group("model")
    a.add_argument("--tokenizer", default=None, help="tokenizer folder / repo id (default: --init's tokenizer)")
    a.add_argument("--init", default=None, help="fine-tune from: official name (mini, small, base), Hub repo id, "
                                                "predictor folder or bundled-model folder; default: a new model")
    a.add_argument("--d-model", type=_positive(int), default=128)
    a.add_argument("--n-heads", type=_positive(int), default=4)
    a.add_argument("--ff-dim", type=_positive(int), default=384)
    a.add_argument("--n-layers", type=_positive(int), default=4)
    a.add_argument("--dropout", type=float, default=0.1, help="ffn and residual dropout of a new model")
    a.add_argument("--bundle", default=None, metavar="DIR",
                   help="also write a ready-to-use model folder (tokenizer/, predictor/, bundle.json)")
    a.add_argument("--context", type=_positive(int), default=None, help="context written to --bundle "
                                                                         "(default: the window)")
    pred.set_defaults(func=run_train_predictor)

    from .lora_cli import register_cli as register_lora  # ``kronos train lora`` (LoRA + event inputs)

    register_lora(tsub, _common)


# --- helpers ------------------------------------------------------------------------------------
def _err(e: Exception):
    from .cli import CliError

    return CliError(str(e).splitlines()[0] if str(e) else type(e).__name__)


def _series(args):
    from .cli import CliError, _read_bars
    from .datasets import BUNDLED_TRAIN_SAMPLES, DataError, as_series, load_sample_series

    series = []
    for f in args.data:
        try:
            series.append(as_series(_read_bars(f), name=Path(f).stem))
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


def _data(args, series):
    import numpy as np
    import pandas as pd

    from .cli import CliError
    from .datasets import DataError, TimeSplit, build_train_data

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
        raise _err(e) from None


def _train_config(args, lr_default: float, clip_default: float):
    from .training import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr or lr_default,
                       weight_decay=args.weight_decay,
                       warmup_steps=args.warmup if args.warmup is not None else max(1, args.steps // 20),
                       grad_clip=args.grad_clip or clip_default, seed=args.seed, eval_every=args.eval_every,
                       save_every=args.save_every, log_every=max(1, min(25, args.steps // 20)),
                       time_limit_s=args.time_limit)


def _device(args):
    from .device import resolve_device

    try:
        return resolve_device(args.device)
    except ValueError as e:
        raise _err(e) from None


def _log(args):
    return None if args.quiet else (lambda m: print(time.strftime("%H:%M:%S"), m, file=sys.stderr, flush=True))


def _report(kind, result):
    status = "finished" if result.finished else "stopped (resume with the same command)"
    best = f", best val {result.best_val:.4f} at step {result.best_step}" if result.best_val is not None else ""
    print(f"{kind} training {status} at step {result.step}{best}; checkpoint in {result.out_dir} "
          f"({result.wall_s:.0f} s)", file=sys.stderr)


# --- commands -----------------------------------------------------------------------------------
def run_train_tokenizer(args) -> int:
    from .config import OFFICIAL_MODELS, ConfigError, TokenizerConfig
    from .hub import CheckpointError, load_tokenizer
    from .training import new_tokenizer, train_tokenizer

    device = _device(args)
    series = _series(args)
    data = _data(args, series)
    if args.init:
        official = OFFICIAL_MODELS.get(args.init)
        ref = official.tokenizer_repo_id if official else args.init
        try:
            tok, _ = load_tokenizer(ref, official.tokenizer_revision if official else None, device=device)
        except CheckpointError as e:
            raise _err(e) from None
        lr, info = 2e-4, {"init": ref}
    else:
        try:
            cfg = TokenizerConfig(d_model=args.d_model, n_heads=args.n_heads, ff_dim=args.ff_dim,
                                  n_enc_layers=args.layers, n_dec_layers=args.layers)
        except ConfigError as e:
            raise _err(e) from None
        tok, lr, info = new_tokenizer(cfg, args.seed), 1e-3, {"init": None}
    result = train_tokenizer(tok, data, _train_config(args, lr, 2.0), args.out, device=device,
                             resume=not args.no_resume, log=_log(args), run_info=info)
    _report("tokenizer", result)
    return 0


def run_train_predictor(args) -> int:
    from .config import ConfigError, KronosConfig
    from .hub import CheckpointError, load_pair, load_predictor, load_tokenizer
    from .training import new_predictor, train_predictor, write_bundle

    device = _device(args)
    series = _series(args)
    data = _data(args, series)
    tokenizer = predictor = None
    try:
        if args.init:
            init = Path(args.init).expanduser()
            if init.is_dir() and not (init / "predictor").is_dir() and args.tokenizer:
                predictor, _ = load_predictor(init, device=device)
            else:
                pair = load_pair(args.init, args.tokenizer, device=device)
                predictor, tokenizer = pair.predictor, pair.tokenizer
        if tokenizer is None:
            if not args.tokenizer:
                from .cli import CliError
                raise CliError("pass --tokenizer (a trained tokenizer folder or repo id), or --init a model "
                               "whose tokenizer is known")
            tokenizer, _ = load_tokenizer(args.tokenizer, device=device)
    except CheckpointError as e:
        raise _err(e) from None
    if predictor is None:
        try:
            cfg = KronosConfig(s1_bits=tokenizer.config.s1_bits, s2_bits=tokenizer.config.s2_bits,
                               n_layers=args.n_layers, d_model=args.d_model, n_heads=args.n_heads,
                               ff_dim=args.ff_dim, ffn_dropout_p=args.dropout, resid_dropout_p=args.dropout)
        except ConfigError as e:
            raise _err(e) from None
        predictor, lr = new_predictor(cfg, args.seed), 1e-3
    else:
        lr = 4e-5  # fine-tuning: the official fine-tuning rate
    result = train_predictor(predictor, tokenizer, data, _train_config(args, lr, 3.0), args.out, device=device,
                             resume=not args.no_resume, log=_log(args),
                             run_info={"init": args.init, "tokenizer": args.tokenizer})
    _report("predictor", result)
    if args.bundle:
        from .hub import save_checkpoint

        tok_dir = Path(args.out) / "tokenizer"
        save_checkpoint(tokenizer, tok_dir)
        write_bundle(args.bundle, tok_dir, args.out, args.context or args.window, Path(args.bundle).name)
        print(f"model folder written to {args.bundle} (use it with --model {args.bundle})", file=sys.stderr)
    return 0
