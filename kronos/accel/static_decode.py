"""Static-shape decoding: the decode loop with every tensor at one fixed shape, so that a step can be
captured once in a CUDA graph and replayed per token (on a GPU each eager step is bound by its ~1,600
kernel launches, not by arithmetic: docs/speed.md).

``StaticDecoder`` holds the loop's state in buffers allocated once, at bucketed sizes (``StaticShape``):
rows = series (rounded up to a power of two) x paths, context slots rounded up to ``CONTEXT_BUCKET``,
generated slots to ``HORIZON_BUCKET``; a ``DecoderPool`` keeps decoders between forecasts of one shape.
Its steps write into those buffers in place:

* ``sample_step(reach)``: s1 from the logits, then s2 given it, stored as generated token ``index``;
* ``trunk_step(reach)``: the trunk over that token, the next logits; ``index`` += 1;

and ``advance_step(reach)``, the two in one call (what the loop runs for every token but the last).

The token index is a device tensor; attention masks the generated slots not yet written (``attend_paths``
with a tensor length) among the first ``reach`` it reads: every slot for a CUDA graph (fixed shapes), only
those written so far for the compiled steps, where ``reach`` is a dynamic size of one graph (reading every
slot cost the compiled mini forecast ~12%: each step streams every path's keys and values from memory).
The sampler is the fixed-shape one (a full sort for top-p, no host sync), and its uniform numbers are drawn
up front (``uniform_noise``) and read per step by index.
The model math is the eager path's own (``decode_one_token``, ``Kronos.s2_logits_paths``, ``sample_with_noise``).

Steps whose window slides (past the context) fall back to the exact eager path (``Generation.step``):
the decoder hands its state back once, and the loop goes on eagerly with the same noise.

On CUDA, ``CudaGraphDecoder`` captures the two steps in graphs and replays them; elsewhere the same
steps run eagerly. Which one a pipeline uses is chosen in ``kronos.accel.resolve_decode``.

RNG: the noise is drawn before the loop from the forecast's generators, in the order the eager loop
draws it, so on the CPU (a serial Mersenne Twister) the static path samples exactly the eager path's
paths. A graph holds no RNG call at all: a captured ``torch.rand`` would need the generator registered
with the graph (only the default CUDA generator is, automatically; its Philox offset then advances per
replay), and per-series generators would each need registering. Reading pre-drawn noise is the same
code on every device. On CUDA, Philox gives one big draw other numbers than many small ones, so there
static and eager sampled paths differ for a seed (equal in distribution); graph and eager static agree.
"""
from __future__ import annotations

import dataclasses
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from kronos.lazy import torch

from ..generate import (
    Generation,
    PathCaches,
    Progress,
    Prompt,
    cached_steps,
    check_generation,
    decode_one_token,
    rope_at,
)
from ..layers import PathKVCache
from ..model import Kronos, TemporalEmbedding
from ..sampling import Generators, SamplingConfig, sample_with_noise, uniform_noise
from . import DECODE_MODES, resolve_decode

CONTEXT_BUCKET = 64  # context slots per series are rounded up to a multiple of this
HORIZON_BUCKET = 32  # generated slots per row likewise
DRAWS_PER_STEP = 2  # s1, then s2
GRAPH_WARMUP_STEPS = 2  # eager runs on a side stream before capture (lazy inits, cuBLAS workspaces)
MIN_REACH = 2  # generated slots a step reads at least: a compiled step's dynamic size is never 0 or 1 (specialised)
DECODER_POOL_SIZE = 4  # decoders a pipeline keeps between forecasts (their caches and graphs hold memory)
BUILD_THREAD_NAME = "kronos-decode-compile"  # the background builds' threads: see ``building``
# torch.compile options per device: on the CPU the compiled step calls its kernels from C++, not from a
# Python wrapper (the per-call overhead is what a CPU decode step is made of: docs/speed.md).
COMPILE_OPTIONS = {"cpu": {"cpp_wrapper": True}}


