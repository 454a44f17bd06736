"""The one place where the compute device and dtype are chosen (the CPU threads: beside it, ``kronos.threads``)."""
from __future__ import annotations

import os

from kronos.lazy import torch

from .errors import Fix, InputError
from .settings import DEFAULT_PRECISION

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}  # the names of kronos.settings.PRECISIONS


def resolve_precision(precision: str | None) -> torch.dtype:
    """The predictor dtype for a precision name ('fp32' or 'bf16'; None: fp32)."""
    precision = precision or DEFAULT_PRECISION
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


def precision_name(dtype: torch.dtype) -> str:
    return next(name for name, d in PRECISIONS.items() if d == dtype)


def default_device() -> torch.device:
    """CUDA if present, else Apple MPS, else CPU; ``KRONOS_DEVICE`` overrides (e.g. 'cpu')."""
    forced = os.environ.get("KRONOS_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """A user's device choice, checked: asking for CUDA or MPS where there is none is a clear error."""
    if device is None:
        return default_device()
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no CUDA device is available", {"device": str(device)},
                         Fix("use {setting}", "device", "cpu"))
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("MPS was requested but is not available on this machine", {"device": str(device)},
                         Fix("use {setting}", "device", "cpu"))
    return dev
