"""The Evaluate page's Risk backtest (issue 55) through AppTest: it runs through the desk and shows the traffic
light, the tests and the exceptions chart of the model asked for."""
from __future__ import annotations

from test_app import messages


def test_the_risk_backtest_section_runs_and_shows_the_tests(new_app):
    """It samples what every face's risk request samples by default (enough for the highest level's ES: 200 paths
    for 0.9), not the fan's count (issue 62, item 2)."""
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(1).run()
    at.number_input(key="sb_paths").set_value(40).run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    at.number_input(key="rb_cutoffs").set_value(25).run()
    at.text_input(key="rb_levels").set_value("0.9").run()
    assert "200 paths each (enough for the 0.9 ES" in messages(at.info), messages(at.info)
    at.button(key="rb_run").click().run()
    assert not at.exception and not at.error, messages(at.error)
    labels = [m.label for m in at.metric]
    assert "Basel traffic light" in labels and "Kupiec p" in labels
    assert "rb_exceptions" in [c.key for c in at.get("plotly_chart")]


def test_a_model_beside_is_backtested_once_and_kept_in_the_desks_cache(new_app):
    """Chronos-2 chosen beside the sidebar's model is in the section's tables; the backtest is kept in the app's one
    result cache (the desk's), so drawing the page again shows it without computing it again."""
    from app_support import forecasts
    from kronos_studio.bundled import CHRONOS2_NAME

    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(1).run()
    at.number_input(key="sb_paths").set_value(30).run()
    at.switch_page("pages/evaluate.py").run()
    at.number_input(key="rb_cutoffs").set_value(15).run()
    at.text_input(key="rb_levels").set_value("0.9").run()  # 200 paths a cut-off
    at.multiselect(key="rb_beside").set_value([CHRONOS2_NAME]).run()
    at.toggle(key="rb_include_trained").set_value(True).run()  # the sample's dates lie in Chronos-2's training data
    at.button(key="rb_run").click().run()
    assert not at.exception and not at.error, messages(at.error)
    summary = next(d.value for d in at.dataframe if "kupiec_p" in d.value.columns)
    # model, Chronos-2, 6 standard, and the risk model serving the series (the default, recalibrated as it serves)
    assert len(summary) == 9 and any("Chronos" in name for name in summary.index)
    computed = forecasts.results().computed
    at.run()  # drawn again: the kept backtest, not a new one
    assert not at.exception and forecasts.results().computed == computed
    assert any("kupiec_p" in d.value.columns for d in at.dataframe)
