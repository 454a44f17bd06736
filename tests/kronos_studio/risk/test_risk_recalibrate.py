"""A risk model that learns from its exceptions (issue 66, item 2): the adaptive level and the variance scale,
computed by hand; a recalibrated backtest that reads no outcome after the cut-off it serves; a too-narrow model
brought to its nominal exception rate; overlapping multi-horizon backtests handled, not dropped."""
from __future__ import annotations

import math

import numpy as np
import pytest
from test_risk_walk import Narrow, garch_bars

from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.risk.baselines import EwmaNormal
from kronos_studio.risk.distribution import EmpiricalReturn, ParametricReturn
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.recalibrate import (
    ACI_STEP,
    LEVEL_BOUNDS,
    Recalibration,
    RecalState,
    read,
    scale_of,
    served_vars,
    settle,
)
from kronos_studio.risk.recalibrate import walk as recalibrated_walk
from kronos_studio.risk.walk import RiskWalk, risk_backtest, risk_backtests


def test_the_adaptive_level_moves_by_its_step_and_stays_within_its_bounds():
    recal = Recalibration()
    base = ParametricReturn(1e-4, "normal", False, 0.0, 0.01, None)
    state = RecalState()
    served = read(state, base, recal)
    assert served.tail("long", 0.99) == pytest.approx(base.tail("long", 0.99))  # nothing learnt: the model itself
    after = settle(state, served_vars(served, ("long",), (0.99,)), base.variance, -0.05, 2.5e-3, recal)  # a 5% fall
    a = 0.01 + ACI_STEP * 0.01 * (0.01 - 1)
    assert after.alphas["long_0.99"] == pytest.approx(a) and after.exceptions == {"long_0.99": 1}
    wider = read(after, base, recal)
    assert wider.tail("long", 0.99) == pytest.approx(base.tail("long", 1 - a))
    assert wider.tail("long", 0.99)[0] > served.tail("long", 0.99)[0]
    quiet = after
    for _ in range(3000):  # a long quiet stretch narrows it, but never beyond its bound
        quiet = settle(quiet, served_vars(read(quiet, base, recal), ("long",), (0.99,)), base.variance, 0.0, 1e-4, recal)
    assert quiet.alphas["long_0.99"] == pytest.approx(LEVEL_BOUNDS[1] * 0.01)


def test_the_variance_scale_is_the_shrunk_mean_ratio_of_realized_to_forecast():
    recal = Recalibration(aci=False, scale=True, window=3, prior=2)
    base = EmpiricalReturn(2e-4, "values", False, np.array([-0.02, -0.01, 0.0, 0.01, 0.02]))
    state = RecalState()
    for realized in (4e-4, 6e-4, 2e-4, 8e-4):
        state = settle(state, served_vars(read(state, base, recal), ("long",), (0.95,)), base.variance, 0.0, realized,
                       recal)
    assert state.ratios == pytest.approx([3.0, 1.0, 4.0])  # the latest 3 of 2, 3, 1, 4
    assert scale_of(state, recal) == pytest.approx((8.0 + 2) / (3 + 2))
    served = read(state, base, recal)
    assert served.variance == pytest.approx(2e-4 * 2.0)
    assert served.tail("long", 0.95) == pytest.approx(base.scaled(2.0).tail("long", 0.95))
    with pytest.raises(InputError):
        Recalibration(aci=False, scale=False)


def test_the_walk_serves_each_cutoff_from_outcomes_ended_before_it():
    """Cut-offs 0, 1, 2, 3 with a 2-bar horizon: cut-off 2 knows cut-off 0's outcome only, cut-off 3 those of 0 and 1."""
    recal = Recalibration()
    base = [ParametricReturn(1e-4, "normal", False, 0.0, 0.01, None)] * 4
    served, state = recalibrated_walk(base, [10, 11, 12, 13], 2, [-0.1, -0.1, 0.0, 0.0], [1e-4] * 4, recal,
                                      ("long",), (0.95,))
    levels = [s.tail_probability("long", 0.95) for s in served]
    a1 = 0.05 + ACI_STEP * 0.05 * (0.05 - 1)
    assert levels[:2] == pytest.approx([0.05, 0.05]) and levels[2] == pytest.approx(a1)
    assert levels[3] == pytest.approx(max(a1 + ACI_STEP * 0.05 * (0.05 - 1), LEVEL_BOUNDS[0] * 0.05))
    assert state.outcomes == 4


