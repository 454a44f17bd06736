"""The resume state of a training run, stored without pickle.

* ``train_state-<step>-<token>.safetensors`` — the tensors: the trainable state (``model.*``), the best
  snapshot when the run keeps one (``best.*``), the optimizer's per-parameter tensors (``optimizer.*``)
  and the RNG states as uint8 tensors (``rng.*``);
* ``train_state.json`` — everything else: kind, step, history, best and starting validation loss,
  wall time, the optimizer's param-group hyperparameters and which tensor holds which optimizer state,
  and the name and token of the tensors file.

Each file is written atomically, the tensors first and the JSON last, and older tensors files are
removed only after the JSON naming the new one is in place: a crash at any point leaves a JSON that
names a complete tensors file. A JSON whose tensors file is missing or carries another token is refused.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file, save_file

from data_sources.storage import atomic_write, atomic_write_text
from kronos.errors import Fix, UserError
from kronos.lazy import torch

STATE_FILE = "train_state.json"
LEGACY_STATE_FILE = "train_state.pt"  # the pickle format of earlier versions: refused, never loaded
FORMAT = "kronos-studio-train-state"
VERSION = 1
_GROUPS = ("model", "best", "optimizer", "rng")


class ResumeError(UserError, ValueError):
    """A run folder that cannot be resumed, with what to do."""


START_OVER = Fix("use another folder, or start over with {setting}", "resume", False)


@dataclass
class RunState:
    kind: str
    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict  # torch's optimizer.state_dict()
    rng: dict[str, torch.Tensor]
    history: list[dict]
    best_val: float | None = None
    best_step: int | None = None
    start_val: float | None = None
    wall_s: float = 0.0
    best: dict[str, torch.Tensor] | None = None
    signature: dict | None = None  # what the run trains on; a resume must match it


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True).contiguous()


def write_state(out: Path, state: RunState) -> Path:
    out = Path(out)
    token = secrets.token_hex(6)
    tensors_name = f"train_state-{state.step:08d}-{token}.safetensors"
    tensors: dict[str, torch.Tensor] = {}
    for k, v in state.model.items():
        tensors[f"model.{k}"] = _cpu(v)
    for k, v in (state.best or {}).items():
        tensors[f"best.{k}"] = _cpu(v)
    for k, v in state.rng.items():
        tensors[f"rng.{k}"] = _cpu(v)
    opt_entries: dict[str, dict] = {}
    for idx, entries in state.optimizer["state"].items():
        slot = opt_entries[str(idx)] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                key = f"optimizer.{idx}.{name}"
                tensors[key] = _cpu(value)
                slot[name] = {"tensor": key}
            else:
                slot[name] = {"value": value}
    meta = {"format": FORMAT, "version": str(VERSION), "kind": state.kind, "token": token}
    atomic_write(out / tensors_name, lambda tmp: save_file(tensors, tmp, metadata=meta))
    doc = {
        "format": FORMAT, "version": VERSION, "kind": state.kind, "tensors": tensors_name, "token": token,
        "step": state.step, "best_val": state.best_val, "best_step": state.best_step,
        "start_val": state.start_val, "wall_s": state.wall_s, "has_best": state.best is not None,
        "signature": state.signature,
        "optimizer": {"param_groups": state.optimizer["param_groups"], "state": opt_entries},
        "history": state.history,
    }
    atomic_write_text(out / STATE_FILE, json.dumps(doc, indent=1))
    for stale in out.glob("train_state-*.safetensors"):
        if stale.name != tensors_name:
            stale.unlink(missing_ok=True)
    (out / LEGACY_STATE_FILE).unlink(missing_ok=True)  # superseded by the state just written
    return out / STATE_FILE


def read_state(out: Path) -> RunState | None:
    """The saved state of the run in ``out``, or None when it holds none."""
    out = Path(out)
    path = out / STATE_FILE
    if not path.is_file():
        if (out / LEGACY_STATE_FILE).is_file():
            raise ResumeError(f"{out} holds a run saved by an earlier version ({LEGACY_STATE_FILE}, a pickle file "
                              "this version does not load)", fix=START_OVER)
        return None
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ResumeError(f"{path} is not valid JSON ({e})", fix=START_OVER) from None
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ResumeError(f"{path} is not a {FORMAT} version {VERSION} file", fix=START_OVER)
    tensors_path = out / doc["tensors"]
    if not tensors_path.is_file():
        raise ResumeError(f"{path} names {doc['tensors']}, which is missing (the state was not saved completely)",
                          fix=START_OVER)
    with safe_open(str(tensors_path), framework="pt") as f:
        token = (f.metadata() or {}).get("token")
    if token != doc["token"]:
        raise ResumeError(f"{tensors_path.name} does not belong to {path.name} (another save's tensors)",
                          fix=START_OVER)
    flat = load_file(str(tensors_path))
    groups: dict[str, dict[str, torch.Tensor]] = {g: {} for g in _GROUPS}
    for key, value in flat.items():
        group, _, name = key.partition(".")
        groups[group][name] = value
    opt_state = {}
    for idx, entries in doc["optimizer"]["state"].items():
        opt_state[int(idx)] = {name: flat[e["tensor"]] if "tensor" in e else e["value"]
                               for name, e in entries.items()}
    return RunState(
        kind=doc["kind"], step=int(doc["step"]), model=groups["model"],
        optimizer={"state": opt_state, "param_groups": doc["optimizer"]["param_groups"]},
        rng=groups["rng"], history=doc["history"], best_val=doc["best_val"], best_step=doc["best_step"],
        start_val=doc.get("start_val"), wall_s=float(doc["wall_s"]),
        best=groups["best"] if doc.get("has_best") else None, signature=doc.get("signature"))


def load_optimizer_state(opt: torch.optim.Optimizer, saved: dict) -> None:
    """``opt.load_state_dict`` with JSON's lists turned back into the tuples the live groups hold
    (AdamW's betas)."""
    groups = []
    for live, group in zip(opt.param_groups, saved["param_groups"]):
        groups.append({k: tuple(v) if isinstance(live.get(k), tuple) and isinstance(v, list) else v
                       for k, v in group.items()})
    opt.load_state_dict({"state": saved["state"], "param_groups": groups})
