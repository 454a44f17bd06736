"""``kronos train tokenizer`` and ``kronos train predictor``: train from scratch or fine-tune an official /
local checkpoint (``--init``) on your own bars."""
from __future__ import annotations

import sys

from .commands import add_command
from .common import CliError, positive
from .training_options import add_data_and_training_options, pretrain, report_training


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
    """``Desk.pretrain`` of a tokenizer (a new one of the architecture options, or ``--init``'s fine-tuned)."""
    architecture = {"d_model": args.d_model, "n_heads": args.n_heads, "ff_dim": args.ff_dim, "layers": args.layers}
    report_training("tokenizer", pretrain(args, "tokenizer", architecture).result)
    return 0


def run_train_predictor(args) -> int:
    """``Desk.pretrain`` of a predictor on its tokenizer, and with --bundle a model folder beside it."""
    if not args.init and not args.tokenizer:
        raise CliError("pass --tokenizer (a trained tokenizer folder or repo id), or --init a model "
                       "whose tokenizer is known")
    architecture = {"d_model": args.d_model, "n_heads": args.n_heads, "ff_dim": args.ff_dim,
                    "n_layers": args.n_layers, "dropout": args.dropout}
    done = pretrain(args, "predictor", architecture, tokenizer=args.tokenizer, bundle=args.bundle,
                    context=args.context)
    report_training("predictor", done.result)
    if done.bundle:
        print(f"model folder written to {done.bundle} (use it with --model {done.bundle})", file=sys.stderr)
    return 0
