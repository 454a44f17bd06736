"""Autoregressive generation of many sampled future paths at once: prefill, then one token per step.

Every prompt (series) is continued by ``paths`` sampled paths; they are the rows of one batch,
row = prompt * paths + path. Each prompt's context is run through the trunk once (``prefill``) and its
keys/values are stored once, shared by all its paths (``PathKVCache``); every step then decodes one
new token for all rows together (``decode_one_token``).

The official model sees at most ``context`` tokens. Once a row holds more, its window slides and RoPE
positions restart at the window start, so the cached keys no longer apply: the window is recomputed at
every step, exactly as the official loop does. While the window still starts inside the prompt, its
prompt part is the same for every path of that prompt and, attention being causal, so are its hidden
states: ``shared_window`` runs that part once (batch 1) and only each path's generated suffix per path,
attending to it. A window made of generated tokens only is recomputed per row (``recompute_window``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kronos.lazy import torch

from .config import DEPENDENCY_HEADS
from .layers import CosSin, KVCache, PathKVCache
from .model import Kronos
from .sampling import Generators, SamplingConfig, sample

Progress = Callable[[int, int], None]
# What a step whose window slides costs beyond a cached step, per token each path runs through the trunk again, in
# cached steps: 0.65 fitted on studio-tiny, 2,000 paths, lookback 98, horizon 72, one CPU thread (bench/bench_step_work.py)
SLIDING_TOKEN_WORK = 0.65


@dataclass
class Prompt:
    """One series: its context token ids [N], the time stamps of context and horizon [N + horizon, 5],
    and optionally event channels for the same bars [N + horizon, C]."""

    s1: torch.Tensor
    s2: torch.Tensor
    stamps: torch.Tensor
    events: torch.Tensor | None = None


@dataclass
class Sequences:
    """Every row's token ids and per-bar inputs, preallocated for the whole forecast.

    s1, s2 [rows, max_len]; stamps [rows, max_len, 5]; events [rows, max_len, channels] or None, where
    max_len = longest prompt + horizon. Each row starts as a copy of its prompt; sampled tokens are
    written after it.
    """

    s1: torch.Tensor
    s2: torch.Tensor
    stamps: torch.Tensor
    events: torch.Tensor | None

    @classmethod
    def from_prompts(cls, prompts: list[Prompt], paths: int, horizon: int, like: torch.Tensor) -> Sequences:
        with_events = prompts[0].events is not None
        if any((p.events is not None) != with_events for p in prompts):
            raise ValueError("either every series in a batch has events or none has")
        rows, max_len = len(prompts) * paths, max(len(p.s1) for p in prompts) + horizon
        s1 = torch.zeros(rows, max_len, dtype=torch.long, device=like.device)
        s2 = torch.zeros_like(s1)
        stamps = like.new_zeros(rows, max_len, prompts[0].stamps.shape[-1])
        events = like.new_zeros(rows, max_len, prompts[0].events.shape[-1]) if with_events else None
        for b, p in enumerate(prompts):
            its_rows, n = slice(b * paths, (b + 1) * paths), len(p.s1)
            s1[its_rows, :n], s2[its_rows, :n] = p.s1, p.s2
            stamps[its_rows, : n + horizon] = p.stamps[: n + horizon]
            if with_events:
                events[its_rows, : n + horizon] = p.events[: n + horizon]
        return cls(s1, s2, stamps, events)

    def embed(self, model: Kronos, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """Model input for the bars at ``cols`` [k, w] of ``rows`` [k]: [k, w, d_model]."""
        r = rows[:, None]
        events = None if self.events is None else self.events[r, cols]
        return model.embed(self.s1[r, cols], self.s2[r, cols], self.stamps[r, cols], events)


@dataclass
class PathCaches:
    """The caches of one generation: one PathKVCache per trunk layer, plus one for the dependency
    layer, whose s2 query attends to the trunk states of every token in the window."""

    layers: list[PathKVCache]
    dependency: PathKVCache

    @classmethod
    def empty(cls, model: Kronos, context_lengths: list[int], paths: int, horizon: int,
              context_capacity: int | None = None) -> PathCaches:
        c, like = model.config, model.embedding.emb_s1.weight

        def cache(heads: int) -> PathKVCache:
            return PathKVCache.empty(context_lengths, paths, horizon, heads, c.d_model // heads, like,
                                     context_capacity)

        return cls([cache(c.n_heads) for _ in range(c.n_layers)], cache(DEPENDENCY_HEADS))


@dataclass
class SlidingWindow:
    """Rows whose tokens exceed the context, with the dependency keys/values of their current window,
    k, v [len(rows), heads, context, head_dim]: what their next s2 query attends to."""

    rows: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor


def rope_at(tables: list[CosSin], positions: torch.Tensor) -> list[CosSin]:
    """Each layer's cos/sin at ``positions`` [rows, 1], from ``Kronos.rotary_tables``; shared tables are
    indexed once."""
    picked: dict[int, CosSin] = {}
    for cos, sin in tables:
        if id(cos) not in picked:
            picked[id(cos)] = (cos[positions], sin[positions])
    return [picked[id(cos)] for cos, _ in tables]


def prefill(model: Kronos, x: torch.Tensor, caches: PathCaches, series: int | slice) -> torch.Tensor:
    """Trunk over whole contexts of equal length, x [k, n, d_model] at positions 0..n-1, for ``series``
    (one, or a slice of k); returns [k, n, d_model].

    Their keys/values in every layer, and their dependency keys/values, become those series' shared
    contexts in ``caches``."""
    h = model.trunk_prefill(x, [layer.context_of(series) for layer in caches.layers])
    caches.dependency.context_of(series).update(0, *model.dependency_keys_values(h))
    return h


def decode_one_token(model: Kronos, x: torch.Tensor, ropes: list[CosSin], caches: PathCaches,
                     index: int | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Trunk state [rows, 1, d_model] and s1 logits [rows, 1, V1] of one new token per row, x [rows, 1,
    d_model] with each layer's RoPE ``ropes`` (``rope_at``); the token is stored as generated token
    ``index`` of every row in ``caches``."""
    h = model.trunk_decode(x, caches.layers, index, ropes)
    logits, k, v = model.s1_logits_and_dependency(h)
    caches.dependency.update(index, k, v)
    return h, logits


