"""Building blocks shared by the tokenizer and the predictor: RMSNorm, RoPE, attention, SwiGLU, block.

Nothing here keeps state between calls: rotary angles are computed from the positions passed in, and
key/value caches are objects owned by the caller, so one model instance can serve many threads. The one
exception is derived, not state: ``fused_linear``'s concatenated (and packed) weights, rebuilt whenever a
weight changes; two threads building it at once each store a complete, equal copy.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import RMS_NORM_EPS, ROPE_BASE


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = RMS_NORM_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32:  # one fused operator; in float32 the cast-back below is a no-op
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        xf = x.float()
        normed = xf * torch.rsqrt(torch.mean(xf * xf, dim=-1, keepdim=True) + self.eps)
        # The official order: cast back first, then scale by the weight.
        return normed.type_as(x) * self.weight


class Rotary(nn.Module):
    """Rotate-half RoPE. ``inv_freq`` is a stored buffer: loaded values are used as they are."""

    def __init__(self, head_dim: int):
        super().__init__()
        inv_freq = 1.0 / (ROPE_BASE ** (torch.arange(0, head_dim, 2).float() / head_dim))
        self.register_buffer("inv_freq", inv_freq)

    def cos_sin(self, positions: torch.Tensor, dtype: torch.dtype | None = None) -> CosSin:
        """cos and signed sin for integer positions [n] or [batch, n], shaped [..., n, 1, 1, head_dim] to
        broadcast over the (q/k, heads) axes of [batch, n, 2, heads, head_dim]; see ``rotate``."""
        angles = positions.to(self.inv_freq.dtype).unsqueeze(-1) * self.inv_freq
        cos, sin = angles.cos(), angles.sin()
        cos, signed_sin = torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)
        if dtype is not None:
            cos, signed_sin = cos.to(dtype), signed_sin.to(dtype)
        return cos[..., None, None, :], signed_sin[..., None, None, :]


def rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, x1]. Rolling x by half a head gives [x2, x1];
    the minus sign lives in ``signed_sin``, so this is bit for bit the official product, in 4 operators."""
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


CosSin = tuple[torch.Tensor, torch.Tensor]


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


