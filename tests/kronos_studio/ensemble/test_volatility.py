"""Volatility members: the range variance estimator, the HAR and GJR-GARCH fits on processes with known
parameters, the members' paths, their walk-forward, and their reaction to a volatility jump."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from testkit import sampled

from kronos.settings import ForecastSettings
from kronos.synthetic import random_bars
from kronos_studio.ensemble.volatility import (
    GjrGarchMember,
    HarMember,
    fit_har,
    har_components,
    range_variance,
)
from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward

MEMBERS = (HarMember, GjrGarchMember)


def brownian_bars(sigma: np.ndarray, gap: float = 0.0, steps: int = 200, seed: int = 0) -> pd.DataFrame:
    """Daily bars of a driftless Brownian log price, bar i with variance sigma[i]^2 (``steps`` intrabar
    points, high/low their extremes) and an overnight gap N(0, gap^2) before it opens."""
    rng = np.random.default_rng(seed)
    n = len(sigma)
    inside = np.cumsum(rng.normal(0, 1, (n, steps)) * (sigma / np.sqrt(steps))[:, None], axis=1)
    opens = np.cumsum(rng.normal(0, gap, n) + np.r_[0.0, inside[:-1, -1]])
    log_open, path = opens, opens[:, None] + inside
    frame = pd.DataFrame({
        "timestamp": pd.bdate_range("2015-01-05", periods=n, tz="America/New_York"),
        "open": np.exp(log_open), "high": np.exp(np.maximum(log_open, path.max(1))),
        "low": np.exp(np.minimum(log_open, path.min(1))), "close": np.exp(path[:, -1]),
        "volume": rng.uniform(1e5, 2e5, n), "amount": 0.0})
    frame[["open", "high", "low", "close"]] *= 100
    return frame


def test_garman_klass_on_hand_computed_bars():
    e = np.exp
    bars = pd.DataFrame({  # flat; O = C with a 0.1 range; a bar closing at its high 0.1 above its open
        "open": [100.0, 100.0, 100.0, 100 * e(0.02)], "high": [100.0, 100 * e(0.1), 100 * e(0.1), 100 * e(0.02)],
        "low": [100.0, 100.0, 100.0, 100 * e(0.02)], "close": [100.0, 100.0, 100 * e(0.1), 100 * e(0.02)]})
    # bar 3 opens 0.08 below bar 2's close and stays there: only its gap counts.
    gap = 0.02 - 0.1
    expected = [0.0, 0.5 * 0.01, 0.5 * 0.01 - (2 * np.log(2) - 1) * 0.01, gap ** 2]
    np.testing.assert_allclose(range_variance(bars), expected, atol=1e-15)


def test_missing_open_bad_and_zero_ranges_give_finite_non_negative_variance():
    e = np.exp
    bars = pd.DataFrame({"open": [np.nan, 0.0, 100.0, 100.0], "high": [100 * e(0.1), 100 * e(0.1), 99.0, 100.0],
                         "low": [100.0, 100.0, 101.0, 100.0], "close": [100.0, 100.0, 100.0, -1.0]})
    v = range_variance(bars)
    parkinson = 0.01 / (4 * np.log(2))
    assert v[0] == pytest.approx(parkinson) and v[1] == pytest.approx(parkinson)  # no usable open
    assert v[2] == pytest.approx(0.5 * np.log(101 / 99) ** 2)  # high below low: read as swapped
    assert np.isnan(v[3])  # a non-positive close has no variance


def test_garman_klass_is_unbiased_and_far_less_noisy_than_the_squared_return():
    sigma, gap = 0.01, 0.005
    frame = brownian_bars(np.full(2000, sigma), gap=gap, steps=4000, seed=1)
    v = range_variance(frame)[1:]
    assert v.mean() == pytest.approx(sigma ** 2 + gap ** 2, rel=0.06)
    squared = np.diff(np.log(frame["close"].to_numpy())) ** 2
    assert v.std() < 0.6 * squared.std()  # what reading the ranges buys


def test_har_least_squares_gives_back_known_coefficients():
    coef = np.array([2e-5, 0.35, 0.30, 0.20])
    rng = np.random.default_rng(0)
    v = list(np.full(22, 1.4e-4))
    for _ in range(5200):  # v_{t+1} = HAR prediction x mean-one Gamma noise
        v.append(float(har_components(np.asarray(v[-22:]))[-1] @ coef) * rng.gamma(4, 0.25))
    fit = fit_har(np.asarray(v[222:]))
    np.testing.assert_allclose(fit.coef[1:], coef[1:], atol=0.08)
    assert fit.coef[1:].sum() == pytest.approx(coef[1:].sum(), abs=0.04)
    unconditional = coef[0] / (1 - coef[1:].sum())
    assert fit.coef[0] / (1 - fit.coef[1:].sum()) == pytest.approx(unconditional, rel=0.25)


def test_har_components_are_the_daily_weekly_and_monthly_means():
    v = np.arange(30, dtype=float)
    x = har_components(v)
    assert x.shape == (9, 4)
    np.testing.assert_allclose(x[-1], [1, 29, np.mean(v[25:]), np.mean(v[8:])])


def gjr_returns(n: int, omega: float, alpha: float, gamma: float, beta: float, nu: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n + 500) * np.sqrt((nu - 2) / nu)
    s2, r = omega / (1 - alpha - gamma / 2 - beta), np.empty(n + 500)
    for t in range(n + 500):
        r[t] = np.sqrt(s2) * z[t]
        s2 = omega + (alpha + gamma * (r[t] < 0)) * r[t] ** 2 + beta * s2
    return r[500:]  # burn-in dropped


def test_gjr_garch_fit_gives_back_known_parameters():
    true = {"omega": 1e-5, "alpha": 0.03, "gamma": 0.10, "beta": 0.88, "nu": 7.0}
    r = gjr_returns(4000, *true.values(), seed=0)
    close = 100 * np.exp(np.cumsum(r))
    frame = pd.DataFrame({"open": np.r_[100, close[:-1]], "high": close * 1.01, "low": close * 0.99, "close": close})
    fit, scale = GjrGarchMember(window=4000).fit(frame)
    p = fit.params
    assert p["omega"] * scale ** 2 == pytest.approx(true["omega"], rel=0.5)  # fitted in units of std(r)
    assert p["alpha[1]"] == pytest.approx(true["alpha"], abs=0.03)
    assert p["gamma[1]"] == pytest.approx(true["gamma"], abs=0.05)
    assert p["beta[1]"] == pytest.approx(true["beta"], abs=0.05)
    assert p["nu"] == pytest.approx(true["nu"], abs=2.5)


@pytest.mark.parametrize("member", MEMBERS)
def test_paths_are_coherent_candles_reproducible_with_the_seed(member):
    history = brownian_bars(np.full(600, 0.01), gap=0.003, seed=2)
    a = sampled(member(paths=40), history, None, 12, 7)
    assert a.shape == (40, 12, 6) and np.isfinite(a).all()
    o, h, lo, c = (a[:, :, i] for i in range(4))
    assert (lo <= np.minimum(o, c) * (1 + 1e-6)).all() and (np.maximum(o, c) <= h * (1 + 1e-6)).all()
    assert (lo > 0).all() and (a[:, :, 4] >= 0).all()
    assert np.array_equal(a, sampled(member(paths=40), history, None, 12, 7))
    assert not np.array_equal(a, sampled(member(paths=40), history, None, 12, 8))


@pytest.mark.parametrize("member", MEMBERS)
def test_short_history_falls_back_to_the_random_walk(member):
    history = brownian_bars(np.full(30, 0.01), seed=3)
    paths = sampled(member(paths=20), history, None, 5, 1)
    assert paths.shape == (20, 5, 6) and np.isfinite(paths).all()


@pytest.mark.parametrize("member", MEMBERS)
def test_each_member_walks_forward_with_finite_crps(member):
    bars = random_bars(700, seed=4)
    result = walk_forward(member(paths=20), bars, ForecastSettings(horizon=6), None, WalkForward(n_cutoffs=3, min_history=560))
    assert len(result.cutoffs) == 3 and np.isfinite(result.crps).all() and (result.crps > 0).all()


def band_width(paths: np.ndarray) -> float:
    """p10-p90 width of the last step's log close."""
    q10, q90 = np.quantile(np.log(paths[:, -1, 3]), [0.1, 0.9])
    return float(q90 - q10)


