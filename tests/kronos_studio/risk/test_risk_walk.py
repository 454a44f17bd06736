import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from kronos.errors import Notice
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.forecasters.period import period_until
from kronos_studio.risk.baselines import EwmaNormal, FilteredHistoricalSimulation, HistoricalSimulation, risk_baselines
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.walk import RiskWalk, risk_backtest


def garch_bars(n: int, seed: int = 0) -> pd.DataFrame:
    """Daily candles of a GARCH(1,1)-t price."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, n) * math.sqrt(3 / 5)
    r, v = np.empty(n), 1e-4
    for i in range(n):
        r[i] = math.sqrt(v) * z[i]
        v = 2e-6 + 0.08 * r[i] ** 2 + 0.9 * v
    close = 100 * np.exp(np.cumsum(r))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * np.exp(rng.exponential(0.003, n))
    low = np.minimum(open_, close) * np.exp(-rng.exponential(0.003, n))
    volume = rng.lognormal(12, 0.3, n)
    return pd.DataFrame({"timestamp": pd.date_range("2010-01-01", periods=n, freq="B"), "open": open_, "high": high,
                         "low": low, "close": close, "volume": volume, "amount": volume * close})


class Narrow(RandomWalk):
    """A deliberately overconfident model: the random walk's volatility halved."""

    key = "narrow"

    def draw(self, history, future, settings):
        paths = super().draw(history, future, settings)
        last = history["close"].iloc[-1]
        return last + (paths - last) * 0.5


def test_baselines_draw_paths_of_the_settings_shape_with_their_seed():
    bars = garch_bars(700)
    settings = ForecastSettings(horizon=3, paths=200, seed=5)
    history = bars.iloc[-501:].reset_index(drop=True)
    for model in (HistoricalSimulation(), EwmaNormal(), FilteredHistoricalSimulation()):
        a = model.draw(history, None, settings)
        assert a.shape == (200, 3, 6) and np.isfinite(a).all()
        assert np.array_equal(a, model.draw(history, None, settings))  # seeded
        assert not np.array_equal(a, model.draw(history, None, dataclasses.replace(settings, seed=6)))


@pytest.mark.slow
def test_a_risk_backtest_scores_every_model_on_the_same_non_overlapping_cutoffs():
    bars = garch_bars(900)
    models = {**risk_baselines(paths=300), "narrow": Narrow(paths=300)}
    bt = risk_backtest(models, bars, ForecastSettings(horizon=2, paths=300), RiskSettings(levels=(0.95,)),
                       RiskWalk(n_cutoffs=120, es_simulations=500))
    assert np.all(np.diff(bt.cutoffs) == 2) and len(bt.cutoffs) == 120
    assert bt.cutoffs[0] >= 501  # every model's full lookback before the first
    times = {tuple(m.frame["cutoff_time"]) for m in bt.models.values()}
    assert len(times) == 1
    realized = {tuple(m.frame["realized_return"].round(12)) for m in bt.models.values()}
    assert len(realized) == 1  # one truth for every model
    summary = bt.summary(0.95)
    assert set(summary.index) == set(models)
    assert summary.loc["narrow", "exceptions"] > 2 * summary.loc["garch", "exceptions"]
    assert summary.loc["narrow", "kupiec_p"] < 0.01
    assert summary.loc["narrow", "qlike"] > summary.loc["garch", "qlike"]
    assert np.isnan(summary.loc["garch", "dm_p"]) and summary.loc["narrow", "dm_p"] < 0.05
    assert not [n for n in bt.notices if "needs at least" in n.problem]  # 120 observations hold every test
    assert set(bt.tests["position"]) == {"long", "short"}


def test_too_few_cutoffs_for_the_traffic_light_are_said_with_the_counts():
    bars = garch_bars(700)
    models = {"hs": HistoricalSimulation(paths=200), "ewma": EwmaNormal(paths=200)}
    bt = risk_backtest(models, bars, ForecastSettings(horizon=1, paths=200),
                       RiskSettings(levels=(0.99,), positions=("long",)), RiskWalk(n_cutoffs=150, es_simulations=200))
    said = [n for n in bt.notices if n.values.get("test") == "Basel traffic light"]
    assert said and all(n.values["needed"] == 250 and n.values["observations"] == 150 for n in said)
    assert "basel_traffic_light" not in set(bt.tests["test"]) and "kupiec_pof" in set(bt.tests["test"])


class Trained(Narrow):
    key = "trained"

    def __init__(self, until):
        super().__init__(paths=100)
        self.until = until

    def training_period(self):
        return period_until(self.until, "a test")


def test_cutoffs_inside_a_models_training_period_are_left_out_for_every_model():
    bars = garch_bars(800)
    until = str(bars["timestamp"].iloc[700].date())
    models = {"trained": Trained(until), "ewma": EwmaNormal(paths=100)}
    bt = risk_backtest(models, bars, ForecastSettings(horizon=1, paths=100), RiskSettings(levels=(0.95,)),
                       RiskWalk(n_cutoffs=250, es_simulations=100))
    first = bars["timestamp"].iloc[bt.cutoffs[0]]
    assert first > pd.Timestamp(until) and bt.guard["in_training_period"] > 0
    assert any("training period" in n.problem for n in bt.notices)
    with pytest.raises(Exception, match="training period"):
        risk_backtest({"trained": Trained(str(bars["timestamp"].iloc[-1].date()))}, bars,
                      ForecastSettings(horizon=1, paths=50), walk=RiskWalk(n_cutoffs=20))


