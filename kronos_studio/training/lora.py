"""LoRA fine-tuning of a Kronos predictor together with the event embedding (``kronos_studio.events``).

The base model stays frozen: peft injects rank-8 adapters into the trunk self-attention q and v
projections (``adapters.lora_model``), the zero-initialised ``event_emb`` Linear(20 -> d_model) is
trained alongside, and nothing else receives gradients. Training runs on the shared loop
(``loop.train``); the adapter with the best validation loss is kept, the base model's own validation
loss being the one to beat, and written as an adapter folder (``adapters``).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from kronos.accel import AccelProducts
from kronos.checkpoints import KronosPair
from kronos.layers import hand_products
from kronos.lazy import F, nn, np, torch
from kronos_studio.events import SCHEMA, EventBuilder

from .adapters import (
    FORMAT,
    FORMAT_VERSION,
    Adapter,
    LoraSettings,
    base_info,
    load_adapter,
    load_trainable_state,
    lora_model,
    parameter_counts,
    trainable_state,
    without_paths,
    write_adapter,
)
from .datasets import TrainData, WindowSet
from .loop import Log, Progress, Trainable, TrainConfig, train


# --- training ----------------------------------------------------------------------------------------
class EventWindows:
    """Event matrices for training windows, built exactly as at forecast time: the window's first
    ``lookback`` bars are the history (as-of at its end), the rest the horizon."""

    def __init__(self, windows: WindowSet, builder: EventBuilder):
        self.windows, self.builder = windows, builder
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def get(self, series: int, start: int) -> np.ndarray:
        key = (series, start)
        if key not in self._cache:
            times = self.windows.bar_times(series, start)
            interval = self.windows.segments[series].interval or None
            b = self.builder if self.builder.interval is not None or not interval else \
                dataclasses.replace(self.builder, interval=interval)
            self._cache[key] = b.window(times, self.windows.lookback)
        return self._cache[key]

    def batch(self, picks, device=None) -> torch.Tensor:
        return torch.from_numpy(np.stack([self.get(i, s) for i, s in picks])).to(device)


def lora_loss(model, tokenizer, x: torch.Tensor, stamps: torch.Tensor,
              events: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
    """Next-token CE (s1 and s2 | true s1), as ``pretrain.predictor_loss``, with event inputs."""
    with torch.no_grad():
        s1, s2 = tokenizer.encode(x)
    ev = None if events is None else events[:, :-1]
    logits1, logits2 = model(s1[:, :-1], s2[:, :-1], stamps[:, :-1], s1_targets=s1[:, 1:], events=ev)
    ce1 = F.cross_entropy(logits1.reshape(-1, logits1.shape[-1]), s1[:, 1:].reshape(-1))
    ce2 = F.cross_entropy(logits2.reshape(-1, logits2.shape[-1]), s2[:, 1:].reshape(-1))
    return (ce1 + ce2) / 2, {"ce_s1": ce1.item(), "ce_s2": ce2.item()}


@dataclass
class LoraResult:
    adapter: Adapter
    model: nn.Module  # the trained predictor with peft's (unmerged) LoRA layers, at the best step
    counts: dict
    history: list[dict] = field(default_factory=list)
    best_val: float | None = None
    best_step: int | None = None
    base_val: float | None = None
    wall_s: float = 0.0
    finished: bool = True


def finetune_lora(pair: KronosPair, data: TrainData, builder: EventBuilder, cfg: TrainConfig, out_dir, *,
                  settings: LoraSettings = LoraSettings(), name: str | None = None, device=None,
                  resume: bool = False, log: Log | None = print, progress: Progress | None = None,
                  run_info: dict | None = None) -> LoraResult:
    """Train LoRA + event embedding on ``data``'s training windows; keep the adapter with the best
    validation loss (the base model's loss is the one to beat; the last adapter when there is no
    validation data) and save it to ``out_dir``. ``resume`` continues the run ``out_dir`` holds, if it
    was trained on the same base model with the same settings."""
    device = torch.device(device) if device is not None else pair.device
    folder = Path(out_dir)
    tokenizer = copy.deepcopy(pair.tokenizer).to(device).eval()
    hand_products(tokenizer, AccelProducts)  # the frozen tokenizer encodes as a forecast's does
    for p in tokenizer.parameters():
        p.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):  # the LoRA A initialisation: a function of the seed
        torch.manual_seed(cfg.seed)
        peft_model = lora_model(pair.predictor, settings)
    peft_model.to(device)
    counts = parameter_counts(peft_model)
    if log:
        log(f"trainable {counts['trainable']:,} of {counts['total']:,} parameters "
            f"({counts['trainable_pct']:.2f}%: LoRA {counts['lora']:,}, event embedding {counts['event_emb']:,})")
    train_ev, val_ev = EventWindows(data.train, builder), EventWindows(data.val, builder)

    def loss(windows: WindowSet, picks, dev):
        x, stamps = windows.batch(picks, dev)
        events = (train_ev if windows is data.train else val_ev).batch(picks, dev)
        return lora_loss(peft_model, tokenizer, x, stamps, events)

    base = base_info(pair)
    lora = {"r": settings.r, "alpha": settings.alpha, "dropout": settings.dropout,
            "target_modules": settings.target_modules}
    events = {"schema": SCHEMA, "channels": settings.channels}
    static = without_paths({"train_config": dataclasses.asdict(cfg), "params": counts, "data": data.describe(),
                             "device": str(device), **(run_info or {})})

    def metadata(status, best_step) -> dict:
        training = {"steps": cfg.steps, "best_step": best_step, "best_val_loss": status.best_val,
                    "base_val_loss": status.start_val, "wall_s": round(status.wall_s, 1), **static}
        return {"format": FORMAT, "version": FORMAT_VERSION, "name": name or folder.name, "base_model": base,
                "events": events, "training": training}

    def save_best(out, snapshot, status):
        write_adapter(Path(out), peft_model, snapshot, metadata(status, status.best_step))

    trainable = Trainable(peft_model, loss, save_best, state=lambda: trainable_state(peft_model),
                          load_state=lambda state: load_trainable_state(peft_model, state), keep_best=True)
    status = train(trainable, data, cfg, folder, kind="lora", device=device, resume=resume, eval_first=True,
                   signature={"base_model": {k: base[k] for k in ("predictor_revision", "tokenizer_revision")},
                              "lora": lora, "events": events}, log=log, progress=progress,
                   run_info={"base_model": base, "lora": lora, "events": events, **static})
    best, best_step = status.best_state, status.best_step
    if best is None:  # no validation data: the last adapter
        best, best_step = trainable.snapshot(), status.step
    load_trainable_state(peft_model, {k: v.to(device) for k, v in best.items()})
    peft_model.eval()
    write_adapter(folder, peft_model, best, metadata(status, best_step))
    return LoraResult(load_adapter(folder), peft_model.get_base_model(), counts, status.history, status.best_val,
                      best_step, status.start_val, status.wall_s, status.finished)
