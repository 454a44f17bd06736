"""Load and save Kronos checkpoints in the official layout (``config.json`` + ``model.safetensors``),
from a local folder or from the Hugging Face Hub. Loading is strict; nothing here unpickles."""
from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

from .config import (
    CONFIG_FILE,
    DEFAULT_BUNDLE_CONTEXT,
    OFFICIAL_MODELS,
    WEIGHTS_FILE,
    ConfigError,
    KronosConfig,
    TokenizerConfig,
    official_model,
    read_bundle,
    trained_context,
)
from .device import default_device, precision_name, resolve_precision
from .errors import NOT_FOUND, Fix, UserError
from .model import Kronos
from .tokenizer import KronosTokenizer


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that cannot be loaded, with what is wrong and what to do."""

    refusal = NOT_FOUND


@dataclass(frozen=True)
class Source:
    """Where one checkpoint came from (for provenance)."""

    ref: str  # what the user asked for: official name, repo id or folder
    path: Path  # local folder holding config.json + model.safetensors
    revision: str  # Hub commit hash, or "local:<sha256 prefix of the weights>"


def _is_checkpoint_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or ref.count("/") > 1 or "\\" in ref


def is_hub_id(ref: str) -> bool:
    """Whether a reference reads as a Hugging Face Hub repo id ('org/name') rather than a path."""
    return ref.count("/") == 1 and not _looks_like_path(ref)


def _weights_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path / WEIGHTS_FILE, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


HUB_PROBE_TIMEOUT_S = 3.0  # how long to wait for the Hub to answer before saying it cannot be reached
COMMIT = re.compile(r"[0-9a-f]{40}")


def _cached_snapshot(ref: str, revision: str | None, cache_dir) -> str | None:
    """A pinned revision already in the cache needs no network at all; an unpinned one does (its
    branch may have moved), so it is only looked up here when pinned."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    if revision is None or not COMMIT.fullmatch(revision):
        return None
    try:
        return snapshot_download(ref, revision=revision, cache_dir=cache_dir, local_files_only=True,
                                 allow_patterns=[CONFIG_FILE, WEIGHTS_FILE])
    except (LocalEntryNotFoundError, OSError):
        return None


