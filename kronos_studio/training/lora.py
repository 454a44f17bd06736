"""LoRA fine-tuning of a Kronos predictor together with the event embedding (``kronos_studio.training.events``).

The base model stays frozen: peft injects rank-8 adapters into the trunk self-attention q and v
projections, the zero-initialised ``event_emb`` Linear(20 -> d_model) is trained alongside, and
nothing else receives gradients. Training runs on the shared loop (``loop.train``); the adapter with
the best validation loss is kept, the base model's own validation loss being the one to beat.

The result is an *adapter folder*:

* ``adapter_config.json`` + ``adapter_model.safetensors`` — PEFT's own files, written by peft:
  ``peft.PeftModel.from_pretrained(predictor, folder)`` loads them onto a copy of the base predictor
  that has its event embedding attached;
* ``event_embedding.safetensors`` — ``event_emb.weight`` and ``event_emb.bias``;
* ``kronos_adapter.json`` — ours: format and version, name, event schema and channel count, the base
  model (name, predictor and tokenizer revisions — Hub commits or ``local:<sha256>`` content hashes —
  and context; never a local path), the training run, and the SHA-256 of the two weight files (written
  last, so a folder whose files do not belong together is detected);
* ``history.json``, ``run.json`` and the resume state (``state``).

Every file is written atomically. ``load_adapter`` also reads the folders of format version 1 (our own
``adapter_config.json`` and one ``adapter_model.safetensors`` holding the LoRA and event tensors).

``apply_adapter(pair, folder)`` returns a new ``KronosPair`` whose predictor is a *copy* of the base
with the LoRA deltas merged (peft's ``merge_and_unload``) and ``event_emb`` set; the base pair is untouched.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from data_sources.storage import atomic_write, atomic_write_text
from kronos.checkpoints import KronosPair
from kronos.model import Kronos
from kronos.settings import default

from .adapter_files import ADAPTER_CONFIG, ADAPTER_FILE, EVENT_FILE, META_FILE
from .datasets import TrainData, WindowSet
from .events import CHANNELS, SCHEMA, EventBuilder
from .loop import Log, Progress, Trainable, TrainConfig, train

FORMAT = "kronos-studio-lora"
FORMAT_VERSION = 2
LEGACY_VERSION = 1  # our own adapter_config.json + one safetensors file with LoRA and event tensors
TARGET_MODULES = r"transformer\.\d+\.self_attn\.(q_proj|v_proj)"
EVENT_KEYS = ("event_emb.weight", "event_emb.bias")


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
def lora_model(predictor: Kronos, settings: LoraSettings = LoraSettings()):
    """A ``peft.PeftModel`` around a copy of ``predictor`` with an event embedding and LoRA adapters;
    only those are trainable."""
    from peft import get_peft_model

    model = copy.deepcopy(predictor)
    if model.event_emb is None or model.event_emb.in_features != settings.channels:
        model.attach_event_embedding(settings.channels)
    for p in model.parameters():
        p.requires_grad_(False)
    peft_model = get_peft_model(model, settings.peft_config())
    for name, p in model.named_parameters():
        p.requires_grad_(".lora_" in name or name.startswith("event_emb."))
    return peft_model


def prepare_lora_model(predictor: Kronos, settings: LoraSettings = LoraSettings()) -> Kronos:
    """The predictor inside ``lora_model``: a Kronos with LoRA layers injected (peft names, e.g.
    ``transformer.0.self_attn.q_proj.lora_A.default.weight``)."""
    return lora_model(predictor, settings).get_base_model()


def parameter_counts(model: nn.Module) -> dict:
    """Trainable and total parameters (total = frozen base + adapters + event embedding)."""
    groups = {"lora": 0, "event_emb": 0, "other_trainable": 0}
    total = trainable = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
            key = "lora" if ".lora_" in name else "event_emb" if ".event_emb." in f".{name}" else "other_trainable"
            groups[key] += p.numel()
    return {"trainable": trainable, "total": total, "trainable_pct": 100 * trainable / max(total, 1), **groups}


def _trainable_state(peft_model) -> dict[str, torch.Tensor]:
    return {name: p for name, p in peft_model.named_parameters() if p.requires_grad}


def _load_trainable_state(peft_model, state: dict[str, torch.Tensor]) -> None:
    want = set(_trainable_state(peft_model))
    if set(state) != want:
        raise AdapterError(f"saved adapter state does not fit this model: missing {sorted(want - set(state))[:3]}, "
                           f"unexpected {sorted(set(state) - want)[:3]}")
    peft_model.load_state_dict(state, strict=False)


def _event_prefix(peft_model) -> str:
    inner = peft_model.get_base_model().event_emb
    return next(name for name, m in peft_model.named_modules() if m is inner) + "."


# --- adapters on disk -------------------------------------------------------------------------------
@dataclass
class Adapter:
    config: dict  # our metadata, with the LoRA settings under "lora" (read from peft's config in format 2)
    state: dict[str, torch.Tensor]  # the LoRA tensors (peft key names) and event_emb.weight / .bias
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


def _plain_name(name: str) -> str:
    """A model name without the training machine's folders: a local path becomes its last part."""
    text = str(name)
    if os.path.isabs(os.path.expanduser(text)) or text.startswith((".", "~")) or "\\" in text or text.count("/") > 1:
        return Path(text).name
    return text


