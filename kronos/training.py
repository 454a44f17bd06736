"""Training and fine-tuning of the tokenizer and the predictor (one code path for both: a fresh model,
or an official/bundled checkpoint as the starting point).

Losses (spec §2.11):
* tokenizer: (MSE(reconstruction from the coarse s1 bits) + MSE(reconstruction from all bits)
  + BSQ commitment/entropy loss) / 2;
* predictor: (CE(s1) + CE(s2 | true s1)) / 2 on next-token targets, the tokenizer frozen.

A run writes to ``out_dir``:
* ``config.json`` + ``model.safetensors`` — the best checkpoint by validation loss (official layout;
  loadable by ``kronos.hub`` and by the official code);
* ``last/`` — the latest checkpoint, same layout;
* ``train_state.pt`` — optimizer, step, RNG state and history, for resuming;
* ``history.json`` — train/val losses per logged step; ``run.json`` — settings and data description.

Batches depend only on (seed, step) and the RNG state is saved, so a resumed run reproduces the
uninterrupted one exactly (on the same device).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import KronosConfig, TokenizerConfig
from .datasets import TrainData, WindowSet
from .device import default_device
from .hub import save_checkpoint
from .model import Kronos
from .tokenizer import KronosTokenizer

STATE_FILE = "train_state.pt"
HISTORY_FILE = "history.json"
RUN_FILE = "run.json"

Log = Callable[[str], None]


@dataclass
class TrainConfig:
    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    warmup_steps: int = 50
    min_lr_ratio: float = 0.1  # cosine decay to lr * min_lr_ratio at the last step
    grad_clip: float = 2.0
    seed: int = 0
    eval_every: int = 100
    val_windows: int = 256  # fixed validation windows, evaluated every eval_every steps
    save_every: int = 100
    log_every: int = 10
    time_limit_s: float | None = None  # stop (after saving) once a run has taken this long

    def lr_at(self, step: int) -> float:
        """Linear warm-up then cosine decay; a pure function of the step (resumable)."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        span = max(self.steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    history: list[dict] = field(default_factory=list)
    best_val: float | None = None
    best_step: int | None = None
    wall_s: float = 0.0
    finished: bool = True

    def last(self, key: str = "train_loss") -> float | None:
        vals = [h[key] for h in self.history if key in h]
        return vals[-1] if vals else None


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


# --- the loop -----------------------------------------------------------------------------------
def _optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for p in module.parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@torch.no_grad()
def evaluate_loss(loss_fn, windows: WindowSet, batches: list, device) -> dict | None:
    """Mean loss (and parts) over fixed validation batches, in eval mode."""
    if not batches:
        return None
    totals: dict[str, float] = {}
    n = 0
    for picks in batches:
        x, stamps = windows.batch(picks, device)
        loss, parts = loss_fn(x, stamps)
        k = len(picks)
        totals["loss"] = totals.get("loss", 0.0) + loss.item() * k
        for name, v in parts.items():
            totals[name] = totals.get(name, 0.0) + v * k
        n += k
    return {name: v / n for name, v in totals.items()}


