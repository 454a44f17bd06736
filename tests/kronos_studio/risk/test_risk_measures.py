import math

import numpy as np
import pytest
from scipy.stats import norm

from kronos.errors import InputError
from kronos.settings import knobs
from kronos_studio.risk.measures import (
    MIN_TAIL_PATHS,
    RiskSettings,
    default_paths,
    path_risk,
    paths_needed,
    tail_risk,
)


def test_var_and_es_of_normal_draws_match_the_normal_quantile_and_tail_mean():
    rng = np.random.default_rng(0)
    sigma, n, level = 0.02, 40_000, 0.99
    losses = rng.normal(0, sigma, n)
    var, var_se, es, es_se, tail, note = tail_risk(losses, level)
    z = norm.ppf(level)
    assert abs(var - sigma * z) < 4 * var_se
    assert abs(es - sigma * norm.pdf(z) / (1 - level)) < 4 * es_se
    assert tail == pytest.approx(n * (1 - level)) and note is None
    # the asymptotic SE of the quantile: sqrt(a (1-a) / n) / f(q)
    assert var_se == pytest.approx(math.sqrt(level * (1 - level) / n) / norm.pdf(sigma * z, scale=sigma), rel=0.15)


def test_standard_errors_match_the_spread_of_repeated_estimates():
    rng = np.random.default_rng(1)
    n, level = 1000, 0.95
    runs = [tail_risk(rng.standard_t(5, n), level)[:4] for _ in range(300)]
    var, var_se, es, es_se = map(np.asarray, zip(*runs))
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


def test_identical_paths_have_no_error_to_estimate_and_say_why():
    var, var_se, es, es_se, _, note = tail_risk(np.full(100, 0.03), 0.99)
    assert (var, es) == (0.03, 0.03) and math.isnan(var_se) and math.isnan(es_se)
    assert "no spread to estimate the errors from" in note


def test_es_is_the_mean_of_the_worst_share_of_paths_however_many_tie_at_the_var():
    """Kronos' one-step paths take a few dozen distinct values: many tie at the VaR. The ES is the mean of the worst
    n (1 - a), the tied ones counting only as far as they fill it (issue 62, item 3)."""
    rng = np.random.default_rng(7)
    losses = rng.permutation(np.r_[np.full(700, -0.004), np.full(296, 0.0003), [0.02, 0.025, 0.03, 0.035]])
    level, n = 0.95, len(losses)
    worst = np.sort(losses)[::-1][:round(n * (1 - level))]
    old = losses[losses >= np.quantile(losses, level, method="weibull")].mean()  # the estimator it replaces
    assert abs(old - worst.mean()) > 0.1 * worst.mean()  # more than 10% off: 0.07% against 0.25%
    got = tail_risk(losses, level)
    assert got.es == pytest.approx(worst.mean(), rel=1e-12) and got.var == pytest.approx(0.0003)
    assert got.tail_paths == 50  # the effective n (1 - a), not the 296 paths tied at or beyond the VaR
    # a tail of n (1 - a) = 1.5 draws: the worst one whole, the next one half
    few = np.r_[np.zeros(27), 0.01, 0.02, 0.04]
    assert tail_risk(few, 0.95).es == pytest.approx((0.04 + 0.5 * 0.02) / 1.5)
    assert tail_risk(few, 0.95).tail_paths == pytest.approx(1.5)


def test_an_error_that_cannot_be_estimated_is_nan_with_the_reason_and_one_above_its_reading_is_flagged(make_forecast):
    """A 99% ES of 30 paths rests on 0.3 paths' worth of tail: no error (not "± 0.00%"), and why; a VaR whose error
    exceeds it is flagged (issue 62, item 4)."""
    rng = np.random.default_rng(4)
    one = tail_risk(rng.normal(0, 0.01, 30), 0.99)
    assert math.isnan(one.es_se) and "rests on 0.3 of 30 paths" in one.error_note and one.tail_paths == 0.3
    # 100 draws of a 1% loss spread whose 60% VaR sits at 0.05%: its error (~0.1%) is larger than the VaR
    x = rng.normal(0, 0.01, 100)
    near_zero = tail_risk(x - np.quantile(x, 0.6, method="weibull") + 0.0005, 0.6)
    assert near_zero.var_se > abs(near_zero.var) and "the VaR's error" in near_zero.error_note
    risk = path_risk(make_forecast(rng.normal(0, 0.01, (30, 2))), RiskSettings(levels=(0.99,)))
    said = [n for n in risk.notices if n.values.get("error_note")]
    assert [n.values["positions"] for n in said] == [["long", "short"]]  # one notice: the same reason for both
    assert all(math.isnan(t.es_se) and t.error_note for t in risk.horizon)
    assert risk.to_dict()["horizon"][0]["es_se"] != risk.to_dict()["horizon"][0]["es_se"]  # NaN (None in JSON)


def test_paths_that_reach_a_close_of_zero_or_below_give_no_var(make_forecast):
    """A long cannot lose more than its value: paths through a non-positive close are refused, not read as a 134%
    VaR (issue 62, item 9)."""
    rng = np.random.default_rng(5)
    fc = make_forecast(rng.normal(0, 0.01, (200, 3)))
    fc.paths[:3, 1, 3] = -20.0
    with pytest.raises(InputError) as refused:
        path_risk(fc)
    assert "3 of 200 paths reach a close of 0 or below" in refused.value.problem
    assert {f.setting for f in refused.value.fix} == {"fix", "temperature"}


def test_a_risk_request_samples_by_default_enough_paths_for_its_highest_levels_es():
    assert default_paths(RiskSettings().levels) == paths_needed(0.99) == 2000
    assert default_paths((0.9,)) == 200 and default_paths((0.95, 0.975)) == 800


def test_every_setting_carries_a_knob():
    assert set(knobs(RiskSettings)) == {"levels", "positions", "per_step", "vol_interval", "history_window", "ewma_lambda"}
