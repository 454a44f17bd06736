"""Autoregressive generation of many future token paths at once (prefill + one-token decode).

Each series' context is prefilled once; its keys/values are shared by all of that series' paths (they
are read once per step, not once per path), and every step decodes one token for all paths in one
batch. The official model sees at most ``context`` tokens: once a path is longer, its window slides and
RoPE positions restart at the window start, so cached keys no longer match. Such rows are recomputed
over the full window each step, exactly as the official loop does (cost: one full ``context``-token
pass per step instead of one token).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .layers import KVCache, PathCache, PathStep
from .model import Kronos
from .sampling import SamplingConfig, sample

Progress = Callable[[int, int], None]


@dataclass
class Prompt:
    """One series: its context token ids [N], the time stamps of context and horizon [N + horizon, 5],
    and optionally event channels for the same bars [N + horizon, C]."""

    s1: torch.Tensor
    s2: torch.Tensor
    stamps: torch.Tensor
    events: torch.Tensor | None = None


@dataclass
class BarFeatures:
    """Per-bar inputs besides the tokens, for every row and step: stamps [R, L, 5], events [R, L, C]."""

    stamps: torch.Tensor
    events: torch.Tensor | None

    def take(self, rows, cols) -> "BarFeatures":
        return BarFeatures(self.stamps[rows, cols], None if self.events is None else self.events[rows, cols])

    def gather(self, idx: torch.Tensor) -> "BarFeatures":
        """Per-row windows: idx [rows, w] of bar indices."""
        def g(x):
            return x.gather(1, idx[..., None].expand(-1, -1, x.shape[-1]))
        return BarFeatures(g(self.stamps), None if self.events is None else g(self.events))


def prefill(model: Kronos, s1, s2, bars: BarFeatures, context: int):
    """Trunk over one series' window ([1, n] ids): (h [1, w, d], per-layer caches of the w tokens).

    A context longer than the window is cut to its last ``context`` tokens (positions from 0), and
    then no cache is returned: the next token already needs a shifted window."""
    if s1.shape[1] > context:
        window = slice(s1.shape[1] - context, None)
        bars = bars.take(slice(None), window)
        return model.trunk(model.embed(s1[:, window], s2[:, window], bars.stamps, bars.events)), None
    c = model.config
    caches = [KVCache.empty(1, c.n_heads, s1.shape[1], c.d_model // c.n_heads, model.embedding.emb_s1.weight)
              for _ in range(c.n_layers)]
    return model.trunk(model.embed(s1, s2, bars.stamps, bars.events), caches), caches


def recompute_window(model: Kronos, s1, s2, bars: BarFeatures, ends: torch.Tensor, context: int):
    """Full pass over each row's last ``context`` tokens (positions restart at 0), as upstream does."""
    idx = (ends - context)[:, None] + torch.arange(context, device=ends.device)
    window = bars.gather(idx)
    return model.trunk(model.embed(s1.gather(1, idx), s2.gather(1, idx), window.stamps, window.events))


