"""Issue 56: the sidebar's "Condition on" (app_support.conditioned): the Forecast page's forecast is the desk's,
by Chronos-2 conditioned on the chosen series, and says so; Compare shows it with and without on the same seed;
a covariate that cannot be read as of the cut-off is refused with its fix, naming the control."""
from __future__ import annotations

from testkit import needs_bundled_chronos2

needs_bundled_chronos2()

TARGET = "NASDAQ Composite daily 1999-2018 (arch)"
SPX = "S&P 500 index daily 1999-2018 (arch)"
AAPL = "AAPL daily 2000-2013 (bundled)"  # ends five years before the target's cut-off


def captions(at) -> str:
    return " | ".join(str(c.value) for c in at.caption)


def conditioned_app(new_app, covariate: str):
    at = new_app().run()
    at.sidebar.selectbox(key="sb_sample").set_value(TARGET).run()
    at.sidebar.multiselect(key="sb_condition_on").set_value([covariate]).run()
    at.sidebar.number_input(key="sb_horizon").set_value(3).run()
    at.number_input(key="sb_paths").set_value(10).run()
    return at


def test_condition_on_forecasts_with_chronos2_and_compare_shows_with_and_without(new_app):
    at = conditioned_app(new_app, SPX)
    assert f"Chronos-2 conditioned on {SPX}" in " ".join(str(i.value) for i in at.info)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, at.error
    assert f"**Conditioned.** Chronos-2 conditioned on {SPX} (^GSPC 1d)" in captions(at)
    assert "no model forecasts these markets better with covariates than without" in captions(at)

    at.switch_page("pages/compare.py").run()
    at.segmented_control(key="cmp_mode").set_value("With / without covariates").run()
    at.button(key="run_with_without").click().run()
    assert not at.exception and not at.error, at.error
    cards = [str(m.value) for m in at.markdown]
    assert f"**Chronos-2 given {SPX}**" in cards and "**Chronos-2 alone**" in cards
    assert "Chronos-2 alone, conditioned on nothing" in captions(at)


def test_a_covariate_that_stopped_before_the_cut_off_is_refused_naming_the_control(new_app):
    at = conditioned_app(new_app, AAPL)
    at.button(key="run_forecast").click().run()
    assert not at.exception
    message = " ".join(str(e.value) for e in at.error)
    assert "The conditioned forecast could not run" in message and "before the target's last bar" in message
    assert "load AAPL up to the cut-off (*Condition on*)" in message
