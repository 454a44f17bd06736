"""LoRA fine-tuning of a Kronos predictor together with the event embedding (``kronos.events``).

The base model stays frozen: peft injects rank-8 adapters into the trunk self-attention q and v
projections, the zero-initialised ``event_emb`` Linear(20 -> d_model) is trained alongside, and
nothing else receives gradients. The result is an *adapter folder*:

* ``adapter_model.safetensors`` — the LoRA A/B matrices (peft key names, e.g.
  ``transformer.0.self_attn.q_proj.lora_A.weight``) and ``event_emb.weight`` / ``event_emb.bias``;
* ``adapter_config.json`` — format, LoRA rank/alpha/targets, the event schema and channel count,
  the base model (name, predictor and tokenizer refs and revisions, context), and the training run.

``apply_adapter(pair, folder)`` returns a new ``KronosPair`` whose predictor is a *copy* of the base
with the LoRA deltas merged (peft's own merge) and ``event_emb`` set; the base pair is untouched.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from .datasets import TrainData, WindowSet
from .events import CHANNELS, SCHEMA, EventBuilder
from .hub import KronosPair
from .model import Kronos
from .training import TrainConfig

ADAPTER_FILE = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
FORMAT = "kronos-studio-lora"
FORMAT_VERSION = 1
TARGET_MODULES = r"transformer\.\d+\.self_attn\.(q_proj|v_proj)"
EVENT_KEYS = ("event_emb.weight", "event_emb.bias")

Log = Callable[[str], None]


class AdapterError(RuntimeError):
    """An adapter that cannot be used with this base model, with what to do."""


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: str = TARGET_MODULES
    channels: int = CHANNELS

    def peft_config(self):
        from peft import LoraConfig

        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
                          target_modules=self.target_modules, bias="none")


# --- building the trainable model -------------------------------------------------------------------
def prepare_lora_model(predictor: Kronos, settings: LoraSettings = LoraSettings()) -> Kronos:
    """A copy of ``predictor`` with an event embedding and LoRA adapters; only those are trainable."""
    from peft import inject_adapter_in_model

    model = copy.deepcopy(predictor)
    if model.event_emb is None or model.event_emb.in_features != settings.channels:
        model.attach_event_embedding(settings.channels)
    for p in model.parameters():
        p.requires_grad_(False)
    model = inject_adapter_in_model(settings.peft_config(), model)
    for name, p in model.named_parameters():
        p.requires_grad_(".lora_" in name or name.startswith("event_emb."))
    return model


def parameter_counts(model: nn.Module) -> dict:
    """Trainable and total parameters (total = frozen base + adapters + event embedding)."""
    groups = {"lora": 0, "event_emb": 0, "other_trainable": 0}
    total = trainable = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
            key = "lora" if ".lora_" in name else "event_emb" if name.startswith("event_emb.") else "other_trainable"
            groups[key] += p.numel()
    return {"trainable": trainable, "total": total, "trainable_pct": 100 * trainable / max(total, 1), **groups}


def adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA matrices (peft names, adapter name dropped) and the event embedding, on the CPU."""
    from peft import get_peft_model_state_dict

    state = dict(get_peft_model_state_dict(model))
    for k in EVENT_KEYS:
        state[k] = model.state_dict()[k]
    return {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}


# --- adapters on disk -------------------------------------------------------------------------------
@dataclass
class Adapter:
    config: dict
    state: dict[str, torch.Tensor]
    path: Path | None = None

    @property
    def settings(self) -> LoraSettings:
        lo = self.config["lora"]
        return LoraSettings(lo["r"], lo["alpha"], lo.get("dropout", 0.0), lo["target_modules"],
                            self.config["events"]["channels"])

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for k in sorted(self.state):
            h.update(k.encode())
            h.update(self.state[k].float().numpy().tobytes())
        return h.hexdigest()[:16]

    @property
    def name(self) -> str:
        return self.config.get("name") or (self.path.name if self.path else "adapter")


def base_info(pair: KronosPair) -> dict:
    return {k: v for k, v in pair.provenance().items()}


def save_adapter(model: nn.Module, folder, pair: KronosPair, settings: LoraSettings = LoraSettings(),
                 name: str | None = None, training: dict | None = None) -> Adapter:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = adapter_state(model)
    save_file(state, str(folder / ADAPTER_FILE))
    config = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": name or folder.name,
        "base_model": base_info(pair),
        "lora": {"r": settings.r, "alpha": settings.alpha, "dropout": settings.dropout,
                 "target_modules": settings.target_modules, "library": "peft"},
        "events": {"schema": SCHEMA, "channels": settings.channels},
        "training": training or {},
    }
    (folder / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2, default=str))
    return Adapter(config, state, folder)


