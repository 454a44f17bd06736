"""The standard risk models read from their own distributions (issue 62, item 2; issue 66, item 1): historical
simulation's VaR and ES are its window's empirical quantile and tail mean, EWMA-normal's and GJR-GARCH-t's the
closed forms of ``arch``'s own fit, log-HAR's its regression's; none depends on the path count. A sampled model
below the paths a level needs is flagged at that level; a split inside the backtest's bars refuses it."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from test_risk_walk import garch_bars

from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.risk.baselines import (
    EwmaNormal,
    FilteredHistoricalSimulation,
    GjrGarchT,
    HistoricalSimulation,
    LogHar,
    risk_baselines,
)
from kronos_studio.risk.distribution import ParametricReturn, standardized_tail
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.walk import RiskWalk, risk_backtest

LEVELS = (0.95, 0.99)


def history(n: int = 520, seed: int = 3) -> pd.DataFrame:
    return garch_bars(n, seed).iloc[-501:].reset_index(drop=True)


def simple_losses(log_returns: np.ndarray, position: str = "long") -> np.ndarray:
    r = np.expm1(log_returns)
    return -r if position == "long" else r


def test_every_standard_model_reads_the_same_var_es_and_variance_whatever_the_path_count():
    bars = garch_bars(620)
    risk = RiskSettings(levels=LEVELS)
    frames = {paths: risk_backtest(risk_baselines(), bars, ForecastSettings(horizon=1, paths=paths), risk,
                                   RiskWalk(n_cutoffs=12, es_simulations=50))
              for paths in (30, 3000)}
    for key in risk_baselines():
        a, b = (frames[p].models[key] for p in frames)
        assert a.paths is None and a.enough_paths(0.99)
        columns = [c for c in a.frame.columns if c.startswith(("var_", "es_", "variance"))]
        pd.testing.assert_frame_equal(a.frame[columns], b.frame[columns], check_exact=True, obj=key)
    assert frames[30].summary(0.99)["enough_paths"].all()
    assert not [n for n in frames[30].notices if "depend on the sample count" in n.problem]


def test_historical_simulation_is_the_empirical_quantile_and_tail_mean_of_its_window():
    h = history()
    returns = np.diff(np.log(h["close"].to_numpy()))[-250:]
    got = HistoricalSimulation().horizon_return(h, None, ForecastSettings(horizon=1), LEVELS)
    for position in ("long", "short"):
        losses = np.sort(simple_losses(returns, position))[::-1]
        var, es = got.tail(position, 0.95)
        assert var == pytest.approx(np.quantile(losses, 0.95, method="weibull"), rel=1e-12)
        assert es == pytest.approx(losses[:12].sum() / 12.5 + 0.5 * losses[12] / 12.5, rel=1e-12)  # 12.5 worst
    assert got.variance == pytest.approx(np.mean(returns ** 2))
    five = HistoricalSimulation().horizon_return(h, None, ForecastSettings(horizon=5), LEVELS)
    overlapping = np.log(h["close"].to_numpy()[-246:] / h["close"].to_numpy()[-251:-5])  # the 246 5-bar returns
    assert five.tail("long", 0.99)[0] == pytest.approx(np.quantile(simple_losses(overlapping), 0.99,
                                                                   method="weibull"), rel=1e-12)


def test_ewma_normal_is_the_normal_closed_form():
    from kronos_studio.risk.volatility import ewma_variances, log_returns

    h = history()
    got = EwmaNormal().horizon_return(h, None, ForecastSettings(horizon=3), LEVELS)
    sigma = math.sqrt(ewma_variances(log_returns(h, 500), 3, 0.94).sum())
    z = stats.norm.ppf(0.99)
    assert got.tail("long", 0.99) == pytest.approx((1 - math.exp(-sigma * z),
                                                    1 - math.exp(-sigma * stats.norm.pdf(z) / 0.01)), rel=1e-12)
    assert got.tail("short", 0.99)[0] == pytest.approx(math.exp(sigma * z) - 1, rel=1e-12)


def test_a_student_t_tail_mean_is_the_integral_of_its_quantiles():
    for nu in (3.5, 6.0, 30.0):
        q, e = standardized_tail(0.975, nu)
        unit = math.sqrt((nu - 2) / nu)
        by_quad = integrate.quad(lambda u, nu=nu, unit=unit: stats.t.ppf(u, nu) * unit, 0.975, 1)[0] / 0.025
        assert q == pytest.approx(stats.t.ppf(0.975, nu) * unit) and e == pytest.approx(by_quad, rel=1e-6)


def test_gjr_garch_t_is_arch_s_own_fit_read_in_closed_form():
    """One-day VaR99 = -(mu + sigma q) with arch's forecast sigma and its standardized t quantile q (mu 0), and the ES
    its tail integral, computed here from ``arch_model`` directly."""
    from arch import arch_model

    h = history(700, seed=8)
    got = GjrGarchT().horizon_return(h, None, ForecastSettings(horizon=1), LEVELS)
    r = np.diff(np.log(h["close"].to_numpy()))
    scale = r.std()
    fit = arch_model(r / scale, mean="Zero", vol="GARCH", p=1, o=1, q=1, dist="t", rescale=False).fit(disp="off")
    sigma = math.sqrt(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]) * scale
    nu = fit.params["nu"]
    q = float(fit.model.distribution.ppf(0.01, [nu]))  # arch's standardized Student t: unit variance
    assert isinstance(got, ParametricReturn) and got.nu == pytest.approx(nu, rel=1e-6)
    var_log = -sigma * q
    es_log = -sigma * integrate.quad(lambda u: float(fit.model.distribution.ppf(u, [nu])), 0, 0.01)[0] / 0.01
    var, es = got.tail("long", 0.99)
    assert var == pytest.approx(-math.expm1(-var_log), rel=1e-6) and es == pytest.approx(-math.expm1(-es_log), rel=1e-5)
    assert got.variance == pytest.approx(sigma ** 2, rel=1e-6)
    assert es > var > 0


def test_log_har_is_its_regression_in_logs_with_its_own_standardized_residuals():
    import statsmodels.api as sm

    from kronos_studio.ensemble.bar_variance import range_variance

    h = history(700, seed=9)
    got = LogHar(time_of_day=False).horizon_return(h, None, ForecastSettings(horizon=1), LEVELS)
    v = range_variance(h)[1:]
    x = np.log(np.maximum(v, 0.05 * v.mean()))
    s = pd.Series(x)
    design = pd.DataFrame({"d": s, "w": s.rolling(5).mean(), "m": s.rolling(22).mean()})
    fit = sm.OLS(s.shift(-1)[21:-1].to_numpy(), sm.add_constant(design[21:-1].to_numpy())).fit()
    s2 = fit.resid.var(ddof=4)
    v1 = math.exp(fit.params @ np.r_[1.0, design.iloc[-1].to_numpy()] + s2 / 2)
    r = np.diff(np.log(h["close"].to_numpy()))[22:]
    z = r / np.sqrt(np.exp(fit.fittedvalues + s2 / 2))
    z = z - z.mean()
    losses = simple_losses(math.sqrt(v1) * z)
    assert got.tail("long", 0.95)[0] == pytest.approx(np.quantile(losses, 0.95, method="weibull"), rel=1e-9)
    assert got.variance == pytest.approx(v1 * np.mean(z ** 2), rel=1e-9)


def test_filtered_historical_simulation_of_one_bar_is_its_scaled_residuals_and_beyond_draws_enough():
    from kronos_studio.ensemble.members import fit_arch
    from kronos_studio.risk.baselines import fhs_draws
    from kronos_studio.risk.volatility import log_returns

    h = history(700, seed=10)
    one = FilteredHistoricalSimulation().horizon_return(h, None, ForecastSettings(horizon=1), LEVELS)
    fit, scale = fit_arch(log_returns(h, 500))
    sigma = math.sqrt(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]) * scale
    losses = simple_losses(sigma * np.asarray(fit.std_resid))
    assert one.tail("long", 0.99)[0] == pytest.approx(np.quantile(losses, 0.99, method="weibull"), rel=1e-9)
    ten = FilteredHistoricalSimulation().horizon_return(h, None, ForecastSettings(horizon=10), (0.999,))
    assert len(ten.values) == fhs_draws((0.999,)) == 20_000


class Sampled(RandomWalk):
    key = "sampled"


def test_a_sampled_model_below_the_paths_a_level_needs_is_flagged_at_that_level():
    bars = garch_bars(620)
    risk = RiskSettings(levels=LEVELS, positions=("long",))
    bt = risk_backtest({"sampled": Sampled(), "ewma_normal": EwmaNormal()}, bars, ForecastSettings(horizon=1, paths=500),
                       risk, RiskWalk(n_cutoffs=20, es_simulations=50))
    flagged = [n for n in bt.notices if "depend on the sample count" in n.problem]
    assert [(n.values["model"], n.values["level"], n.values["needed"]) for n in flagged] == [
        (Sampled().name, 0.99, 2000)]
    assert "sample at least paths=2000" in flagged[0].worded()
    assert not bt.summary(0.99).loc["sampled", "enough_paths"]
    assert bt.summary(0.95).loc["sampled", "enough_paths"] and bt.summary(0.99).loc["sampled", "paths"] == 500
    assert bt.summary(0.99).loc["ewma_normal", "enough_paths"]


def split_bars(n: int = 700, at: int = 650) -> pd.DataFrame:
    """Daily bars of one price series with a 4-for-1 split (every price / 4 from bar ``at`` on)."""
    bars = garch_bars(n, seed=4)
    bars.loc[at:, ["open", "high", "low", "close"]] /= 4
    bars.loc[at:, "volume"] *= 4
    return bars


def test_a_split_inside_the_backtest_bars_refuses_it_and_adjusted_prices_run(tmp_path):
    """A 4-for-1 split inside the cut-offs would be a 75% loss exception of every model (issue 62, item 9): refused as
    the gate's blocking checks refuse, naming the gate's fix; with it accepted, the backtest runs on adjusted prices."""
    from kronos_studio.bars_input import quality_gate, read_bars
    from kronos_studio.desk import Desk, RiskBacktestPlan, RiskBacktestRequest

    file = tmp_path / "split.csv"
    split_bars().to_csv(file, index=False)
    plan = RiskBacktestPlan(cutoffs=100, baselines=False)
    settings, risk = ForecastSettings(horizon=1, paths=50), RiskSettings(levels=(0.95,), positions=("long",))
    raw, said = quality_gate(read_bars(str(file)), [])
    assert any(n.problem.startswith("split_jump") for n in said)  # the gate only warns a forecast
    with pytest.raises(InputError) as refused:
        Desk().risk_backtest(RiskBacktestRequest(raw, "garch", settings, risk, plan))
    assert "4-for-1 split" in refused.value.problem and (refused.value.fix[0].setting, refused.value.fix[0].value) == (
        "fix", "adjust_splits")
    adjusted, _ = quality_gate(read_bars(str(file)), ["adjust_splits"])
    done = Desk().risk_backtest(RiskBacktestRequest(adjusted, "garch", settings, risk, plan))
    assert done.backtest.models["garch"].frame["realized_return"].min() > -0.5  # no 75% "loss" scored
    # a split before every bar the backtest reads refuses nothing
    early = risk_backtest({"ewma_normal": EwmaNormal()}, split_bars(900, at=50), ForecastSettings(horizon=1, paths=50),
                          risk, RiskWalk(n_cutoffs=100, es_simulations=50))
    assert len(early.cutoffs) == 100