def _hub_reachable(timeout: float) -> bool:
    """Whether the Hub endpoint accepts a connection within ``timeout`` seconds (name lookup included:
    it runs in a thread that is given up on, since a lookup cannot be timed out itself)."""
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    answer: list[bool] = []

    def probe():
        try:
            socket.create_connection((url.hostname, port), timeout=timeout).close()
            answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def resolve(ref: str | os.PathLike, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
            tqdm_class=None) -> Source:
    """A local checkpoint folder, or a Hub repo id downloaded through huggingface_hub's cache.

    ``HF_HUB_OFFLINE=1`` is honoured by huggingface_hub itself: cached files are used, nothing is fetched.
    ``tqdm_class`` lets a UI show download progress (any tqdm subclass).
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        if not _is_checkpoint_dir(path):
            raise CheckpointError(
                f"{path} is a folder but does not hold {CONFIG_FILE} and {WEIGHTS_FILE}; "
                "point to a folder in the official layout (as saved by save_checkpoint or the Hub).")
        return Source(str(ref), path, "local:" + _weights_digest(path))
    ref = str(ref)
    if not is_hub_id(ref):
        raise CheckpointError(
            f"'{ref}' is neither an existing folder nor a Hub repo id like 'NeoQuasar/Kronos-small'; "
            f"official names are {sorted(OFFICIAL_MODELS)}.")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    # Cache first, offline or not: a pinned revision on disk needs no network (and no version of
    # huggingface_hub then decides differently about what offline means).
    folder = _cached_snapshot(ref, revision, cache_dir)
    if folder is None and not constants.HF_HUB_OFFLINE and not _hub_reachable(HUB_PROBE_TIMEOUT_S):
        # Say so at once, instead of after huggingface_hub's retries (about 25 s offline).
        raise CheckpointError(
            f"'{ref}' is not in the local Hugging Face cache and the Hub ({constants.ENDPOINT}) cannot be "
            f"reached (no answer within {HUB_PROBE_TIMEOUT_S:.0f} s). Connect once to download it, or use a "
            "bundled model.")
    try:
        if folder is None:
            # local_files_only says "offline" in the one way every huggingface_hub version honours.
            folder = snapshot_download(ref, revision=revision, cache_dir=cache_dir,
                                       allow_patterns=[CONFIG_FILE, WEIGHTS_FILE], tqdm_class=tqdm_class,
                                       local_files_only=constants.HF_HUB_OFFLINE)
    except LocalEntryNotFoundError as e:
        raise CheckpointError(
            f"'{ref}' is not in the local Hugging Face cache and the Hub cannot be reached "
            f"(offline, or HF_HUB_OFFLINE is set). Connect once to download it, or use a bundled model. ({e})"
        ) from None
    except (RepositoryNotFoundError, GatedRepoError) as e:
        raise CheckpointError(f"Hub repo '{ref}' does not exist or is not public: check the id. ({e})") from None
    except RevisionNotFoundError as e:
        raise CheckpointError(f"revision '{revision}' of '{ref}' does not exist on the Hub. ({e})") from None
    except OSError as e:  # network errors surface as OSError subclasses (requests/httpx)
        raise CheckpointError(f"could not download '{ref}' from the Hub: {e}") from None
    folder = Path(folder)
    if not _is_checkpoint_dir(folder):
        raise CheckpointError(f"Hub repo '{ref}' has no {CONFIG_FILE} + {WEIGHTS_FILE}; it is not a Kronos checkpoint.")
    return Source(ref, folder, folder.name)


def _read_config(path: Path) -> dict:
    try:
        return json.loads((path / CONFIG_FILE).read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path / CONFIG_FILE} is not valid JSON: {e}") from None


def load_state_strict(module: nn.Module, path: Path) -> None:
    """Load model.safetensors into ``module``: every key present, no extra key, every shape right."""
    state = load_file(str(path / WEIGHTS_FILE))
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
             for k in sorted(set(state) & set(expected)) if state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        lines = []
        if missing:
            lines.append(f"missing {len(missing)} keys, e.g. {missing[:5]}")
        if unexpected:
            lines.append(f"unexpected {len(unexpected)} keys, e.g. {unexpected[:5]}")
        if wrong:
            lines.append(f"wrong shapes: {wrong[:5]}")
        raise CheckpointError(
            f"{path / WEIGHTS_FILE} does not match its config.json ({'; '.join(lines)}). "
            "Is this a tokenizer loaded as a predictor (or the reverse), or a mismatched config?")
    module.load_state_dict(state, strict=True)


class _NoRandomInit(TorchFunctionMode):
    """While a module whose every tensor is then loaded from its file is built: its random initialisation
    is skipped (0.85 s for Kronos-base on 2 cores, values the strict load overwrites). A function mode holds
    for this thread only, so a model built at the same time elsewhere is initialised as usual."""

    # The initialisers reach a function mode as themselves (before the fill they call inside), so both.
    RANDOM_FILLS = frozenset({torch.Tensor.uniform_, torch.Tensor.normal_, nn.init.uniform_, nn.init.normal_,
                              nn.init.trunc_normal_, nn.init.kaiming_uniform_, nn.init.kaiming_normal_,
                              nn.init.xavier_uniform_, nn.init.xavier_normal_, nn.init.orthogonal_})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.RANDOM_FILLS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def _load_module(ref, config_class, module_class, revision, cache_dir, device, tqdm_class):
    """Resolve ``ref``, build ``module_class`` from its config.json, load its weights strictly, in eval mode."""
    src = resolve(ref, revision, cache_dir, tqdm_class)
    try:
        config = config_class.from_dict(_read_config(src.path))
    except ConfigError as e:
        raise CheckpointError(f"{src.path}: {e}") from None
    with _NoRandomInit():
        module = module_class(config)
    load_state_strict(module, src.path)  # every key, or it refuses: nothing keeps the skipped values
    return module.to(device or default_device()).eval(), src


def load_tokenizer(ref, revision=None, cache_dir=None, device=None, tqdm_class=None) -> tuple[KronosTokenizer, Source]:
    return _load_module(ref, TokenizerConfig, KronosTokenizer, revision, cache_dir, device, tqdm_class)


def load_predictor(ref, revision=None, cache_dir=None, device=None, tqdm_class=None) -> tuple[Kronos, Source]:
    return _load_module(ref, KronosConfig, Kronos, revision, cache_dir, device, tqdm_class)


def _replace_atomically(path: Path, write) -> None:
    """``write(tmp)`` to a new file beside ``path``, then rename it onto ``path``: a crash mid-write
    leaves the previous file, never half of one. (The core imports nothing from the studio, which has
    its own helper.)"""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(module: KronosTokenizer | Kronos, folder: str | os.PathLike, config=None) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (sorted keys, as the official mixin does), each
    atomically. ``config``: for a module that does not carry ours (the official code's, in tests and
    benchmarks)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    _replace_atomically(folder / WEIGHTS_FILE, lambda tmp: save_file(state, tmp))
    text = json.dumps((config or module.config).to_dict(), indent=2, sort_keys=True)
    _replace_atomically(folder / CONFIG_FILE, lambda tmp: Path(tmp).write_text(text))
    return folder


@dataclass
class KronosPair:
    """A tokenizer and predictor ready for inference, with the context they were trained for.
    ``context_assumed``: nothing named that context (no bundle.json, no official model, none passed),
    so it is DEFAULT_BUNDLE_CONTEXT, a guess the caller should say it made."""

    tokenizer: KronosTokenizer
    predictor: Kronos
    context: int
    name: str
    predictor_source: Source | None = None
    tokenizer_source: Source | None = None
    context_assumed: bool = False

    @property
    def device(self) -> torch.device:
        return next(self.predictor.parameters()).device

    @property
    def precision(self) -> str:
        """The predictor's compute precision, 'fp32' or 'bf16' (the tokenizer is always fp32)."""
        return precision_name(self.predictor.embedding.emb_s1.weight.dtype)

    def provenance(self) -> dict:
        p, t = self.predictor_source, self.tokenizer_source
        return {
            "model": self.name,
            "predictor": p.ref if p else None, "predictor_revision": p.revision if p else None,
            "tokenizer": t.ref if t else None, "tokenizer_revision": t.revision if t else None,
            "context": self.context,
            "precision": self.precision,
        }


