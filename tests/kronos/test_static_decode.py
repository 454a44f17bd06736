"""The static-shape decode path (kronos/accel/static_decode.py) against the eager one and the official code, and
its CUDA graphs (run only where CUDA is present)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from testkit import assert_threads_match_sequential_runs, official_greedy, random_bars

from kronos.accel import linear, resolve_decode, set_packed_linear
from kronos.accel.packed import _PACKED_LINEAR_BUILT
from kronos.accel.static_decode import (
    GRAPH_WARMUP_STEPS,
    CudaGraphDecoder,
    DecoderPool,
    StaticDecoder,
    StaticDecoding,
    StaticShape,
    generate_static,
    static_tokens,
    weights_version,
)
from kronos.checkpoints import load_pair
from kronos.generate import Generation, Prompt
from kronos.pipeline import KronosPipeline
from kronos.sampling import SamplingConfig, sample, uniform_noise

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
NO_CUDA = "CUDA graphs need a CUDA device; none here (the GPU session runs this test)"
GREEDY = SamplingConfig(0, 0, 1.0)
SAMPLED = SamplingConfig(1.0, 0, 0.9)


def _prompts(lengths: list[int], horizon: int, seed: int = 1, vocab: int = 1024) -> list[Prompt]:
    g = torch.Generator().manual_seed(seed)
    return [Prompt(torch.randint(0, vocab, (n,), generator=g), torch.randint(0, vocab, (n,), generator=g),
                   torch.randint(0, 7, (n + horizon, 5), generator=g).float()) for n in lengths]


def _lockstep(model, prompts, horizon, paths, context, sampling, seed=5, reach=False):
    """Run the eager Generation and a StaticDecoder side by side on the same tokens (the eager loop's
    draws); yield (step, eager logits, static logits, eager h, static h) after every trunk step, having
    checked that both sampled the same ids. ``reach``: the static steps read only the generated slots
    written so far (as ``generate_static`` runs them), not every slot."""
    rows = len(prompts) * paths
    eager = Generation(model, prompts, horizon, paths, context)
    logits = eager.prefill()
    static_state = Generation(model, prompts, horizon, paths, context)
    static_logits = static_state.prefill()
    generator = torch.Generator().manual_seed(seed)
    noise = uniform_noise(horizon, 2, rows, torch.Generator().manual_seed(seed), logits)
    shape = StaticShape.bucketed(len(prompts), paths, max(eager.lengths), horizon)
    decoder = StaticDecoder(model, shape, sampling)
    decoder.load(static_state, static_logits, noise)
    for t in range(horizon):
        decoder.sample_step(t if reach else None)
        s1 = sample(logits, sampling, generator)
        s2 = sample(eager.s2_logits(s1), sampling, generator)
        assert torch.equal(decoder.s1[:rows, t], s1[:, 0]) and torch.equal(decoder.s2[:rows, t], s2[:, 0])
        eager.append(s1, s2)
        if t + 1 < horizon:
            logits = eager.step()
            decoder.trunk_step(t + 1 if reach else None)
            yield t, logits, decoder.logits[:rows], eager.h, decoder.h[:rows]
    assert int(decoder.index) == horizon - 1


@pytest.mark.parametrize("name", ["tiny", "mini", "small"])
@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "top_p"])
def test_static_steps_give_the_eager_logits(random_model, name, sampling):
    """Every static step's trunk states and s1 logits equal the eager step's within float32 rounding (not
    bit for bit: attention sums over the padded capacity, a different reduction order), and the ids sampled
    from them are the same, greedy and sampled. Two series of unequal length, padded to the shape's
    buckets."""
    model = random_model(name).ours(512).predictor
    with torch.no_grad():
        for _, eager_logits, static_logits, eager_h, static_h in _lockstep(model, _prompts([60, 45], 12), 12, 3,
                                                                            512, sampling):
            torch.testing.assert_close(static_h, eager_h, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(static_logits, eager_logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reach", [True, False], ids=["written slots", "every slot"])
def test_steps_reading_only_the_written_slots_give_what_reading_all_gives(random_model, reach):
    """The static steps as ``generate_static`` runs them read only the generated slots written so far (a
    compiled step then reads a quarter of the slots at a quarter of the horizon); what they read past those
    is masked, so both ways give the eager loop's logits and ids, step by step."""
    model = random_model("tiny").ours(128).predictor
    with torch.no_grad():
        steps = 0
        for _, eager_logits, static_logits, eager_h, static_h in _lockstep(model, _prompts([40, 33], 40), 40, 3,
                                                                            128, SAMPLED, reach=reach):
            torch.testing.assert_close(static_h, eager_h, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(static_logits, eager_logits, rtol=1e-5, atol=1e-5)
            steps += 1
    assert steps == 39


@pytest.mark.parametrize("lengths,horizon", [
    ([40], 20),          # fits: every step static
    ([60, 20, 50], 30),  # three series (padded to four); the 60 slides after 5 tokens: static, then eager
    ([70, 40], 10),      # one longer than the context: eager from the start
])
@pytest.mark.parametrize("per_series", [False, True], ids=["shared stream", "stream per series"])
def test_sampled_tokens_equal_the_eager_loop(random_model, lengths, horizon, per_series):
    """Temperature 1, top-p 0.9 (and top-k 5 with it), same seed: the static path samples exactly the
    eager path's ids. The noise drawn up front is the eager loop's own draws on the CPU (serial Mersenne
    Twister), and the fixed-shape top-p (a full sort) keeps the set the probing one keeps."""
    from kronos.generate import generate

    model = random_model("tiny").ours(64).predictor
    prompts = _prompts(lengths, horizon)
    for sampling in (SAMPLED, SamplingConfig(1.0, 5, 0.9)):
        def generator():
            if per_series:
                return [torch.Generator().manual_seed(7 + i) for i in range(len(prompts))]
            return torch.Generator().manual_seed(7)

        eager = generate(model, prompts, horizon, 4, 64, sampling, generator())
        static = generate_static(model, prompts, horizon, 4, 64, sampling, generator())
        for (e1, e2), (s1, s2) in zip(eager, static):
            assert torch.equal(e1, s1) and torch.equal(e2, s2)
        assert len({tuple(row.tolist()) for row in static[0][0]}) > 1  # the paths really differ


@pytest.mark.parametrize("name,context,n,horizon", [
    ("tiny", 64, 40, 30),      # fits: every step static
    ("tiny", 64, 50, 30),      # slides during the forecast: static, then the eager window recomputation
    ("tiny", 64, 120, 20),     # longer than the context: eager throughout
    pytest.param(*("mini", 2048, 300, 20), marks=pytest.mark.slow),
    pytest.param(*("small", 512, 200, 16), marks=pytest.mark.slow),
    pytest.param(*("small", 128, 120, 24), marks=pytest.mark.slow),
])
def test_static_greedy_forecast_matches_official(oracle, name, context, n, horizon):
    """As test_equivalence's greedy test, through ``KronosPipeline(decode='static')``: within 1e-4 relative
    of the official predictor, and equal to our eager pipeline within float32 rounding."""
    o = oracle(name)
    frame = random_bars(n + horizon, seed=n)
    history = frame.iloc[:n].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[n:])
    ref = official_greedy(o, history, future, context)
    kwargs = dict(paths=2, top_k=1, top_p=1.0, lookback=n, future_timestamps=future, anchor=False)
    fc = KronosPipeline(o.ours(context), decode="static").predict(history, horizon, **kwargs)
    rel = np.abs(fc.mean - ref) / np.maximum(np.abs(ref), 1e-3)
    assert rel.max() < 1e-4, f"max relative difference {rel.max():.2e}"
    # What ran: the static steps, unless the window slides from the first token (then all eager).
    assert fc.provenance["decode_mode"] == "static"
    assert fc.provenance["decode"] == ("static" if static_tokens([n], horizon, context) else "eager")
    eager = KronosPipeline(o.ours(context)).predict(history, horizon, **kwargs)
    np.testing.assert_allclose(fc.paths, eager.paths, rtol=1e-5)


