"""Building blocks shared by the tokenizer and the predictor: RMSNorm, RoPE, attention, SwiGLU, block.

Nothing here keeps state between calls: rotary angles are computed from the positions passed in, and
key/value caches are objects owned by the caller, so one model instance can serve many threads.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import NORM_EPS, ROPE_BASE


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = NORM_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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

    def cos_sin(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin for integer positions of shape [n] or [batch, n], ready to broadcast over heads."""
        angles = positions.to(self.inv_freq.dtype).unsqueeze(-1) * self.inv_freq
        emb = torch.cat((angles, angles), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        if positions.dim() == 1:
            return cos[None, None], sin[None, None]
        return cos[:, None], sin[:, None]


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return (x * cos) + (torch.cat((-x2, x1), dim=-1) * sin)


@dataclass
class KVCache:
    """Preallocated keys/values of one attention layer: [rows, heads, max_len, head_dim]."""

    k: torch.Tensor
    v: torch.Tensor

    @classmethod
    def empty(cls, rows: int, heads: int, max_len: int, head_dim: int, like: torch.Tensor) -> "KVCache":
        shape = (rows, heads, max_len, head_dim)
        return cls(like.new_zeros(shape), like.new_zeros(shape))


@dataclass
class PathCache:
    """Keys/values for many sampled paths continuing shared contexts, for one attention layer.

    ``prefix`` [series, heads, N, hd] holds each series' context once (shorter contexts are padded and
    hidden by ``prefix_mask`` [series, 1, 1, N]); ``gen`` [rows, heads, horizon, hd] holds what each
    path generated. Rows are series-major: row = series * paths + path. Attention then reads each
    context once per step instead of once per path.
    """

    prefix: KVCache
    prefix_mask: torch.Tensor | None
    gen: KVCache


def attend_paths(q: torch.Tensor, cache: PathCache, length: int) -> torch.Tensor:
    """Softmax attention of one query per row [rows, heads, 1, hd] over its series' context and its
    own first ``length`` generated keys; returns [rows, heads, 1, hd]."""
    rows, heads, _, hd = q.shape
    series, n = cache.prefix.k.shape[0], cache.prefix.k.shape[2]
    paths = rows // series
    scale = hd ** -0.5
    qs = q.view(series, paths, heads, hd).transpose(1, 2)  # [series, heads, paths, hd]
    scores_prefix = (qs @ cache.prefix.k.transpose(-1, -2)) * scale
    if cache.prefix_mask is not None:
        scores_prefix = scores_prefix.masked_fill(~cache.prefix_mask, float("-inf"))
    gk, gv = cache.gen.k[:, :, :length], cache.gen.v[:, :, :length]
    scores_gen = ((q @ gk.transpose(-1, -2)) * scale).view(series, paths, heads, length).transpose(1, 2)
    weights = torch.softmax(torch.cat([scores_prefix, scores_gen], dim=-1), dim=-1)
    out = (weights[..., :n] @ cache.prefix.v).transpose(1, 2).reshape(rows, heads, 1, hd)
    w_gen = weights[..., n:].transpose(1, 2).reshape(rows, heads, 1, length)
    return out + w_gen @ gv


@dataclass
class PathStep:
    """One new token per path, at generated index ``index`` (absolute positions per row)."""

    cache: PathCache
    index: int
    positions: torch.Tensor
    rope: tuple[torch.Tensor, torch.Tensor] | None = None  # cos/sin, when every layer's inv_freq is equal


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, n, hd = x.shape
    return x.transpose(1, 2).contiguous().view(b, n, h * hd)


class SelfAttention(nn.Module):
    """Causal multi-head self-attention with RoPE, and the cache modes used for fast generation."""

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

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, step: PathStep | None = None,
                prefix: KVCache | None = None):
        """Modes (at most one of ``step`` / ``prefix``):

        * default: a whole sequence at positions 0..n-1 (training, prefill, window recomputation);
          if ``cache`` is given, the sequence's keys/values are stored in its first n slots.
        * ``step``: one new token per path (x is [rows, 1, d]), see ``PathStep`` / ``attend_paths``.
        * ``prefix``: keys/values of m earlier tokens shared by every row (batch 1); x continues them at
          positions m..m+n-1, causally.
        """
        q = _split_heads(self.q_proj(x), self.n_heads)
        k = _split_heads(self.k_proj(x), self.n_heads)
        v = _split_heads(self.v_proj(x), self.n_heads)
        dropout = self.attn_dropout_p if self.training else 0.0
        if step is not None:
            cos, sin = step.rope or self.rotary.cos_sin(step.positions[:, None])
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            step.cache.gen.k[:, :, step.index] = k[:, :, 0]
            step.cache.gen.v[:, :, step.index] = v[:, :, 0]
            out = attend_paths(q, step.cache, step.index + 1)
        elif prefix is not None:
            m, n, rows = prefix.k.shape[2], x.shape[1], x.shape[0]
            cos, sin = self.rotary.cos_sin(torch.arange(m, m + n, device=x.device))
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            k = torch.cat([prefix.k.expand(rows, -1, -1, -1), k], dim=2)
            v = torch.cat([prefix.v.expand(rows, -1, -1, -1), v], dim=2)
            keys = torch.arange(m + n, device=x.device)
            mask = keys[None, :] <= (m + torch.arange(n, device=x.device))[:, None]
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        else:
            n = x.shape[1]
            cos, sin = self.rotary.cos_sin(torch.arange(n, device=x.device))
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
            if cache is not None:
                cache.k[:, :, :n] = k
                cache.v[:, :, :n] = v
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True)
        return self.resid_dropout(self.out_proj(_merge_heads(out)))


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, ff_dim: int, dropout_p: float = 0.0):
        super().__init__()
        self.w1 = nn.Linear(d_model, ff_dim, bias=False)
        self.w3 = nn.Linear(d_model, ff_dim, bias=False)
        self.w2 = nn.Linear(ff_dim, d_model, bias=False)
        self.ffn_dropout = nn.Dropout(dropout_p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn_dropout(self.w2(F.silu(self.w1(x)) * self.w3(x)))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then + ffn(norm(.))."""

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, ffn_dropout_p: float = 0.0,
                 attn_dropout_p: float = 0.0, resid_dropout_p: float = 0.0):
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.self_attn = SelfAttention(d_model, n_heads, attn_dropout_p, resid_dropout_p)
        self.norm2 = RMSNorm(d_model)
        self.ffn = SwiGLU(d_model, ff_dim, ffn_dropout_p)

    def forward(self, x, cache: KVCache | None = None, step: PathStep | None = None,
                prefix: KVCache | None = None):
        x = x + self.self_attn(self.norm1(x), cache, step, prefix)
        return x + self.ffn(self.norm2(x))
