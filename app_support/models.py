"""Which models the app offers, and loading each one once per process (with download progress)."""
from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

ENV_MODELS = "KRONOS_STUDIO_MODELS"  # extra model folders (tokenizer/ + predictor/), os.pathsep-separated


@dataclass(frozen=True)
class ModelChoice:
    key: str  # stable id used in cache keys and widget values
    label: str
    ref: str  # what kronos.hub.load_pair takes: a folder or an official name
    kind: str  # "bundled", "folder" or "official"
    context: int = 512  # bars the model reads at most


def _official_cached(repo_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, "model.safetensors", revision=revision)
        return isinstance(hit, str)
    except Exception:
        return False


def _folder_context(path: Path) -> int:
    try:
        return int(json.loads((path / "bundle.json").read_text()).get("context", 512))
    except Exception:
        return 512


def model_choices() -> list[ModelChoice]:
    """Local folders named in $KRONOS_STUDIO_MODELS, the bundled models, then the official ones."""
    from kronos.bundled import bundled_models
    from kronos.config import OFFICIAL_MODELS

    out: list[ModelChoice] = []
    for folder in filter(None, os.environ.get(ENV_MODELS, "").split(os.pathsep)):
        path = Path(folder).expanduser()
        if (path / "predictor").is_dir():
            out.append(ModelChoice(f"folder:{path}", f"{path.name} (local folder)", str(path), "folder",
                                   _folder_context(path)))
    for name, path in bundled_models().items():
        out.append(ModelChoice(f"bundled:{name}", f"{name} (bundled, offline)", str(path), "bundled",
                                   _folder_context(path)))
    for name, m in OFFICIAL_MODELS.items():
        where = "cached" if _official_cached(m.repo_id, m.revision) else "download"
        size = f"{m.params / 1e6:.0f}M params" if m.params else ""
        out.append(ModelChoice(f"official:{name}", f"Kronos-{name} (Hugging Face, {size}, {where})", name, "official",
                               m.context))
    return out


def progress_tqdm(placeholder, label: str):
    """A tqdm class that draws huggingface_hub's download progress into a Streamlit placeholder
    (its byte counters are updated from download threads, so they get this script run's context)."""
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx
    from tqdm import tqdm

    ctx = get_script_run_ctx()

    class StreamlitTqdm(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs.pop("name", None)
            kwargs.update(file=io.StringIO(), disable=False)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            out = super().update(n)
            try:
                if ctx is not None:
                    add_script_run_ctx(threading.current_thread(), ctx)
                total = self.total or 0
                if total and self.unit == "B":
                    placeholder.progress(min(1.0, self.n / total),
                                         text=f"{label}: {self.n / 1e6:.1f} of {total / 1e6:.1f} MB")
                elif total:
                    placeholder.progress(min(1.0, self.n / total), text=f"{label}: file {self.n} of {total}")
            except Exception:  # progress display must never break a download
                pass
            return out

    return StreamlitTqdm


class ModelRegistry:
    """Loaded KronosPairs by model key; one load per key per process, even with many sessions."""

    def __init__(self):
        self._pairs: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def loaded(self, key: str) -> bool:
        return key in self._pairs

    def get(self, choice: ModelChoice, tqdm_class=None):
        if choice.key in self._pairs:
            return self._pairs[choice.key]
        with self._guard:
            lock = self._locks.setdefault(choice.key, threading.Lock())
        with lock:
            if choice.key not in self._pairs:
                from kronos.hub import load_pair

                self._pairs[choice.key] = load_pair(choice.ref, tqdm_class=tqdm_class)
            return self._pairs[choice.key]


@st.cache_resource(show_spinner=False)
def registry() -> ModelRegistry:
    return ModelRegistry()


def load_model(choice: ModelChoice):
    """The model for ``choice``; official models show a download progress bar the first time.
    Raises kronos.hub.CheckpointError (offline and not cached, bad folder) with a clear message."""
    reg = registry()
    if reg.loaded(choice.key):
        return reg.get(choice)
    slot = st.empty()
    try:
        if choice.kind == "official":
            slot.progress(0.0, text=f"Loading Kronos-{choice.ref} (downloading from the Hugging Face Hub if needed)…")
            return reg.get(choice, tqdm_class=progress_tqdm(slot, f"Downloading Kronos-{choice.ref}"))
        with slot.container():
            with st.spinner(f"Loading {choice.label}…"):
                return reg.get(choice)
    finally:
        slot.empty()


def _import_model_code() -> None:
    import torch  # noqa: F401  (about 2 s on a cold start)

    import kronos.forecast  # noqa: F401
    import kronos.hub  # noqa: F401


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import torch and the model code in the background once per process, so the first page paints
    without waiting for them (the first forecast still waits if they are not in yet)."""
    thread = threading.Thread(target=_import_model_code, name="kronos-warm-up", daemon=True)
    thread.start()
    return thread


def device_label() -> str:
    thread = warm_up()
    thread.join(timeout=0.2)
    if thread.is_alive():
        return "detecting… (loading torch)"
    import torch

    from kronos.device import default_device

    dev = default_device()
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(dev)
