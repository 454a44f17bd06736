"""KV-cached generation, seeds, batching and thread safety."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from conftest import random_bars
from kronos.forecast import Forecaster, ForecastSettings, InputError
from kronos.generate import BarFeatures, PathState, prefill


@pytest.mark.parametrize("lengths", [[60], [60, 45]])
def test_kv_cache_gives_the_logits_of_full_recomputation(oracle, lengths):
    """Shared-context caches + per-path tokens give what a full pass over each path gives."""
    model = oracle("mini").ours(2048).predictor
    g = torch.Generator().manual_seed(3)
    paths, extra = 3, 10
    rows = len(lengths) * paths
    seqs = [(torch.randint(0, 1024, (n + extra,), generator=g), torch.randint(0, 1024, (n + extra,), generator=g),
             torch.randint(0, 7, (n + extra, 5), generator=g).float()) for n in lengths]
    # Every path continues its series' context with its own random tokens.
    tails = [[(torch.randint(0, 1024, (extra,), generator=g), torch.randint(0, 1024, (extra,), generator=g))
              for _ in range(paths)] for _ in lengths]
    with torch.no_grad():
        state = PathState(model, lengths, paths, extra, model.embedding.emb_s1.weight)
        for b, (a1, a2, st) in enumerate(seqs):
            n = lengths[b]
            h, caches = prefill(model, a1[None, :n], a2[None, :n], BarFeatures(st[None, :n], None), context=2048)
            state.store_prefix(b, caches, *model.dependency_keys_values(h))
        for j in range(extra):
            def col(b, r, which):
                return tails[b][r][which][j]
            t1 = torch.stack([col(b, r, 0) for b in range(len(lengths)) for r in range(paths)])[:, None]
            t2 = torch.stack([col(b, r, 1) for b in range(len(lengths)) for r in range(paths)])[:, None]
            st = torch.stack([seqs[b][2][lengths[b] + j] for b in range(len(lengths)) for _ in range(paths)])[:, None]
            pos = torch.tensor([lengths[b] + j for b in range(len(lengths)) for _ in range(paths)])
            h_step = state.decode_one_token(model, t1, t2, BarFeatures(st, None), pos)
            chosen = torch.randint(0, 1024, (rows, 1), generator=g)
            s2_fast = model.s2_logits_paths(h_step, chosen, state.dep, state.generated)
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


@pytest.fixture(scope="module")
def tiny(oracle):
    return oracle("tiny").ours(64)


def test_same_seed_same_paths_and_paths_differ(tiny):
    f = Forecaster(tiny)
    bars = random_bars(80)
    a = f.forecast(bars, 20, paths=16, seed=5)
    b = f.forecast(bars, 20, paths=16, seed=5)
    c = f.forecast(bars, 20, paths=16, seed=6)
    np.testing.assert_array_equal(a.paths, b.paths)
    assert not np.array_equal(a.paths, c.paths)
    assert np.unique(a.paths[:, -1, 3]).size > 4  # sampled paths are a distribution, not copies
    assert a.paths.shape == (16, 20, 6)
    q = a.quantiles()
    assert list(q.columns[:3]) == ["open_p10", "open_p50", "open_p90"]
    assert (q["close_p10"] <= q["close_p50"]).all() and (q["close_p50"] <= q["close_p90"]).all()
    assert a.provenance["seed"] == 5 and a.provenance["input_sha256"] == c.provenance["input_sha256"]


def test_batch_with_unequal_lengths_matches_single_runs(tiny):
    f = Forecaster(tiny)
    series = [random_bars(40, seed=1), random_bars(100, seed=2), random_bars(55, seed=3)]
    kwargs = dict(paths=2, top_k=1, top_p=1.0)
    batch = f.forecast_batch(series, 25, lookback=None, **kwargs)
    for bars, fc in zip(series, batch):
        single = f.forecast(bars, 25, **kwargs)
        np.testing.assert_allclose(fc.mean, single.mean, rtol=1e-5)
        assert fc.provenance["bars_used"] == min(len(bars), 64)


def test_four_threads_equal_sequential_runs(tiny):
    f = Forecaster(tiny)
    jobs = [(random_bars(50 + 10 * i, seed=i), 100 + i) for i in range(4)]
    sequential = [f.forecast(b, 15, paths=8, seed=s).paths for b, s in jobs]
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(4)

    def work(i):
        barrier.wait()
        results[i] = f.forecast(jobs[i][0], 15, paths=8, seed=jobs[i][1]).paths

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        np.testing.assert_array_equal(results[i], sequential[i])


def test_progress_is_reported_per_step(tiny):
    seen = []
    Forecaster(tiny).forecast(random_bars(30), 7, paths=3, progress=lambda i, n: seen.append((i, n)))
    assert seen == [(i, 7) for i in range(1, 8)]


@pytest.mark.parametrize("kwargs,message", [
    (dict(horizon=0), "horizon"),
    (dict(horizon=5, paths=0), "paths"),
    (dict(horizon=5, temperature=-1), "temperature"),
    (dict(horizon=5, top_p=0), "top_p"),
    (dict(horizon=5, lookback=500), "lookback is 500 bars but only 60"),
])
def test_bad_settings_are_named(tiny, kwargs, message):
    with pytest.raises(InputError, match=message):
        Forecaster(tiny).forecast(random_bars(60), settings=ForecastSettings(**kwargs))


def test_bad_bars_are_named(tiny):
    f = Forecaster(tiny)
    bars = random_bars(40)
    with pytest.raises(InputError, match="lack columns"):
        f.forecast(bars.drop(columns="close"), 5)
    with pytest.raises(InputError, match="missing or non-numeric"):
        f.forecast(bars.assign(open=bars["open"].where(bars.index != 7)), 5)
    with pytest.raises(InputError, match="strictly increasing"):
        f.forecast(bars.iloc[::-1], 5)
    with pytest.raises(InputError, match="no timestamps"):
        f.forecast(bars.drop(columns="timestamp"), 5)


def test_volume_absent_is_zero_filled(tiny):
    fc = Forecaster(tiny).forecast(random_bars(40).drop(columns="volume"), 5, paths=2)
    assert (fc.history[["volume", "amount"]] == 0).all().all()
    assert np.isfinite(fc.paths).all()


def test_temperature_zero_is_greedy(tiny):
    f = Forecaster(tiny)
    a = f.forecast(random_bars(40), 10, paths=3, temperature=0, seed=1)
    b = f.forecast(random_bars(40), 10, paths=3, top_k=1, top_p=1.0, seed=2)
    np.testing.assert_allclose(a.paths, b.paths, rtol=1e-6)


def test_future_stamps_follow_the_exchange_calendar(tiny):
    from data_sources import Bars

    frame = random_bars(80, freq="B", start="2024-04-10")
    frame = frame[frame["timestamp"] <= "2024-07-03"].copy()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("America/New_York")
    frame["amount"] = frame["volume"] * frame["close"]
    bars = Bars.from_frame(frame, source="file", symbol="TEST", interval="1d", calendar="XNYS")
    fc = Forecaster(tiny).forecast(bars, 3, paths=2)
    assert [str(t.date()) for t in fc.timestamps] == ["2024-07-05", "2024-07-08", "2024-07-09"]
    assert str(fc.timestamps.tz) == "America/New_York"


def test_event_encoder_is_inert_until_trained_and_then_changes_the_forecast(oracle):
    pair = oracle("tiny").ours(64)
    f = Forecaster(pair)
    bars = random_bars(50)
    base = f.forecast(bars, 12, paths=6, seed=2)
    emb = pair.predictor.attach_event_embedding(20)
    try:
        def events(hist, fut):
            return np.ones((len(hist) + len(fut), 20), dtype=np.float32)
        no_events = f.forecast(bars, 12, paths=6, seed=2)
        zero_init = f.forecast(bars, 12, paths=6, seed=2, events=events)
        np.testing.assert_array_equal(no_events.paths, base.paths)  # module present, no events: identical
        np.testing.assert_array_equal(zero_init.paths, base.paths)  # zero-initialised encoder: identical
        with torch.no_grad():
            emb.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
        moved = f.forecast(bars, 12, paths=6, seed=2, events=events)
        assert not np.array_equal(moved.paths, base.paths) and moved.provenance["events"]
        with pytest.raises(InputError, match="shape"):
            f.forecast(bars, 12, paths=2, events=lambda h, fu: np.zeros((3, 20)))
    finally:
        pair.predictor.event_emb = None
    with pytest.raises(InputError, match="no event encoder"):
        f.forecast(bars, 5, paths=2, events=lambda h, fu: np.zeros((len(h) + len(fu), 20)))
