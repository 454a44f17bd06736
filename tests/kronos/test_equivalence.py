"""Our implementation against the official one on the same random weights (eval mode)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from testkit import official_greedy, random_bars

from kronos.pipeline import KronosPipeline

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
# The official mini and small configs are the slow cases (seconds each): `-m "not slow"` keeps tiny only.
OFFICIAL_MINI = pytest.param("mini", marks=pytest.mark.slow)
OFFICIAL_SMALL = pytest.param("small", marks=pytest.mark.slow)


def _normalised(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, n, 6, generator=g).clamp(-5, 5)


def _stamps(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    cols = [torch.randint(0, hi, (2, n), generator=g) for hi in (60, 24, 7)]
    cols += [torch.randint(1, 32, (2, n), generator=g), torch.randint(1, 13, (2, n), generator=g)]
    return torch.stack(cols, -1).float()


@pytest.mark.parametrize("name", ["tiny", OFFICIAL_MINI, OFFICIAL_SMALL])
def test_tokenizer_ids_and_decode_match_official(oracle, name):
    o = oracle(name)
    ours = o.ours(512).tokenizer
    x = _normalised(300)
    with torch.no_grad():
        ref_s1, ref_s2 = o.official_tokenizer.encode(x, half=True)
        ref_bars = o.official_tokenizer.decode((ref_s1, ref_s2), half=True)
    s1, s2 = ours.encode(x)
    assert torch.equal(s1, ref_s1) and torch.equal(s2, ref_s2)
    assert len(torch.unique(s1)) > 10  # a degenerate encoder would make equality trivial
    torch.testing.assert_close(ours.decode(s1, s2), ref_bars, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["tiny", OFFICIAL_MINI, OFFICIAL_SMALL])
def test_predictor_logits_match_official(oracle, name):
    o = oracle(name)
    model = o.ours(512).predictor
    n = 200
    g = torch.Generator().manual_seed(7)
    s1 = torch.randint(0, 1024, (2, n), generator=g)
    s2 = torch.randint(0, 1024, (2, n), generator=g)
    stamp = _stamps(n)
    with torch.no_grad():
        ref1, ref_h = o.official_predictor.decode_s1(s1, s2, stamp)
        h = model.trunk(model.embed(s1, s2, stamp))
        torch.testing.assert_close(model.s1_logits(h), ref1, rtol=1e-5, atol=1e-5)
        k, v = model.dependency_keys_values(h)
        for chosen in (ref1[:, -1].argmax(-1, keepdim=True), torch.tensor([[3], [1000]])):
            ref2 = o.official_predictor.decode_s2(ref_h, chosen)[:, -1]
            ours2 = model.s2_logits(h[:, -1:], chosen, k, v)[:, 0]
            torch.testing.assert_close(ours2, ref2, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,context,n,horizon", [
    ("tiny", 64, 40, 30),      # context and forecast fit in the window: pure KV-cache path
    ("tiny", 64, 50, 30),      # the window starts sliding during the forecast
    ("tiny", 64, 120, 20),     # the context alone is longer than the window
    pytest.param(*("mini", 2048, 300, 20), marks=pytest.mark.slow),   # mini at its trained context
    pytest.param(*("mini", 128, 150, 16), marks=pytest.mark.slow),    # mini weights, window slides
    pytest.param(*("small", 512, 200, 16), marks=pytest.mark.slow),   # small at its trained context
    pytest.param(*("small", 128, 120, 24), marks=pytest.mark.slow),   # small weights, window slides
])
def test_greedy_forecast_matches_official_predictor(oracle, name, context, n, horizon):
    o = oracle(name)
    frame = random_bars(n + horizon, seed=n)
    history = frame.iloc[:n].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[n:])
    ref = official_greedy(o, history, future, context)
    pipeline = KronosPipeline(o.ours(context))
    fc = pipeline.predict(history, horizon, paths=2, top_k=1, top_p=1.0, lookback=n, future_timestamps=future,
                          anchor=False)  # the official output, unanchored
    rel = np.abs(fc.mean - ref) / np.maximum(np.abs(ref), 1e-3)
    assert rel.max() < 1e-4, f"max relative difference {rel.max():.2e}"
    np.testing.assert_array_equal(fc.paths[0], fc.paths[1])  # greedy: every path is the same
    assert (fc.timestamps == future).all()
    assert fc.provenance["anchor"] == {"applied": False}
    # Anchored (the default): the same fan moved by one factor, so its start is the actual last close.
    anchored = pipeline.predict(history, horizon, paths=2, top_k=1, top_p=1.0, lookback=n, future_timestamps=future)
    offset = anchored.provenance["anchor"]["offset_log"]
    np.testing.assert_allclose(anchored.paths[:, :, :4], fc.paths[:, :, :4] * np.exp(-offset), rtol=2e-6)
    np.testing.assert_array_equal(anchored.paths[:, :, 4:], fc.paths[:, :, 4:])