def round_up(n: int, step: int) -> int:
    return -(-n // step) * step


@dataclass(frozen=True)
class StaticShape:
    """The fixed sizes of a StaticDecoder's buffers: forecasts that round to the same shape can share
    one decoder (and its captured graphs)."""

    series: int  # series slots (the rows are series x paths, series-major)
    paths: int
    context: int  # context slots per series
    horizon: int  # generated slots per row

    @classmethod
    def bucketed(cls, series: int, paths: int, longest_context: int, horizon: int) -> StaticShape:
        return cls(1 << (series - 1).bit_length(), paths, round_up(longest_context, CONTEXT_BUCKET),
                   round_up(horizon, HORIZON_BUCKET))

    @property
    def rows(self) -> int:
        return self.series * self.paths


def static_tokens(lengths: list[int], horizon: int, context: int) -> int:
    """How many tokens the static steps can sample before some row's window slides (``cached_steps``): token t
    needs every row to hold at most ``context`` tokens (n + t), and the trunk step after it n + t + 1."""
    return cached_steps(lengths, horizon, context)


class StaticDecoder:
    """The state of a decode loop in fixed-shape buffers, and the two in-place steps that advance it.

    A decoder serves any generation that fits its shape, one at a time (``load`` ... ``unload``): the
    context lengths are a mask written at ``load``. Padding series (past the real ones) see one context
    slot and produce rows nobody reads; every buffer starts zeroed and only ever holds finite numbers, so
    masked slots and padding cannot spread NaN.
    """

    def __init__(self, model: Kronos, shape: StaticShape, sampling: SamplingConfig,
                 event_channels: int | None = None):
        like = model.embedding.emb_s1.weight
        device, c, rows = like.device, model.config, shape.rows
        self.model, self.shape, self.sampling = model, shape, sampling
        full = [shape.context] * shape.series
        self.caches = PathCaches.empty(model, full, shape.paths, shape.horizon, context_capacity=shape.context)
        # One mask for every layer, written in place at each load: [series, 1, 1, context slots].
        self.context_mask = torch.ones(shape.series, 1, 1, shape.context, dtype=torch.bool, device=device)
        for cache in self._caches():
            cache.context_mask = self.context_mask
        self.index = torch.zeros((), dtype=torch.long, device=device)  # the generated token being made
        self.h = like.new_zeros(rows, 1, c.d_model)  # trunk state of each row's newest token
        self.logits = torch.zeros(rows, model.head.proj_s1.out_features, device=device)  # s1 logits, float32
        self.s1 = torch.zeros(rows, shape.horizon, dtype=torch.long, device=device)  # generated ids
        self.s2 = torch.zeros_like(self.s1)
        self.stamps = like.new_zeros(rows, shape.horizon, len(TemporalEmbedding.SIZES))  # the generated bars' times
        self.events = None if event_channels is None else like.new_zeros(rows, shape.horizon, event_channels)
        self.first_position = torch.zeros(rows, 1, dtype=torch.long, device=device)  # RoPE position of token 0
        self.noise = torch.zeros(shape.horizon, DRAWS_PER_STEP, rows, 1, device=device)
        self.rope_tables = model.rotary_tables(shape.context + shape.horizon)
        self.spans = torch.zeros(shape.horizon, device=device)  # views of it say how many generated slots a step reads

    @property
    def device(self) -> torch.device:
        return self.index.device

    def _caches(self) -> list[PathKVCache]:
        return [*self.caches.layers, self.caches.dependency]

    def load(self, state: Generation, logits: torch.Tensor, noise: torch.Tensor | None) -> None:
        """Take over a generation right after ``state.prefill()`` (which returned ``logits``), with the
        loop's pre-drawn ``noise`` [horizon, 2, rows, 1] (None when greedy)."""
        rows, series = len(state.rows), len(state.lengths)
        horizon = state.seqs.s1.shape[1] - max(state.lengths)  # Sequences hold the longest prompt + horizon
        lengths = torch.tensor(state.lengths + [1] * (self.shape.series - series), device=self.device)
        slots = torch.arange(self.shape.context, device=self.device)
        self.context_mask.copy_((slots < lengths[:, None])[:, None, None, :])
        for static, eager in zip(self._caches(), [*state.caches.layers, state.caches.dependency]):
            n = eager.context.k.shape[2]
            static.context.k[:series, :, :n] = eager.context.k
            static.context.v[:series, :, :n] = eager.context.v
        self.h[:rows] = state.h
        self.logits[:rows] = logits
        cols = state.known[:, None] + torch.arange(horizon, device=self.device)  # each row's generated bars
        r = state.rows[:, None]
        self.stamps[:rows, :horizon] = state.seqs.stamps[r, cols]
        if self.events is not None:
            self.events[:rows, :horizon] = state.seqs.events[r, cols]
        self.first_position[:rows, 0] = state.known
        if noise is not None:
            self.noise[:horizon, :, :rows] = noise
        self.index.zero_()

    def unload(self, state: Generation, tokens: int, trunk_steps: int) -> None:
        """Hand the loop back to ``state`` after ``tokens`` sample steps and ``trunk_steps`` trunk steps:
        its token ids, its rows' generated keys/values, the newest trunk states."""
        rows = len(state.rows)
        cols = state.known[:, None] + torch.arange(tokens, device=self.device)
        r = state.rows[:, None]
        state.seqs.s1[r, cols] = self.s1[:rows, :tokens]
        state.seqs.s2[r, cols] = self.s2[:rows, :tokens]
        for static, eager in zip(self._caches(), [*state.caches.layers, state.caches.dependency]):
            eager.generated.k[:, :, :trunk_steps] = static.generated.k[:rows, :, :trunk_steps]
            eager.generated.v[:, :, :trunk_steps] = static.generated.v[:rows, :, :trunk_steps]
        state.h = self.h[:rows].clone()
        state.known = state.known + tokens
        state.generated = tokens

    def reading(self, reach: int | None) -> torch.Tensor | None:
        """The ``span`` for steps that read the first ``reach`` generated slots (None: all of them): a view
        whose length is the count, so that a compiled step takes it as a dynamic size, not a constant."""
        return None if reach is None else self.spans[:min(max(reach, MIN_REACH), self.shape.horizon)]

    def _caches_reading(self, span: torch.Tensor | None) -> PathCaches:
        if span is None:
            return self.caches
        return PathCaches([_reading(c, span) for c in self.caches.layers], _reading(self.caches.dependency, span))

    def sample_step(self, reach: int | None = None) -> None:
        """Sample generated token ``index`` of every row: s1 from the logits, then s2 given that s1. Attention
        reads the first ``reach`` generated slots (at least ``index``; None: every slot, the fixed shape)."""
        self.sample(self.reading(reach))

    def trunk_step(self, reach: int | None = None) -> None:
        """The trunk over generated token ``index`` of every row (stored in the caches as that token),
        giving the next s1 logits; then ``index`` += 1. ``reach`` as in ``sample_step`` (at least ``index`` + 1)."""
        self.trunk(self.reading(reach))

    def advance_step(self, reach: int | None = None) -> None:
        """``sample_step`` then ``trunk_step`` over the token just sampled, as one call: a compiled decoder
        runs the pair as one graph, one entry into compiled code per token instead of two (~5% of the
        compiled loop: docs/speed.md). ``reach`` as in ``trunk_step`` (at least ``index`` + 1)."""
        self.advance(self.reading(reach))

    def advance(self, span: torch.Tensor | None) -> None:
        """``advance_step`` reading ``len(span)`` generated slots: the function a compiler traces. The
        sampling reads one slot more than it needs (slot ``index``, masked: not written yet)."""
        self.sample(span)
        self.trunk(span)

    def sample(self, span: torch.Tensor | None) -> None:
        """``sample_step`` reading ``len(span)`` generated slots (None: all): the function a compiler traces."""
        model, cfg, t = self.model, self.sampling, self.index.view(1)
        u = self.noise.index_select(0, t)[0]  # [2, rows, 1]
        s1 = sample_with_noise(self.logits, cfg, u[0], probes=())
        # The s2 query attends to the context and the generated tokens 0..index-1 (the trunk has run on those).
        dependency = _reading(self.caches.dependency, span)
        s2_logits = model.s2_logits_paths(self.h, s1, dependency, self.index)[:, 0].float()
        self.s1.index_copy_(1, t, s1)
        self.s2.index_copy_(1, t, sample_with_noise(s2_logits, cfg, u[1], probes=()))

    def trunk(self, span: torch.Tensor | None) -> None:
        """``trunk_step`` reading ``len(span)`` generated slots (None: all): the function a compiler traces."""
        model, t = self.model, self.index.view(1)
        events = None if self.events is None else self.events.index_select(1, t)
        x = model.embed(self.s1.index_select(1, t), self.s2.index_select(1, t), self.stamps.index_select(1, t), events)
        ropes = rope_at(self.rope_tables, self.first_position + t)
        h, logits = decode_one_token(model, x, ropes, self._caches_reading(span), self.index)
        self.h.copy_(h)
        self.logits.copy_(logits[:, 0])  # float32, as the eager step returns them
        self.index.add_(1)


def _reading(cache: PathKVCache, span: torch.Tensor | None) -> PathKVCache:
    """``cache`` for attention that reads its first ``len(span)`` generated slots (None: all of them)."""
    return cache if span is None else dataclasses.replace(cache, reach=span.shape[0])


class CudaGraphDecoder:
    """A StaticDecoder's two steps captured in CUDA graphs and replayed per token (CUDA only).

    Build it before ``decoder.load()``: the warm-up runs real steps on whatever the buffers hold (finite
    numbers), and ``load`` then overwrites what the loop reads. Replays read and write the decoder's
    buffers, so the decoder is used as before: ``load``, steps, ``unload``."""

    def __init__(self, decoder: StaticDecoder):
        if decoder.device.type != "cuda":
            raise ValueError(f"CUDA graphs need a CUDA device, the decoder is on {decoder.device}")
        if decoder.shape.horizon < GRAPH_WARMUP_STEPS:
            raise ValueError("the decoder has fewer generated slots than the warm-up steps")
        self.decoder = decoder
        # Warm-up on a side stream, as capture requires: lazy initialisations (cuBLAS handles, the fused
        # weight copies, the s2 query table) happen here, not inside the graph.
        side = torch.cuda.Stream(device=decoder.device)
        side.wait_stream(torch.cuda.current_stream(decoder.device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_STEPS):
                decoder.sample_step()
                decoder.trunk_step()
        torch.cuda.current_stream(decoder.device).wait_stream(side)
        # thread_local: another thread's work (the app serves several) must not invalidate this capture.
        self.sample_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.sample_graph, capture_error_mode="thread_local"):
            decoder.sample_step()
        self.trunk_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.trunk_graph, pool=self.sample_graph.pool(), capture_error_mode="thread_local"):
            decoder.trunk_step()
        decoder.index.zero_()

    def sample_step(self, reach: int | None = None) -> None:  # a graph reads every slot: its shapes are fixed
        self.sample_graph.replay()

    def trunk_step(self, reach: int | None = None) -> None:
        self.trunk_graph.replay()

    def advance_step(self, reach: int | None = None) -> None:
        self.sample_graph.replay()
        self.trunk_graph.replay()