def test_static_pipeline_gives_the_eager_paths(random_model):
    """Sampled forecasts through the pipeline (a batch, per-series streams, an event encoder with trained-
    like weights) are the eager pipeline's, number for number, on the CPU."""
    pair = random_model("tiny").ours(64)
    series = [random_bars(50, seed=1), random_bars(30, seed=2), random_bars(90, seed=3)]
    kwargs = dict(paths=6, seed=3, lookback=None)
    for per_series in (False, True):
        eager = KronosPipeline(pair).predict_batch(series, 20, per_series_stream=per_series, **kwargs)
        static = KronosPipeline(pair, decode="static").predict_batch(series, 20, per_series_stream=per_series,
                                                                     **kwargs)
        for e, s in zip(eager, static):
            np.testing.assert_array_equal(e.paths, s.paths)
    emb = pair.predictor.attach_event_embedding(3)
    try:
        with torch.no_grad():
            emb.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))

        def events(hist, fut):
            return np.random.default_rng(0).normal(size=(len(hist) + len(fut), 3)).astype(np.float32)

        eager = KronosPipeline(pair).predict(series[0], 12, events=events, **kwargs)
        static = KronosPipeline(pair, decode="static").predict(series[0], 12, events=events, **kwargs)
        np.testing.assert_array_equal(eager.paths, static.paths)
    finally:
        pair.predictor.event_emb = None


