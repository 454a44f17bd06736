"""The risk backtest through the desk (issue 55): the catalog's models backtested beside the asked one on the same
cut-offs read exactly what they read when asked alone; a kept backtest is found without loading any model, and
never for another plan."""
from __future__ import annotations

import numpy as np
import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.bars_input import quality_gate, read_bars
from kronos_studio.bundled import CHRONOS2_NAME
from kronos_studio.catalog.registry import ModelRegistry
from kronos_studio.desk import Desk, RiskBacktestPlan, RiskBacktestRequest
from kronos_studio.desk.cache import ResultCache
from kronos_studio.desk.risk import MODEL_KEY
from kronos_studio.risk.champion import DEFAULT_RISK_MODEL
from kronos_studio.risk.measures import RiskSettings

SETTINGS = ForecastSettings(horizon=1, paths=40, seed=3)
RISK = RiskSettings(levels=(0.9,), positions=("long",))


def asking(bars, model, risk=RISK, **plan) -> RiskBacktestRequest:
    return RiskBacktestRequest(bars, model, SETTINGS, risk, RiskBacktestPlan(**plan))


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    file = tmp_path_factory.mktemp("beside") / "bars.csv"
    random_bars(540, seed=5, freq="1d").to_csv(file, index=False)
    bars, _ = quality_gate(read_bars(str(file)), [])
    return bars


def test_a_model_beside_reads_what_it_reads_when_asked_alone(gated):
    desk = Desk()
    # the bars' dates lie inside Chronos-2's training period: the guard covers the models beside the asked one too
    ask = {"cutoffs": 12, "baselines": False, "include_trained": True}
    both = desk.risk_backtest(asking(gated, "garch", beside=(CHRONOS2_NAME,), **ask))
    alone = desk.risk_backtest(asking(gated, CHRONOS2_NAME, **ask))
    # the asked garch is the standard GARCH(1,1)-t, under its own key (read from its own distribution)
    # the risk model serving the series (the default here) is always a row, after the asked ones
    serving = [DEFAULT_RISK_MODEL.model, DEFAULT_RISK_MODEL.label]
    assert both.model_key == "garch" and list(both.backtest.models) == list(dict.fromkeys(["garch", CHRONOS2_NAME,
                                                                                          *serving]))
    assert both.backtest.cutoffs == alone.backtest.cutoffs
    beside, asked = both.backtest.models[CHRONOS2_NAME].frame, alone.backtest.models[MODEL_KEY].frame
    for column in ("realized_return", "var_long_0.9", "es_long_0.9", "exception_long_0.9", "variance"):
        assert np.allclose(beside[column].to_numpy(float), asked[column].to_numpy(float)), column
    # the volatility table and the tests carry it under its own label, compared with GARCH (the reference)
    assert CHRONOS2_NAME in both.backtest.volatility.index
    assert list(both.backtest.summary(0.9, "long").index) == list(both.backtest.models)


def test_a_kept_backtest_is_found_without_loading_a_model_and_only_for_its_plan(gated):
    registry = ModelRegistry()
    desk = Desk(registry, cache=ResultCache())
    ask = {"cutoffs": 10, "baselines": False, "beside": (CHRONOS2_NAME,), "include_trained": True}
    assert desk.kept_risk_backtest(asking(gated, "garch", **ask)) is None
    done = desk.risk_backtest(asking(gated, "garch", **ask))
    assert not done.from_cache

    looking = Desk(ModelRegistry(), cache=desk.cache)  # a fresh registry: nothing loaded, nothing to load
    kept = looking.kept_risk_backtest(asking(gated, "garch", **ask))
    assert kept is not None and kept.from_cache and kept.backtest is done.backtest
    assert kept.model_key == done.model_key == "garch"
    assert looking.registry.loaded() == []
    # another plan (no model beside, other cut-offs, other levels) is not that backtest
    assert desk.kept_risk_backtest(asking(gated, "garch", **(ask | {"beside": ()}))) is None
    assert desk.kept_risk_backtest(asking(gated, "garch", **(ask | {"cutoffs": 11}))) is None
    assert desk.kept_risk_backtest(asking(gated, "garch", RiskSettings(levels=(0.95,)), **ask)) is None
    again = desk.risk_backtest(asking(gated, "garch", **ask))
    assert again.from_cache and again.backtest is done.backtest
