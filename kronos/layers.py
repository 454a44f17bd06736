"""Building blocks shared by the tokenizer and the predictor: RMSNorm, RoPE, attention, SwiGLU, block.

Nothing here keeps state between calls: rotary angles are computed from the positions passed in, and
key/value caches are objects owned by the caller, so one model instance can serve many threads. Linear
layers whose products can run faster (several as one, on packed weights) go through their module's
``products`` (``fused_linear``, ``linear``), and attention after a shared prefix through the same object's
block merge where it applies. A module computes them plainly (``PlainProducts``) until a faster
implementation is handed to it from outside (``hand_products``: ``kronos.pipeline`` hands in
``kronos.accel``'s, which keeps only derived weights, never state); the model never imports it.
"""
from __future__ import annotations

from dataclasses import dataclass

from kronos.lazy import F, nn, torch

from .config import RMS_NORM_EPS, ROPE_BASE


class PlainProducts:
    """The inference products as the model defines them: each Linear layer its own product, and attention
    after a shared prefix as one masked attention. A faster implementation offers the same four functions,
    computing the same numbers to float rounding (``kronos.accel.AccelProducts``)."""

    @staticmethod
    def fused_linear(module: nn.Module, names: tuple[str, ...]):
        """The Linear layers ``names`` of ``module`` as one product, or None: each runs on its own."""
        return None

    @staticmethod
    def linear(module: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
        return module.get_submodule(name)(x)

    @staticmethod
    def prefix_blocks_available(q: torch.Tensor) -> bool:
        """Whether ``attend_after_prefix`` computes queries q; never here: the masked attention runs."""
        return False

    @staticmethod
    def attend_after_prefix(q, k, v, prefix_k, prefix_v) -> torch.Tensor:
        raise NotImplementedError("the plain model attends after a prefix with the masked attention")


class ComputesProducts:
    """A module whose Linear products and prefix attention go through ``self.products`` (plain until
    ``hand_products`` hands it another implementation)."""

    products = PlainProducts


def hand_products(model: nn.Module, products) -> None:
    """Every module of ``model`` computes its products with ``products`` (a class like ``PlainProducts``)
    from now on: how the runner outside the model (``kronos.pipeline``) gives it a faster implementation."""
    for module in model.modules():
        if isinstance(module, ComputesProducts):
            module.products = products


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


class SelfAttention(ComputesProducts, nn.Module):
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
        fused = self.products.fused_linear(self, ("q_proj", "k_proj", "v_proj"))
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
        return self.resid_dropout(self.products.linear(self, "out_proj", merge_heads(heads)))

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
        prefix_k, prefix_v = rows_of(prefix.k, batch), rows_of(prefix.v, batch)
        if m > 0 and self._dropout == 0.0 and self.products.prefix_blocks_available(q):
            return self._out(self.products.attend_after_prefix(q, k, v, prefix_k, prefix_v))
        k, v = torch.cat([prefix_k, k], dim=2), torch.cat([prefix_v, v], dim=2)
        keys = torch.arange(m + n, device=x.device)
        mask = keys[None, :] <= (m + torch.arange(n, device=x.device))[:, None]
        return self._out(F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self._dropout))


class SwiGLU(ComputesProducts, nn.Module):
    def __init__(self, d_model: int, ff_dim: int, dropout_p: float = 0.0):
        super().__init__()
        self.w1 = nn.Linear(d_model, ff_dim, bias=False)
        self.w3 = nn.Linear(d_model, ff_dim, bias=False)
        self.w2 = nn.Linear(ff_dim, d_model, bias=False)
        self.ffn_dropout = nn.Dropout(dropout_p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = self.products.fused_linear(self, ("w1", "w3"))  # w1 and w3 read the same input: one product
        if fused is None:
            gate, up = self.w1(x), self.w3(x)
        else:
            gate, up = fused(x).chunk(2, dim=-1)
        return self.ffn_dropout(self.products.linear(self, "w2", F.silu(gate) * up))


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
