"""``kronos train tokenizer`` and ``kronos train predictor``: train from scratch or fine-tune an official /
local checkpoint (``--init``) on your own bars."""
from __future__ import annotations

import sys
from pathlib import Path

from .commands import add_command
from .common import CliError, cli_device, positive
from .training_options import (
    add_data_and_training_options,
    build_data,
    load_series,
    make_log,
    report_training,
    train_config,
)


def register(sub):
    """Add ``kronos train`` and its tokenizer/predictor commands; returns the ``train`` subparsers."""
    train = add_command(sub, "train",
                        description="Train Kronos models on your bars (leakage-free windows, time split).")
    tsub = train.add_subparsers(dest="train_command", required=True)

    tok = tsub.add_parser("tokenizer", help="train or fine-tune the BSQ tokenizer")
    add_data_and_training_options(tok)
    a = tok.add_argument_group("architecture (ignored with --init)")
    a.add_argument("--init", default=None, help="start from a tokenizer: Hub repo id, folder, or official model "
                                                "name (its paired tokenizer)")
    a.add_argument("--d-model", type=positive(int), default=64)
    a.add_argument("--n-heads", type=positive(int), default=4)
    a.add_argument("--ff-dim", type=positive(int), default=128)
    a.add_argument("--layers", type=positive(int), default=3, help="n_enc_layers = n_dec_layers (blocks = layers-1)")
    tok.set_defaults(func=run_train_tokenizer)

    pred = tsub.add_parser("predictor", help="train or fine-tune the autoregressive predictor")
    add_data_and_training_options(pred)
    a = pred.add_argument_group("model")
    a.add_argument("--tokenizer", default=None, help="tokenizer folder / repo id (default: --init's tokenizer)")
    a.add_argument("--init", default=None, help="fine-tune from: official name (mini, small, base), Hub repo id, "
                                                "predictor folder or bundled-model folder; default: a new model")
    a.add_argument("--d-model", type=positive(int), default=128)
    a.add_argument("--n-heads", type=positive(int), default=4)
    a.add_argument("--ff-dim", type=positive(int), default=384)
    a.add_argument("--n-layers", type=positive(int), default=4)
    a.add_argument("--dropout", type=float, default=0.1, help="ffn and residual dropout of a new model")
    a.add_argument("--bundle", default=None, metavar="DIR",
                   help="also write a ready-to-use model folder (tokenizer/, predictor/, bundle.json)")
    a.add_argument("--context", type=positive(int), default=None, help="context written to --bundle "
                                                                         "(default: the window)")
    pred.set_defaults(func=run_train_predictor)

    return tsub


# --- commands -----------------------------------------------------------------------------------
def run_train_tokenizer(args) -> int:
    from kronos.checkpoints import load_tokenizer
    from kronos.config import OFFICIAL_MODELS, TokenizerConfig
    from kronos_studio.training.pretrain import new_tokenizer, train_tokenizer

    device = cli_device(args)
    series = load_series(args)
    data = build_data(args, series)
    if args.init:
        official = OFFICIAL_MODELS.get(args.init)
        ref = official.tokenizer_repo_id if official else args.init
        tok, _ = load_tokenizer(ref, official.tokenizer_revision if official else None, device=device)
        lr, info = 2e-4, {"init": ref}
    else:
        cfg = TokenizerConfig(d_model=args.d_model, n_heads=args.n_heads, ff_dim=args.ff_dim,
                              n_enc_layers=args.layers, n_dec_layers=args.layers)
        tok, lr, info = new_tokenizer(cfg, args.seed), 1e-3, {"init": None}
    result = train_tokenizer(tok, data, train_config(args, lr, 2.0), args.out, device=device,
                             resume=not args.no_resume, log=make_log(args), run_info=info)
    report_training("tokenizer", result)
    return 0


def run_train_predictor(args) -> int:
    from kronos.checkpoints import load_pair, load_predictor, load_tokenizer
    from kronos.config import KronosConfig
    from kronos_studio.bundled import model_reference
    from kronos_studio.training.pretrain import new_predictor, train_predictor, write_bundle

    device = cli_device(args)
    series = load_series(args)
    data = build_data(args, series)
    tokenizer = predictor = None
    if args.init:
        init = Path(args.init).expanduser()
        if init.is_dir() and not (init / "predictor").is_dir() and args.tokenizer:
            predictor, _ = load_predictor(init, device=device)
        else:
            pair = load_pair(model_reference(args.init), args.tokenizer, device=device)
            predictor, tokenizer = pair.predictor, pair.tokenizer
    if tokenizer is None:
        if not args.tokenizer:
            raise CliError("pass --tokenizer (a trained tokenizer folder or repo id), or --init a model "
                           "whose tokenizer is known")
        tokenizer, _ = load_tokenizer(args.tokenizer, device=device)
    if predictor is None:
        cfg = KronosConfig(s1_bits=tokenizer.config.s1_bits, s2_bits=tokenizer.config.s2_bits,
                           n_layers=args.n_layers, d_model=args.d_model, n_heads=args.n_heads,
                           ff_dim=args.ff_dim, ffn_dropout_p=args.dropout, resid_dropout_p=args.dropout)
        predictor, lr = new_predictor(cfg, args.seed), 1e-3
    else:
        lr = 4e-5  # fine-tuning: the official fine-tuning rate
    result = train_predictor(predictor, tokenizer, data, train_config(args, lr, 3.0), args.out, device=device,
                             resume=not args.no_resume, log=make_log(args),
                             run_info={"init": args.init, "tokenizer": args.tokenizer})
    report_training("predictor", result)
    if args.bundle:
        from kronos.checkpoints import save_checkpoint

        tok_dir = Path(args.out) / "tokenizer"
        save_checkpoint(tokenizer, tok_dir)
        write_bundle(args.bundle, tok_dir, args.out, args.context or args.window, Path(args.bundle).name)
        print(f"model folder written to {args.bundle} (use it with --model {args.bundle})", file=sys.stderr)
    return 0
