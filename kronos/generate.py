"""Autoregressive generation of many future token paths at once.

The context is prefilled once per series and its KV cache shared by all of that series' paths; then
every step decodes one token for all paths in one batch. The official model sees at most ``context``
tokens: once a path is longer, its window slides and RoPE positions restart at the window start, so
cached keys no longer match. Such rows are recomputed over the full window each step, exactly as the
official loop does (cost: one full ``context``-token pass per step instead of one token).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .layers import KVCache
from .model import Kronos
from .sampling import SamplingConfig, sample

Progress = Callable[[int, int], None]


@dataclass
class Prompt:
    """One series: its context token ids [N] and the time stamps of context and horizon [N + horizon, 5]."""

    s1: torch.Tensor
    s2: torch.Tensor
    stamps: torch.Tensor


def _key_mask(lengths: torch.Tensor, size: int) -> torch.Tensor | None:
    if bool((lengths == lengths[0]).all()):
        return None
    keys = torch.arange(size, device=lengths.device)
    return (keys[None, :] < lengths[:, None])[:, None, None, :]


class _Cache:
    """Trunk and dependency caches for the rows whose window still starts at token 0."""

    def __init__(self, model: Kronos, rows: torch.Tensor, max_len: int, like: torch.Tensor):
        c = model.config
        self.rows = rows
        self.layers = model.new_caches(len(rows), max_len, like)
        self.dep = KVCache.empty(len(rows), 4, max_len, c.d_model // 4, like)

    def keep(self, keep: torch.Tensor) -> None:
        idx = keep.nonzero().flatten()
        self.rows = self.rows[idx]
        self.layers = [c.select_rows(idx) for c in self.layers]
        self.dep = self.dep.select_rows(idx)


def prefill(model: Kronos, s1, s2, stamps, context: int):
    """Run the trunk over one series' window ([1, n] ids). Returns (h [1, n, d], per-layer caches or None).

    Caches are returned only when the whole context fits in the model's window."""
    n = s1.shape[1]
    if n > context:
        s1, s2, stamps = s1[:, -context:], s2[:, -context:], stamps[:, -context:]
        return model.trunk(model.embed(s1, s2, stamps)), None
    caches = model.new_caches(1, n, model.embedding.emb_s1.weight)
    return model.trunk(model.embed(s1, s2, stamps), caches), caches


def decode_one_token(model: Kronos, cache: _Cache, s1, s2, stamps, positions):
    """Trunk state for one new token per cached row at ``positions``; caches updated in place."""
    h = model.trunk(model.embed(s1, s2, stamps), cache.layers, positions)
    k, v = model.dependency_keys_values(h)
    cache.dep.write(positions, k[:, :, 0], v[:, :, 0])
    return h


def recompute_window(model: Kronos, s1, s2, stamps, ends: torch.Tensor, context: int):
    """Full pass over each row's last ``context`` tokens (positions restart at 0), as upstream does."""
    idx = (ends - context)[:, None] + torch.arange(context, device=ends.device)
    h = model.trunk(model.embed(s1.gather(1, idx), s2.gather(1, idx),
                                stamps.gather(1, idx[..., None].expand(-1, -1, stamps.shape[-1]))))
    return h


@torch.no_grad()
def generate(model: Kronos, prompts: list[Prompt], horizon: int, paths: int, context: int,
             sampling: SamplingConfig, generator: torch.Generator | None = None,
             progress: Progress | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sample ``paths`` continuations of ``horizon`` tokens for every prompt (lengths may differ).

    Returns, per prompt, (s1, s2) of shape [paths, N + horizon]: context ids followed by sampled ids.
    Rows are ordered prompt-major (row = prompt * paths + path).
    """
    if horizon < 1 or paths < 1 or context < 1:
        raise ValueError("horizon, paths and context must all be at least 1")
    model.eval()
    weight = model.embedding.emb_s1.weight
    device = weight.device
    S, P = paths, horizon
    lengths = torch.tensor([len(p.s1) for p in prompts], device=device)
    R, L = len(prompts) * S, int(lengths.max()) + P
    s1 = torch.zeros(R, L, dtype=torch.long, device=device)
    s2 = torch.zeros_like(s1)
    stamps = torch.zeros(R, L, prompts[0].stamps.shape[-1], dtype=weight.dtype, device=device)
    t = lengths.repeat_interleave(S)
    h_last = weight.new_zeros(R, 1, model.config.d_model)
    sliding: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (rows, k, v) per prefill group

    cache = _Cache(model, (t <= context).nonzero().flatten(), min(L, context), weight)
    cache_pos = {int(r): i for i, r in enumerate(cache.rows)}
    for b, p in enumerate(prompts):
        rows = slice(b * S, (b + 1) * S)
        n = len(p.s1)
        s1[rows, :n], s2[rows, :n] = p.s1, p.s2
        stamps[rows, : n + P] = p.stamps[: n + P]
        h, caches = prefill(model, p.s1[None], p.s2[None], stamps[b * S: b * S + 1, :n], context)
        h_last[rows] = h[:, -1:]
        k, v = model.dependency_keys_values(h)
        if caches is None:
            sliding.append((torch.arange(b * S, (b + 1) * S, device=device), k.expand(S, -1, -1, -1),
                            v.expand(S, -1, -1, -1)))
            continue
        ci = torch.tensor([cache_pos[r] for r in range(b * S, (b + 1) * S)], device=device)
        for big, small in zip(cache.layers, caches):
            big.k[ci, :, :n], big.v[ci, :, :n] = small.k, small.v
        cache.dep.k[ci, :, :n], cache.dep.v[ci, :, :n] = k, v

    for step in range(P):
        tok1 = sample(model.s1_logits(h_last)[:, 0], sampling, generator)
        logits2 = weight.new_empty(R, model.head.proj_s2.out_features)
        if len(cache.rows):
            rows = cache.rows
            lens = t[rows]
            size = int(lens.max())
            logits2[rows] = model.s2_logits(h_last[rows], tok1[rows], cache.dep.k[:, :, :size],
                                            cache.dep.v[:, :, :size], _key_mask(lens, size))[:, 0]
        for idx, k, v in sliding:
            logits2[idx] = model.s2_logits(h_last[idx], tok1[idx], k, v)[:, 0]
        tok2 = sample(logits2, sampling, generator)
        all_rows = torch.arange(R, device=device)
        s1[all_rows, t], s2[all_rows, t] = tok1[:, 0], tok2[:, 0]
        t = t + 1
        if progress is not None:
            progress(step + 1, P)
        if step == P - 1:
            break

        # Rows whose history now exceeds the window leave the cache for good.
        if len(cache.rows):
            still = t[cache.rows] <= context
            if not bool(still.all()):
                cache.keep(still)
        if len(cache.rows):
            rows = cache.rows
            pos = t[rows] - 1
            h_last[rows] = decode_one_token(model, cache, s1[rows, pos][:, None], s2[rows, pos][:, None],
                                            stamps[rows, pos][:, None], pos)
        slide = (t > context).nonzero().flatten()
        sliding = []
        if len(slide):
            h = recompute_window(model, s1[slide], s2[slide], stamps[slide], t[slide], context)
            h_last[slide] = h[:, -1:]
            sliding.append((slide, *model.dependency_keys_values(h)))

    out = []
    for b, p in enumerate(prompts):
        n = len(p.s1) + P
        out.append((s1[b * S:(b + 1) * S, :n], s2[b * S:(b + 1) * S, :n]))
    return out
