"""KV-cached generation, seeds, batching and thread safety."""
from __future__ import annotations

import copy
import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from testkit import assert_threads_match_sequential_runs, random_bars

from kronos.accel import AccelProducts, attend_after_prefix, fused_linear, prefix_blocks_available, set_packed_linear
from kronos.accel.packed import _PACKED_LINEAR_BUILT
from kronos.config import CLOSE
from kronos.errors import InputError
from kronos.generate import (
    PathCaches,
    Prompt,
    Sequences,
    decode_one_token,
    prefill,
    recompute_window,
    rope_at,
    shared_window,
)
from kronos.layers import ComputesProducts, KVCache, PlainProducts, hand_products, rows_of
from kronos.normalization import denormalize
from kronos.pipeline import KronosPipeline
from kronos.settings import ForecastSettings


@pytest.mark.parametrize("lengths", [[60], [60, 45]])
def test_kv_cache_gives_the_logits_of_full_recomputation(random_model, lengths):
    """Shared-context caches + per-path tokens give what a full pass over each path gives."""
    model = random_model("mini").ours(2048).predictor
    g = torch.Generator().manual_seed(3)
    paths, extra = 3, 10
    rows = len(lengths) * paths
    seqs = [(torch.randint(0, 1024, (n + extra,), generator=g), torch.randint(0, 1024, (n + extra,), generator=g),
             torch.randint(0, 7, (n + extra, 5), generator=g).float()) for n in lengths]
    # Every path continues its series' context with its own random tokens.
    tails = [[(torch.randint(0, 1024, (extra,), generator=g), torch.randint(0, 1024, (extra,), generator=g))
              for _ in range(paths)] for _ in lengths]
    with torch.no_grad():
        caches = PathCaches.empty(model, lengths, paths, extra)
        for b, (a1, a2, st) in enumerate(seqs):
            n = lengths[b]
            prefill(model, model.embed(a1[None, :n], a2[None, :n], st[None, :n]), caches, series=b)
        for j in range(extra):
            def col(b, r, which, j=j):
                return tails[b][r][which][j]
            t1 = torch.stack([col(b, r, 0) for b in range(len(lengths)) for r in range(paths)])[:, None]
            t2 = torch.stack([col(b, r, 1) for b in range(len(lengths)) for r in range(paths)])[:, None]
            st = torch.stack([seqs[b][2][lengths[b] + j] for b in range(len(lengths)) for _ in range(paths)])[:, None]
            pos = torch.tensor([lengths[b] + j for b in range(len(lengths)) for _ in range(paths)])
            ropes = rope_at(model.rotary_tables(max(lengths) + extra), pos[:, None])
            h_step, _ = decode_one_token(model, model.embed(t1, t2, st), ropes, caches, index=j)
            chosen = torch.randint(0, 1024, (rows, 1), generator=g)
            s2_fast = model.s2_logits_paths(h_step, chosen, caches.dependency, j + 1)
            for i in range(rows):
                b, r = divmod(i, paths)
                n = lengths[b]
                f1 = torch.cat([seqs[b][0][:n], torch.stack([tails[b][r][0][k] for k in range(j + 1)])])[None]
                f2 = torch.cat([seqs[b][1][:n], torch.stack([tails[b][r][1][k] for k in range(j + 1)])])[None]
                full = model.trunk(model.embed(f1, f2, seqs[b][2][None, : n + j + 1]))
                torch.testing.assert_close(model.s1_logits(h_step[i:i + 1]), model.s1_logits(full[:, -1:]),
                                           rtol=1e-5, atol=1e-5)
                fk, fv = model.dependency_keys_values(full)
                torch.testing.assert_close(s2_fast[i:i + 1], model.s2_logits(full[:, -1:], chosen[i:i + 1], fk, fv),
                                           rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prompt_length,generated", [(100, 1), (100, 20), (40, 24)])
def test_shared_window_equals_recomputing_every_path(random_model, prompt_length, generated):
    """The prompt part of a sliding window run once, each path's own suffix attending to it, gives the
    trunk states and dependency keys/values of a full pass over every path's window."""
    model = random_model("small").ours(512).predictor
    context, paths = 32, 4
    g = torch.Generator().manual_seed(prompt_length + generated)
    n = prompt_length
    prompt = Prompt(torch.randint(0, 1024, (n,), generator=g), torch.randint(0, 1024, (n,), generator=g),
                    torch.randint(0, 7, (n + generated, 5), generator=g).float())
    seqs = Sequences.from_prompts([prompt], paths, generated, model.embedding.emb_s1.weight)
    # Every path has generated its own tokens.
    seqs.s1[:, n:] = torch.randint(0, 1024, (paths, generated), generator=g)
    seqs.s2[:, n:] = torch.randint(0, 1024, (paths, generated), generator=g)
    rows, end = torch.arange(paths), n + generated
    with torch.no_grad():
        h_fast, fast = shared_window(model, seqs, rows, end, n, context)
        h_full, full = recompute_window(model, seqs, rows, torch.full((paths,), end), context)
    assert not torch.allclose(h_full[0], h_full[1])  # the paths really differ
    torch.testing.assert_close(h_fast, h_full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.k, full.k, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.v, full.v, rtol=1e-5, atol=1e-5)
    assert torch.equal(fast.rows, full.rows)


@pytest.fixture(scope="module")
def tiny(random_model):
    return random_model("tiny").ours(64)


def test_future_stamps_follow_the_history_rhythm_without_a_calendar(tiny):
    """The core knows no exchange calendar: daily bars that skip weekends get weekday bar times."""
    frame = random_bars(77, freq="B", start="2024-04-10")
    last = frame["timestamp"].iloc[-1]
    assert last.day_name() == "Thursday"
    fc = KronosPipeline(tiny).predict(frame, 3, paths=2)
    assert [t.day_name() for t in fc.timestamps] == ["Friday", "Monday", "Tuesday"]
    assert list(fc.timestamps) == list(pd.bdate_range(last + pd.Timedelta(days=1), periods=3))


def test_same_seed_same_paths_and_paths_differ(tiny):
    f = KronosPipeline(tiny)
    bars = random_bars(80)
    a = f.predict(bars, 20, paths=16, seed=5)
    b = f.predict(bars, 20, paths=16, seed=5)
    c = f.predict(bars, 20, paths=16, seed=6)
    np.testing.assert_array_equal(a.paths, b.paths)
    assert not np.array_equal(a.paths, c.paths)
    assert np.unique(a.paths[:, -1, 3]).size > 4  # sampled paths are a distribution, not copies
    assert a.paths.shape == (16, 20, 6)
    q = a.quantiles()
    assert list(q.columns[:3]) == ["open_p10", "open_p50", "open_p90"]
    assert (q["close_p10"] <= q["close_p50"]).all() and (q["close_p50"] <= q["close_p90"]).all()
    assert a.provenance["seed"] == 5 and a.provenance["input_sha256"] == c.provenance["input_sha256"]


def test_batch_with_unequal_lengths_matches_single_runs(tiny):
    f = KronosPipeline(tiny)
    # Default lookback for horizon 40 on context 64: 32 bars. 20 + 40 fits the window; 32 + 40 and
    # 28 + 40 slide during the forecast.
    series = [random_bars(20, seed=1), random_bars(100, seed=2), random_bars(28, seed=3)]
    kwargs = dict(paths=2, top_k=1, top_p=1.0)
    batch = f.predict_batch(series, 40, lookback=None, **kwargs)
    for bars, fc in zip(series, batch):
        single = f.predict(bars, 40, **kwargs)
        np.testing.assert_allclose(fc.mean, single.mean, rtol=1e-5)
        assert fc.provenance["bars_used"] == min(len(bars), 32)


def test_per_series_streams_give_each_series_its_paths_alone(tiny):
    """Sampled (not greedy): with a stream per series, a series' paths in a batch (equal lengths batched
    together, one longer than the context, one sliding during the forecast) are those of a run of it
    alone with the same seed; with the shared stream they are not."""
    f = KronosPipeline(tiny)
    series = [random_bars(50, seed=1), random_bars(50, seed=2), random_bars(90, seed=3), random_bars(50, seed=4),
              random_bars(30, seed=5)]
    kwargs = dict(paths=8, seed=11, lookback=None)
    batch = f.predict_batch(series, 40, per_series_stream=True, **kwargs)
    for bars, fc in zip(series, batch):
        alone = f.predict(bars, 40, **kwargs)
        np.testing.assert_allclose(fc.paths, alone.paths, rtol=1e-5)
        assert fc.provenance["random_stream"] == "per series"
    shared = f.predict_batch(series, 40, **kwargs)
    assert not np.allclose(shared[1].paths, batch[1].paths)


def test_four_threads_equal_sequential_runs(tiny):
    assert_threads_match_sequential_runs(KronosPipeline(tiny), [(random_bars(50 + 10 * i, seed=i), 100 + i)
                                                              for i in range(4)])


def test_progress_is_reported_per_step(tiny):
    seen = []
    KronosPipeline(tiny).predict(random_bars(30), 7, paths=3, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 7) for i in range(1, 8)]