def own_code(method: Callable) -> Callable:
    """``method`` running a copy of its code object. Dynamo keeps compiled entries per code object and
    refuses more than ``recompile_limit`` (8) of them; with one copy per decoder, a long-running process
    compiles every shape it meets, not only its first eight, and a decoder's compiled code is freed with
    it when the pool drops it. (``torch.compile(isolate_recompiles=True)`` would lift the first limit but
    keep every dropped decoder's entries on the shared code object, up to a global cap of 256.)"""
    fn = method.__func__
    copy = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    return types.MethodType(copy, method.__self__)


class CompiledDecoder:
    """A StaticDecoder's steps compiled by torch.compile (inductor): a token's sampling and the trunk over it
    (``advance_step``) as one graph (``fullgraph``: a graph break is an error, not a silent slowdown); the
    count of generated slots read is its one dynamic size; on the CPU the compiled code is called from C++
    (``cpp_wrapper``), not from Python per kernel. A forecast's last token is only sampled (no trunk step
    follows): the decoder's own eager step, once, rather than a second graph to compile. Building it
    compiles (seconds to a minute; torch's on-disk caches, keyed by torch version, code and shapes, make a
    second process faster), so pipelines build it on a background thread (``DecoderPool.build_in_background``).

    Build it before ``decoder.load()``: like the graph capture, compiling runs real steps on whatever the
    buffers hold (finite numbers). The compiled kernels may sum in another order than the eager ones, so
    logits agree to float rounding, not bit for bit (a sampled token can differ only where a draw falls
    within that rounding of a boundary)."""

    def __init__(self, decoder: StaticDecoder):
        resolve_decode("compiled", decoder.device)  # the devices it runs on, checked where the mode is chosen
        self.decoder = decoder
        options = COMPILE_OPTIONS.get(decoder.device.type)
        self.advance = torch.compile(own_code(decoder.advance), fullgraph=True, options=options)
        with torch.no_grad():  # the mode forecasts run in (grad mode is per thread; the fused weights need it)
            self.advance_step(MIN_REACH)
        decoder.index.zero_()

    def _span(self, reach: int | None) -> torch.Tensor:
        span = self.decoder.reading(self.decoder.shape.horizon if reach is None else reach)
        torch._dynamo.mark_dynamic(span, 0)  # one graph for every reach, not one per step
        return span

    def sample_step(self, reach: int | None = None) -> None:  # the last token only: eager
        self.decoder.sample_step(reach)

    def advance_step(self, reach: int | None = None) -> None:
        self.advance(self._span(reach))


