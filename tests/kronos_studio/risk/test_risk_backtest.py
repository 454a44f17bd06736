import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import chi2, t
from statsmodels.stats.sandwich_covariance import cov_hac
from statsmodels.tsa.stattools import acovf

from kronos.errors import InputError
from kronos_studio.risk.backtest import (
    acerbi_szekely_z2,
    basel_zone_of,
    christoffersen,
    diebold_mariano,
    kupiec,
    mincer_zarnowitz,
    model_confidence_set,
    qlike,
    traffic_light,
    var_tests,
    volatility_losses,
)


def planted(n: int, at: list[int]) -> np.ndarray:
    hits = np.zeros(n, bool)
    hits[at] = True
    return hits


def test_kupiec_christoffersen_and_the_zone_equal_a_hand_computation():
    hits = planted(250, [10, 11, 80, 150, 151, 152, 240])  # 7 exceptions, three of them after another
    n, x, p = 250, 7, 0.01
    lr_pof = -2 * ((n - x) * math.log(1 - p) + x * math.log(p)) + 2 * ((n - x) * math.log(1 - x / n) + x * math.log(x / n))
    # transitions over the 249 pairs: 0->0, 0->1, 1->0, 1->1
    n01, n11 = 4, 3
    n10 = 4  # every run of exceptions ends with a non-exception after it
    n00 = 249 - n01 - n10 - n11
    pi01, pi11, pi = n01 / (n00 + n01), n11 / (n10 + n11), (n01 + n11) / 249
    lr_ind = -2 * ((n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
                   - n00 * math.log(1 - pi01) - n01 * math.log(pi01) - n10 * math.log(1 - pi11) - n11 * math.log(pi11))
    pof = kupiec(hits, 0.99)
    ind, cc = christoffersen(hits, 0.99)
    assert pof.statistic == pytest.approx(lr_pof) and pof.p_value == pytest.approx(chi2.sf(lr_pof, 1))
    assert pof.counts["exceptions"] == 7 and pof.counts["observations"] == 250
    assert (ind.counts["n00"], ind.counts["n01"], ind.counts["n10"], ind.counts["n11"]) == (n00, n01, n10, n11)
    assert ind.statistic == pytest.approx(lr_ind) and ind.p_value == pytest.approx(chi2.sf(lr_ind, 1))
    assert cc.statistic == pytest.approx(lr_pof + lr_ind) and cc.p_value == pytest.approx(chi2.sf(lr_pof + lr_ind, 2))
    light = traffic_light(hits, 0.99)
    assert light.counts["zone"] == "yellow" and light.statistic == 7


def test_the_zones_are_the_basel_edges():
    zones = [basel_zone_of(k) for k in range(15)]
    assert zones == ["green"] * 5 + ["yellow"] * 5 + ["red"] * 5


def test_no_exceptions_at_all_is_a_finite_test():
    pof = kupiec(np.zeros(300, bool), 0.99)
    assert pof.statistic == pytest.approx(-2 * 300 * math.log(0.99))
    ind, _ = christoffersen(np.zeros(300, bool), 0.99)
    assert ind.statistic == 0 and ind.p_value == 1


def test_the_traffic_light_only_counts_the_latest_250_and_refuses_fewer():
    hits = planted(400, list(range(0, 100, 10)) + [300, 350])  # 10 old exceptions, 2 in the latest 250
    assert traffic_light(hits, 0.99).counts == {"zone": "green", "exceptions": 2, "observations": 250, "left_out": 150}
    with pytest.raises(InputError) as e:
        traffic_light(hits[:249], 0.99)
    assert e.value.values == {"test": "Basel traffic light", "needed": 250, "observations": 249}
    with pytest.raises(InputError):
        traffic_light(hits, 0.95)


def test_too_few_observations_are_refused_with_what_the_test_needs():
    with pytest.raises(InputError) as e:
        kupiec(np.zeros(60, bool), 0.99)
    assert "needs at least 100 observations, there are 60" in str(e.value)
    tests, notices = var_tests(np.zeros(60, bool), 0.99)
    assert tests == {} and len(notices) == 2 and "100" in notices[0].problem


def garch_t(n: int, seed: int, omega=0.05, alpha=0.08, beta=0.9, nu=6.0):
    """Returns of a GARCH(1,1) with unit-variance Student t shocks and their conditional sd."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n) * math.sqrt((nu - 2) / nu)
    r, sd = np.empty(n), np.empty(n)
    v = omega / (1 - alpha - beta)
    for i in range(n):
        sd[i] = math.sqrt(v)
        r[i] = sd[i] * z[i]
        v = omega + alpha * r[i] ** 2 + beta * v
    return r, sd, nu


def test_the_true_var_of_a_garch_t_series_passes_and_a_narrow_one_fails():
    r, sd, nu = garch_t(2000, seed=7)
    q = -t.ppf(0.01, nu) * math.sqrt((nu - 2) / nu)
    true_var = sd * q
    assert kupiec(exceptions := (-r > true_var), 0.99).p_value > 0.05
    assert christoffersen(exceptions, 0.99)[1].p_value > 0.05
    narrow = kupiec(-r > 0.7 * true_var, 0.99)
    assert narrow.p_value < 0.001 and narrow.counts["rate"] > 0.02


def test_es_test_passes_the_true_distribution_and_rejects_a_too_thin_tail():
    rng = np.random.default_rng(8)
    n, level, draws = 500, 0.975, 4000
    sd = rng.uniform(0.5, 2.0, n)
    samples = [s * rng.standard_normal(draws) for s in sd]
    var = np.array([np.quantile(x, level) for x in samples])
    es = np.array([x[x >= v].mean() for x, v in zip(samples, var)])
    honest = acerbi_szekely_z2(sd * rng.standard_normal(n), var, es, level, samples)
    heavy = acerbi_szekely_z2(sd * rng.standard_t(3, n) * 1.3, var, es, level, samples)
    assert honest.p_value > 0.05 and heavy.p_value < 0.01 and heavy.statistic < honest.statistic


def test_qlike_ranks_the_true_variance_first_among_perturbed_ones():
    rng = np.random.default_rng(9)
    h = np.exp(rng.normal(-8, 0.7, 3000))
    proxy = h * rng.standard_normal(3000) ** 2  # squared returns: unbiased and very noisy
    factors = (0.5, 0.8, 1.0, 1.25, 2.0)
    losses, notices = volatility_losses(proxy, {f: h * f for f in factors})
    assert losses.mean().idxmin() == 1.0 and not notices
    assert qlike(h, h) == pytest.approx(np.zeros(3000))


def test_zero_proxies_are_left_out_and_said():
    losses, notices = volatility_losses(np.array([1.0, 0.0, 2.0]), {"a": np.ones(3)})
    assert len(losses) == 2 and "1 of 3" in notices[0].problem


def test_diebold_mariano_equals_a_bartlett_long_run_variance():
    rng = np.random.default_rng(10)
    a = rng.gamma(2, 1, 200)
    b = a + 0.3 + np.convolve(rng.normal(0, 0.5, 203), np.ones(4) / 2, "valid")  # autocorrelated differences
    d = a - b
    lags = 4
    gamma = acovf(d, demean=True, fft=False, nlag=lags)
    lrv = gamma[0] + 2 * sum((1 - j / (lags + 1)) * gamma[j] for j in range(1, lags + 1))
    dm = diebold_mariano(a, b, lags=lags)
    assert dm.statistic == pytest.approx(d.mean() / math.sqrt(lrv / len(d)), rel=1e-6)
    assert dm.statistic < -3 and dm.p_value < 0.01


def test_mincer_zarnowitz_equals_ols_with_a_hac_covariance():
    rng = np.random.default_rng(11)
    h = np.exp(rng.normal(0, 0.5, 300))
    s = 0.2 + 0.7 * h + rng.normal(0, 0.3, 300)
    mz = mincer_zarnowitz(s, h, lags=3)
    ols = sm.OLS(s, sm.add_constant(h)).fit()
    cov = cov_hac(ols, nlags=3, use_correction=False)  # statsmodels HAC fits: no small-sample factor
    diff = ols.params - np.array([0.0, 1.0])
    wald = float(diff @ np.linalg.solve(cov, diff)) / 2
    assert (mz.intercept, mz.slope) == pytest.approx(tuple(ols.params))
    assert (mz.intercept_se, mz.slope_se) == pytest.approx(tuple(np.sqrt(np.diag(cov))))
    assert mz.joint.statistic == pytest.approx(wald, rel=1e-6) and mz.joint.p_value < 0.01
    ok = mincer_zarnowitz(h + rng.normal(0, 0.3, 300), h, lags=3)
    assert ok.joint.p_value > 0.01


def test_model_confidence_set_keeps_the_true_model_and_drops_a_bad_one():
    rng = np.random.default_rng(12)
    h = np.exp(rng.normal(-8, 0.7, 500))
    proxy = h * rng.standard_normal(500) ** 2
    losses, _ = volatility_losses(proxy, {"true": h, "close": h * 1.05, "bad": h * 4})
    mcs = model_confidence_set(losses, reps=500)
    assert mcs.loc["true", "included"] and not mcs.loc["bad", "included"]
    assert list(mcs.index) == ["true", "close", "bad"] and isinstance(mcs, pd.DataFrame)


def test_the_traffic_light_is_left_out_of_longer_horizons_and_said():
    hits = planted(300, [5, 50, 90])
    assert "basel_traffic_light" in var_tests(hits, 0.99)[0]
    tests, notices = var_tests(hits, 0.99, one_step=False)
    assert "basel_traffic_light" not in tests and "kupiec_pof" in tests
    assert notices[0].fix[0].setting == "horizon" and "one-step" in notices[0].problem
