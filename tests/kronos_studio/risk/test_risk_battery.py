"""The rest of the battery (issue 66, item 3), computed by ``vetted`` and held here to published values and to hand
computations: the Basel table, Acerbi–Szekely's thresholds, the dynamic quantile test, the FZ0 loss, and one
verdict per model with Holm's correction."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2

from kronos.errors import InputError
from kronos_studio.risk.backtest import (
    DQ_LAGS,
    TestResult,
    acerbi_szekely_z2,
    basel_zone_of,
    dynamic_quantile,
    fz0,
    kupiec,
    verdict,
)


def test_the_basel_table_is_the_published_one():
    """MAR32.9 Table 1: 250 days of a 99% VaR, green 0-4 exceptions, yellow (amber) 5-9, red 10 or more, with its
    multipliers, as vetted gives them."""
    from vetted.frtb import MULTIPLIER, MULTIPLIER_RED, binomial_zones

    zones = binomial_zones(250, 0.01)
    assert zones["green"] == (0, 4) and zones["amber"] == (5, 9) and zones["red_from"] == 10
    assert [MULTIPLIER[k] for k in range(10)] == [1.5] * 5 + [1.7, 1.76, 1.83, 1.88, 1.92] and MULTIPLIER_RED == 2.0
    assert [basel_zone_of(k) for k in (0, 4, 5, 9, 10, 14)] == ["green", "green", "yellow", "yellow", "red", "red"]


def test_acerbi_szekely_thresholds_are_the_papers():
    """Acerbi and Szekely (2014), Table 4: at T = 250 and a 97.5% ES, Z2 below -0.70 is rejected at 5%, below -1.8
    at 0.01%; vetted's zone is read from them, and our Z2 is their statistic."""
    from vetted.es import Z2_AMBER, Z2_RED, acerbi_szekely

    assert (Z2_AMBER, Z2_RED) == (-0.70, -1.8)
    rng = np.random.default_rng(3)
    var, es = np.full(250, 1.96), np.full(250, 2.34)
    losses = rng.uniform(-1, 1, 250)
    losses[::25] = 3.0  # 10 losses of 3 beyond 1.96, where 6.25 with a mean of 2.34 are expected
    z2 = 1 - np.sum(np.where(losses > var, losses, 0) / es) / (250 * 0.025)
    fixed = acerbi_szekely(-losses, var, es, alpha=0.025)
    assert fixed.statistic == pytest.approx(z2) and z2 < -0.70 and fixed.detail["zone"] == "amber"
    draws = [rng.standard_normal(4000) for _ in range(250)]
    ours = acerbi_szekely_z2(losses, var, es, 0.975, draws, simulations=500)
    assert ours.statistic == pytest.approx(z2) and ours.counts["zone"] == "amber" and ours.p_value < 0.01
    assert ours.counts["amber_below"] == pytest.approx(-0.70)


def test_kupiec_equals_the_published_likelihood_ratio():
    """8 exceptions of a 99% VaR in 250 days: Kupiec's LR written out (Jorion's textbook example size)."""
    hits = np.zeros(250, bool)
    hits[[3, 40, 41, 90, 130, 170, 200, 230]] = True
    x, n, p = int(hits.sum()), 250, 0.01
    lr = -2 * ((n - x) * math.log(1 - p) + x * math.log(p)) + 2 * ((n - x) * math.log(1 - x / n) + x * math.log(x / n))
    got = kupiec(hits, 0.99)
    assert x == 8 and got.statistic == pytest.approx(lr) and got.p_value == pytest.approx(chi2.sf(lr, 1))


def dq_by_hand(losses, var, level, lags=DQ_LAGS) -> tuple[float, int]:
    hit = (losses > var).astype(float) - (1 - level)
    n = len(hit)
    X = np.column_stack([np.ones(n - lags)] + [hit[lags - k:n - k] for k in range(1, lags + 1)] + [var[lags:]])
    y = hit[lags:]
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    return float(beta @ X.T @ y / ((1 - level) * level)), X.shape[1]