def _train(module: nn.Module, loss_fn, data: TrainData, cfg: TrainConfig, out_dir, *, kind: str,
           select_key: str, device=None, resume: bool = True, log: Log | None = print,
           progress: Callable[[int, int, dict], None] | None = None, run_info: dict | None = None) -> TrainResult:
    device = torch.device(device) if device is not None else default_device()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    module.to(device)
    opt = _optimizer(module, cfg)
    step, history, best_val, best_step, wall_before = 0, [], None, None, 0.0
    state_path = out / STATE_FILE
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        if state["kind"] != kind:
            raise ValueError(f"{out} holds a {state['kind']} run, not a {kind} run")
        module.load_state_dict(state["model"], strict=True)
        opt.load_state_dict(state["optimizer"])
        step, history = int(state["step"]), json.loads(state["history"])
        best_val, best_step, wall_before = state["best_val"], state["best_step"], float(state["wall_s"])
        _set_rng_state(state["rng"], device)
        if log:
            log(f"resuming {kind} training at step {step}/{cfg.steps} from {out}")
    else:
        torch.manual_seed(cfg.seed)
    info = {"kind": kind, "train_config": dataclasses.asdict(cfg), "model_config": module.config.to_dict(),
            "params": count_params(module), "device": str(device), "data": data.describe(), **(run_info or {})}
    (out / RUN_FILE).write_text(json.dumps(info, indent=2, default=str))
    val_batches = data.val.fixed_batches(cfg.batch_size, cfg.val_windows)
    started = time.perf_counter()

    def save_state():
        save_checkpoint(module, out / "last")
        if best_step is None:  # no validation data: the latest checkpoint is the one to use
            save_checkpoint(module, out)
        torch.save({"kind": kind, "model": module.state_dict(), "optimizer": opt.state_dict(), "step": step,
                    "history": json.dumps(history), "best_val": best_val, "best_step": best_step,
                    "wall_s": wall_before + time.perf_counter() - started, "rng": _rng_state(device)},
                   state_path)
        (out / HISTORY_FILE).write_text(json.dumps(history, indent=1))

    finished = True
    window_loss, window_n = 0.0, 0
    while step < cfg.steps:
        if cfg.time_limit_s is not None and time.perf_counter() - started > cfg.time_limit_s:
            finished = False
            if log:
                log(f"time limit reached at step {step}; resume with the same command")
            break
        module.train()
        lr = cfg.lr_at(step)
        for g in opt.param_groups:
            g["lr"] = lr
        x, stamps = data.train.batch(data.train.sample(cfg.batch_size, cfg.seed, step), device)
        loss, parts = loss_fn(x, stamps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        window_loss += loss.item()
        window_n += 1
        record = None
        if step % cfg.log_every == 0 or step == cfg.steps:
            record = {"step": step, "lr": lr, "train_loss": window_loss / window_n, "grad_norm": float(grad_norm),
                      **{f"train_{k}": v for k, v in parts.items()},
                      "elapsed_s": round(wall_before + time.perf_counter() - started, 1)}
            window_loss, window_n = 0.0, 0
        if val_batches and (step % cfg.eval_every == 0 or step == cfg.steps):
            module.eval()
            val = evaluate_loss(loss_fn, data.val, val_batches, device)
            record = record or {"step": step, "elapsed_s": round(wall_before + time.perf_counter() - started, 1)}
            record.update({f"val_{k}": v for k, v in val.items()})
            if best_val is None or val[select_key] < best_val:
                best_val, best_step = val[select_key], step
                save_checkpoint(module, out)
        if record is not None:
            history.append(record)
            if log:
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
            if progress:
                progress(step, cfg.steps, record)
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_state()
    if not finished:
        save_state()
    module.eval()
    return TrainResult(out, step, history, best_val, best_step,
                       wall_before + time.perf_counter() - started, finished)


def train_tokenizer(tokenizer: KronosTokenizer, data: TrainData, cfg: TrainConfig, out_dir, *, device=None,
                    resume: bool = True, log: Log | None = print, progress=None,
                    run_info: dict | None = None) -> TrainResult:
    """Train (or fine-tune) a tokenizer on normalised windows; best checkpoint by validation
    reconstruction MSE (all bits)."""
    return _train(tokenizer, lambda x, stamps: tokenizer_loss(tokenizer, x), data, cfg, out_dir,
                  kind="tokenizer", select_key="recon", device=device, resume=resume, log=log,
                  progress=progress, run_info=run_info)


def train_predictor(predictor: Kronos, tokenizer: KronosTokenizer, data: TrainData, cfg: TrainConfig, out_dir, *,
                    device=None, resume: bool = True, log: Log | None = print, progress=None,
                    run_info: dict | None = None) -> TrainResult:
    """Train (or fine-tune) a predictor on the frozen tokenizer's ids; best checkpoint by validation CE."""
    device = torch.device(device) if device is not None else default_device()
    tokenizer = tokenizer.to(device).eval()
    for p in tokenizer.parameters():
        p.requires_grad_(False)
    return _train(predictor, lambda x, stamps: predictor_loss(predictor, tokenizer, x, stamps), data, cfg,
                  out_dir, kind="predictor", select_key="loss", device=device, resume=resume, log=log,
                  progress=progress, run_info=run_info)


def write_bundle(folder, tokenizer_dir, predictor_dir, context: int, name: str) -> Path:
    """Assemble a bundled-model folder (tokenizer/, predictor/, bundle.json) from two run folders,
    copying only the official-layout files."""
    import shutil

    folder = Path(folder)
    for sub, src in (("tokenizer", Path(tokenizer_dir)), ("predictor", Path(predictor_dir))):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for f in ("config.json", "model.safetensors"):
            shutil.copyfile(src / f, folder / sub / f)
    (folder / "bundle.json").write_text(json.dumps({"context": int(context), "name": name}, indent=2))
    return folder
