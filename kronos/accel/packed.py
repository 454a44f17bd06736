"""The inference matrix products: several Linear layers of a module as one product (``fused_linear``) and,
on the CPU, on weights packed once for oneDNN. The model's modules call ``fused_linear`` and ``linear``;
everything about packing stays here.

The derived weights are not state: they are rebuilt whenever a weight changes, and two threads building
them at once each store a complete, equal copy.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass

from kronos.lazy import F, nn, torch

# oneDNN's matrix product with its weights packed once (what torch.compile's CPU backend emits for frozen
# weights) instead of MKL's on the plain weights: 25-50% faster for the 30-row products of a decode step
# on the CPUs measured, and each row's result does not depend on how many rows are in the product (MKL's
# does, for a few rows). Equal to float rounding, not bit for bit: docs/speed.md. KRONOS_PACKED_LINEAR=0
# turns it off (the plain products, e.g. to compare).
PACKED_LINEAR_DTYPES = (torch.float32, torch.bfloat16)
_PACKED_LINEAR_BUILT = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
_packed_linear = _PACKED_LINEAR_BUILT and os.environ.get("KRONOS_PACKED_LINEAR", "1") != "0"


def packed_linear_enabled() -> bool:
    """Whether inference products on the CPU use oneDNN's packed weights (see above)."""
    return _packed_linear


def set_packed_linear(enabled: bool) -> bool:
    """Turn the packed products on or off for this process (a bench's or test's comparison); returns the
    previous setting. Each product's weights are rebuilt for the new setting at its next use."""
    global _packed_linear
    previous, _packed_linear = _packed_linear, bool(enabled) and _PACKED_LINEAR_BUILT
    return previous


@dataclass(frozen=True)
class Projection:
    """One or more Linear layers of a module as one matrix product: their weights and biases concatenated
    along the output axis and, on the CPU, the same weights packed for oneDNN (``packed``, None elsewhere
    or where packing failed)."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    packed: torch.Tensor | None

    def __post_init__(self):
        if self.packed is not None:
            _PROJECTIONS[self.weight.data_ptr()] = self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is None or not _packed_linear or x.dtype != self.weight.dtype:
            return F.linear(x, self.weight, self.bias)
        if torch.compiler.is_compiling():  # packed tensors cannot enter a graph: an operator finds them
            return torch.ops.kronos.packed_linear(x, self.weight, self.bias)
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")


# Projections with packed weights by their plain weight's address, for the compiled steps: torch.compile
# cannot trace oneDNN's opaque packed tensors, so a compiled graph calls ``kronos::packed_linear`` with the
# plain weight and the operator looks its packed copy up here. Weak: a rebuilt projection drops out.
_PROJECTIONS: weakref.WeakValueDictionary[int, Projection] = weakref.WeakValueDictionary()


# Defined on the dispatcher directly, with a CPU kernel and a fake one for tracing: the compiled step calls
# it ~20 times per token, and ``torch.library.custom_op``'s autograd wrapping cost ~15 us a call on top
# (operator overhead 70 ms against 28 ms now, of a ~1 s compiled mini forecast). Inference only: it has
# no autograd formula (training never packs).
_KRONOS_OPS = torch.library.Library("kronos", "DEF")
_KRONOS_OPS.define("packed_linear(Tensor x, Tensor weight, Tensor? bias) -> Tensor")


def _packed_linear_op(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    projection = _PROJECTIONS.get(weight.data_ptr())
    if projection is None or projection.weight.shape != weight.shape:  # gone since compiling: the plain product
        return F.linear(x, weight, bias)
    return torch.ops.mkldnn._linear_pointwise(x, projection.packed, bias, "none", [], "")


_KRONOS_OPS.impl("packed_linear", _packed_linear_op, "CPU")


@torch.library.register_fake("kronos::packed_linear", lib=_KRONOS_OPS)
def _(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x.new_empty(*x.shape[:-1], weight.shape[0])


def _pack(weight: torch.Tensor) -> torch.Tensor | None:
    if not (_packed_linear and weight.device.type == "cpu" and weight.dtype in PACKED_LINEAR_DTYPES):
        return None
    try:
        return torch.ops.mkldnn._reorder_linear_weight(weight.detach())
    except RuntimeError:  # a build or CPU whose oneDNN cannot pack this: the plain product
        return None


class DerivedWeights(dict):
    """A module's weights derived for inference (``fused_linear``'s products), kept as a plain attribute:
    not parameters, not in the state dict, and not copied with the module (packed oneDNN weights cannot
    be copied or pickled): a deep copy or an unpickled module starts empty and derives them again."""

    def __deepcopy__(self, memo) -> DerivedWeights:
        return DerivedWeights()

    def __reduce__(self):
        return DerivedWeights, ()


def fused_linear(module: nn.Module, names: tuple[str, ...]) -> Projection | None:
    """The Linear layers ``names`` (submodule paths) of ``module`` as one ``Projection``: one matrix product
    computes all of them; None where that is not possible.

    The separate layers stay the parameters (checkpoint names, training, adapters are unchanged); the
    concatenation (and packing) is a copy, made on first use and again whenever one of the parameters is
    replaced or modified in place (tracked by data pointer and version counter). Only without autograd,
    and only for plain ``nn.Linear`` layers, all with biases or all without (an adapter such as LoRA wraps
    them: they then run separately). A single name gives that layer's own weights, packed on the CPU.
    """
    if torch.is_grad_enabled():
        return None
    linears = [module.get_submodule(name) for name in names]
    biased = linears[0].bias is not None
    if any(type(m) is not nn.Linear or (m.bias is not None) != biased for m in linears):
        return None
    fused = module.__dict__.setdefault("_fused", DerivedWeights())
    cached = fused.get(names)
    if cached is not None and torch.compiler.is_compiling():
        # Inside torch.compile the copy made by the eager steps before it is used as it is: dynamo cannot
        # trace the data-pointer check (a graph break per layer), and guards on the weights' identity instead.
        return cached[1]
    params = [p for m in linears for p in ((m.weight, m.bias) if biased else (m.weight,))]
    key = (packed_linear_enabled(), *((p.data_ptr(), p._version) for p in params))
    if cached is None or cached[0] != key:
        if len(linears) == 1:  # a single layer: its own tensors, no copy
            weight, bias = linears[0].weight, linears[0].bias
        else:
            weight = torch.cat([m.weight for m in linears])
            bias = torch.cat([m.bias for m in linears]) if biased else None
        cached = fused[names] = (key, Projection(weight, bias, _pack(weight)))
    return cached[1]


def linear(module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    """``module``'s Linear layer ``name`` applied to x, by its ``Projection`` where there is one."""
    projection = fused_linear(module, (name,))
    return projection(x) if projection is not None else module.get_submodule(name)(x)

