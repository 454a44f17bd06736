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


def test_a_conditioned_fan_is_shown_as_chronos2_s_and_an_uploaded_covariate_by_its_name(new_app):
    """Issue 62, item 10: the conditioned fan's model line read "(None) · —", its volume (a number Chronos-2 holds,
    not forecasts) was drawn as three equal quantiles without a word, and an uploaded covariate was named by the
    server's cache path and a hash, its notes told to "pass Calendar" (the sidebar's is the target's) and its
    turnover column was dropped unsaid."""
    import hashlib
    import json
    import os

    from data_sources.samples import load_sample

    spx = load_sample(SPX).frame.tail(600)
    upload = spx[["timestamp", "open", "high", "low", "close", "volume"]].assign(value=spx["volume"] * spx["close"])
    upload = upload.assign(timestamp=upload["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(index=False).encode()
    at = new_app().run()
    at.sidebar.selectbox(key="sb_sample").set_value(TARGET).run()
    at.sidebar.file_uploader(key="sb_cond_upload").set_value(("spx_turnover.csv", upload, "text/csv")).run()
    at.sidebar.number_input(key="sb_horizon").set_value(3).run()
    at.number_input(key="sb_paths").set_value(10).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, at.error
    said = captions(at)
    assert "**Conditioned.** Chronos-2 conditioned on spx_turnover.csv (spx_turnover 1d)" in said
    assert "Model **Chronos-2 (chronos2-small) given spx_turnover** (local:" in said
    assert "(None)" not in said and " · — · " not in said
    kept_under = hashlib.sha256(upload).hexdigest()[:16]  # the folder the app keeps the upload in
    assert os.environ["KRONOS_STUDIO_CACHE"] not in said and kept_under not in said
    assert "covariate spx_turnover.csv: its close alone is read" in said and "amount (turnover) columns are ignored" \
        in said
    assert "pass *Calendar*" not in said and "(*Calendar* sets the target's)" in said
    assert "this model forecasts no volume" in said
    at.segmented_control(key="fan_field").set_value("volume").run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "volume p50" not in [t.get("name") for t in fig["data"]]
    assert any("this model forecasts no volume" in a["text"].replace("<br>", " ") for a in fig["layout"]["annotations"])