@dataclass
class KVCache:
    """Preallocated keys/values of one attention layer: k, v [batch, heads, max_len, head_dim]."""

    k: torch.Tensor
    v: torch.Tensor

    @classmethod
    def empty(cls, batch: int, heads: int, max_len: int, head_dim: int, like: torch.Tensor) -> KVCache:
        shape = (batch, heads, max_len, head_dim)
        return cls(like.new_zeros(shape), like.new_zeros(shape))

    def update(self, start: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store k, v [batch, heads, n, head_dim] in slots start..start+n-1."""
        end = start + k.shape[2]
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v


@dataclass
class PathKVCache:
    """Keys/values of one attention layer while many sampled paths continue a few contexts.

    Rows are series-major: row = series * paths + path. Each series' context is stored once, in
    ``context`` [series, heads, max_context, head_dim], and read by all of its paths; ``generated``
    [rows, heads, horizon, head_dim] holds what each path generated. Storing the context per path would
    multiply both its memory and the keys read per step by the number of paths.
    """

    context: KVCache
    context_mask: torch.Tensor | None  # [series, 1, 1, max_context]: False on a shorter context's padding
    generated: KVCache
    # Generated slots attention reads with a tensor length (the static steps): all of them when None, else
    # the first ``reach`` (at least the length; a compiled step's symbolic size), so a step does not read
    # the slots it has not written yet.
    reach: int | torch.SymInt | None = None

    @classmethod
    def empty(cls, context_lengths: list[int], paths: int, horizon: int, heads: int, head_dim: int,
              like: torch.Tensor, context_capacity: int | None = None) -> PathKVCache:
        """``context_capacity``: context slots per series (default: the longest context); slots past a
        series' length are masked."""
        series, max_context = len(context_lengths), context_capacity or max(context_lengths)
        mask = None
        if min(context_lengths) < max_context:
            slots = torch.arange(max_context, device=like.device)
            lengths = torch.tensor(context_lengths, device=like.device)
            mask = (slots[None, :] < lengths[:, None])[:, None, None, :]
        return cls(KVCache.empty(series, heads, max_context, head_dim, like), mask,
                   KVCache.empty(series * paths, heads, horizon, head_dim, like))

    def context_of(self, series: int | slice) -> KVCache:
        """The context slots of one series (or a slice of them) as a KVCache; it is a view, so prefill
        writes land here."""
        if isinstance(series, int):
            series = slice(series, series + 1)
        return KVCache(self.context.k[series], self.context.v[series])

    def update(self, index: int | torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """Store one new token per row, k, v [rows, heads, 1, head_dim], as generated token ``index``: a
        Python int, or a one-element long tensor on the cache's device (the static decode step's, whose
        kernels must not depend on a host value)."""
        if isinstance(index, int):
            self.generated.update(index, k, v)
        else:
            self.generated.k.index_copy_(2, index.view(1), k)
            self.generated.v.index_copy_(2, index.view(1), v)


def attend_paths(q: torch.Tensor, cache: PathKVCache, length: int | torch.Tensor) -> torch.Tensor:
    """Softmax attention of one query per row, q [rows, heads, 1, head_dim], over its series' context
    and its own first ``length`` generated keys; returns [rows, heads, 1, head_dim].

    A series' context keys are multiplied with the queries of all its paths at once. Both blocks of
    scores go through one softmax, so this equals attention over the concatenated keys.

    ``length`` as a (one-element, long) tensor: every generated slot is read and those at or past
    ``length`` are masked, so the shapes are the same at every step (the static decode step). Their
    weights are 0, so their values must be finite (0 x inf is NaN): caches start zeroed.
    """
    rows, heads, _, head_dim = q.shape
    series, max_context = cache.context.k.shape[0], cache.context.k.shape[2]
    paths = rows // series
    q = q * head_dim ** -0.5  # scaled once, not both blocks of scores
    q_by_series = q.reshape(series, paths, heads, head_dim).transpose(1, 2)  # [series, heads, paths, head_dim]
    context_scores = q_by_series @ cache.context.k.transpose(-1, -2)  # [series, heads, paths, max_context]
    if cache.context_mask is not None:
        context_scores = context_scores.masked_fill(~cache.context_mask, float("-inf"))
    if isinstance(length, int):
        own_k = cache.generated.k[:, :, :length]  # [rows, heads, length, head_dim]
        own_v = cache.generated.v[:, :, :length]
        unwritten = None
    else:
        own_k, own_v = cache.generated.k, cache.generated.v
        if cache.reach is not None:
            own_k, own_v = own_k[:, :, :cache.reach], own_v[:, :, :cache.reach]
        unwritten = torch.arange(own_k.shape[2], device=q.device) >= length.view(1)
    own_scores = (q @ own_k.transpose(-1, -2)).view(series, paths, heads, own_k.shape[2]).transpose(1, 2)
    if unwritten is not None:
        own_scores = own_scores.masked_fill(unwritten, float("-inf"))
    weights = torch.softmax(torch.cat([context_scores, own_scores], dim=-1), dim=-1)
    out = (weights[..., :max_context] @ cache.context.v).transpose(1, 2).reshape(rows, heads, 1, head_dim)
    own_weights = weights[..., max_context:].transpose(1, 2).reshape(rows, heads, 1, own_k.shape[2])
    return out + own_weights @ own_v


# The CPU's flash attention kernel also returns each query's log-sum-exp of scores, which lets attention
# over [shared prefix, own tokens] run as two attentions merged exactly (below) instead of one over every
# row's copy of the prefix behind a mask (docs/speed.md: the tokenizer's decode of 30 paths).
_CPU_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def prefix_blocks_available(q: torch.Tensor) -> bool:
    """Whether ``attend_after_prefix`` can run for queries q: the CPU, no autograd, float32/bfloat16."""
    return (_CPU_FLASH is not None and q.device.type == "cpu" and not torch.is_grad_enabled()
            and q.dtype in (torch.float32, torch.bfloat16))


def attend_after_prefix(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, prefix: KVCache) -> torch.Tensor:
    """Softmax attention of q [batch, heads, n, head_dim] over the keys of its prefix (``prefix``, batch P,
    each shared by a block of batch / P consecutive rows; with P = 1 read by every row, not copied)
    followed by its own keys k, v [batch, heads, n, head_dim], causally among its own: what SDPA over the
    concatenated keys with the prefix-continuation mask computes. The two blocks are attended separately
    and merged by their log-sum-exps (softmax over the union = each block's softmax weighted by its share
    of the total mass); equal to float rounding. Every row is computed alike, as its own batch entry, so
    its result does not depend on the other rows (greedy paths stay identical)."""
    batch = q.shape[0]
    out_prefix, lse_prefix = _CPU_FLASH(q, rows_of(prefix.k, batch), rows_of(prefix.v, batch))
    out_own, lse_own = _CPU_FLASH(q, k, v, is_causal=True)
    # Each block's share of the mass, softmax of the two log-sum-exps: a softmax over a last axis of 2
    # computes every (row, head, query) alike, where an elementwise exp would take another code path
    # for the elements at the end of the tensor (and so give another last bit to some rows).
    shares = torch.softmax(torch.stack([lse_prefix, lse_own], dim=-1), dim=-1)
    return (out_prefix * shares[..., :1] + out_own * shares[..., 1:]).to(q.dtype)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[batch, n, d_model] -> [batch, heads, n, head_dim]."""
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """[batch, heads, n, head_dim] -> [batch, n, d_model]."""
    b, h, n, hd = x.shape
    return x.transpose(1, 2).contiguous().view(b, n, h * hd)


def rows_of(prefix: torch.Tensor, batch: int) -> torch.Tensor:
    """A prefix [P, ...] for ``batch`` rows, each prefix shared by a block of batch / P consecutive rows."""
    shared = prefix.shape[0]
    if shared == 1:
        return prefix.expand(batch, *prefix.shape[1:])
    return prefix[:, None].expand(shared, batch // shared, *prefix.shape[1:]).reshape(batch, *prefix.shape[1:])


class SelfAttention(nn.Module):
    """Causal multi-head self-attention with RoPE: one method per mode.

    * ``forward(x)``: whole sequences at positions 0..n-1 (training, window recomputation).
    * ``prefill(x, cache)``: the same, storing the keys/values in slots 0..n-1 of a KVCache.
    * ``decode(x, cache, index, rope)``: one new token per path, stored as generated token ``index``.
    * ``extend(x, prefix)``: x continues the tokens held in a KVCache, at the positions that follow.
    """

    def __init__(self, d_model: int, n_heads: int, attn_dropout_p: float = 0.0, resid_dropout_p: float = 0.0):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.rotary = Rotary(d_model // n_heads)
        self.attn_dropout_p = attn_dropout_p
        self.resid_dropout = nn.Dropout(resid_dropout_p)

    def _heads(self, x: torch.Tensor, rope: CosSin) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rotated q, k and v, each [batch, heads, n, head_dim]: one matrix product for the three
        projections and one rotation for q and k together when the weights can be fused."""
        b, n, d = x.shape
        fused = fused_linear(self, ("q_proj", "k_proj", "v_proj"))
        if fused is not None:
            qkv = fused(x).view(b, n, 3, self.n_heads, d // self.n_heads)
            qk, v = qkv[:, :, :2], qkv[:, :, 2]
        else:
            qk = torch.stack([self.q_proj(x), self.k_proj(x)], dim=2).view(b, n, 2, self.n_heads, -1)
            v = self.v_proj(x).view(b, n, self.n_heads, -1)
        qk = rotate(qk, *rope)
        return qk[:, :, 0].transpose(1, 2), qk[:, :, 1].transpose(1, 2), v.transpose(1, 2)

    def _rope(self, start: int, n: int, x: torch.Tensor) -> CosSin:
        return self.rotary.cos_sin(torch.arange(start, start + n, device=x.device), x.dtype)

    def _out(self, heads: torch.Tensor) -> torch.Tensor:
        return self.resid_dropout(linear(self, "out_proj", merge_heads(heads)))

    @property
    def _dropout(self) -> float:
        return self.attn_dropout_p if self.training else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [batch, n, d_model] at positions 0..n-1 -> [batch, n, d_model]."""
        q, k, v = self._heads(x, self._rope(0, x.shape[1], x))
        return self._out(F.scaled_dot_product_attention(q, k, v, dropout_p=self._dropout, is_causal=True))

    def prefill(self, x: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """``forward``, storing the keys/values in slots 0..n-1 of ``cache``."""
        q, k, v = self._heads(x, self._rope(0, x.shape[1], x))
        cache.update(0, k, v)
        return self._out(F.scaled_dot_product_attention(q, k, v, dropout_p=self._dropout, is_causal=True))

    def decode(self, x: torch.Tensor, cache: PathKVCache, index: int | torch.Tensor, rope: CosSin) -> torch.Tensor:
        """One new token per row, x [rows, 1, d_model] with RoPE ``rope`` (its cos/sin), stored as
        generated token ``index`` of each row of ``cache``; it attends to its series' context and to its
        own generated tokens 0..index. ``index`` may be a tensor (see ``attend_paths``)."""
        q, k, v = self._heads(x, rope)
        cache.update(index, k, v)
        return self._out(attend_paths(q, cache, index + 1))

    def extend(self, x: torch.Tensor, prefix: KVCache) -> torch.Tensor:
        """x [batch, n, d_model] continues the m tokens held in ``prefix`` at positions m..m+n-1,
        causally; a prefix of batch P is shared by consecutive blocks of batch / P rows."""
        m, n, batch = prefix.k.shape[2], x.shape[1], x.shape[0]
        q, k, v = self._heads(x, self._rope(m, n, x))
        if m > 0 and self._dropout == 0.0 and prefix_blocks_available(q):
            return self._out(attend_after_prefix(q, k, v, prefix))
        k = torch.cat([rows_of(prefix.k, batch), k], dim=2)
        v = torch.cat([rows_of(prefix.v, batch), v], dim=2)
        keys = torch.arange(m + n, device=x.device)
        mask = keys[None, :] <= (m + torch.arange(n, device=x.device))[:, None]
        return self._out(F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self._dropout))


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, ff_dim: int, dropout_p: float = 0.0):
        super().__init__()
        self.w1 = nn.Linear(d_model, ff_dim, bias=False)
        self.w3 = nn.Linear(d_model, ff_dim, bias=False)
        self.w2 = nn.Linear(ff_dim, d_model, bias=False)
        self.ffn_dropout = nn.Dropout(dropout_p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = fused_linear(self, ("w1", "w3"))  # w1 and w3 read the same input: one product
        if fused is None:
            gate, up = self.w1(x), self.w3(x)
        else:
            gate, up = fused(x).chunk(2, dim=-1)
        return self.ffn_dropout(linear(self, "w2", F.silu(gate) * up))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then + ffn(norm(.))."""

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, ffn_dropout_p: float = 0.0,
                 attn_dropout_p: float = 0.0, resid_dropout_p: float = 0.0):
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.self_attn = SelfAttention(d_model, n_heads, attn_dropout_p, resid_dropout_p)
        self.norm2 = RMSNorm(d_model)
        self.ffn = SwiGLU(d_model, ff_dim, ffn_dropout_p)

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(self.norm2(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._ffn(x + self.self_attn(self.norm1(x)))

    def prefill(self, x: torch.Tensor, cache: KVCache) -> torch.Tensor:
        return self._ffn(x + self.self_attn.prefill(self.norm1(x), cache))

    def decode(self, x: torch.Tensor, cache: PathKVCache, index: int | torch.Tensor,
               rope: CosSin) -> torch.Tensor:
        return self._ffn(x + self.self_attn.decode(self.norm1(x), cache, index, rope))

    def extend(self, x: torch.Tensor, prefix: KVCache) -> torch.Tensor:
        return self._ffn(x + self.self_attn.extend(self.norm1(x), prefix))
