"""The speed-up wing: what makes the plain model (``kronos.layers``, ``kronos.model``, ``kronos.generate``)
run faster while computing the same numbers to float rounding, and the one switch for it.

* ``packed``: several Linear layers as one matrix product and, on the CPU, oneDNN-packed weights
  (``fused_linear``, ``linear``), with the ``kronos::packed_linear`` operator through which compiled steps
  reach them.
* ``prefix_attention``: attention after a shared prefix on the CPU, as two blocks merged exactly.
* ``static_decode``: the decode loop at fixed shapes, its CUDA-graph and compiled steps, the decoders'
  pool and the background builds a process's exit waits for.

The model never imports this package: ``AccelProducts`` (the products and the prefix attention, as the
model's ``kronos.layers.PlainProducts`` offers them) is handed to a model from outside
(``kronos.layers.hand_products``: ``kronos.pipeline`` does, for every model it runs), as the static
decoders are handed the model they run.

The switch, here: which CPU products run on packed weights (per process: ``KRONOS_PACKED_LINEAR=0`` turns
them off, ``set_packed_linear`` in a process) and how a pipeline runs its decode loop (``resolve_decode``).
"""
from __future__ import annotations

from kronos.lazy import torch

from .packed import fused_linear, linear, packed_linear_enabled, set_packed_linear
from .prefix_attention import attend_after_prefix, prefix_blocks_available

__all__ = ["COMPILE_DEVICES", "DECODE_MODES", "AccelProducts", "attend_after_prefix", "fused_linear", "linear",
           "packed_linear_enabled", "prefix_blocks_available", "resolve_decode", "set_packed_linear"]


class AccelProducts:
    """The model's inference products on fused and packed weights, and attention after a shared prefix as
    two blocks merged on the CPU: ``kronos.layers.PlainProducts``'s four functions, to float rounding."""

    fused_linear = staticmethod(fused_linear)
    linear = staticmethod(linear)
    prefix_blocks_available = staticmethod(prefix_blocks_available)
    attend_after_prefix = staticmethod(attend_after_prefix)


# How a pipeline runs its decode loop: "eager" (kronos.generate), "static" (kronos.accel.static_decode:
# fixed shapes, the same sampled paths on the CPU), "graphs" (the static steps replayed from CUDA graphs),
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
