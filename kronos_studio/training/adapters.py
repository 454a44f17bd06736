"""LoRA event adapters: the peft model around a Kronos predictor, and adapter folders (written, read,
checked against their base, applied). Fine-tuning one is ``kronos_studio.training.lora``.

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
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file

from data_sources.storage import atomic_write, atomic_write_text
from kronos.checkpoints import KronosPair
from kronos.errors import UserError
from kronos.lazy import nn, torch
from kronos.model import Kronos
from kronos_studio.bundled import default_model_path
from kronos_studio.events import CHANNELS, SCHEMA

from .adapter_files import ADAPTER_CONFIG, ADAPTER_FILE, EVENT_FILE, META_FILE

FORMAT = "kronos-studio-lora"


FORMAT_VERSION = 2


LEGACY_VERSION = 1  # our own adapter_config.json + one safetensors file with LoRA and event tensors


TARGET_MODULES = r"transformer\.\d+\.self_attn\.(q_proj|v_proj)"


EVENT_KEYS = ("event_emb.weight", "event_emb.bias")


class AdapterError(UserError, RuntimeError):
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


def trainable_state(peft_model) -> dict[str, torch.Tensor]:
    return {name: p for name, p in peft_model.named_parameters() if p.requires_grad}


def load_trainable_state(peft_model, state: dict[str, torch.Tensor]) -> None:
    want = set(trainable_state(peft_model))
    if set(state) != want:
        raise AdapterError(f"saved adapter state does not fit this model: missing {sorted(want - set(state))[:3]}, "
                           f"unexpected {sorted(set(state) - want)[:3]}")
    peft_model.load_state_dict(state, strict=False)


def event_prefix(peft_model) -> str:
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


def without_paths(value):
    """``value`` (JSON-like) with every absolute path replaced by its last part."""
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_paths(v) for v in value]
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


def bundled_base(predictor_revision: str, load_pair) -> KronosPair | None:
    """The bundled model (the default first) whose predictor is ``predictor_revision``, loaded by
    ``load_pair(ref)``; None when no bundled model is: what an adapter in the registry was trained on."""
    from kronos_studio.bundled import bundled_models  # read when called: a test patches it in kronos_studio.bundled

    for ref in dict.fromkeys([str(default_model_path()), *map(str, bundled_models().values())]):
        pair = load_pair(ref)
        if base_info(pair)["predictor_revision"] == predictor_revision:
            return pair
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_adapter(folder: Path, peft_model, state: dict[str, torch.Tensor], meta: dict) -> None:
    """PEFT's two files (written by peft into a temporary folder beside them, then renamed), the event
    embedding, and our metadata last."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".peft-") as tmp:
        peft_model.save_pretrained(tmp, state_dict=state)
        for f in (ADAPTER_FILE, ADAPTER_CONFIG):
            os.replace(Path(tmp) / f, folder / f)
    prefix = event_prefix(peft_model)
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
