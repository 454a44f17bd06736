"""The ledger's reports in words (``desk.ledger_tables``), the one wording ``kronos ledger exceptions`` / ``drift`` /
``score`` print and the Track record page shows: every cell by the cells' rule (a p-value to three decimals or
'p < 0.001', '–' where there is none), a test that could not run said with its reason beside it and once above."""
from __future__ import annotations

import math

import pandas as pd

from kronos_studio.desk.cells import MISSING, p_text
from kronos_studio.desk.drift import Drifted, DriftThresholds
from kronos_studio.desk.ledger_tables import UNTESTED, drift_table, exceptions_table, scored_said
from kronos_studio.desk.risk_record import RiskRecorded
from kronos_studio.desk.score import SeriesScored
from kronos_studio.ledger.drift import Drift
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.record import RiskRecord

WHY = "the Kupiec test needs at least 100 observations, there are 30 (non-overlapping scored forecasts)"


def record_tests() -> pd.DataFrame:
    row = {"workspace": "default", "source": "binance", "symbol": "BTCUSDT", "interval": "1h", "model": "m",
           "position": "long", "scored": 40, "used": 30, "overlapping": 10, "pending": 2, "exceptions": 3,
           "exceptions_all": 4, "zone": None, "needed": None}
    tested = {**row, "level": 0.95, "expected": 1.5, "kupiec_p": 0.2346, "christoffersen_ind_p": 0.0004,
              "christoffersen_cc_p": float("nan"), "untested": None}
    untested = {**row, "level": 0.99, "expected": 0.3, "kupiec_p": None, "christoffersen_ind_p": None,
                "christoffersen_cc_p": None, "untested": WHY}
    return pd.DataFrame([tested, untested])


def test_the_exceptions_table_words_each_cell_by_the_cells_rule_and_says_why_a_test_could_not_run():
    record = RiskRecord(pd.DataFrame(), record_tests(), RiskSettings(levels=(0.95, 0.99)))
    table = exceptions_table(RiskRecorded(record))
    tested, untested = table.frame.to_dict("records")
    assert tested["series"] == "BTCUSDT 1h (binance)" and tested["VaR level"] == "0.95"
    assert tested["exceptions / forecasts"] == "3 / 30" and tested["expected"] == "1.50"
    assert tested["Kupiec p"] == p_text(0.2346) == "0.235"
    assert tested["Christoffersen p (independence)"] == "p < 0.001"
    assert tested["Christoffersen p (conditional coverage)"] == MISSING == tested[UNTESTED] == tested["Basel zone"]
    assert tested["left out for overlap"] == "10" and tested["waiting for their bars"] == "2"
    assert untested["Kupiec p"] == MISSING and untested[UNTESTED] == WHY  # never 'None', nor '–' without its reason
    columns = list(table.frame.columns)
    assert columns.index(UNTESTED) == columns.index("Christoffersen p (conditional coverage)") + 1
    assert table.said == (f"No p-value for m long 0.99: {WHY}.",)
    assert exceptions_table(RiskRecorded(RiskRecord(pd.DataFrame(), record_tests().iloc[:0], RiskSettings()))
                            ).frame.empty


def test_the_drift_table_words_the_state_why_and_numbers_and_says_the_thresholds():
    nan = float("nan")
    judged = Drift("default", "file", "X", "1d", "calm", "drifting", 25, coverage=0.36, coverage_p_value=2e-6,
                   pit_p_value=0.0213, skill=-0.14, skill_ci95=(-0.23, -0.02), skill_forecasts=22,
                   reasons=["coverage 0.36 vs nominal 0.80"])
    few = Drift("team", "file", "X", "1d", "calm", "too few scored forecasts", 5, skill_ci95=(nan, nan),
                reasons=["5 of the 20 needed, 15 more"])
    done = Drifted([judged, few], DriftThresholds(last=30, min_scored=20, alpha=0.01, nominal=0.8, rw_min_returns=60))
    table = drift_table(done)
    one, two = table.frame.to_dict("records")
    assert one["series"] == "X 1d (file)" and "drifting" in one["state"] and one["why"] == judged.reasons[0]
    assert one["forecasts judged"] == "25" and one["coverage p (binomial)"] == "p < 0.001"
    assert one["PIT p (Kolmogorov-Smirnov)"] == "0.021" and one["CRPS skill vs random walk"] == "-14%"
    assert (one["95% low"], one["95% high"]) == ("-23%", "-2%")
    assert math.isnan(few.coverage) and two["coverage p (binomial)"] == MISSING == two["95% low"]
    assert "too few scored forecasts" in two["state"] and two["why"] == "5 of the 20 needed, 15 more"
    [said] = table.said
    assert "newest 30 scored forecasts" in said and "p < 0.01" in said and "judged from 20" in said


def test_what_a_score_did_is_said_in_counts():
    assert scored_said(SeriesScored("file", "X", "1d")) == "nothing to score"
    assert scored_said(SeriesScored("file", "X", "1d", predictions=1, steps=8, completed=1)) == \
        "scored 8 steps of 1 forecast (1 now scored on every step)"
    assert scored_said(SeriesScored("file", "X", "1d", predictions=1200, steps=3000, completed=0)) == \
        "scored 3,000 steps of 1,200 forecasts (0 now scored on every step)"