def test_a_pooled_decoder_serves_later_forecasts_of_its_shape(random_model):
    """A decoder goes back to the pool after a forecast and serves the next one of the same shape (other
    lengths, so other context masks; other tokens): the ids are the eager loop's each time. A weight
    changed in place is a new key: the old decoder (whose graphs would read the old weights) is not used."""
    from kronos.generate import generate

    model = random_model("tiny").ours(64).predictor
    pool = DecoderPool(size=2)
    for seed, lengths in ((1, [40, 33]), (2, [35, 40]), (3, [20, 18])):  # one shape: 2 series, 64 slots, 32
        prompts = _prompts(lengths, 20, seed=seed)
        eager = generate(model, prompts, 20, 3, 64, SAMPLED, torch.Generator().manual_seed(seed))
        static = generate_static(model, prompts, 20, 3, 64, SAMPLED, torch.Generator().manual_seed(seed),
                                 decoding=StaticDecoding(pool=pool))
        for (e1, e2), (s1, s2) in zip(eager, static):
            assert torch.equal(e1, s1) and torch.equal(e2, s2)
        assert len(pool._idle) == 1  # the same decoder, taken and given back
    (key, pooled), = pool._idle
    assert pool.take(key) is pooled and pool.take(key) is None
    pool.give(key, pooled)
    with torch.no_grad():
        model.head.proj_s1.bias.add_(0.0)  # in place: a new version
    generate_static(model, _prompts([40, 33], 20), 20, 3, 64, SAMPLED, torch.Generator().manual_seed(1),
                   decoding=StaticDecoding(pool=pool))
    assert len(pool._idle) == 2 and pool._idle[0][1] is pooled and pool._idle[1][1] is not pooled


def test_the_graph_warm_up_leaves_no_trace(random_model):
    """What CudaGraphDecoder does before capture, on the CPU: steps run on a new decoder's zeroed buffers,
    then the forecast is loaded; its ids are the eager loop's (load overwrites what the steps read, and
    the slots the warm-up wrote are masked until the forecast writes them)."""
    from kronos.generate import generate

    model = random_model("tiny").ours(64).predictor
    prompts = _prompts([40, 33], 20)
    shape = StaticShape.bucketed(2, 3, 40, 20)
    decoder = StaticDecoder(model, shape, SAMPLED)
    with torch.no_grad():
        for _ in range(GRAPH_WARMUP_STEPS):
            decoder.sample_step()
            decoder.trunk_step()
    decoder.index.zero_()
    pool = DecoderPool()
    pool.give((shape, SAMPLED, None, "static", weights_version(model)), decoder)
    static = generate_static(model, prompts, 20, 3, 64, SAMPLED, torch.Generator().manual_seed(4),
                             decoding=StaticDecoding(pool=pool))
    assert pool._idle[0][1] is decoder  # it served the forecast
    eager = generate(model, prompts, 20, 3, 64, SAMPLED, torch.Generator().manual_seed(4))
    for (e1, e2), (s1, s2) in zip(eager, static):
        assert torch.equal(e1, s1) and torch.equal(e2, s2)