class DecoderKey(NamedTuple):
    """What a pooled decoder serves: forecasts of this shape, sampling and event channels, run in ``mode``
    ('static', 'graphs', 'compiled') on the weights of this ``weights_version``."""

    shape: StaticShape
    sampling: SamplingConfig
    event_channels: int | None
    mode: str
    weights: tuple


Runner = StaticDecoder | CudaGraphDecoder | CompiledDecoder


def weights_version(model: Kronos) -> tuple:
    """Changes whenever a parameter or buffer is replaced or modified in place: captured graphs read the
    weights (and their fused copies, the RoPE tables) by address, so a decoder is reused only while this
    is unchanged."""
    return tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))


class DecoderPool:
    """Decoders (and their captured graphs) kept between forecasts, at most ``size``, so that a shape is
    allocated and captured once. A decoder is taken out while a forecast uses it, so threads never share
    one; the least recently returned is dropped first."""

    def __init__(self, size: int = DECODER_POOL_SIZE):
        self.size = size
        self._idle: list[tuple[DecoderKey, Runner]] = []
        self._lock = threading.Lock()
        self._building: dict[DecoderKey, threading.Thread] = {}
        self._in_use: dict[DecoderKey, int] = {}  # decoders taken out by running forecasts, per key
        self.failed: dict[DecoderKey, str] = {}  # keys whose background build failed, and why (not retried)

    def __reduce__(self):  # a copied or pickled model gets an empty pool: decoders are the original's
        return DecoderPool, (self.size,)

    def take(self, key: DecoderKey) -> Runner | None:
        with self._lock:
            for i, (k, runner) in enumerate(self._idle):
                if k == key:
                    del self._idle[i]
                    self._in_use[key] = self._in_use.get(key, 0) + 1
                    return runner
        return None

    def give(self, key: DecoderKey, runner: Runner) -> None:
        with self._lock:
            if self._in_use.get(key, 0) > 1:
                self._in_use[key] -= 1
            else:
                self._in_use.pop(key, None)
            self._idle = [*self._idle, (key, runner)][-self.size:]

    def has(self, key: DecoderKey) -> bool:
        """Whether a decoder of ``key`` exists: waiting here, or taken out by a running forecast."""
        with self._lock:
            return key in self._in_use or any(k == key for k, _ in self._idle)

    def build_in_background(self, key: DecoderKey, build: Callable[[], Runner]) -> threading.Thread | None:
        """Run ``build`` on a background thread, once per key, and pool what it returns; a failure is kept in
        ``failed`` (the forecasts of that key go on without it). Returns the thread, or None when the key
        is already being built, has failed, or exists (``has``). The thread is not a daemon: a process that
        ends while it compiles waits for it, because one that reached its C++ teardown with inductor still
        compiling aborted ("terminate called without an active exception", exit code 134)."""
        if self.has(key):
            return None
        with self._lock:
            if key in self._building or key in self.failed:
                return None

            def work() -> None:
                try:
                    self.give(key, build())
                except Exception as exc:  # a missing C++ compiler, an unsupported operator: say so, not crash
                    self.failed[key] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                finally:
                    with self._lock:
                        self._building.pop(key, None)

            thread = self._building[key] = threading.Thread(target=work, name=BUILD_THREAD_NAME, daemon=False)
        thread.start()
        return thread

    def wait_for_builds(self, timeout: float | None = None) -> None:
        """Wait for the background builds under way (a warm-up that must finish, tests)."""
        with self._lock:
            threads = list(self._building.values())
        for thread in threads:
            thread.join(timeout)