@pytest.mark.parametrize("member", MEMBERS)
def test_band_widens_after_a_volatility_jump(member):
    sigma = np.r_[np.full(560, 0.006), np.full(40, 0.03)]  # volatility x5 over the last 40 bars
    history = brownian_bars(sigma, seed=5)
    m = member(paths=300)
    calm, jumped = band_width(sampled(m, history.iloc[:560], None, 10, 0)), band_width(sampled(m, history, None, 10, 0))
    assert jumped > 2 * calm


def test_har_reads_the_ranges_not_only_the_closes():
    """Same closes, the last 30 bars' ranges four times as wide: the HAR band widens."""
    history = brownian_bars(np.full(600, 0.01), seed=6)
    wide = history.copy()
    last = wide.index >= 570
    body_hi, body_lo = wide[["open", "close"]].max(axis=1), wide[["open", "close"]].min(axis=1)
    wide.loc[last, "high"] = body_hi[last] * (wide["high"] / body_hi)[last] ** 4
    wide.loc[last, "low"] = body_lo[last] * (wide["low"] / body_lo)[last] ** 4
    m = HarMember(paths=300)
    assert band_width(sampled(m, wide, None, 10, 0)) > 1.8 * band_width(sampled(m, history, None, 10, 0))


def test_failed_arch_fits_and_exploding_paths_fall_back_to_the_random_walk(monkeypatch):
    from kronos_studio.ensemble import members
    from kronos_studio.evaluation.baselines import RandomWalk

    assert members.fit_arch(np.zeros(300)) is None  # flat returns: nothing to fit
    history = brownian_bars(np.full(600, 0.01), seed=7)
    fit, scale = GjrGarchMember().fit(history)
    monkeypatch.setattr(GjrGarchMember, "fit", lambda self, h: (fit, 1e6 * scale))  # paths overflow exp
    paths = sampled(GjrGarchMember(paths=20), history, None, 5, 3)
    assert np.isfinite(paths).all()
    np.testing.assert_array_equal(paths, sampled(RandomWalk(paths=20, window=members.CANDLE_WINDOW), history, None, 5, 3))