def test_threads_share_a_static_pipeline(random_model):
    """Four threads forecasting at once through one pipeline (one decoder pool) get what sequential runs
    get: a decoder in use is out of the pool, so no two forecasts share one."""
    pipeline = KronosPipeline(random_model("tiny").ours(64), decode="static")
    jobs = [(random_bars(50 + 3 * i, seed=i), 100 + i) for i in range(4)]  # one shape: the pool is contended
    assert_threads_match_sequential_runs(pipeline, jobs)


def test_steps_have_no_host_sync_and_keep_their_buffers(random_model):
    """What graph capture forbids, checked on the CPU: no operator that reads a device value on the host
    (``.item()``, ``nonzero``, boolean indexing) inside either step, and every buffer the steps write is
    written in place."""
    from torch.profiler import profile

    model = random_model("tiny").ours(64).predictor
    prompts = _prompts([30, 20], 10)
    with torch.no_grad():
        state = Generation(model, prompts, 10, 4, 64)
        logits = state.prefill()
        decoder = StaticDecoder(model, StaticShape.bucketed(2, 4, 30, 10), SamplingConfig(1.0, 8, 0.9))
        decoder.load(state, logits, uniform_noise(10, 2, 8, torch.Generator().manual_seed(0), logits))
        buffers = [decoder.h, decoder.logits, decoder.s1, decoder.s2, decoder.index,
                   *[c.generated.k for c in decoder.caches.layers], decoder.caches.dependency.generated.v]
        pointers = [b.data_ptr() for b in buffers]
        with profile() as prof:
            for _ in range(3):
                decoder.sample_step()
                decoder.trunk_step()
    ops = {e.key for e in prof.key_averages()}
    syncing = {"aten::item", "aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select",
               "aten::index_put_", "aten::is_nonzero"}
    assert "aten::index_copy_" in ops  # the profiler saw the steps
    assert not ops & syncing, f"host-syncing operators in the static step: {ops & syncing}"
    assert [b.data_ptr() for b in buffers] == pointers
    assert int(decoder.index) == 3


def test_shapes_are_bucketed():
    shape = StaticShape.bucketed(series=3, paths=30, longest_context=400, horizon=120)
    assert (shape.series, shape.context, shape.horizon, shape.rows) == (4, 448, 128, 120)
    assert StaticShape.bucketed(1, 30, 392, 120) == StaticShape.bucketed(1, 30, 400, 100)  # one graph for both
    assert static_tokens([40], 30, 64) == 25 and static_tokens([64], 10, 64) == 1 and static_tokens([70], 5, 64) == 0


