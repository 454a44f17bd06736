"""The one place where the compute device and dtype are chosen."""
from __future__ import annotations

import os

import torch

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


# How a pipeline runs its decode loop: "eager" (kronos.generate), "static" (kronos.static_decode: fixed
# shapes, the same sampled paths on the CPU), "graphs" (the static steps replayed from CUDA graphs),
# "compiled" (the static steps compiled by torch.compile, on a background thread: until a shape's compiled
# steps are ready its forecasts run the eager steps, so nobody waits for the compiler).
DECODE_MODES = ("eager", "static", "graphs", "compiled")
COMPILE_DEVICES = ("cpu", "cuda")  # where torch.compile's inductor builds the decode step


def resolve_decode(decode: str | None, device: torch.device) -> str:
    """A pipeline's decode mode, the one place it is chosen. Default: eager on every device. "compiled"
    pays only in a process that makes many forecasts of one shape (the app, ``kronos serve``, batch
    jobs): compiling costs seconds to a minute, then saves 15-30% of a CPU forecast (docs/speed.md: mini
    1.36x, small 1.21x over the packed eager steps, since its steps read only the slots written so far).
    On CUDA the intended default is "graphs", once its test has passed on a GPU and the bench has shown
    the gain."""
    decode = decode or "eager"
    if decode not in DECODE_MODES:
        raise ValueError(f"decode must be one of {DECODE_MODES}, got {decode!r}")
    kind = torch.device(device).type
    if decode == "graphs" and kind != "cuda":
        raise ValueError(f"decode='graphs' (CUDA graphs) needs a CUDA device, not {device}; use 'static' or 'eager'")
    if decode == "compiled" and kind not in COMPILE_DEVICES:
        raise ValueError(f"decode='compiled' (torch.compile) runs on {' or '.join(COMPILE_DEVICES)}, not {device}; "
                         "use 'eager'")
    return decode