@pytest.mark.parametrize("lookback,horizon", [(54, 20), (40, 10), (64, 66)])
def test_step_work_prices_the_steps_whose_window_slides_as_the_generation_runs_them(tiny, monkeypatch, lookback,
                                                                                      horizon):
    """Issue 62 item 7: the app's ETA read every step as the first ones (cached), and a forecast whose window slides
    ran ten times longer than it said. ``step_work`` prices each step: 1 where every row is served from the cache,
    more where its window is run again, growing with the tokens each path runs again; and those are the steps the
    generation really recomputes a window at (context 64 here)."""
    import kronos.generate as generation

    windows, seen = [], []
    for name in ("shared_window", "recompute_window"):
        real = getattr(generation, name)
        monkeypatch.setattr(generation, name, lambda *a, _real=real, **k: windows.append(len(seen)) or _real(*a, **k))
    KronosPipeline(tiny).predict(random_bars(200), horizon, paths=3, lookback=lookback,
                                 progress=lambda i, n: seen.append(i))
    work = generation.step_work([lookback], horizon, tiny.context)
    cached = generation.cached_steps([lookback], horizon, tiny.context)
    assert len(work) == horizon and work[:cached] == [1.0] * cached
    assert sorted(set(windows)) == [t for t, w in enumerate(work) if w > 1]  # the steps that run a window again
    heavier = work[cached:]
    assert all(b >= a > 1 for a, b in zip(heavier, heavier[1:]))  # more generated tokens to run again each step
    assert heavier == [1 + generation.SLIDING_TOKEN_WORK * min(t, tiny.context) for t in range(cached, horizon)]