def load_adapter(folder) -> Adapter:
    folder = Path(folder).expanduser()
    if not (folder / ADAPTER_CONFIG).is_file() or not (folder / ADAPTER_FILE).is_file():
        raise AdapterError(f"{folder} is not an adapter folder: it needs {ADAPTER_CONFIG} and {ADAPTER_FILE}")
    try:
        config = json.loads((folder / ADAPTER_CONFIG).read_text())
    except json.JSONDecodeError as e:
        raise AdapterError(f"{folder / ADAPTER_CONFIG} is not valid JSON: {e}") from None
    if config.get("format") != FORMAT:
        raise AdapterError(f"{folder} holds a '{config.get('format')}' adapter, not a {FORMAT} one")
    if config.get("events", {}).get("schema") != SCHEMA:
        raise AdapterError(f"{folder} was trained on event schema {config.get('events', {}).get('schema')}, "
                           f"this version builds {SCHEMA}")
    return Adapter(config, load_file(str(folder / ADAPTER_FILE)), folder)


def check_base(adapter: Adapter, pair: KronosPair) -> None:
    """The adapter's base predictor and tokenizer must be the pair's (same refs' revisions)."""
    want, have = adapter.config.get("base_model", {}), base_info(pair)
    diffs = [k for k in ("predictor_revision", "tokenizer_revision") if want.get(k) != have.get(k)]
    if diffs:
        raise AdapterError(f"adapter '{adapter.name}' was trained on {want.get('model')} "
                           f"({want.get('predictor_revision')}), not on {have.get('model')} "
                           f"({have.get('predictor_revision')}): choose its base model")


def merged_predictor(predictor: Kronos, adapter: Adapter) -> Kronos:
    """A copy of ``predictor`` with the adapter's LoRA deltas merged into q/v (peft's merge) and its
    event embedding attached; plain nn.Linear layers, so inference runs at the base model's speed."""
    from peft import set_peft_model_state_dict
    from peft.tuners.lora import LoraLayer

    settings = adapter.settings
    model = prepare_lora_model(predictor, settings)
    lora_state = {k: v for k, v in adapter.state.items() if k not in EVENT_KEYS}
    result = set_peft_model_state_dict(model, lora_state)
    expected = {k for k in model.state_dict() if ".lora_" in k}
    if getattr(result, "unexpected_keys", None) or len(lora_state) != len(expected):
        raise AdapterError(f"adapter weights do not fit this model ({len(lora_state)} LoRA tensors for "
                           f"{len(expected)} slots, unexpected {getattr(result, 'unexpected_keys', [])[:3]})")
    try:
        model.event_emb.load_state_dict({"weight": adapter.state["event_emb.weight"],
                                         "bias": adapter.state["event_emb.bias"]})
    except (KeyError, RuntimeError) as e:
        raise AdapterError(f"adapter event embedding does not fit this model: {e}") from None
    for name, module in list(model.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, module.get_base_layer())
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@dataclass
class AdaptedPair(KronosPair):
    """A KronosPair whose predictor carries a merged adapter (provenance names it)."""

    adapter: Adapter | None = None
    base_name: str = ""

    def provenance(self) -> dict:
        out = super().provenance()
        if self.adapter is not None:
            out.update({"model": self.name, "base_model": self.base_name, "adapter": self.adapter.name,
                        "adapter_sha256": self.adapter.digest})
        return out


def apply_adapter(pair: KronosPair, adapter, *, check: bool = True) -> AdaptedPair:
    """The base pair with ``adapter`` (a folder or an Adapter) merged into a copy of its predictor."""
    if not isinstance(adapter, Adapter):
        adapter = load_adapter(adapter)
    if check:
        check_base(adapter, pair)
    predictor = merged_predictor(pair.predictor, adapter).to(pair.device)
    return AdaptedPair(pair.tokenizer, predictor, pair.context, f"{pair.name} + {adapter.name}",
                       pair.predictor_source, pair.tokenizer_source, adapter=adapter, base_name=pair.name)


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


def lora_loss(model: Kronos, tokenizer, x: torch.Tensor, stamps: torch.Tensor,
              events: torch.Tensor | None) -> tuple[torch.Tensor, dict]:
    """Next-token CE (s1 and s2 | true s1), as ``training.predictor_loss``, with event inputs."""
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
    model: nn.Module  # the trained (unmerged) peft model
    counts: dict
    history: list[dict] = field(default_factory=list)
    best_val: float | None = None
    best_step: int | None = None
    base_val: float | None = None
    wall_s: float = 0.0


@torch.no_grad()
def _val_loss(model, tokenizer, data: TrainData, ev: EventWindows, batches, device) -> float | None:
    if not batches:
        return None
    model.eval()
    tot = n = 0
    for picks in batches:
        x, stamps = data.val.batch(picks, device)
        loss, _ = lora_loss(model, tokenizer, x, stamps, ev.batch(picks, device))
        tot += loss.item() * len(picks)
        n += len(picks)
    return tot / n