def _without_paths(value):
    """``value`` (JSON-like) with every absolute path replaced by its last part."""
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_paths(v) for v in value]
    if isinstance(value, (str, os.PathLike)) and (os.path.isabs(os.fspath(value)) or os.fspath(value).startswith("~")):
        return Path(value).name
    return value


def base_info(pair: KronosPair) -> dict:
    """The base model by name, revisions and context: Hub commits for Hub checkpoints, ``local:<sha256
    prefix of the weights>`` for local folders, whose paths are not recorded."""
    prov = pair.provenance()
    out = {"name": _plain_name(prov["model"]), "predictor_revision": prov["predictor_revision"],
           "tokenizer_revision": prov["tokenizer_revision"], "context": prov["context"]}
    for part in ("predictor", "tokenizer"):
        rev = prov[f"{part}_revision"]
        if rev is not None and not str(rev).startswith("local:"):
            out[f"{part}_repo"] = prov[part]  # a Hub repo id
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_adapter(folder: Path, peft_model, state: dict[str, torch.Tensor], meta: dict) -> None:
    """PEFT's two files (written by peft into a temporary folder beside them, then renamed), the event
    embedding, and our metadata last."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".peft-") as tmp:
        peft_model.save_pretrained(tmp, state_dict=state)
        for f in (ADAPTER_FILE, ADAPTER_CONFIG):
            os.replace(Path(tmp) / f, folder / f)
    prefix = _event_prefix(peft_model)
    events = {k: state[prefix + k.removeprefix("event_emb.")].detach().cpu().contiguous() for k in EVENT_KEYS}
    atomic_write(folder / EVENT_FILE, lambda tmp: save_file(events, tmp, metadata={"format": "pt"}))
    meta = {**meta, "files": {f: _sha256(folder / f) for f in (ADAPTER_FILE, EVENT_FILE)}}
    atomic_write_text(folder / META_FILE, json.dumps(meta, indent=2, default=str))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise AdapterError(f"{path} is not valid JSON: {e}") from None


def _load_current(folder: Path) -> Adapter:
    from peft import LoraConfig

    meta = _read_json(folder / META_FILE)
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise AdapterError(f"{folder / META_FILE} is a '{meta.get('format')}' version {meta.get('version')} file, "
                           f"not {FORMAT} version {FORMAT_VERSION}")
    for f in (ADAPTER_CONFIG, ADAPTER_FILE, EVENT_FILE):
        if not (folder / f).is_file():
            raise AdapterError(f"{folder} is missing {f}: the adapter was not saved completely; train it again")
    changed = [f for f, digest in meta.get("files", {}).items() if _sha256(folder / f) != digest]
    if changed:
        raise AdapterError(f"{', '.join(changed)} in {folder} do not match {META_FILE} (an interrupted save, or "
                           "files from another adapter): resume the training or train the adapter again")
    peft_cfg = LoraConfig.from_pretrained(str(folder))
    target = peft_cfg.target_modules
    config = {**meta, "lora": {"r": peft_cfg.r, "alpha": peft_cfg.lora_alpha, "dropout": peft_cfg.lora_dropout,
                               "target_modules": target if isinstance(target, str) else sorted(target)}}
    state = {**load_file(str(folder / ADAPTER_FILE)), **load_file(str(folder / EVENT_FILE))}
    return Adapter(config, state, folder)


def _load_legacy(folder: Path, config: dict) -> Adapter:
    if not (folder / ADAPTER_FILE).is_file():
        raise AdapterError(f"{folder} is not an adapter folder: it needs {ADAPTER_CONFIG} and {ADAPTER_FILE}")
    return Adapter(config, load_file(str(folder / ADAPTER_FILE)), folder)


def adapter_metadata(folder) -> dict | None:
    """Our metadata of the adapter in ``folder`` (name, base_model, events, training) without reading
    its weights, in either format; None when the folder holds no Kronos Studio adapter."""
    folder = Path(folder)
    for f in (META_FILE, ADAPTER_CONFIG):
        try:
            meta = json.loads((folder / f).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict) and meta.get("format") == FORMAT and meta.get("version") in (FORMAT_VERSION,
                                                                                               LEGACY_VERSION):
            return meta
    return None


def load_adapter(folder) -> Adapter:
    folder = Path(folder).expanduser()
    if (folder / META_FILE).is_file():
        adapter = _load_current(folder)
    elif (folder / ADAPTER_CONFIG).is_file():
        config = _read_json(folder / ADAPTER_CONFIG)
        if config.get("format") == FORMAT and config.get("version") == LEGACY_VERSION:
            adapter = _load_legacy(folder, config)
        elif "peft_type" in config:
            raise AdapterError(f"{folder} holds a PEFT adapter without {META_FILE}: it was not trained by Kronos "
                               "Studio (no event schema, no base model)")
        else:
            raise AdapterError(f"{folder} holds a '{config.get('format')}' adapter, not a {FORMAT} one")
    else:
        raise AdapterError(f"{folder} is not an adapter folder: it needs {META_FILE}, {ADAPTER_CONFIG}, "
                           f"{ADAPTER_FILE} and {EVENT_FILE}")
    schema = adapter.config.get("events", {}).get("schema")
    if schema != SCHEMA:
        raise AdapterError(f"{folder} was trained on event schema {schema}, this version builds {SCHEMA}")
    return adapter


def check_base(adapter: Adapter, pair: KronosPair) -> None:
    """The adapter's base predictor and tokenizer must be the pair's (same revisions)."""
    want, have = adapter.config.get("base_model", {}), base_info(pair)
    diffs = [k for k in ("predictor_revision", "tokenizer_revision") if want.get(k) != have.get(k)]
    if diffs:
        raise AdapterError(f"adapter '{adapter.name}' was trained on {want.get('name') or want.get('model')} "
                           f"({want.get('predictor_revision')}), not on {have.get('name')} "
                           f"({have.get('predictor_revision')}): choose its base model")


def merged_predictor(predictor: Kronos, adapter: Adapter) -> Kronos:
    """A copy of ``predictor`` with the adapter's LoRA deltas merged into q/v (peft's merge) and its
    event embedding attached; plain nn.Linear layers, so inference runs at the base model's speed."""
    from peft import set_peft_model_state_dict

    peft_model = lora_model(predictor, adapter.settings)
    model = peft_model.get_base_model()
    lora_state = {k: v for k, v in adapter.state.items() if k not in EVENT_KEYS}
    # loaded into the inner model, which takes the keys of both formats (peft drops its
    # "base_model.model." prefix there)
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
    model = peft_model.merge_and_unload()
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
    static = _without_paths({"train_config": dataclasses.asdict(cfg), "params": counts, "data": data.describe(),
                             "device": str(device), **(run_info or {})})

    def metadata(status, best_step) -> dict:
        training = {"steps": cfg.steps, "best_step": best_step, "best_val_loss": status.best_val,
                    "base_val_loss": status.start_val, "wall_s": round(status.wall_s, 1), **static}
        return {"format": FORMAT, "version": FORMAT_VERSION, "name": name or folder.name, "base_model": base,
                "events": events, "training": training}

    def save_best(out, snapshot, status):
        _write_adapter(Path(out), peft_model, snapshot, metadata(status, status.best_step))

    trainable = Trainable(peft_model, loss, save_best, state=lambda: _trainable_state(peft_model),
                          load_state=lambda state: _load_trainable_state(peft_model, state), keep_best=True)
    status = train(trainable, data, cfg, folder, kind="lora", device=device, resume=resume, eval_first=True,
                   signature={"base_model": {k: base[k] for k in ("predictor_revision", "tokenizer_revision")},
                              "lora": lora, "events": events}, log=log, progress=progress,
                   run_info={"base_model": base, "lora": lora, "events": events, **static})
    best, best_step = status.best_state, status.best_step
    if best is None:  # no validation data: the last adapter
        best, best_step = trainable.snapshot(), status.step
    _load_trainable_state(peft_model, {k: v.to(device) for k, v in best.items()})
    peft_model.eval()
    _write_adapter(folder, peft_model, best, metadata(status, best_step))
    return LoraResult(load_adapter(folder), peft_model.get_base_model(), counts, status.history, status.best_val,
                      best_step, status.start_val, status.wall_s, status.finished)