def test_the_dynamic_quantile_statistic_equals_a_hand_regression_and_detects_clustering():
    rng = np.random.default_rng(4)
    n, level = 500, 0.95
    var = 1.645 * np.exp(rng.normal(0, 0.2, n))
    honest = rng.standard_normal(n) * var / 1.645
    got = dynamic_quantile(honest, var, level, simulations=500)
    stat, df = dq_by_hand(honest, var, level)
    assert got.statistic == pytest.approx(stat, rel=1e-8) and got.df == df == DQ_LAGS + 2
    assert got.p_value > 0.05
    clustered = honest.copy()
    clustered[200:215] = 3 * var[200:215]  # fifteen exceptions in a row: the rate alone would not say how
    bad = dynamic_quantile(clustered, var, level, simulations=500)
    assert bad.p_value < 0.01 and bad.statistic > got.statistic
    with pytest.raises(InputError):
        dynamic_quantile(honest[:15], var[:15], level)


def test_fz0_equals_the_formula_and_is_lowest_for_the_true_var_and_es():
    """Patton, Ziegel and Chen (2019), in return space with v = -VaR, e = -ES:
    L = -1{r <= v}(v - r)/(a e) + v/e + ln(-e) - 1; the true pair has the lowest mean."""
    loss, var, es, level = np.array([0.5, 2.5, -1.0]), np.array([2.0, 2.0, 2.0]), np.array([2.5, 2.5, 2.5]), 0.975
    a = 1 - level
    r, v, e = -loss, -var, -es
    hand = -(r <= v).astype(float) * (v - r) / (a * e) + v / e + np.log(-e) - 1
    assert fz0(loss, var, es, level) == pytest.approx(hand)
    rng = np.random.default_rng(5)
    sd = rng.uniform(0.5, 2, 20000)
    losses = sd * rng.standard_normal(20000)
    q, tail = 1.959964, 2.337803  # N(0,1): the 97.5% quantile and the mean beyond it
    means = {f: float(np.nanmean(fz0(losses, f * q * sd, f * tail * sd, level))) for f in (0.8, 1.0, 1.25)}
    assert min(means, key=means.get) == 1.0
    assert np.isnan(fz0(np.array([1.0]), np.array([-0.1]), np.array([0.5]), level)[0])  # a VaR below 0: no FZ0


def test_one_verdict_per_model_with_holm():
    """Holm by hand: p-values sorted, the i-th of m multiplied by m - i + 1, then made non-decreasing."""
    ps = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.5}
    tests = [(k, TestResult("kupiec_pof", 0.0, p)) for k, p in ps.items()]
    got = verdict(tests)
    order = sorted(ps, key=ps.get)
    hand, running = {}, 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (len(ps) - i) * ps[k]))
        hand[k] = running
    assert got["holm_p"] == pytest.approx(hand)
    assert got["family"] == 4 and got["verdict"] == "rejected"  # a: 0.01 x 4 = 0.04, below 5%
    assert got["against"] == ["a (Holm p 0.040)"]
    assert verdict([(k, TestResult("kupiec_pof", 0.0, p * 2)) for k, p in ps.items()])["verdict"] == "passes"
    light = (("long 0.99 zone", TestResult("basel_traffic_light", 6.0, 0.1, counts={"zone": "yellow"})),)
    assert verdict([(k, TestResult("kupiec_pof", 0.0, 0.5)) for k in "xy"] + list(light))["verdict"] == "flagged"
    red = (("long 0.99 zone", TestResult("basel_traffic_light", 11.0, 0.0, counts={"zone": "red"})),)
    assert verdict(list(red))["verdict"] == "rejected"
    some = verdict([("kupiec_pof long 0.95", TestResult("kupiec_pof", 0.0, 0.5))], untested=["long 0.99"])
    assert some["verdict"] == "passes" and some["untested"] == ["long 0.99"]  # on 0.95 only, and it says so
    assert verdict([], untested=["long 0.99"])["verdict"] == "untested"