def building(threads: list[threading.Thread]) -> bool:
    """Whether any of ``threads`` is a background build of compiled decode steps, which a process that
    ends waits for (``DecoderPool.build_in_background``): its exit can say so rather than seem to hang."""
    return any(t.name == BUILD_THREAD_NAME for t in threads)


def decoder_pool(model: Kronos) -> DecoderPool:
    """The model's decoder pool, kept on the model (a plain attribute, not in its state dict): a decoder
    depends only on the model and the shape, so every pipeline on one model shares its decoders and their
    captured or compiled steps (the studio makes a pipeline per request; the model stays loaded)."""
    return model.__dict__.setdefault("_decoder_pool", DecoderPool())


STATIC_MODES = tuple(mode for mode in DECODE_MODES if mode != "eager")  # the modes that run here


@dataclass(frozen=True)
class StaticDecoding:
    """How ``generate_static`` runs the static steps: ``mode`` 'static' (eagerly), 'graphs' (replayed from
    CUDA graphs) or 'compiled' (compiled by torch.compile, which needs a ``pool``). With a ``pool`` the
    decoder comes from it and goes back to it (one allocation and capture per shape). ``report``, if given,
    receives ``decode``: the steps that actually ran ('eager', 'static', 'graphs', 'compiled'), and in
    compiled mode ``compile_pending`` / ``compile_failed`` (the reason)."""

    mode: str = "static"
    pool: DecoderPool | None = None
    report: dict | None = None

    def __post_init__(self):
        if self.mode not in STATIC_MODES:
            raise ValueError(f"the static decode modes are {STATIC_MODES}, got {self.mode!r}")
        if self.mode == "compiled" and self.pool is None:
            raise ValueError("compiled decoding needs a decoder pool")

    def note(self, **facts) -> None:
        if self.report is not None:
            self.report.update(facts)