def recompute_window(model: Kronos, seqs: Sequences, rows: torch.Tensor, ends: torch.Tensor,
                     context: int) -> tuple[torch.Tensor, SlidingWindow]:
    """Full pass over the last ``context`` tokens before ``ends`` [k] of ``rows`` [k], with positions
    restarting at 0 at the window start, as the official model does. Returns the trunk state of each
    row's last token [k, 1, d_model] and the window's dependency keys/values."""
    cols = (ends - context)[:, None] + torch.arange(context, device=ends.device)  # [k, context]
    h = model.trunk(seqs.embed(model, rows, cols))  # [k, context, d_model]
    return h[:, -1:], SlidingWindow(rows, *model.dependency_keys_values(h))


def shared_window(model: Kronos, seqs: Sequences, rows: torch.Tensor, end: int, prompt_length: int,
                  context: int) -> tuple[torch.Tensor, SlidingWindow]:
    """``recompute_window`` for the rows of one prompt, all holding ``end`` tokens, whose window
    [end - context, end) starts inside the prompt: the prompt part is run once, each row's generated
    suffix attends to it at the positions that follow. Same numbers, a fraction of the work."""
    device, c = rows.device, model.config
    start = end - context
    shared = model.embedding.emb_s1.weight
    prefixes = [KVCache.empty(1, c.n_heads, prompt_length - start, c.d_model // c.n_heads, shared)
                for _ in range(c.n_layers)]
    h_prompt = model.trunk_prefill(
        seqs.embed(model, rows[:1], torch.arange(start, prompt_length, device=device)[None]), prefixes)  # [1, m, d]
    suffix = torch.arange(prompt_length, end, device=device)[None]
    h_suffix = model.trunk_extend(seqs.embed(model, rows, suffix), prefixes)  # [paths, end - prompt_length, d]
    k_prompt, v_prompt = model.dependency_keys_values(h_prompt)
    k_suffix, v_suffix = model.dependency_keys_values(h_suffix)
    paths = len(rows)
    k = torch.cat([k_prompt.expand(paths, -1, -1, -1), k_suffix], dim=2)  # [paths, heads, context, head_dim]
    v = torch.cat([v_prompt.expand(paths, -1, -1, -1), v_suffix], dim=2)
    return h_suffix[:, -1:], SlidingWindow(rows, k, v)


def join_windows(windows: list[SlidingWindow]) -> SlidingWindow:
    return SlidingWindow(torch.cat([w.rows for w in windows]), torch.cat([w.k for w in windows]),
                         torch.cat([w.v for w in windows]))


class Generation:
    """The state of one generation: every row's tokens, the caches, and what the next step needs.

    ``prefill()`` runs the prompts and returns the s1 logits of the first new token; for each token,
    ``s2_logits(s1)`` gives its s2 logits once s1 is sampled, ``append(s1, s2)`` stores both, and
    ``step()`` runs the trunk over the newest token and returns the next s1 logits.

    Which prompts slide at a step is known from their lengths, so the loop never waits for the device.
    """

    def __init__(self, model: Kronos, prompts: list[Prompt], horizon: int, paths: int, context: int):
        self.model, self.paths, self.context = model, paths, context
        self.lengths = [len(p.s1) for p in prompts]
        self.seqs = Sequences.from_prompts(prompts, paths, horizon, model.embedding.emb_s1.weight)
        device = self.seqs.s1.device
        self.rows = torch.arange(len(prompts) * paths, device=device)
        self.known = torch.tensor(self.lengths, device=device).repeat_interleave(paths)  # [rows] tokens held
        self.generated = 0  # tokens appended to every row so far
        # Prompts longer than the context keep a cache slot they never read, so that rows stay series-major.
        self.caches = (PathCaches.empty(model, [min(n, context) for n in self.lengths], paths, horizon)
                       if min(self.lengths) <= context else None)
        # Rows that slide still run the batched decode step (overwritten), so positions go up to the end.
        self.rope_tables = model.rotary_tables(max(self.lengths) + horizon)
        self.h: torch.Tensor | None = None  # [rows, 1, d_model]: trunk state of each row's newest token
        self.window: SlidingWindow | None = None  # the rows whose window slides at this step

    def _cached(self) -> bool:
        """Whether some row still fits the context (its s2 attends to the caches)."""
        return self.caches is not None and any(n + self.generated <= self.context for n in self.lengths)

    @torch.no_grad()
    def prefill(self) -> torch.Tensor:
        """Run every prompt once; returns the s1 logits of each row's first new token [rows, V1]. Prompts
        of equal length go through the trunk as one batch; a prompt's paths are identical so far, so
        one row of each runs; prompts longer than the context slide from the first step."""
        model, seqs, paths, lengths = self.model, self.seqs, self.paths, self.lengths
        device = self.rows.device
        h = model.embedding.emb_s1.weight.new_zeros(len(self.rows), 1, model.config.d_model)
        windows = []
        b = 0
        while b < len(lengths):
            n = lengths[b]
            if n <= self.context:
                end = next((e for e in range(b, len(lengths)) if lengths[e] != n), len(lengths))
                firsts = torch.arange(b, end, device=device) * paths
                x = seqs.embed(model, firsts, torch.arange(n, device=device)[None])
                h[b * paths:end * paths] = prefill(model, x, self.caches, slice(b, end))[:, -1:].repeat_interleave(
                    paths, 0)
                b = end
                continue
            first = torch.tensor([b * paths], device=device)
            h[b * paths:(b + 1) * paths], w = recompute_window(model, seqs, first, torch.tensor([n], device=device),
                                                               self.context)
            windows.append(SlidingWindow(torch.arange(b * paths, (b + 1) * paths, device=device),
                                         w.k.expand(paths, -1, -1, -1), w.v.expand(paths, -1, -1, -1)))
            b += 1
        self.h, self.window = h, (join_windows(windows) if windows else None)
        return model.s1_logits(h)[:, 0].float()

    @torch.no_grad()
    def s2_logits(self, s1: torch.Tensor) -> torch.Tensor:
        """s2 logits [rows, V2] given the sampled s1 [rows, 1]: cached rows attend to the dependency cache,
        sliding rows to their recomputed window."""
        model, h, window = self.model, self.h, self.window
        if self._cached():
            # One batch over every row is cheaper than selecting the cached ones; sliding rows are overwritten below.
            logits = model.s2_logits_paths(h, s1, self.caches.dependency, self.generated)[:, 0]
        else:
            logits = h.new_empty(h.shape[0], model.head.proj_s2.out_features)
        if window is not None:
            logits[window.rows] = model.s2_logits(h[window.rows], s1[window.rows], window.k, window.v)[:, 0]
        return logits.float()  # sampling runs in float32 whatever the model's precision

    def append(self, s1: torch.Tensor, s2: torch.Tensor) -> None:
        """Store the sampled ids [rows, 1] as every row's next token."""
        self.seqs.s1[self.rows, self.known], self.seqs.s2[self.rows, self.known] = s1[:, 0], s2[:, 0]
        self.known = self.known + 1
        self.generated += 1

    @torch.no_grad()
    def step(self) -> torch.Tensor:
        """Trunk over each row's newest token: from the cache while the row fits the context, else from
        its recomputed window. Returns the s1 logits of the next token [rows, V1]."""
        model, seqs, known, index = self.model, self.seqs, self.known, self.generated - 1
        ends = [n + self.generated for n in self.lengths]
        sliding = [b for b, end in enumerate(ends) if end > self.context]
        h = logits = None
        if self.caches is not None and len(sliding) < len(self.lengths):
            x = seqs.embed(model, self.rows, (known - 1)[:, None])  # [rows, 1, d_model]
            # One batch over every row is cheaper than selecting the cached ones; sliding rows are overwritten below.
            h, logits = decode_one_token(model, x, rope_at(self.rope_tables, (known - 1)[:, None]), self.caches,
                                         index)
        self.window = None
        if sliding:
            parts = []
            for b in sliding:
                rows = torch.arange(b * self.paths, (b + 1) * self.paths, device=known.device)
                if ends[b] - self.context < self.lengths[b]:
                    parts.append(shared_window(model, seqs, rows, ends[b], self.lengths[b], self.context))
                else:  # the window holds generated tokens only: nothing is shared between paths
                    parts.append(recompute_window(model, seqs, rows, known[rows], self.context))
            h_windows = torch.cat([h_w for h_w, _ in parts])
            self.window = join_windows([w for _, w in parts])
            if h is None:
                h = h_windows.new_empty(len(known), 1, h_windows.shape[-1])
                logits = h_windows.new_empty(len(known), 1, model.head.proj_s1.out_features)
            h[self.window.rows] = h_windows
            logits[self.window.rows] = model.s1_logits(h_windows)
        self.h = h
        return logits[:, 0].float()

    def tokens(self, horizon: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per prompt, (s1, s2) [paths, N + horizon]: its context ids followed by the sampled ids."""
        s1, s2, paths = self.seqs.s1, self.seqs.s2, self.paths
        return [(s1[b * paths:(b + 1) * paths, : n + horizon], s2[b * paths:(b + 1) * paths, : n + horizon])
                for b, n in enumerate(self.lengths)]


@torch.no_grad()
def generate(model: Kronos, prompts: list[Prompt], horizon: int, paths: int, context: int,
             sampling: SamplingConfig, generator: Generators = None,
             progress: Progress | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sample ``paths`` continuations of ``horizon`` tokens for every prompt (lengths may differ).

    Returns, per prompt, (s1, s2) of shape [paths, N + horizon]: context ids followed by sampled ids.
    Rows are ordered prompt-major (row = prompt * paths + path). ``generator``: one for the batch, or
    one per prompt (each prompt's paths then do not depend on the other prompts' draws).
    """
    check_generation(prompts, horizon, paths, context, generator)
    model.eval()
    state = Generation(model, prompts, horizon, paths, context)
    logits = state.prefill()
    for step in range(horizon):
        s1 = sample(logits, sampling, generator)  # [rows, 1]
        state.append(s1, sample(state.s2_logits(s1), sampling, generator))
        if progress is not None:
            progress(step + 1, horizon)
        if step + 1 < horizon:
            logits = state.step()
    return state.tokens(horizon)


def cached_steps(lengths: list[int], horizon: int, context: int) -> int:
    """How many of the first tokens every row samples from the cache: token t is cached while each row holds at
    most ``context`` tokens (n + t); from there on some row's window slides."""
    return max(0, min(horizon, context - max(lengths) + 1))


def step_work(lengths: list[int], horizon: int, context: int) -> list[float]:
    """The expected cost of each of a generation's ``horizon`` steps (what ``progress`` counts), in cached decode
    steps: 1 while every window fits the context (``cached_steps``), then 1 + ``SLIDING_TOKEN_WORK`` per token each
    path runs through the trunk again: token t's window holds the t generated tokens (``shared_window``; the
    prompt part is run once for all paths), ``context`` of them once it holds generated tokens only. A forecast
    whose steps slide runs far longer than its first steps say (studio-tiny, lookback 98, horizon 72: 31 cached
    steps, then 41 that cost 21 to 47 cached steps each)."""
    cached = cached_steps(lengths, horizon, context)
    return [1.0 if t < cached else 1.0 + SLIDING_TOKEN_WORK * min(t, context) for t in range(horizon)]


def check_generation(prompts: list[Prompt], horizon: int, paths: int, context: int, generator: Generators) -> None:
    if isinstance(generator, (list, tuple)) and len(generator) != len(prompts):
        raise ValueError(f"got {len(generator)} generators for {len(prompts)} prompts")
    if horizon < 1 or paths < 1 or context < 1:
        raise ValueError("horizon, paths and context must all be at least 1")