class PathState:
    """Per-layer trunk caches and the dependency-layer cache for the paths of several series."""

    def __init__(self, model: Kronos, lengths: list[int], paths: int, horizon: int, like: torch.Tensor):
        c = model.config
        series, n = len(lengths), max(lengths)
        keys = torch.arange(n, device=like.device)
        lens = torch.tensor(lengths, device=like.device)
        mask = None if min(lengths) == n else (keys[None, :] < lens[:, None])[:, None, None, :]

        def make(heads, head_dim):
            return PathCache(KVCache.empty(series, heads, n, head_dim, like), mask,
                             KVCache.empty(series * paths, heads, horizon, head_dim, like))

        self.layers = [make(c.n_heads, c.d_model // c.n_heads) for _ in range(c.n_layers)]
        self.dep = make(4, c.d_model // 4)
        self.generated = 0  # tokens stored in the per-path part
        rotaries = [block.self_attn.rotary for block in model.transformer]
        # Checkpoints store one inv_freq per layer; when they agree, cos/sin are computed once per step.
        self.shared_rotary = rotaries[0] if all(torch.equal(r.inv_freq, rotaries[0].inv_freq)
                                                for r in rotaries) else None

    def store_prefix(self, b: int, caches: list[KVCache], dep_k: torch.Tensor, dep_v: torch.Tensor) -> None:
        n = dep_k.shape[2]
        for layer, cache in zip(self.layers, caches):
            layer.prefix.k[b, :, :n], layer.prefix.v[b, :, :n] = cache.k[0], cache.v[0]
        self.dep.prefix.k[b, :, :n], self.dep.prefix.v[b, :, :n] = dep_k[0], dep_v[0]

    def decode_one_token(self, model: Kronos, s1, s2, bars: BarFeatures, positions) -> torch.Tensor:
        """Trunk state [rows, 1, d] of one new token per path ([rows, 1] ids and bar features)."""
        j = self.generated
        rope = self.shared_rotary.cos_sin(positions[:, None]) if self.shared_rotary is not None else None
        h = model.trunk(model.embed(s1, s2, bars.stamps, bars.events),
                        steps=[PathStep(c, j, positions, rope) for c in self.layers])
        k, v = model.dependency_keys_values(h)
        self.dep.gen.k[:, :, j], self.dep.gen.v[:, :, j] = k[:, :, 0], v[:, :, 0]
        self.generated += 1
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
    lengths = [len(p.s1) for p in prompts]
    R, L = len(prompts) * S, max(lengths) + P
    s1 = torch.zeros(R, L, dtype=torch.long, device=device)
    s2 = torch.zeros_like(s1)
    with_events = prompts[0].events is not None
    if any((p.events is not None) != with_events for p in prompts):
        raise ValueError("either every series in a batch has events or none has")
    bars = BarFeatures(torch.zeros(R, L, prompts[0].stamps.shape[-1], dtype=weight.dtype, device=device),
                       torch.zeros(R, L, prompts[0].events.shape[-1], dtype=weight.dtype, device=device)
                       if with_events else None)
    t = torch.tensor(lengths, device=device).repeat_interleave(S)  # tokens known per row
    h_last = weight.new_zeros(R, 1, model.config.d_model)
    cached = [n <= context for n in lengths]
    state = PathState(model, [min(n, context) for n in lengths], S, P, weight) if any(cached) else None
    window_memory: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # rows, dep k, dep v

    sliding_rows, sliding_k, sliding_v = [], [], []
    for b, p in enumerate(prompts):
        rows = slice(b * S, (b + 1) * S)
        n = len(p.s1)
        s1[rows, :n], s2[rows, :n] = p.s1, p.s2
        bars.stamps[rows, : n + P] = p.stamps[: n + P]
        if with_events:
            bars.events[rows, : n + P] = p.events[: n + P]
        h, caches = prefill(model, p.s1[None], p.s2[None], bars.take(slice(b * S, b * S + 1), slice(0, n)), context)
        h_last[rows] = h[:, -1:]
        k, v = model.dependency_keys_values(h)
        if caches is not None:
            state.store_prefix(b, caches, k, v)
        else:
            sliding_rows.append(torch.arange(b * S, (b + 1) * S, device=device))
            sliding_k.append(k.expand(S, -1, -1, -1))
            sliding_v.append(v.expand(S, -1, -1, -1))
    if sliding_rows:
        window_memory = (torch.cat(sliding_rows), torch.cat(sliding_k), torch.cat(sliding_v))
    in_cache = t <= context

    for step in range(P):
        tok1 = sample(model.s1_logits(h_last)[:, 0], sampling, generator)
        logits2 = weight.new_empty(R, model.head.proj_s2.out_features)
        if state is not None and bool(in_cache.any()):
            # Rows that already slide get a harmless, discarded value here; theirs comes next.
            logits2[:] = model.s2_logits_paths(h_last, tok1, state.dep, state.generated)[:, 0]
        if window_memory is not None:
            idx, k, v = window_memory
            logits2[idx] = model.s2_logits(h_last[idx], tok1[idx], k, v)[:, 0]
        tok2 = sample(logits2, sampling, generator)
        rows = torch.arange(R, device=device)
        s1[rows, t], s2[rows, t] = tok1[:, 0], tok2[:, 0]
        t = t + 1
        if progress is not None:
            progress(step + 1, P)
        if step == P - 1:
            break

        if state is not None:
            in_cache = t <= context
            if bool(in_cache.any()):
                pos = t - 1
                r, c = rows[:, None], pos[:, None]
                h = state.decode_one_token(model, s1[r, c], s2[r, c], bars.take(r, c), pos)
                h_last[in_cache] = h[in_cache]
        slide = (t > context).nonzero().flatten()
        window_memory = None
        if len(slide):
            h = recompute_window(model, s1[slide], s2[slide], bars.take(slide, slice(None)), t[slide], context)
            h_last[slide] = h[:, -1:]
            window_memory = (slide, *model.dependency_keys_values(h))

    return [(s1[b * S:(b + 1) * S, : n + P], s2[b * S:(b + 1) * S, : n + P]) for b, n in enumerate(lengths)]
