"""A fan with impossible prices or a band no history justifies is flagged, a sane one is not."""
from __future__ import annotations

import numpy as np

from kronos_studio.evaluation.plausibility import WIDTH_FACTOR, check_fan


def walk(n, sigma, seed=0, start=100.0):
    return start * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, sigma, n)))


def fan(last, sigma, paths=200, horizon=10, seed=1):
    rng = np.random.default_rng(seed)
    close = last * np.exp(np.cumsum(rng.normal(0, sigma, (paths, horizon)), axis=1))
    out = np.repeat(close[:, :, None], 6, axis=2)
    out[:, :, 1] *= 1.01  # high
    out[:, :, 2] *= 0.99  # low
    return out


def test_a_fan_like_its_history_passes():
    history = walk(500, 0.01)
    assert check_fan(fan(history[-1], 0.01), history) == []


def test_non_positive_prices_are_flagged():
    history = walk(500, 0.01)
    paths = fan(history[-1], 0.01)
    paths[3, 4:, 2] = -1.0  # one path's low goes negative from step 5
    problems = check_fan(paths, history)
    assert [p.code for p in problems] == ["non_positive_prices"]
    assert "1 of 200 sample paths" in problems[0].message and "step 5" in problems[0].message


def test_a_band_far_wider_than_the_history_ever_moved_is_flagged():
    history = walk(500, 0.01)
    wide = fan(history[-1], 0.01 * WIDTH_FACTOR * 2)
    assert [p.code for p in check_fan(wide, history)] == ["implausible_band"]
    assert check_fan(fan(history[-1], 0.01 * 2), history) == []  # twice as wide: unusual, not impossible
    assert check_fan(wide, history[:25]) == []  # too little history to judge the width
