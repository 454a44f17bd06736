import math

import numpy as np
import pytest
from scipy.stats import norm

from kronos.errors import InputError
from kronos.settings import knobs
from kronos_studio.risk.measures import MIN_TAIL_PATHS, RiskSettings, path_risk, paths_needed, tail_risk


def test_var_and_es_of_normal_draws_match_the_normal_quantile_and_tail_mean():
    rng = np.random.default_rng(0)
    sigma, n, level = 0.02, 40_000, 0.99
    losses = rng.normal(0, sigma, n)
    var, var_se, es, es_se, tail = tail_risk(losses, level)
    z = norm.ppf(level)
    assert abs(var - sigma * z) < 4 * var_se
    assert abs(es - sigma * norm.pdf(z) / (1 - level)) < 4 * es_se
    assert tail == pytest.approx(n * (1 - level), abs=2)
    # the asymptotic SE of the quantile: sqrt(a (1-a) / n) / f(q)
    assert var_se == pytest.approx(math.sqrt(level * (1 - level) / n) / norm.pdf(sigma * z, scale=sigma), rel=0.15)


def test_standard_errors_match_the_spread_of_repeated_estimates():
    rng = np.random.default_rng(1)
    n, level = 1000, 0.95
    runs = [tail_risk(rng.standard_t(5, n), level) for _ in range(300)]
    var, var_se, es, es_se, _ = map(np.asarray, zip(*runs))
    assert np.median(var_se) == pytest.approx(var.std(), rel=0.2)
    assert np.median(es_se) == pytest.approx(es.std(), rel=0.25)


def test_long_and_short_positions_read_opposite_tails(make_forecast):
    rng = np.random.default_rng(2)
    r = rng.normal(0.01, 0.02, (4000, 3))  # an upward drift: the short side loses more
    fc = make_forecast(r)
    risk = path_risk(fc, RiskSettings(levels=(0.95,)))
    long, short = risk.get("long", 0.95), risk.get("short", 0.95)
    simple = np.exp(r.sum(axis=1)) - 1
    assert long.var == pytest.approx(-np.quantile(simple, 0.05, method="weibull"), rel=1e-6)
    assert short.var == pytest.approx(np.quantile(simple, 0.95, method="weibull"), rel=1e-6)
    assert short.var > long.var
    assert len(risk.steps) == 2 * 1 * 3 and risk.get("long", 0.95, step=1).var < long.var


def test_a_99_es_from_too_few_paths_is_flagged_with_the_count_to_ask_for(make_forecast):
    rng = np.random.default_rng(3)
    few = path_risk(make_forecast(rng.normal(0, 0.01, (1000, 2))))
    flagged = {n.values["level"]: n for n in few.notices}
    assert set(flagged) == {0.99} and flagged[0.99].values["needed"] == paths_needed(0.99) == 2000
    assert "paths=2000" in flagged[0.99].worded() and flagged[0.99].values["tail_paths"] < MIN_TAIL_PATHS
    enough = path_risk(make_forecast(rng.normal(0, 0.01, (2000, 2))))
    assert not enough.notices and all(r.enough_paths for r in enough.horizon)


@pytest.mark.parametrize("levels", [(0.5,), (0.99999,), (0.95, 1.2), ()])
def test_a_level_outside_the_range_is_refused_naming_the_setting(levels):
    with pytest.raises(InputError) as e:
        RiskSettings(levels=levels)
    assert e.value.fix[0].setting == "levels" and "levels" in str(e.value)


def test_identical_paths_have_no_monte_carlo_error():
    var, var_se, es, es_se, _ = tail_risk(np.full(100, 0.03), 0.99)
    assert (var, es, var_se, es_se) == (0.03, 0.03, 0.0, 0.0)


def test_every_setting_carries_a_knob():
    assert set(knobs(RiskSettings)) == {"levels", "positions", "per_step", "vol_interval", "history_window", "ewma_lambda"}
