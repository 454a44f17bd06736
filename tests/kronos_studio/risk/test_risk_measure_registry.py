"""A risk measure lands in one registration (``risk.registry.register``): the toy measure below, the median loss of
the paths beyond the VaR, is registered here and nowhere else, and is then a field of a risk reading, a column of
the Screener's rows (``Desk.screen``) with its label, and a column of the ledger's risk record; with its judge, a
test of every model's verdict in a risk backtest and a p-value of the ledger's record."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from scipy.stats import binomtest
from testkit import ROOT, random_bars

from data_sources import load_sample
from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.batch.forecaster import BatchSettings
from kronos_studio.desk import Desk, ForecastRequest, RiskBacktestPlan, RiskBacktestRequest, ScreenRequest
from kronos_studio.desk.risk import RiskRequest, risk_body
from kronos_studio.desk.risk_record import record_body
from kronos_studio.ledger import Ledger
from kronos_studio.risk.backtest import TestResult
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.registry import MEASURES, RiskMeasure, register

sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
from ledger_helpers import cut  # noqa: E402

RISK = RiskSettings(levels=(0.9,), positions=("long",), per_step=False)


def median_beyond(losses: np.ndarray, level: float) -> float:
    """The median of the losses at or beyond their ``level`` quantile."""
    return float(np.median(losses[losses >= np.quantile(losses, level)]))


def beyond_half_as_often(losses: np.ndarray, values: np.ndarray, level: float) -> TestResult:
    """The toy's judge: a forecast's loss exceeds its median loss beyond the VaR with probability (1 - level) / 2;
    the binomial test of how often the losses that happened did."""
    if len(losses) < 20:
        raise InputError(f"the binomial test needs at least 20 forecasts, there are {len(losses)}")
    hits = int((losses > values).sum())
    return TestResult("ignored: the registry names it", hits, binomtest(hits, len(losses), (1 - level) / 2).pvalue,
                      counts={"beyond": hits, "observations": len(losses)})


@pytest.fixture
def toy():
    measure = register(RiskMeasure("mbl", "MBL", "median loss beyond the VaR",
                                   "The median loss of a {position} position's paths beyond its {level}% VaR",
                                   read=median_beyond, judge=beyond_half_as_often))
    yield measure
    MEASURES.pop(measure.key)


def test_a_registered_measure_is_read_with_the_var_and_es(toy):
    bars = load_sample("AAPL daily 2000-2013 (bundled)")
    done = Desk().risk(RiskRequest(bars, "random_walk", ForecastSettings(horizon=3, paths=400, seed=1), RISK))
    reading = done.reading.path.horizon[0]
    returns = done.forecast.paths[:, -1, 3].astype(np.float64) / float(done.forecast.history["close"].iloc[-1]) - 1
    assert reading.more == {"mbl": pytest.approx(median_beyond(-returns, 0.9))}
    assert reading.var <= reading.more["mbl"]  # beyond the VaR
    assert risk_body(done)["var_es"][0]["mbl"] == reading.more["mbl"]  # every face's JSON answer
    assert "mbl" in done.reading.path.table().columns


def test_a_registered_measure_is_a_screener_column_with_its_label(toy, tmp_path):
    for i in range(2):
        random_bars(160, seed=20 + i, freq="1h", start="2026-03-02").to_csv(tmp_path / f"S{i}.csv", index=False)
    request = ScreenRequest(Desk.watchlist(tmp_path), BatchSettings(ForecastSettings(horizon=3, paths=200, seed=0),
                                                                    risk=RISK))
    done = Desk().screen(request)
    assert (done.rows["status"] == "ok").all()
    assert done.rows["mbl_long_90"].notna().all()
    assert (done.rows["mbl_long_90"] >= done.rows["var_long_90"]).all()
    labels = {c.name: c.label for c in done.risk_columns}
    assert labels["mbl_long_90"] == "MBL 90% long" and labels["var_long_90"] == "VaR 90% long"


def test_a_registered_measure_is_a_column_of_the_risk_record(toy, tmp_path):
    bars = load_sample("AAPL daily 2000-2013 (bundled)")
    desk = Desk()
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:
        for at in range(300, 306):
            settings = ForecastSettings(horizon=2, paths=50, seed=at)
            ledger.record(desk.forecast(ForecastRequest(cut(bars, at), "random_walk", settings)).forecast, cut(bars, at))
        ledger.score(cut(bars, 320))
        body = record_body(Desk.risk_record(ledger, RISK))
    rows = body["forecasts"]
    assert len(rows) == 6
    assert all(row["mbl_long_0.9"] >= row["var_long_0.9"] for row in rows)
    assert list(rows[0])[-3:] == ["tail_paths_long_0.9", "mbl_long_0.9", "exception_long_0.9"]
    test = body["tests"][0]  # six forecasts, overlapping or not, are too few for its judge: said, no p-value
    assert test["mbl_p"] is None and "no median loss beyond the VaR test: the binomial test needs at least 20" in (
        test["untested"])


def test_a_registered_measure_with_a_judge_is_tested_in_every_models_backtest_verdict(toy):
    bars = load_sample("AAPL daily 2000-2013 (bundled)")
    plan = RiskBacktestPlan(cutoffs=40, baselines=False, beside=("random_walk",))  # its own distribution, and paths
    done = Desk().risk_backtest(RiskBacktestRequest(bars, "garch", ForecastSettings(horizon=1, paths=50), RISK, plan))
    backtest = done.backtest
    assert {"garch", "random_walk"} <= set(backtest.models)  # with the serving risk model
    for key, model in backtest.models.items():
        frame = model.frame
        assert (frame["mbl_long_0.9"] >= frame["var_long_0.9"]).all()
        losses, values = frame["loss_long"].to_numpy(), frame["mbl_long_0.9"].to_numpy()
        row = backtest.tests[(backtest.tests.model == key) & (backtest.tests.test == "mbl")]
        assert len(row) == 1 and row.p_value.iloc[0] == pytest.approx(beyond_half_as_often(losses, values, 0.9).p_value)
        assert "mbl long 0.9" in backtest.verdicts[key]["holm_p"]  # in the verdict's Holm family
        assert backtest.summary(0.9)["mbl_p"][key] == row.p_value.iloc[0]
