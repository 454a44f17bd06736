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
    # Issue 62 item 12: the tables in words: worded headers, each model by its name, '–' where a test gives nothing
    # ('None' was shown), p-values to three decimals or 'p < 0.001' (33 digits were shown), the ES test's p-value,
    # the counts behind a test as words (a Python dict was shown)
    # (the desk's tables: desk.risk_tables, as kronos risk --backtest prints them)
    summary = next(d.value for d in at.dataframe if "Kupiec p" in d.value.columns)
    variance = next(d.value for d in at.dataframe if "QLIKE" in d.value.columns)
    assert {"Model", "Exceptions", "Kupiec p", "Basel zone", "ES Z2 p"} <= set(summary.columns)
    assert {"QLIKE", "MZ p"} <= set(variance.columns)
    assert not {"kupiec_p", "mz_joint_p", "dm_qlike_vs_reference", "es_z2_p"} & {*summary.columns, *variance.columns}
    assert "model" not in set(summary["Model"])
    tests = next(d.value for d in at.dataframe if "Counts" in d.value.columns)
    cells = [str(v) for frame in (summary, tests, variance) for v in frame.to_numpy().ravel()]
    assert "None" not in cells and "nan" not in cells and not any(c.startswith("{") for c in cells)
    assert all(p == "–" or p == "p < 0.001" or len(p.split(".")[-1]) == 3 for p in tests["p"]), tests["p"].tolist()
    assert tests["Test"].str.contains("Kupiec").any() and tests["Counts"].str.contains("observations 25").any()


def test_a_model_beside_is_backtested_once_and_kept_in_the_desks_cache(new_app):
    """Chronos-2 chosen beside the sidebar's model is in the section's tables; the backtest is kept in the app's one
    result cache (the desk's), so drawing the page again shows it without computing it again."""
    from app_support import models
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
    summary = next(d.value for d in at.dataframe if "Kupiec p" in d.value.columns)
    # model, Chronos-2, 6 standard: the default risk model serving the series (log-HAR, not recalibrated) is one
    assert len(summary) == 8 and any("Chronos" in name for name in summary["Model"])
    assert any(c.value.startswith("The risk model serving this series is the row log-HAR") for c in at.caption)
    computed = models.results().computed
    at.run()  # drawn again: the kept backtest, not a new one
    assert not at.exception and models.results().computed == computed
    assert any("Kupiec p" in d.value.columns for d in at.dataframe)


def test_the_risk_backtest_runs_under_a_bar_of_cut_offs_done_with_an_eta(monkeypatch):
    """Issue 62 item 7: the backtest showed only a spinner for 21–41 s. It runs under a progress bar fed by the
    desk's ``progress(model, i, n)``: each model's cut-offs done of N (the bar's ETA), the asked model first and
    named, then each model after it as its own phase."""
    from app_support import risk
    from kronos_studio.desk import ModelRef
    from kronos_studio.desk.risk import MODEL_KEY, RiskBacktestPlan
    from kronos_studio.risk.measures import RiskSettings

    drawn = []

    class Bar:
        def __init__(self, label, unit="step", work=None):
            drawn.append(("label", label, unit))

        def restart(self, label, work=None):
            drawn.append(("label", label))

        def __call__(self, step, total):
            drawn.append((step, total))

        def done(self):
            drawn.append("done")

    class Desk:
        def risk_backtest(self, request, *, progress):
            for key, i in ((MODEL_KEY, 10), (MODEL_KEY, 25), ("historical_simulation", 1)):
                progress(key, i, 25)
            return "backtested"

    monkeypatch.setattr(risk, "ProgressBar", Bar)
    monkeypatch.setattr(risk.forecasts, "desk", lambda computing=True: Desk())
    monkeypatch.setattr(risk, "backtest_request", lambda *asked: None)
    choice = ModelRef(key="tiny", label="studio-tiny", ref="studio-tiny", kind="bundled")
    plan = RiskBacktestPlan(cutoffs=25, beside=("chronos2-small",))
    assert risk.run_backtest(None, choice, None, RiskSettings(), plan) == "backtested"
    assert drawn == [("label", "Risk backtest of studio-tiny, then chronos2-small, the standard risk models", "cut-off"),
                     (10, 25), (25, 25), ("label", "Risk backtest of historical simulation"), (1, 25), "done"]