@torch.no_grad()
def generate_static(model: Kronos, prompts: list[Prompt], horizon: int, paths: int, context: int,
                    sampling: SamplingConfig, generator: Generators = None, progress: Progress | None = None,
                    decoding: StaticDecoding = StaticDecoding()) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``generate`` through a StaticDecoder run as ``decoding`` says while every window fits the context,
    then the eager steps; same return value. In compiled mode the compiled decoder is built in the pool
    on a background thread after the first forecast of its shape, and until it is ready forecasts of that
    shape run the eager steps (with the same noise: on the CPU the eager loop's own paths)."""
    decoding.note(decode="eager")  # unless the static steps run (below)
    check_generation(prompts, horizon, paths, context, generator)
    model.eval()
    state = Generation(model, prompts, horizon, paths, context)
    logits = state.prefill()
    noise = None if sampling.temperature == 0 else uniform_noise(horizon, DRAWS_PER_STEP, len(state.rows),
                                                                 generator, logits)
    n_static = static_tokens(state.lengths, horizon, context)
    runner = key = None
    compile_after = False
    if n_static:
        channels = None if state.seqs.events is None else state.seqs.events.shape[-1]
        shape = StaticShape.bucketed(len(prompts), paths, max(state.lengths), horizon)
        key = DecoderKey(shape, sampling, channels, decoding.mode, weights_version(model))
        runner = _runner(model, key, decoding)
        if runner is None:  # compiled mode, not compiled yet: the eager steps, with the same noise
            compile_after = _compile_pending(key, decoding)
            n_static = 0
        else:
            _decoder_of(runner).load(state, logits, noise)
            decoding.note(decode=decoding.mode)
    for t in range(horizon):
        if t + 1 < n_static:
            runner.advance_step(t + 1)  # samples token t, then the trunk over it: writes slot t, reads 0..t
        elif t < n_static:
            runner.sample_step(t)  # the last static token (no trunk step after it here): reads slots 0..t-1
        else:
            u = (None, None) if noise is None else noise[t]
            s1 = sample_with_noise(logits, sampling, u[0])
            state.append(s1, sample_with_noise(state.s2_logits(s1), sampling, u[1]))
        if progress is not None:
            progress(t + 1, horizon)
        if t + 1 == n_static:  # the static part is over: hand its tokens back, and its caches if steps follow
            _decoder_of(runner).unload(state, n_static, n_static - 1 if n_static < horizon else 0)
            if decoding.pool is not None:
                decoding.pool.give(key, runner)
        if t + 1 < horizon and t + 1 >= n_static:
            logits = state.step()
    if compile_after:  # once per shape: started now, later forecasts of it run the compiled steps
        decoding.pool.build_in_background(key, lambda: CompiledDecoder(_new_decoder(model, key)))
    return state.tokens(horizon)


def _runner(model: Kronos, key: DecoderKey, decoding: StaticDecoding) -> Runner | None:
    """The pooled runner of ``key``, else a new one; None in compiled mode while none is compiled (or its
    compiled decoder is running another forecast)."""
    runner = decoding.pool.take(key) if decoding.pool is not None else None
    if runner is not None or decoding.mode == "compiled":
        return runner
    decoder = _new_decoder(model, key)
    return CudaGraphDecoder(decoder) if decoding.mode == "graphs" else decoder


def _new_decoder(model: Kronos, key: DecoderKey) -> StaticDecoder:
    return StaticDecoder(model, key.shape, key.sampling, key.event_channels)


def _decoder_of(runner: Runner) -> StaticDecoder:
    return runner if isinstance(runner, StaticDecoder) else runner.decoder


def _compile_pending(key: DecoderKey, decoding: StaticDecoding) -> bool:
    """Whether to have the pool compile ``key``'s decoder after this forecast (it skips one that exists or
    is being built), noted in the report: never again once it failed. The compiler starts after the
    forecast, not beside it: tracing holds the GIL and would slow the forecast several-fold."""
    failed = decoding.pool.failed.get(key)
    if not decoding.pool.has(key):
        decoding.note(**({"compile_failed": failed} if failed else {"compile_pending": True}))
    return failed is None