# --- before / after ------------------------------------------------------------------------------
def before_after(base: KronosPair, adapted: KronosPair, bars, builder: EventBuilder, *, horizon: int,
                 start=None, n_cutoffs: int = 20, lookback: int | None = None, paths: int = default("paths"),
                 seed: int = 0, baselines: bool = True, progress=None) -> dict:
    """Walk-forward on the same cut-offs (from ``start`` on, e.g. the held-out test period): the base
    model, the adapter with events, the adapter without events, and the naive baselines."""
    from kronos.bars import bars_frame
    from kronos.pipeline import KronosPipeline
    from kronos_studio.evaluation.baselines import baselines_by_label
    from kronos_studio.evaluation.walk_forward import choose_cutoffs, compare, cutoffs_from_time, kronos_forecast_fn

    lookback = lookback or base.context
    frame = bars_frame(bars)
    if start is not None:
        cutoffs = cutoffs_from_time(frame, start, horizon, n_cutoffs, lookback)
    else:
        cutoffs = choose_cutoffs(len(frame), horizon, n_cutoffs, lookback)
    models = {
        f"{base.name} (base)": kronos_forecast_fn(KronosPipeline(base), paths=paths),
        f"{adapted.name} + events": kronos_forecast_fn(KronosPipeline(adapted), paths=paths, events=builder),
        f"{adapted.name}, no events": kronos_forecast_fn(KronosPipeline(adapted), paths=paths),
    }
    if baselines:
        models.update(baselines_by_label(paths=max(paths, 100)))
    return compare(models, frame, horizon=horizon, cutoffs=cutoffs, lookback=lookback, seed=seed,
                   progress=progress)

