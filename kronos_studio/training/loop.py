"""The one training loop, shared by tokenizer and predictor (pre)training (``pretrain``) and LoRA
fine-tuning (``lora``).

It is parametrised by a ``Trainable``: the module, a loss over a batch of windows, how to read and
restore the state a resumed run needs, and how to write the model worth keeping. The loop owns the
rest: AdamW (weight decay on matrices only), linear warm-up then cosine learning rate, gradient
clipping, log windows, validation on fixed windows every ``eval_every`` steps, the best step by
validation loss, save points, the time limit and the resume state.

A run writes to ``out_dir``: the model (``Trainable.save_best``/``save_last``), the resume state
(``state``: safetensors + JSON, no pickle), ``history.json`` (train/val losses per logged step) and
``run.json`` (settings and data description), every file atomically.

Batches depend only on (seed, step) and the RNG state is saved, so a resumed run reproduces the
uninterrupted one exactly (on the same device).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from data_sources.storage import atomic_write_text
from kronos.accel import AccelProducts
from kronos.device import default_device
from kronos.layers import hand_products
from kronos.lazy import nn, torch
from kronos.threads import computing

from .datasets import TrainData, WindowSet
from .state import START_OVER, ResumeError, RunState, load_optimizer_state, read_state, write_state

HISTORY_FILE = "history.json"
RUN_FILE = "run.json"

Log = Callable[[str], None]
Progress = Callable[[int, int, dict], None]
# loss over the windows ``picks`` of ``windows`` -> (loss to minimise, named float parts for the log)
LossFn = Callable[[WindowSet, Sequence[tuple[int, int]], torch.device], tuple[torch.Tensor, dict]]

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
    start_val: float | None = None  # validation loss before the first step (``train(..., eval_first=True)``)
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)  # with ``Trainable.keep_best``

    def last(self, key: str = "train_loss") -> float | None:
        vals = [h[key] for h in self.history if key in h]
        return vals[-1] if vals else None


@dataclass
class Trainable:
    """What the loop trains and how its state is kept.

    ``state()`` returns the tensors a resumed run needs and ``load_state`` puts them back (default:
    the module's whole state dict, loaded strictly). ``save_best(out, snapshot, status)`` writes the
    model to keep, at each new best validation loss (at each save point when there is no validation
    data). With ``keep_best`` the loop keeps a CPU copy of ``state()`` at the best step, passes it as
    ``snapshot`` and stores it in the resume state (for small trainable states such as adapters);
    without it ``snapshot`` is None and the module as it is now is what to write. ``save_last(out)``,
    when given, runs at every save point.
    """

    module: nn.Module
    loss: LossFn
    save_best: Callable[[Path, dict | None, TrainResult], None]
    save_last: Callable[[Path], None] | None = None
    state: Callable[[], dict[str, torch.Tensor]] | None = None
    load_state: Callable[[dict[str, torch.Tensor]], None] | None = None
    keep_best: bool = False

    def get_state(self) -> dict[str, torch.Tensor]:
        return self.state() if self.state is not None else self.module.state_dict()

    def set_state(self, state: dict[str, torch.Tensor]) -> None:
        if self.load_state is not None:
            self.load_state(state)
        else:
            self.module.load_state_dict(state, strict=True)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.get_state().items()}


def _optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


@torch.no_grad()
def evaluate_loss(loss_fn: LossFn, windows: WindowSet, batches: list, device) -> dict | None:
    """Mean loss (and parts) over fixed validation batches; the caller sets eval mode."""
    if not batches:
        return None
    totals: dict[str, float] = {}
    n = 0
    for picks in batches:
        loss, parts = loss_fn(windows, picks, device)
        k = len(picks)
        totals["loss"] = totals.get("loss", 0.0) + loss.item() * k
        for name, v in parts.items():
            totals[name] = totals.get(name, 0.0) + v * k
        n += k
    return {name: v / n for name, v in totals.items()}


def _format(record: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())


def train(trainable: Trainable, data: TrainData, cfg: TrainConfig, out_dir, *, kind: str, select_key: str = "loss",
          device=None, resume: bool = True, eval_first: bool = False, signature: dict | None = None,
          log: Log | None = print, progress: Progress | None = None, run_info: dict | None = None) -> TrainResult:
    """Train ``trainable.module`` on ``data`` for ``cfg.steps`` steps, resuming the run in ``out_dir``
    when ``resume`` and it holds one of the same ``kind`` (and ``signature``).

    The best step is the one with the lowest validation ``select_key``; with ``eval_first`` the model
    before training is evaluated too and is the best until a step beats it (fine-tuning: never keep a
    model worse than the one you started from). ``progress(step, steps, record)`` runs after every
    step (``record`` is empty on steps that log nothing).
    """
    device = torch.device(device) if device is not None else default_device()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    module = trainable.module.to(device)
    hand_products(module, AccelProducts)  # its evaluation, without autograd, computes as a forecast does
    opt = _optimizer([p for p in module.parameters() if p.requires_grad], cfg)
    status = TrainResult(out, 0)
    saved = read_state(out) if resume else None
    if saved is not None:
        if saved.kind != kind:
            raise ResumeError(f"{out} holds a {saved.kind} run, not a {kind} run", {"kind": saved.kind},
                              START_OVER)
        if saved.signature != signature:
            raise ResumeError(f"{out} holds a {kind} run on {saved.signature}, not on {signature}",
                              {"signature": saved.signature}, START_OVER)
        trainable.set_state(saved.model)
        load_optimizer_state(opt, saved.optimizer)
        _set_rng_state(saved.rng, device)
        status = TrainResult(out, saved.step, saved.history, saved.best_val, saved.best_step, saved.wall_s,
                             start_val=saved.start_val, best_state=saved.best)
        if log:
            log(f"resuming {kind} training at step {saved.step}/{cfg.steps} from {out}")
    else:
        torch.manual_seed(cfg.seed)
    info = {"kind": kind, "train_config": dataclasses.asdict(cfg), "device": str(device),
            "data": data.describe(), **(run_info or {})}
    atomic_write_text(out / RUN_FILE, json.dumps(info, indent=2, default=str))
    val_batches = data.val.fixed_batches(cfg.batch_size, cfg.val_windows)
    history = status.history
    wall_before, started = status.wall_s, time.perf_counter()

    def elapsed() -> float:
        return wall_before + time.perf_counter() - started

    def validate() -> dict:
        module.eval()
        with computing():
            return evaluate_loss(trainable.loss, data.val, val_batches, device)

    def new_best(value: float, step: int) -> None:
        status.best_val, status.best_step = value, step
        status.best_state = trainable.snapshot() if trainable.keep_best else None
        trainable.save_best(out, status.best_state, status)

    def save_point() -> None:
        status.wall_s = elapsed()
        if trainable.save_last is not None:
            trainable.save_last(out)
        if not val_batches:  # no validation data: the latest model is the one to keep
            trainable.save_best(out, trainable.snapshot() if trainable.keep_best else None, status)
        write_state(out, RunState(kind, status.step, trainable.get_state(), opt.state_dict(), _rng_state(device),
                                  history, status.best_val, status.best_step, status.start_val, status.wall_s,
                                  status.best_state, signature))
        atomic_write_text(out / HISTORY_FILE, json.dumps(history, indent=1))

    if eval_first and saved is None and val_batches:
        status.start_val = validate()[select_key]
        if log:
            log(f"validation loss before fine-tuning {status.start_val:.4f}")
        new_best(status.start_val, 0)

    params = [p for p in module.parameters() if p.requires_grad]
    window_loss, window_n = 0.0, 0
    while status.step < cfg.steps:
        if cfg.time_limit_s is not None and time.perf_counter() - started > cfg.time_limit_s:
            status.finished = False
            if log:
                log(f"time limit reached at step {status.step}; resume with the same command")
            break
        step = status.step
        module.train()
        lr = cfg.lr_at(step)
        for g in opt.param_groups:
            g["lr"] = lr
        with computing():  # each step takes its share of the machine's cores as it starts (kronos.threads)
            loss, parts = trainable.loss(data.train, data.train.sample(cfg.batch_size, cfg.seed, step), device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
        step = status.step = step + 1
        window_loss += loss.item()
        window_n += 1
        record = None
        if step % cfg.log_every == 0 or step == cfg.steps:
            record = {"step": step, "lr": lr, "train_loss": window_loss / window_n, "grad_norm": float(grad_norm),
                      **{f"train_{k}": v for k, v in parts.items()}, "elapsed_s": round(elapsed(), 1)}
            window_loss, window_n = 0.0, 0
        if val_batches and (step % cfg.eval_every == 0 or step == cfg.steps):
            val = validate()
            record = record or {"step": step, "elapsed_s": round(elapsed(), 1)}
            record.update({f"val_{k}": v for k, v in val.items()})
            if status.best_val is None or val[select_key] < status.best_val:
                new_best(val[select_key], step)
        if record is not None:
            history.append(record)
            if log:
                log(_format(record))
        if progress:
            progress(step, cfg.steps, record or {})
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_point()
    if not status.finished:
        save_point()
    module.eval()
    status.wall_s = elapsed()
    return status