@pytest.mark.parametrize("kwargs,message", [
    (dict(horizon=0), "horizon"),
    (dict(horizon=5, paths=0), "paths"),
    (dict(horizon=5, temperature=-1), "temperature"),
    (dict(horizon=5, top_p=0), "top_p"),
    (dict(horizon=5, lookback=500), "lookback is 500 bars but only 60"),
])
def test_bad_settings_are_named(tiny, kwargs, message):
    with pytest.raises(InputError, match=message):
        KronosPipeline(tiny).predict(random_bars(60), settings=ForecastSettings(**kwargs))


def test_bad_bars_are_named(tiny):
    f = KronosPipeline(tiny)
    bars = random_bars(40)
    with pytest.raises(InputError, match="lack columns"):
        f.predict(bars.drop(columns="close"), 5)
    with pytest.raises(InputError, match="missing or non-numeric"):
        f.predict(bars.assign(open=bars["open"].where(bars.index != 7)), 5)
    with pytest.raises(InputError, match="strictly increasing"):
        f.predict(bars.iloc[::-1], 5)
    with pytest.raises(InputError, match="no timestamps"):
        f.predict(bars.drop(columns="timestamp"), 5)


def test_volume_absent_is_zero_filled(tiny):
    fc = KronosPipeline(tiny).predict(random_bars(40).drop(columns="volume"), 5, paths=2)
    assert (fc.history[["volume", "amount"]] == 0).all().all()
    assert np.isfinite(fc.paths).all()