def test_decode_mode_is_checked(random_model):
    pair = random_model("tiny").ours(64)
    assert KronosPipeline(pair).decode == "eager" == resolve_decode(None, torch.device("cpu"))
    with pytest.raises(ValueError, match="CUDA device"):
        KronosPipeline(pair, decode="graphs")
    with pytest.raises(ValueError, match="decode must be one of"):
        KronosPipeline(pair, decode="jit")
    with pytest.raises(ValueError, match="torch.compile"):
        resolve_decode("compiled", torch.device("mps"))
    with pytest.raises(ValueError, match="CUDA device"):
        CudaGraphDecoder(StaticDecoder(pair.predictor, StaticShape.bucketed(1, 2, 10, 5), GREEDY))


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
@pytest.mark.parametrize("sampling", [GREEDY, SAMPLED], ids=["greedy", "top_p"])
@pytest.mark.parametrize("lengths,horizon,context", [
    ([400], 40, 512),      # small's default lookback region: every step from the graphs
    ([300, 200], 30, 512),  # two series of unequal length
    ([60, 40], 30, 64),     # slides after 5 tokens: graphs, then the eager fallback
])
def test_graph_replay_equals_the_eager_static_steps(random_model, sampling, lengths, horizon, context):
    """On CUDA: the same seed through the eager static steps and through their graph replays (the same
    kernels on the same buffers) gives the same ids, 30 paths per series; so does a second forecast (other
    tokens, the same shape) replaying the graphs captured for the first, from the pool."""
    model = load_pair(random_model("small").folder, device="cuda", context=512).predictor
    pool = DecoderPool()
    for seed in (1, 2):
        prompts = [Prompt(p.s1.cuda(), p.s2.cuda(), p.stamps.cuda()) for p in _prompts(lengths, horizon, seed)]
        runs = []
        for cuda_graphs in (False, True):
            generator = torch.Generator(device="cuda").manual_seed(11)
            mode = "graphs" if cuda_graphs else "static"
            runs.append(generate_static(model, prompts, horizon, 30, context, sampling, generator,
                                        decoding=StaticDecoding(mode, pool)))
        for (e1, e2), (g1, g2) in zip(*runs):
            assert torch.equal(e1, g1) and torch.equal(e2, g2)
    assert sum(isinstance(runner, CudaGraphDecoder) for _, runner in pool._idle) == 1  # captured once


@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
@pytest.mark.parametrize("name,context,n,horizon", [
    ("tiny", 64, 40, 30), ("tiny", 64, 50, 30), ("mini", 2048, 300, 20), ("small", 512, 200, 16),
])
def test_graph_greedy_forecast_matches_official(oracle, name, context, n, horizon):
    """On CUDA, ``decode='graphs'``: greedy within 1e-4 relative of the official predictor (on the CPU)."""
    o = oracle(name)
    o.ours(context)  # writes the bundle's context
    frame = random_bars(n + horizon, seed=n)
    history = frame.iloc[:n].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[n:])
    ref = official_greedy(o, history, future, context)
    pipeline = KronosPipeline(load_pair(o.folder, device="cuda"), decode="graphs")
    fc = pipeline.predict(history, horizon, paths=2, top_k=1, top_p=1.0, lookback=n, future_timestamps=future,
                          anchor=False)
    rel = np.abs(fc.mean - ref) / np.maximum(np.abs(ref), 1e-3)
    assert rel.max() < 1e-4, f"max relative difference {rel.max():.2e}"
    assert fc.provenance["decode"] == "graphs"


def test_compiled_decode_is_built_in_the_background_and_samples_the_static_paths(random_model):
    """decode='compiled': the first forecast of a shape runs the eager steps, then torch.compile builds the
    compiled ones on a background thread (nobody waits for the compiler); the next forecast of that shape
    runs them, and its paths are the static steps' paths (compiled kernels agree to float rounding)."""
    pair = random_model("tiny").ours(64)
    pipeline = KronosPipeline(pair, decode="compiled")
    bars = random_bars(50, seed=3)
    first = pipeline.predict(bars, 12, paths=4, seed=7)
    assert first.provenance["decode_mode"] == "compiled"
    assert first.provenance["decode"] == "eager" and first.provenance["compile_pending"] is True
    pipeline.wait_for_compilation()
    assert pipeline.compile_failures() == {}
    # A new pipeline on the same model (the studio makes one per request) finds the compiled steps.
    second = KronosPipeline(pair, decode="compiled").predict(bars, 12, paths=4, seed=7)
    assert second.provenance["decode"] == "compiled" and "compile_pending" not in second.provenance
    static = KronosPipeline(pair, decode="static").predict(bars, 12, paths=4, seed=7)
    np.testing.assert_array_equal(first.paths, static.paths)
    np.testing.assert_allclose(second.paths, static.paths, rtol=1e-4, atol=1e-6)
    assert np.abs(second.paths - KronosPipeline(pair).predict(bars, 12, paths=4, seed=8).paths).max() > 1e-3  # seeds matter


