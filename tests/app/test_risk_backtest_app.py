"""The Evaluate page's Risk backtest (issue 55) through AppTest: it runs through the desk and shows the traffic
light, the tests and the exceptions chart of the model asked for."""
from __future__ import annotations

from test_app import messages


def test_the_risk_backtest_section_runs_and_shows_the_tests(new_app):
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(1).run()
    at.number_input(key="sb_paths").set_value(40).run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    at.number_input(key="rb_cutoffs").set_value(25).run()
    at.button(key="rb_run").click().run()
    assert not at.exception and not at.error, messages(at.error)
    labels = [m.label for m in at.metric]
    assert "Basel traffic light" in labels and "Kupiec p" in labels
    assert "rb_exceptions" in [c.key for c in at.get("plotly_chart")]