@pytest.mark.slow
def test_a_recalibrated_backtest_reads_no_outcome_after_the_cutoff_it_serves():
    """Later bars changed (every bar from ``b`` on, its price and its moves): every VaR served at a cut-off up to
    ``b`` is unchanged, for a model reading its own distribution and for one read from its paths."""
    bars = garch_bars(780, seed=3)
    settings, risk = ForecastSettings(horizon=2, paths=300, seed=1), RiskSettings(levels=(0.95, 0.99))
    walk = RiskWalk(n_cutoffs=60, step=1, warmup=40, recalibrate=("ewma", "narrow"), es_simulations=100)
    models = {"ewma": EwmaNormal(paths=300), "narrow": Narrow(paths=300)}
    before = risk_backtest(models, bars, settings, risk, walk)
    b = before.cutoffs[30]
    later = bars.copy()
    rng = np.random.default_rng(9)
    shock = np.exp(np.cumsum(rng.normal(0, 0.03, len(bars) - b)))
    for col in ("open", "high", "low", "close"):
        later.loc[b:, col] = later.loc[b:, col].to_numpy() * shock
    after = risk_backtest(models, later, settings, risk, walk)
    assert after.cutoffs == before.cutoffs
    for key in ("ewma+recal", "narrow+recal"):
        cols = [c for c in before.models[key].frame if c.startswith(("var_", "es_"))]
        x, y = before.models[key].frame[cols], after.models[key].frame[cols]
        upto = [i for i, c in enumerate(before.cutoffs) if c <= b]
        assert np.array_equal(x.iloc[upto].to_numpy(), y.iloc[upto].to_numpy()), key
        assert not np.allclose(x.iloc[upto[-1] + 3:].to_numpy(), y.iloc[upto[-1] + 3:].to_numpy()), key


@pytest.mark.slow
def test_recalibration_brings_a_too_narrow_model_to_its_nominal_exception_rate():
    """A model whose volatility is half the truth: the adaptive level alone widens it as far as its bound allows
    (a 99% reading for a 95% VaR), the variance scale with it brings it to the nominal rate."""
    bars = garch_bars(1400, seed=4)
    risk = RiskSettings(levels=(0.95,), positions=("long",))

    def backtest(recal):
        return risk_backtest({"narrow": Narrow(paths=400)}, bars, ForecastSettings(horizon=1, paths=400, seed=2), risk,
                             RiskWalk(n_cutoffs=400, warmup=200, recalibrate=("narrow",), es_simulations=200,
                                      recalibration=recal))

    level_only, both = backtest(Recalibration()), backtest(Recalibration(scale=True))
    raw = level_only.summary(0.95, "long").loc["narrow"]
    assert raw["exceptions"] > 2 * 20 and raw["kupiec_p"] < 0.001  # 20 expected in 400
    aci = level_only.summary(0.95, "long").loc["narrow+recal"]
    assert aci["exceptions"] < raw["exceptions"] - 10 and aci["fz0"] < raw["fz0"]
    used = level_only.models["narrow+recal"].levels_used["long_0.95"]
    assert used.min() == pytest.approx(LEVEL_BOUNDS[0] * 0.05) and used.mean() < 0.025  # read far beyond 95%
    fixed = both.summary(0.95, "long").loc["narrow+recal"]
    assert abs(fixed["exceptions"] - 20) < 10 and fixed["kupiec_p"] > 0.05 and fixed["fz0"] < aci["fz0"]
    assert fixed["qlike"] < raw["qlike"]  # the variance scale corrects the variance forecast too
    assert both.verdicts["narrow"]["verdict"] == "rejected" and both.verdicts["narrow+recal"]["verdict"] == "passes"


@pytest.mark.slow
def test_overlapping_multi_horizon_backtests_test_the_non_overlapping_ones_and_say_so():
    bars = garch_bars(800, seed=5)
    risk = RiskSettings(levels=(0.95,), positions=("long",))
    settings = ForecastSettings(horizon=1, paths=200, seed=0)
    got = risk_backtests({"ewma": EwmaNormal(paths=200), "narrow": Narrow(paths=200)}, bars, settings, risk,
                         RiskWalk(n_cutoffs=90, step=1, horizons=(1, 3), es_simulations=100, reference="ewma"))
    one, three = got[1], got[3]
    assert one.cutoffs == three.cutoffs and np.all(np.diff(one.cutoffs) == 1) and len(one.cutoffs) == 90
    assert one.overlap == 1 and len(one.tested) == 90
    assert three.overlap == 3 and len(three.tested) == 30 and three.tested[-1] == 89
    assert np.all(np.diff(three.tested) == 3)
    kupiec = three.tests[(three.tests.model == "ewma") & (three.tests.test == "kupiec_pof")].iloc[0]
    assert kupiec["counts"]["observations"] == 30
    said = [n for n in three.notices if "overlap 3 at a time" in n.problem]
    assert said and said[0].values == {"cutoffs": 90, "tested": 30, "overlap": 3}
    assert not [n for n in one.notices if "overlap" in n.problem]
    # the 3-bar realized return is the close 3 bars on over the last close, and every cut-off is compared on FZ0
    f = three.models["ewma"].frame
    assert len(f) == 90 and f["fz0"].notna().all()
    assert not math.isnan(three.fz0.loc["narrow", "dm_fz0_p"])
    # one walk, one bar: the same readings as a backtest asked at that horizon alone (its cut-offs run 2 bars
    # further: the longest horizon's last bars are not forecast in the walk of both)
    alone = risk_backtest({"ewma": EwmaNormal(paths=200)}, bars, settings, risk, RiskWalk(n_cutoffs=92, step=1,
                                                                                         es_simulations=100))
    a = alone.models["ewma"].frame.set_index("cutoff_time")["var_long_0.95"]
    b = one.models["ewma"].frame.set_index("cutoff_time")["var_long_0.95"]
    assert len(b) == 90 and np.allclose(a.loc[b.index], b)
