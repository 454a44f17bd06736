import pytest
import torch

from kronos.sampling import SamplingConfig, keep_top_k, keep_top_p, sample


def test_top_k_keeps_ties_with_the_kth():
    logits = torch.tensor([[1.0, 3.0, 2.0, 2.0, 0.5]])
    kept = keep_top_k(logits, 2)
    assert torch.isfinite(kept).tolist() == [[False, True, True, True, False]]


def test_top_p_keeps_the_crossing_token_and_the_best():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = torch.isfinite(keep_top_p(probs.log(), 0.7))
    assert kept.tolist() == [[True, True, False, False]]
    assert torch.isfinite(keep_top_p(probs.log(), 0.01)).tolist() == [[True, False, False, False]]
    shuffled = probs[:, [2, 0, 3, 1]]
    assert torch.isfinite(keep_top_p(shuffled.log(), 0.7)).tolist() == [[False, True, False, True]]


def test_top_k_and_top_p_combine():
    logits = torch.tensor([[0.0, 0.0, 0.0, 10.0]]).repeat(200, 1)
    g = torch.Generator().manual_seed(0)
    ids = sample(logits, SamplingConfig(temperature=1.0, top_k=3, top_p=0.5), g)
    assert (ids == 3).all()  # top-p still applies after top-k


def test_seeded_sampling_is_reproducible():
    logits = torch.randn(64, 1024, generator=torch.Generator().manual_seed(1))
    cfg = SamplingConfig(1.0, 0, 0.95)
    a = sample(logits, cfg, torch.Generator().manual_seed(9))
    b = sample(logits, cfg, torch.Generator().manual_seed(9))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [dict(temperature=-0.1), dict(top_k=-1), dict(top_p=0.0), dict(top_p=1.5)])
def test_invalid_sampling_settings(bad):
    with pytest.raises(ValueError):
        SamplingConfig(**{"temperature": 1.0, "top_k": 0, "top_p": 0.9, **bad})


def test_draw_follows_the_distribution_and_skips_zero_mass():
    probs = torch.tensor([[0.0, 0.2, 0.0, 0.5, 0.3]]).repeat(20000, 1)
    ids = sample(probs.log(), SamplingConfig(1.0, 0, 1.0), torch.Generator().manual_seed(4))[:, 0]
    freq = torch.bincount(ids, minlength=5).float() / len(ids)
    assert freq[0] == 0 and freq[2] == 0
    torch.testing.assert_close(freq, probs[0], atol=0.015, rtol=0)


@pytest.mark.parametrize("p", [0.5, 0.9, 0.99])
def test_nucleus_probes_equal_a_full_sort(p):
    """Peaked rows are settled by the 16- or 64-token probe, flat ones by a sort; the mask is the one a
    full sort of every row gives."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(400, 1024, generator=g) * torch.linspace(0.05, 12, 400)[:, None]  # flat to peaked

    probs = torch.softmax(logits, dim=-1)
    top, order = torch.sort(probs, descending=True, dim=-1)
    keep = torch.ones_like(top, dtype=torch.bool)
    keep[:, 1:] = top.cumsum(dim=-1)[:, :-1] <= p
    expected = torch.zeros_like(keep).scatter(-1, order, keep)
    for rows in (slice(None), slice(0, 100), slice(300, 400)):  # mixed, mostly flat, mostly peaked
        assert torch.equal(torch.isfinite(keep_top_p(logits[rows], p)), expected[rows])