def test_a_backtest_with_no_test_it_can_run_still_summarizes_and_serializes():
    import json

    bars = garch_bars(600)
    bt = risk_backtest({"ewma": EwmaNormal(paths=100), "hs": HistoricalSimulation(paths=100)}, bars,
                       ForecastSettings(horizon=1, paths=100), RiskSettings(levels=(0.99,), positions=("long",)),
                       RiskWalk(n_cutoffs=30, es_simulations=100))
    assert bt.tests.empty and bt.summary().loc["ewma", "exceptions"] is None
    assert {v["verdict"] for v in bt.verdicts.values()} == {"untested"}  # not "passes": no test ran
    data = json.loads(json.dumps(bt.to_dict(), allow_nan=False))
    assert data["cutoffs"] == 30 and len(data["models"]["hs"]["per_cutoff"]) == 30
    assert any("needs at least 100 observations, there are 30" in n for n in data["notices"])
    # each test refused is said once, for both models (it was a line per model, position and level)
    too_few = [n for n in bt.notices if "needs at least" in n.problem]
    assert len(too_few) == len({n.values["test"] for n in too_few}) >= 3
    assert all(n.problem.endswith(", for every model (2) at long 0.99") and n.values["models"] == [
        "EWMA-normal (RiskMetrics, lambda 0.94)", "historical simulation (last 250 bars)"] for n in too_few), too_few


def test_a_verdict_names_the_levels_where_no_test_ran_and_their_rows_say_untested():
    """At 30 cut-offs the 0.95 VaR's tests run and the 0.99's cannot: the verdict rests on 0.95 alone, so it names
    0.99 as untested, the 0.99 rows' verdict says ``untested`` (not the 0.95's "passes") and the verdicts table
    says where no test ran."""
    from types import SimpleNamespace

    from kronos_studio.desk.risk_tables import backtest_tables

    bt = risk_backtest({"ewma": EwmaNormal(paths=200), "hs": HistoricalSimulation(paths=200)}, garch_bars(600),
                       ForecastSettings(horizon=1, paths=200), RiskSettings(levels=(0.95, 0.99), positions=("long",)),
                       RiskWalk(n_cutoffs=30, es_simulations=100))
    assert set(bt.tests.level) == {0.95}
    for key, v in bt.verdicts.items():
        assert v["untested"] == ["long 0.99"] and v["verdict"] != "untested" and v["family"] > 0, v
        assert bt.summary(0.99).loc[key, "verdict"] == "untested"
        assert bt.summary(0.95).loc[key, "verdict"] == v["verdict"]
    verdicts = next(t for t in backtest_tables(SimpleNamespace(backtest=bt)) if t.key == "verdicts")
    assert all("no test ran at long 0.99: the verdict does not speak for it" in why
               for why in verdicts.frame.iloc[:, -1]), verdicts.frame


def test_a_test_refused_for_some_models_only_names_each_with_its_positions_and_levels():
    from kronos_studio.risk.backtest import too_few
    from kronos_studio.risk.walk import _too_few_once

    def said(model, position, level):
        e = too_few("Kupiec test", 100, 30)
        return Notice(e.problem, e.fix, values={**e.values, "model": model, "at": (position, level)})

    other = Notice("something else")
    out = _too_few_once([said("A", "long", 0.99), other, said("B", "short", 0.99), said("A", "short", 0.99)],
                        ["A", "B", "C"])
    assert out[0] is other and len(out) == 2
    assert out[1].problem == ("the Kupiec test needs at least 100 observations, there are 30, for A at long 0.99, "
                              "short 0.99; B at short 0.99")
    assert out[1].values["models"] == ["A", "B"] and out[1].fix  # the fix (more cut-offs) is kept


def test_the_garman_klass_proxy_reads_forecast_and_outcome_alike_and_a_bad_proxy_is_refused():
    from kronos.errors import InputError

    bars = garch_bars(600)
    run = {p: risk_backtest({"ewma": EwmaNormal(paths=100)}, bars, ForecastSettings(horizon=3, paths=100),
                            RiskSettings(levels=(0.95,), positions=("long",)),
                            RiskWalk(n_cutoffs=20, proxy=p, es_simulations=50)).models["ewma"].frame
           for p in ("close_to_close", "garman_klass")}
    assert not np.allclose(run["close_to_close"]["proxy"], run["garman_klass"]["proxy"])
    assert not np.allclose(run["close_to_close"]["variance"], run["garman_klass"]["variance"])
    # the same estimator on both sides: the two readings of the same bars agree in scale
    for frame in run.values():
        assert 0.3 < frame["proxy"].mean() / frame["variance"].mean() < 3
    with pytest.raises(InputError, match="proxy"):
        RiskWalk(proxy="parkinson")