def test_temperature_zero_is_greedy(tiny):
    f = KronosPipeline(tiny)
    a = f.predict(random_bars(40), 10, paths=3, temperature=0, seed=1)
    b = f.predict(random_bars(40), 10, paths=3, top_k=1, top_p=1.0, seed=2)
    np.testing.assert_allclose(a.paths, b.paths, rtol=1e-6)


def test_event_encoder_is_inert_until_trained_and_then_changes_the_forecast(random_model):
    pair = random_model("tiny").ours(64)
    f = KronosPipeline(pair)
    bars = random_bars(50)
    base = f.predict(bars, 12, paths=6, seed=2)
    emb = pair.predictor.attach_event_embedding(20)
    try:
        def events(hist, fut):
            return np.ones((len(hist) + len(fut), 20), dtype=np.float32)
        no_events = f.predict(bars, 12, paths=6, seed=2)
        zero_init = f.predict(bars, 12, paths=6, seed=2, events=events)
        np.testing.assert_array_equal(no_events.paths, base.paths)  # module present, no events: identical
        np.testing.assert_array_equal(zero_init.paths, base.paths)  # zero-initialised encoder: identical
        with torch.no_grad():
            emb.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
        moved = f.predict(bars, 12, paths=6, seed=2, events=events)
        assert not np.array_equal(moved.paths, base.paths) and moved.provenance["events"]
        with pytest.raises(InputError, match="shape"):
            f.predict(bars, 12, paths=2, events=lambda h, fu: np.zeros((3, 20)))
    finally:
        pair.predictor.event_emb = None
    with pytest.raises(InputError, match="no event encoder"):
        f.predict(bars, 5, paths=2, events=lambda h, fu: np.zeros((len(h) + len(fu), 20)))


def test_default_lookback_leaves_room_for_the_horizon_and_a_given_one_is_kept(tiny):
    """No lookback: context - horizon bars (the window never slides); given: exactly that many."""
    bars = random_bars(200)
    fc = KronosPipeline(tiny).predict(bars, 10, paths=2, seed=0)
    assert len(fc.history) == 64 - 10 and fc.provenance["lookback_default"] is True
    fc = KronosPipeline(tiny).predict(bars, 10, paths=2, seed=0, lookback=64)
    assert len(fc.history) == 64 and fc.provenance["lookback_default"] is False
    fc = KronosPipeline(tiny).predict(bars, 60, paths=2, seed=0)  # horizon near the context: half of it
    assert len(fc.history) == 32


@pytest.mark.parametrize("horizon", [65, 140])
def test_a_horizon_past_the_context_decodes_every_bar_in_windows(tiny, horizon):
    """Context 64: a horizon of 65 or 140 bars slides the generation window; every generated bar is
    decoded, each from a window of at most 64 tokens that ends at it or later (issue 21, item 5)."""
    pipeline = KronosPipeline(tiny)
    fc = pipeline.predict(random_bars(200), horizon, paths=3, seed=1)
    assert fc.paths.shape == (3, horizon, 6) and len(fc.timestamps) == horizon
    assert np.isfinite(fc.paths).all()
    # The windows, read back: tokens of one path, decoded by hand window by window.
    gen = torch.Generator().manual_seed(0)
    length = 54 + horizon
    s1 = torch.randint(0, 2 ** tiny.tokenizer.config.s1_bits, (1, 2, length), generator=gen)
    s2 = torch.randint(0, 2 ** tiny.tokenizer.config.s2_bits, (1, 2, length), generator=gen)
    s1[:, 1, :54], s2[:, 1, :54] = s1[:, 0, :54], s2[:, 0, :54]  # every path shares the history
    got = pipeline._decode([(s1[0], s2[0])], horizon)[0][0]
    expected, end = [], length
    while end > length - horizon:
        start = max(0, end - 64)
        keep = end - max(start, length - horizon)
        with torch.no_grad():
            expected.insert(0, tiny.tokenizer.decode(s1[0, :, start:end], s2[0, :, start:end])[:, -keep:].numpy())
        end = start
    np.testing.assert_allclose(got, np.concatenate(expected, axis=1), rtol=1e-4, atol=1e-5)


