"""Training and fine-tuning of the tokenizer and the predictor (one code path for both: a fresh model,
or an official/bundled checkpoint as the starting point), on the shared loop (``loop.train``).

Losses (spec §2.11):
* tokenizer: (MSE(reconstruction from the coarse s1 bits) + MSE(reconstruction from all bits)
  + BSQ commitment/entropy loss) / 2;
* predictor: (CE(s1) + CE(s2 | true s1)) / 2 on next-token targets, the tokenizer frozen.

A run writes to ``out_dir``:
* ``config.json`` + ``model.safetensors`` — the best checkpoint by validation loss (official layout;
  loadable by ``kronos.checkpoints`` and by the official code);
* ``last/`` — the latest checkpoint, same layout;
* ``train_state.json`` + ``train_state-*.safetensors`` — the whole model, optimizer, step, RNG state
  and history, for resuming (``state``);
* ``history.json`` — train/val losses per logged step; ``run.json`` — settings and data description.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from data_sources.storage import atomic_write, atomic_write_text
from kronos.accel import AccelProducts
from kronos.checkpoints import save_checkpoint
from kronos.config import BUNDLE_FILE, CONFIG_FILE, WEIGHTS_FILE, KronosConfig, TokenizerConfig
from kronos.device import default_device
from kronos.layers import hand_products
from kronos.lazy import F, nn, torch
from kronos.model import Kronos
from kronos.tokenizer import KronosTokenizer

from .datasets import TrainData
from .loop import Log, Progress, Trainable, TrainConfig, TrainResult, train


# --- model builders -----------------------------------------------------------------------------
def new_tokenizer(config: TokenizerConfig, seed: int = 0) -> KronosTokenizer:
    torch.manual_seed(seed)
    return KronosTokenizer(config)


def new_predictor(config: KronosConfig, seed: int = 0) -> Kronos:
    torch.manual_seed(seed)
    return Kronos(config)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- losses -------------------------------------------------------------------------------------
def tokenizer_loss(tokenizer: KronosTokenizer, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    out = tokenizer(x)
    recon_coarse = F.mse_loss(out.recon_coarse, x)
    recon = F.mse_loss(out.recon, x)
    loss = (recon_coarse + recon + out.bsq_loss) / 2
    return loss, {"recon": recon.item(), "recon_coarse": recon_coarse.item(), "bsq": out.bsq_loss.item()}


def predictor_loss(predictor: Kronos, tokenizer: KronosTokenizer, x: torch.Tensor,
                   stamps: torch.Tensor) -> tuple[torch.Tensor, dict]:
    s1, s2 = tokenizer.encode(x)
    logits1, logits2 = predictor(s1[:, :-1], s2[:, :-1], stamps[:, :-1], s1_targets=s1[:, 1:])
    ce1 = F.cross_entropy(logits1.reshape(-1, logits1.shape[-1]), s1[:, 1:].reshape(-1))
    ce2 = F.cross_entropy(logits2.reshape(-1, logits2.shape[-1]), s2[:, 1:].reshape(-1))
    return (ce1 + ce2) / 2, {"ce_s1": ce1.item(), "ce_s2": ce2.item()}


# --- training -----------------------------------------------------------------------------------
def _checkpoints(module: Kronos | KronosTokenizer, loss) -> Trainable:
    """The whole module is trained and resumed; the best checkpoint goes to the run folder, the latest
    to ``last/``, both in the official layout."""
    return Trainable(module, loss, save_best=lambda out, _snapshot, _status: save_checkpoint(module, out),
                     save_last=lambda out: save_checkpoint(module, out / "last"))


def _info(module: nn.Module, run_info: dict | None) -> dict:
    return {"model_config": module.config.to_dict(), "params": count_params(module), **(run_info or {})}


def train_tokenizer(tokenizer: KronosTokenizer, data: TrainData, cfg: TrainConfig, out_dir, *, device=None,
                    resume: bool = True, log: Log | None = print, progress: Progress | None = None,
                    run_info: dict | None = None) -> TrainResult:
    """Train (or fine-tune) a tokenizer on normalised windows; best checkpoint by validation
    reconstruction MSE (all bits)."""
    def loss(windows, picks, dev):
        x, _ = windows.batch(picks, dev)
        return tokenizer_loss(tokenizer, x)

    return train(_checkpoints(tokenizer, loss), data, cfg, out_dir, kind="tokenizer", select_key="recon",
                 device=device, resume=resume, log=log, progress=progress, run_info=_info(tokenizer, run_info))


def train_predictor(predictor: Kronos, tokenizer: KronosTokenizer, data: TrainData, cfg: TrainConfig, out_dir, *,
                    device=None, resume: bool = True, log: Log | None = print, progress: Progress | None = None,
                    run_info: dict | None = None) -> TrainResult:
    """Train (or fine-tune) a predictor on the frozen tokenizer's ids; best checkpoint by validation CE."""
    device = torch.device(device) if device is not None else default_device()
    tokenizer = tokenizer.to(device).eval()
    hand_products(tokenizer, AccelProducts)  # the frozen tokenizer encodes as a forecast's does
    for p in tokenizer.parameters():
        p.requires_grad_(False)

    def loss(windows, picks, dev):
        return predictor_loss(predictor, tokenizer, *windows.batch(picks, dev))

    return train(_checkpoints(predictor, loss), data, cfg, out_dir, kind="predictor", device=device,
                 resume=resume, log=log, progress=progress, run_info=_info(predictor, run_info))


def write_bundle(folder, tokenizer_dir, predictor_dir, context: int, name: str,
                 data_seen_until: str | None = None) -> Path:
    """Assemble a bundled-model folder (tokenizer/, predictor/, bundle.json) from two run folders,
    copying only the official-layout files. ``data_seen_until``: the last day of the bars it trained or
    validated on (the training-period guard flags backtests up to it)."""
    folder = Path(folder)
    for sub, src in (("tokenizer", Path(tokenizer_dir)), ("predictor", Path(predictor_dir))):
        for f in (WEIGHTS_FILE, CONFIG_FILE):
            atomic_write(folder / sub / f, lambda tmp, source=src / f: shutil.copyfile(source, tmp))
    meta = {"context": int(context), "name": name}
    if data_seen_until is not None:
        meta["data_seen_until"] = str(data_seen_until)
    atomic_write_text(folder / BUNDLE_FILE, json.dumps(meta, indent=2))
    return folder
