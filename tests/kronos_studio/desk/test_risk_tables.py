"""The risk tables in words, built once below the faces (``desk.risk_tables``; ``kronos risk`` prints them, the app
shows them). Issue 62 item 12: the Evaluate page's backtest tables showed the library's keys as headers
(``kupiec_p``, ``mz_joint_p``), "None" for a zone that does not apply, Python dicts for a test's counts and p-values
to 17 digits; the command line printed the same p-values as '0.000'. One rule words them all, and takes a column the
library adds later in its stride."""
from __future__ import annotations

import pandas as pd
import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.bars_input import quality_gate, read_bars
from kronos_studio.desk import Desk, RiskBacktestPlan, RiskBacktestRequest, RiskRequest
from kronos_studio.desk.cells import p_text
from kronos_studio.desk.risk_tables import backtest_tables, each_test_table, header, risk_tables, worded
from kronos_studio.risk.measures import RiskSettings


def test_p_values_are_said_to_three_decimals_below_a_floor_and_missing_as_a_dash():
    assert [p_text(p) for p in (0.51234, 0.0012, 1.2e-33, None, float("nan"))] == [
        "0.512", "0.001", "p < 0.001", "–", "–"]


def test_a_backtest_table_is_worded_and_a_column_added_later_is_shown_in_words():
    summary = pd.DataFrame({"exceptions": [3, None], "kupiec_p": [1.3e-33, None], "zone": ["green", None],
                            "es_z2_p": [0.04712345678901234, None], "in_mcs": [True, False],
                            "es_tail_weight": [0.123456, 2.0], "var_error_p": [0.5, 0.0004]},  # the last two: new
                           index=["model", "garch"])
    shown = worded(summary, {"model": "studio-tiny", "garch": "GARCH(1,1)-t"})
    assert list(shown.columns) == ["Model", "Exceptions", "Kupiec p", "Basel zone", "ES Z2 p", "In the MCS",
                                   "es tail weight", "var error p"]
    assert shown.iloc[0].tolist() == ["studio-tiny", "3", "p < 0.001", "green", "0.047", "yes", "0.1235", "0.500"]
    assert shown.iloc[1].tolist() == ["GARCH(1,1)-t", "–", "–", "–", "–", "no", "2", "p < 0.001"]


def test_a_tests_table_says_each_test_and_its_counts_in_words():
    tests = pd.DataFrame([{"model": "model", "test": "kupiec_pof", "statistic": 7.123456, "p_value": 0.00761,
                           "df": 1, "counts": {"observations": 25, "exceptions": 5, "expected": 1.25}},
                          {"model": "garch", "test": "basel_traffic_light", "statistic": 4.0, "p_value": 0.1,
                           "df": None, "counts": {"zone": "green"}}])
    shown = worded(tests, {"model": "studio-tiny", "garch": "GARCH(1,1)-t"}, index=None)
    assert list(shown.columns) == ["Model", "Test", "Statistic", "p", "df", "Counts"]
    assert shown.iloc[0].tolist() == ["studio-tiny", "Kupiec (proportion of failures)", "7.123", "0.008", "1",
                                      "observations 25, exceptions 5, expected 1.25"]
    assert shown.iloc[1].tolist() == ["GARCH(1,1)-t", "Basel traffic light", "4", "0.100", "–", "zone green"]
    assert header("dm_qlike_vs_reference") == "DM" and header("a_new_one") == "a new one"


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    file = tmp_path_factory.mktemp("tables") / "bars.csv"
    random_bars(560, seed=11, freq="1d").to_csv(file, index=False)
    return quality_gate(read_bars(str(file)), [])[0]


def test_a_backtests_tables_name_each_model_and_say_a_test_that_could_not_run_as_a_dash(bars):
    """20 cut-offs: too few for the traffic light (250) and for any test at 0.99: '–', not 'None' or 'nan'; the
    asked model's row under its name, not the key the desk files it under."""
    done = Desk().risk_backtest(RiskBacktestRequest(
        bars, "garch", ForecastSettings(horizon=1, paths=40, seed=3),
        RiskSettings(levels=(0.95, 0.99), positions=("long",)), RiskBacktestPlan(cutoffs=20, baselines=False)))
    tables = backtest_tables(done)
    assert [t.key for t in tables] == ["summary", "summary", "verdicts", "fz0", "variance"]
    assert [t.said[0] for t in tables[:2]] == ["long 0.95: exceptions and test p-values",
                                               "long 0.99: exceptions and test p-values"]
    at_95, at_99 = tables[0].frame, tables[1].frame
    names = [m.name for m in done.backtest.models.values()]
    assert at_95["Model"].tolist() == names and "GARCH(1,1)-t" in names and done.model_key not in names
    assert set(at_95["Basel zone"]) == {"–"} and at_95["Cut-offs"].tolist() == ["20"] * len(names)
    assert all(p == "p < 0.001" or len(p) == 5 for p in at_95["Kupiec p"]), at_95["Kupiec p"].tolist()
    assert set(at_99["Kupiec p"]) == {"–"} and set(at_99["Exceptions"]) == {"–"}
    assert set(tables[2].frame["Verdict"]) <= {"passes", "flagged", "rejected", "untested"}
    for t in tables:  # every cell is text, none the library's own spelling of nothing
        cells = t.frame.to_numpy().ravel()
        assert not {str(v) for v in cells} & {"None", "nan", "NaN"} and all(isinstance(v, str) for v in cells)
    shown = each_test_table(done.backtest, "long", 0.95).frame
    assert set(shown["Model"]) == set(names) and shown["Test"].str.contains("Kupiec").any()


def test_a_risk_readings_tables_say_shares_as_percents(bars):
    done = Desk().risk(RiskRequest(bars, "garch", ForecastSettings(horizon=3, paths=200, seed=3),
                                   RiskSettings(per_step=False)))
    var_es, volatility = risk_tables(done)  # a model asked: no serving model's table
    assert "3-bar horizon ending" in var_es.said[0] and "200 paths" in var_es.said[0]
    frame = var_es.frame
    assert list(frame.columns) == ["Position", "Level", "VaR", "VaR ± se", "ES", "ES ± se", "Paths beyond VaR"]
    expected = [f"{t.var:.2%}" for t in done.reading.path.horizon]
    assert frame["VaR"].tolist() == expected and frame["Level"].tolist() == ["0.95", "0.99", "0.95", "0.99"]
    assert volatility.frame.columns[0] == "Method" and volatility.frame["Per bar"].str.endswith("%").all()