def finetune_lora(pair: KronosPair, data: TrainData, builder: EventBuilder, cfg: TrainConfig, out_dir, *,
                  settings: LoraSettings = LoraSettings(), name: str | None = None, device=None,
                  log: Log | None = print, progress: Callable[[int, int, dict], None] | None = None,
                  run_info: dict | None = None) -> LoraResult:
    """Train LoRA + event embedding on ``data``'s training windows; keep the adapter with the best
    validation loss (the last one when there is no validation data) and save it to ``out_dir``."""
    device = torch.device(device) if device is not None else pair.device
    tokenizer = copy.deepcopy(pair.tokenizer).to(device).eval()
    for p in tokenizer.parameters():
        p.requires_grad_(False)
    model = prepare_lora_model(pair.predictor, settings).to(device)
    counts = parameter_counts(model)
    if log:
        log(f"trainable {counts['trainable']:,} of {counts['total']:,} parameters "
            f"({counts['trainable_pct']:.2f}%: LoRA {counts['lora']:,}, event embedding {counts['event_emb']:,})")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)
    train_ev, val_ev = EventWindows(data.train, builder), EventWindows(data.val, builder)
    val_batches = data.val.fixed_batches(cfg.batch_size, cfg.val_windows)
    torch.manual_seed(cfg.seed)
    started = time.perf_counter()
    base_val = _val_loss(model, tokenizer, data, val_ev, val_batches, device)
    best_val, best_step, best_state, history = base_val, 0, adapter_state(model), []
    if log and base_val is not None:
        log(f"validation loss before fine-tuning {base_val:.4f}")
    window_loss = window_n = 0
    for step in range(1, cfg.steps + 1):
        if cfg.time_limit_s is not None and time.perf_counter() - started > cfg.time_limit_s:
            if log:
                log(f"time limit reached at step {step - 1}")
            break
        model.train()
        lr = cfg.lr_at(step - 1)
        for g in opt.param_groups:
            g["lr"] = lr
        picks = data.train.sample(cfg.batch_size, cfg.seed, step - 1)
        x, stamps = data.train.batch(picks, device)
        loss, parts = lora_loss(model, tokenizer, x, stamps, train_ev.batch(picks, device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        window_loss += loss.item()
        window_n += 1
        record = None
        if step % cfg.log_every == 0 or step == cfg.steps:
            record = {"step": step, "lr": lr, "train_loss": window_loss / window_n, "grad_norm": float(grad_norm),
                      "elapsed_s": round(time.perf_counter() - started, 1)}
            window_loss = window_n = 0
        if val_batches and (step % cfg.eval_every == 0 or step == cfg.steps):
            val = _val_loss(model, tokenizer, data, val_ev, val_batches, device)
            record = record or {"step": step, "elapsed_s": round(time.perf_counter() - started, 1)}
            record["val_loss"] = val
            if val < best_val:
                best_val, best_step, best_state = val, step, adapter_state(model)
        if record is not None:
            history.append(record)
            if log:
                log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        if progress:
            progress(step, cfg.steps, record or {})
    if not val_batches:
        best_state, best_step = adapter_state(model), step
    # the saved adapter is the best one: load it back into the trained model
    _load_state(model, best_state)
    model.eval()
    wall = time.perf_counter() - started
    training = {"steps": cfg.steps, "best_step": best_step, "best_val_loss": best_val, "base_val_loss": base_val,
                "train_config": dataclasses.asdict(cfg), "params": counts, "data": data.describe(),
                "device": str(device), "wall_s": round(wall, 1), **(run_info or {})}
    adapter = save_adapter(model, out_dir, pair, settings, name, training)
    (Path(out_dir) / "history.json").write_text(json.dumps(history, indent=1))
    return LoraResult(adapter, model, counts, history, best_val, best_step, base_val, wall)


def _load_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    from peft import set_peft_model_state_dict

    set_peft_model_state_dict(model, {k: v for k, v in state.items() if k not in EVENT_KEYS})
    model.event_emb.load_state_dict({"weight": state["event_emb.weight"], "bias": state["event_emb.bias"]})


# --- before / after ------------------------------------------------------------------------------
def before_after(base: KronosPair, adapted: KronosPair, bars, builder: EventBuilder, *, horizon: int,
                 start=None, n_cutoffs: int = 20, lookback: int | None = None, paths: int = 30,
                 seed: int = 0, baselines: bool = True, progress=None) -> dict:
    """Walk-forward on the same cut-offs (from ``start`` on, e.g. the held-out test period): the base
    model, the adapter with events, the adapter without events, and the naive baselines."""
    from .baselines import default_baselines
    from .evaluation import choose_cutoffs, compare, cutoffs_from_time, kronos_forecast_fn
    from .forecast import Forecaster, bars_frame

    lookback = lookback or base.context
    frame = bars_frame(bars)
    if start is not None:
        cutoffs = cutoffs_from_time(frame, start, horizon, n_cutoffs, lookback)
    else:
        cutoffs = choose_cutoffs(len(frame), horizon, n_cutoffs, lookback)
    models = {
        f"{base.name} (base)": kronos_forecast_fn(Forecaster(base), paths=paths),
        f"{adapted.name} + events": kronos_forecast_fn(Forecaster(adapted), paths=paths, events=builder),
        f"{adapted.name}, no events": kronos_forecast_fn(Forecaster(adapted), paths=paths),
    }
    if baselines:
        models.update(default_baselines(paths=max(paths, 100)))
    return compare(models, frame, horizon=horizon, cutoffs=cutoffs, lookback=lookback, seed=seed,
                   progress=progress)