def load_pair(model: str | os.PathLike, tokenizer: str | os.PathLike | None = None, *, revision: str | None = None,
              tokenizer_revision: str | None = None, context: int | None = None, cache_dir=None,
              device=None, tqdm_class=None, precision: str | None = None) -> KronosPair:
    """Load a predictor and its tokenizer.

    ``model`` is an official name ('mini', 'small', 'base'), a Hub repo id, a checkpoint folder, or a
    folder holding ``tokenizer/`` and ``predictor/`` subfolders (then ``tokenizer`` may be omitted).
    ``precision``: the predictor's compute precision, 'fp32' (default, the official numerics) or 'bf16'.
    """
    device = device or default_device()
    dtype = resolve_precision(precision)
    official = official_model(model)
    path = Path(str(model)).expanduser()
    name = str(model)
    if official is not None:
        name = official.name
        model_ref, revision = official.repo_id, revision or official.revision
        if tokenizer is None:
            tokenizer, tokenizer_revision = official.tokenizer_repo_id, tokenizer_revision or official.tokenizer_revision
    elif path.is_dir() and (path / "predictor").is_dir():
        model_ref = path / "predictor"
        tokenizer = tokenizer or path / "tokenizer"
        name = read_bundle(path).get("name", path.name)
    else:
        model_ref = model
        if _looks_like_path(str(model)) and not path.exists():
            raise CheckpointError(f"model folder '{model}' does not exist; check the path, or use an official "
                                  f"name {sorted(OFFICIAL_MODELS)} or a Hub repo id.")
        if tokenizer is None:
            raise CheckpointError(
                f"'{model}' is not an official model name, so its tokenizer is unknown", {"model": str(model)},
                Fix("pass {setting} (a Hub repo id or folder), or use a folder with tokenizer/ and predictor/ "
                    "subfolders", "tokenizer"))
    known = trained_context(model)
    assumed = not context and known is None
    context = context or known or DEFAULT_BUNDLE_CONTEXT
    predictor, psrc = load_predictor(model_ref, revision, cache_dir, device, tqdm_class)
    tok, tsrc = load_tokenizer(tokenizer, tokenizer_revision, cache_dir, device, tqdm_class)
    if tok.config.s1_bits != predictor.config.s1_bits or tok.config.s2_bits != predictor.config.s2_bits:
        raise CheckpointError("tokenizer and predictor disagree on s1_bits/s2_bits: they are not a pair.")
    return KronosPair(tok, predictor.to(dtype), int(context), name, psrc, tsrc, context_assumed=assumed)