def test_a_compiled_step_serves_every_step_of_a_forecast_without_recompiling(random_model):
    """Each compiled step reads as many generated slots as have been written, a size that grows by one per
    step: it is a dynamic size of one graph, so a whole forecast runs without compiling again (a recompile
    per step would cost seconds each; with it turned into an error here, the forecast would fail)."""
    pair = random_model("tiny").ours(64)
    bars = random_bars(50, seed=6)
    pipeline = KronosPipeline(pair, decode="compiled")
    pipeline.predict(bars, 30, paths=3, seed=2)  # a shape no other test compiles
    pipeline.wait_for_compilation()
    assert pipeline.compile_failures() == {}
    with torch._dynamo.config.patch(error_on_recompile=True):
        compiled = pipeline.predict(bars, 30, paths=3, seed=2)
    assert compiled.provenance["decode"] == "compiled"
    static = KronosPipeline(pair, decode="static").predict(bars, 30, paths=3, seed=2)
    np.testing.assert_allclose(compiled.paths, static.paths, rtol=1e-4, atol=1e-6)


def test_a_failed_compilation_is_reported_and_the_forecast_goes_on(random_model, monkeypatch):
    """A compiler that cannot run (no C++ toolchain, say) must not break forecasting: the eager steps
    run, the provenance names the failure, and the build is not retried at every forecast."""
    import kronos.accel.static_decode as static_decode

    calls = []

    def no_compiler(decoder):
        calls.append(decoder)
        raise RuntimeError("no C++ compiler found (install g++)\nlong traceback")

    monkeypatch.setattr(static_decode, "CompiledDecoder", no_compiler)
    pair = random_model("tiny").ours(64)
    pipeline = KronosPipeline(pair, decode="compiled")
    bars = random_bars(50, seed=3)
    pipeline.predict(bars, 12, paths=4, seed=7)
    pipeline.wait_for_compilation()
    later = pipeline.predict(bars, 12, paths=4, seed=7)
    assert later.provenance["decode"] == "eager"
    assert later.provenance["compile_failed"] == "RuntimeError: no C++ compiler found (install g++)"
    assert len(calls) == 1
    static = KronosPipeline(pair, decode="static").predict(bars, 12, paths=4, seed=7)
    np.testing.assert_array_equal(later.paths, static.paths)


def test_compiled_decode_of_a_batch_with_nucleus_and_top_k_samples_the_static_paths(random_model):
    """The compiled steps with the full sampler (top-k, the sorted nucleus) and a batch of two series of
    unequal length, each on its own random stream: the static steps' paths, to float rounding."""
    pair = random_model("tiny").ours(64)
    series = [random_bars(50, seed=4), random_bars(43, seed=5)]
    kwargs = dict(paths=3, seed=11, top_k=8, top_p=0.9, per_series_stream=True)
    pipeline = KronosPipeline(pair, decode="compiled")
    pipeline.predict_batch(series, 10, **kwargs)
    pipeline.wait_for_compilation()
    assert pipeline.compile_failures() == {}
    compiled = pipeline.predict_batch(series, 10, **kwargs)
    static = KronosPipeline(pair, decode="static").predict_batch(series, 10, **kwargs)
    for c, s in zip(compiled, static):
        assert c.provenance["decode"] == "compiled"
        np.testing.assert_allclose(c.paths, s.paths, rtol=1e-4, atol=1e-6)


