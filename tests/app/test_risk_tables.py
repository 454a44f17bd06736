"""Issue 62 item 12: the Evaluate page's backtest tables showed the library's keys as headers (``kupiec_p``,
``mz_joint_p``), "None" for a zone that does not apply, Python dicts for a test's counts and p-values to 17 digits.
They are worded from a mapping of column to header that takes a column the library adds later in its stride."""
from __future__ import annotations

import pandas as pd

from app_support.formats import p_text
from app_support.risk import header, worded


def test_p_values_are_said_to_three_decimals_below_a_floor_and_missing_as_a_dash():
    assert [p_text(p) for p in (0.51234, 0.0012, 1.2e-33, None, float("nan"))] == [
        "0.512", "0.001", "p < 0.001", "–", "–"]


def test_a_backtest_table_is_worded_and_a_column_added_later_is_shown_in_words():
    summary = pd.DataFrame({"exceptions": [3, None], "kupiec_p": [1.3e-33, None], "zone": ["green", None],
                            "es_z2_p": [0.04712345678901234, None], "in_mcs": [True, False],
                            "es_tail_weight": [0.123456, 2.0], "var_error_p": [0.5, 0.0004]},  # the last two: new
                           index=["model", "garch"])
    shown = worded(summary, {"model": "studio-tiny", "garch": "GARCH(1,1)-t"})
    assert list(shown.index) == ["studio-tiny", "GARCH(1,1)-t"] and shown.index.name == "Model"
    assert list(shown.columns) == ["Exceptions", "Kupiec p", "Basel zone", "ES test p (Acerbi–Szekely)",
                                   "In the confidence set", "es tail weight", "var error p"]
    assert shown.loc["studio-tiny"].tolist() == ["3", "p < 0.001", "green", "0.047", "yes", "0.1235", "0.500"]
    assert shown.loc["GARCH(1,1)-t"].tolist() == ["–", "–", "–", "–", "no", "2", "p < 0.001"]


def test_a_tests_table_says_each_test_and_its_counts_in_words():
    tests = pd.DataFrame([{"model": "model", "test": "kupiec_pof", "statistic": 7.123456, "p_value": 0.00761,
                           "df": 1, "counts": {"observations": 25, "exceptions": 5, "expected": 1.25}},
                          {"model": "garch", "test": "basel_traffic_light", "statistic": 4.0, "p_value": 0.1,
                           "df": None, "counts": {"zone": "green"}}])
    shown = worded(tests, {"model": "studio-tiny", "garch": "GARCH(1,1)-t"}, index=None)
    assert list(shown.columns) == ["Model", "Test", "Statistic", "p", "Degrees of freedom", "Counts"]
    assert shown.iloc[0].tolist() == ["studio-tiny", "Kupiec (proportion of failures)", "7.123", "0.008", "1",
                                      "observations 25, exceptions 5, expected 1.25"]
    assert shown.iloc[1].tolist() == ["GARCH(1,1)-t", "Basel traffic light", "4", "0.100", "–", "zone green"]
    assert header("dm_qlike_vs_reference") == "Diebold–Mariano (QLIKE)" and header("a_new_one") == "a new one"