def test_fused_projections_follow_their_weights(random_model):
    """q/k/v (and the other fused products) run as one product on a concatenated copy of the weights: a
    weight changed in place, or replaced, after the copy was made is used at the next call, and the
    outputs equal the separate layers'."""
    model = random_model("tiny").ours(64).predictor
    g = torch.Generator().manual_seed(0)
    s1, s2 = torch.randint(0, 1024, (2, 12), generator=g), torch.randint(0, 1024, (2, 12), generator=g)
    x = model.embed(s1, s2)

    def both():
        with torch.no_grad():
            fused = model.trunk(x)
        with torch.enable_grad():  # autograd: the separate layers
            separate = model.trunk(x).detach()
        return fused, separate

    fused, separate = both()
    torch.testing.assert_close(fused, separate, rtol=1e-5, atol=1e-5)
    attn = model.transformer[0].self_attn
    with torch.no_grad():
        attn.k_proj.weight.mul_(2.0)  # in place
    attn.v_proj.weight = torch.nn.Parameter(attn.v_proj.weight.detach() * 0.5)  # replaced
    changed, separate = both()
    torch.testing.assert_close(changed, separate, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(changed, fused)
    keys = set(model.state_dict())  # the checkpoint layout is the official one, with nothing added
    assert "transformer.0.self_attn.q_proj.weight" in keys and not any("fused" in k for k in keys)


def test_the_anchor_reads_the_last_history_bar_from_the_decode_of_the_paths(tiny):
    """The anchor needs the tokenizer's reconstruction of the last history bar. Where the paths' decode
    starts at the history's first token (the window never slid), its prefix pass is that reconstruction,
    bit for bit, and the history is not decoded a second time; a window that slid past the history's start
    decodes it separately. Either way the offset is the one a separate decode gives."""
    pipeline = KronosPipeline(tiny)
    for horizon, lookback, from_decode in ((10, None, True), (30, 60, False)):
        series = [random_bars(200, seed=4), random_bars(35 if lookback is None else 100, seed=5)]  # 2 groups
        prepared = [pipeline._prepare(b, ForecastSettings(horizon=horizon, lookback=lookback), None) for b in series]
        codes = pipeline._encode(prepared)
        tokens = [(torch.cat([s1, torch.randint(0, 1024, (horizon,))])[None].repeat(3, 1),
                   torch.cat([s2, torch.randint(0, 1024, (horizon,))])[None].repeat(3, 1)) for s1, s2 in codes]
        _, last = pipeline._decode(tokens, horizon, last_history_bars=True)
        separate = pipeline._reconstruct_last_bars(codes)
        if from_decode:
            for got, expected in zip(last, separate):
                np.testing.assert_array_equal(got, expected)
        else:  # 60 + 30 tokens > context 64: the decode starts after the history's first token
            assert last == [None, None]
        fcs = pipeline.predict_batch(series, horizon, paths=3, seed=2, lookback=lookback)
        for fc, p, rebuilt in zip(fcs, prepared, separate):
            close = denormalize(rebuilt, p.mu, p.sigma)[CLOSE]
            assert fc.provenance["anchor"]["reconstructed_last_close"] == pytest.approx(close, rel=1e-6)


needs_packed = pytest.mark.skipif(not _PACKED_LINEAR_BUILT, reason="this torch build has no oneDNN linear")


def test_the_pipeline_hands_the_model_the_speed_up_wing_and_the_plain_model_computes_the_same(random_model):
    """The model computes its products plainly until the runner around it, the pipeline, hands it
    ``kronos.accel``'s (the model never imports the wing); both forecast the same paths to float rounding."""
    pair = random_model("tiny").ours(64)
    computing = [m for model in (pair.tokenizer, pair.predictor) for m in model.modules()
                 if isinstance(m, ComputesProducts)]
    assert computing and all(m.products is PlainProducts for m in computing)
    history = random_bars(80, seed=3)

    def greedy():
        fc = KronosPipeline(pair).predict(history, 12, paths=2, top_k=1, top_p=1.0, seed=0, anchor=False)
        assert all(m.products is AccelProducts for m in computing)
        return fc.paths

    handed = greedy()
    with torch.no_grad():  # the plain model, as defined, gives the same greedy forecast
        x = torch.randn(3, 40, 6)
        packed_ids = pair.tokenizer.encode(x)
        hand_products(pair.tokenizer, PlainProducts)
        hand_products(pair.predictor, PlainProducts)
        plain_ids = pair.tokenizer.encode(x)
    for a, b in zip(packed_ids, plain_ids):
        torch.testing.assert_close(a, b)
    pipeline = KronosPipeline(pair)
    for model in (pair.tokenizer, pair.predictor):
        hand_products(model, PlainProducts)  # after the pipeline's hand-over: this forecast runs plainly
    plain = pipeline.predict(history, 12, paths=2, top_k=1, top_p=1.0, seed=0, anchor=False).paths
    assert all(m.products is PlainProducts for m in computing)
    np.testing.assert_allclose(plain, handed, rtol=1e-5)


@needs_packed
def test_packed_cpu_products_are_used_and_equal_the_plain_ones(tiny):
    """On the CPU the inference products run on oneDNN-packed copies of the weights; a forecast with them
    equals the plain products' to float rounding, and turning them off goes back to the plain ones."""
    history = random_bars(80, seed=3)
    attn = tiny.predictor.transformer[0].self_attn
    pipeline = KronosPipeline(tiny)

    def greedy():
        fc = pipeline.predict(history, 12, paths=2, top_k=1, top_p=1.0, seed=0, anchor=False)
        with torch.no_grad():
            return fc.paths, fused_linear(attn, ("q_proj", "k_proj", "v_proj"))

    previous = set_packed_linear(True)  # whatever KRONOS_PACKED_LINEAR says
    try:
        packed_paths, packed = greedy()
        set_packed_linear(False)
        plain_paths, plain = greedy()
    finally:
        set_packed_linear(previous)
    assert packed.packed is not None and plain.packed is None
    np.testing.assert_allclose(packed_paths, plain_paths, rtol=1e-5)


@needs_packed
@pytest.mark.parametrize("d_in,d_out", [(64, 192), (512, 1536), (1024, 512)])
def test_a_packed_products_rows_do_not_depend_on_how_many_rows_it_has(d_in, d_out):
    """A path's numbers do not depend on how many paths are sampled with it (MKL's plain product differs
    in the last bits between 1 and 30 rows)."""
    g = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(d_in, d_out)
    x = torch.randn(30, d_in, generator=g)
    previous = set_packed_linear(True)  # whatever KRONOS_PACKED_LINEAR says
    try:
        with torch.no_grad():
            product = fused_linear(torch.nn.ModuleDict({"p": layer}), ("p",))
            full = product(x)
            for rows in (1, 7, 29):
                assert torch.equal(product(x[:rows]), full[:rows])
    finally:
        set_packed_linear(previous)


@pytest.mark.parametrize("prefixes,dtype", [(1, torch.float32), (3, torch.float32), (1, torch.bfloat16)])
def test_attention_after_a_shared_prefix_equals_masked_attention_over_the_copies(prefixes, dtype):
    """Continuations of shared prefixes (the tokenizer's decode of many paths, a sliding window's shared
    part) are attended block by block, merged by log-sum-exp: the same as SDPA over every row's own copy
    of its prefix and its tokens, behind the causal continuation mask; a row's result does not depend on
    the rows beside it."""
    g = torch.Generator().manual_seed(0)
    rows, heads, m, n, head_dim = 6 * prefixes, 4, 37, 45, 16

    def randn(*shape):
        return torch.randn(*shape, generator=g).to(dtype)

    prefix = KVCache(randn(prefixes, heads, m, head_dim), randn(prefixes, heads, m, head_dim))
    q, k, v = randn(rows, heads, n, head_dim), randn(rows, heads, n, head_dim), randn(rows, heads, n, head_dim)
    keys = torch.arange(m + n)
    mask = keys[None, :] <= (m + torch.arange(n))[:, None]
    with torch.no_grad():
        assert prefix_blocks_available(q)
        expected = torch.nn.functional.scaled_dot_product_attention(
            q.float(), torch.cat([rows_of(prefix.k, rows), k], dim=2).float(),
            torch.cat([rows_of(prefix.v, rows), v], dim=2).float(), attn_mask=mask)
        got = attend_after_prefix(q, k, v, rows_of(prefix.k, rows), rows_of(prefix.v, rows))
        assert got.dtype == dtype
        tolerance = 1e-5 if dtype == torch.float32 else 2e-2
        torch.testing.assert_close(got.float(), expected, rtol=tolerance, atol=tolerance)
        # Every row of the first prefix's block given the first row's tokens: all equal, bit for bit.
        same = [t.clone() for t in (q, k, v)]
        for t in same:
            t[: rows // prefixes] = t[0]
        alike = attend_after_prefix(*same, rows_of(prefix.k, rows), rows_of(prefix.v, rows))[: rows // prefixes]
        assert torch.equal(alike, alike[:1].expand_as(alike))
    with torch.enable_grad():
        assert not prefix_blocks_available(q)  # training keeps the differentiable masked SDPA


@pytest.mark.parametrize("prefixes,chunk_tokens", [(1, 2048), (1, 50), (3, 50), (3, 200), (3, 10_000)])
def test_continuations_decoded_in_chunks_equal_each_whole_sequence_decoded(tiny, monkeypatch, prefixes,
                                                                           chunk_tokens):
    """The tokenizer decodes many paths' continuations after their shared prefix in passes of about
    DECODE_CHUNK_TOKENS tokens (a block of one prefix's rows split, or several blocks together): every
    row's bars equal the decode of its own whole sequence, and do not depend on the chunk size."""
    import kronos.tokenizer as tokenizer_module

    tokenizer = tiny.tokenizer
    g = torch.Generator().manual_seed(5)
    paths, m, n = 7, 23, 11
    prefix = [torch.randint(0, 2 ** tokenizer.config.s1_bits, (prefixes, m), generator=g) for _ in range(2)]
    tail = [torch.randint(0, 2 ** tokenizer.config.s1_bits, (prefixes * paths, n), generator=g) for _ in range(2)]
    with torch.no_grad():
        whole = tokenizer.decode(*(torch.cat([rows_of(p, prefixes * paths), t], dim=1) for p, t in zip(prefix, tail)))
        monkeypatch.setattr(tokenizer_module, "DECODE_CHUNK_TOKENS", chunk_tokens)
        got = tokenizer.decode_continuations(*prefix, *tail)
        monkeypatch.setattr(tokenizer_module, "DECODE_CHUNK_TOKENS", 10 ** 9)
        one_pass = tokenizer.decode_continuations(*prefix, *tail)
    torch.testing.assert_close(got, whole[:, m:], rtol=1e-5, atol=1e-5)
    assert torch.equal(got, one_pass)


def test_a_model_that_has_forecast_can_be_copied_and_pickled(tiny):
    """The derived (packed) weights a forecast leaves on the modules are not copied (oneDNN's packed
    tensors cannot be): the copy derives its own and forecasts the same numbers."""
    history = random_bars(80, seed=4)
    first = KronosPipeline(tiny).predict(history, 8, paths=3, seed=1)
    for copy_of in (copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))):
        pair = dataclasses.replace(tiny, predictor=copy_of(tiny.predictor), tokenizer=copy_of(tiny.tokenizer))
        again = KronosPipeline(pair).predict(history, 8, paths=3, seed=1)
        np.testing.assert_array_equal(again.paths, first.paths)