def test_a_long_running_process_compiles_every_shape_it_meets(random_model, monkeypatch):
    """Dynamo keeps at most ``recompile_limit`` compiled entries per code object (8 by default) and then
    refuses: decoders sharing one code object would leave a service unable to compile its ninth shape
    for good. With the limit at 1 (set where the compiler runs: dynamo's config is per thread), two new
    shapes in a row must both compile."""
    import kronos.accel.static_decode as static_decode

    build = static_decode.CompiledDecoder.__init__

    def build_with_limit_one(self, decoder):
        with torch._dynamo.config.patch(recompile_limit=1):
            build(self, decoder)

    monkeypatch.setattr(static_decode.CompiledDecoder, "__init__", build_with_limit_one)
    pair = random_model("tiny").ours(64)
    bars = random_bars(50, seed=3)
    for horizon in (40, 72):  # shapes no other test compiles
        pipeline = KronosPipeline(pair, decode="compiled")
        pipeline.predict(bars, horizon, paths=4, seed=7)
        pipeline.wait_for_compilation()
        assert pipeline.compile_failures() == {}
        later = KronosPipeline(pair, decode="compiled").predict(bars, horizon, paths=4, seed=7)
        assert later.provenance["decode"] == "compiled"


def test_the_static_decoding_options_refuse_what_cannot_run():
    """Compiled decoders are built and kept in a pool, so compiled mode without one is refused up front, as
    is a mode the static loop does not run (eager is ``kronos.generate.generate``)."""
    with pytest.raises(ValueError, match="needs a decoder pool"):
        StaticDecoding("compiled")
    with pytest.raises(ValueError, match="static decode modes"):
        StaticDecoding("eager")
    assert StaticDecoding("compiled", DecoderPool()).mode == "compiled"


def test_a_compiled_decoder_in_use_is_not_compiled_again():
    """A forecast that finds its shape's compiled decoder taken by another forecast runs eagerly; it must not
    start a second compilation of that shape, nor one of a shape evicted from the pool for good."""
    pool = DecoderPool(size=1)
    built = []
    pool.give("a", "compiled decoder of a")
    assert pool.take("a") == "compiled decoder of a" and pool.has("a")  # in use by a forecast
    assert pool.build_in_background("a", lambda: built.append("a")) is None
    pool.give("a", "compiled decoder of a")
    pool.give("b", "compiled decoder of b")  # evicts a (size 1)
    assert not pool.has("a") and pool.has("b")
    thread = pool.build_in_background("a", lambda: built.append("a") or "rebuilt a")
    thread.join()
    assert built == ["a"] and pool.take("a") == "rebuilt a"


def test_a_process_that_ends_during_a_background_build_waits_for_it(tmp_path):
    """A process whose main code ends while a decoder is built in the background ends after the build, with
    its own exit code: one that reached its teardown while inductor compiled aborted (exit code 134)."""
    marker = tmp_path / "built"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from kronos.accel.static_decode import DecoderPool\n"
        "def build():\n"
        "    time.sleep(1.0)\n"
        f"    Path({str(marker)!r}).write_text('done')\n"
        "    return 'decoder'\n"
        "DecoderPool().build_in_background('key', build)\n"
        "print('main code done', flush=True)\n"
        "sys.exit(3)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "main code done" in r.stdout and marker.read_text() == "done"


@pytest.mark.skipif(not _PACKED_LINEAR_BUILT, reason="this torch build has no oneDNN linear")
def test_a_compiled_graph_runs_the_packed_products():
    """torch.compile cannot trace oneDNN's packed tensors; a compiled step reaches them through the
    ``kronos::packed_linear`` operator, so it computes exactly what the eager packed product does (the
    plain product inside the graph would differ in the last bits, and ran ~20% slower: docs/speed.md)."""
    holder = torch.nn.ModuleDict({"qkv": torch.nn.Linear(256, 768), "out": torch.nn.Linear(768, 256, bias=False)})
    x = torch.randn(30, 256, generator=torch.Generator().manual_seed(0))

    def step(x):
        return linear(holder, "out", torch.relu(linear(holder, "qkv", x)))

    previous = set_packed_linear(True)
    try:
        with torch.no_grad():
            eager = step(x)
            compiled = torch.compile(step, fullgraph=True, dynamic=False)(x)
            plain = torch.nn.functional.linear(torch.relu(holder["qkv"](x)), holder["out"].weight)
    finally:
        set_packed_linear(previous)
    assert torch.equal(compiled, eager)
    assert not torch.equal(plain, eager)  # the plain product is another computation: the check above can fail
