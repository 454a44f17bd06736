"""The Forecast page's Risk panel (issue 55): VaR/ES of the forecast on screen, the same numbers the desk reads from
the same paths (``kronos risk`` and the service answer with it), its settings generated from ``RiskSettings``'
knobs, a bad level refused by name, too few paths for a 99% ES flagged with the count to ask for."""
from __future__ import annotations

from app_helpers import kept_forecasts
from test_app import messages, small

from kronos_studio.desk.risk_tables import var_es_table


def shown_forecast():
    """The one forecast the app's result cache holds: the fan on screen."""
    [fc] = kept_forecasts()
    return fc


def risk_table(at):
    """The Risk panel's VaR/ES table (AppTest's tables carry no key: found by its columns), None when not drawn."""
    return next((d.value for d in at.dataframe if "VaR ± se" in d.value.columns), None)


def shows(table, frame) -> bool:
    """Whether the app's table holds the desk's worded frame, header for header and cell for cell."""
    return list(table.columns) == list(frame.columns) and table.astype(str).to_numpy().tolist() == frame.to_numpy().tolist()


def test_the_risk_panel_reads_the_forecast_on_screen(new_app):
    from kronos.settings import knobs
    from kronos_studio.desk.risk import read_risk
    from kronos_studio.risk.measures import RiskSettings

    at = small(new_app().run(), horizon=5, paths=40)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    # one control per RiskSettings knob, under the knob's label
    labels = {w.label for kind in ("text_input", "multiselect", "toggle", "slider", "number_input") for w in at.get(kind)}
    assert {knob.label for _, knob in knobs(RiskSettings).values()} <= labels
    table = risk_table(at)
    expected = read_risk(shown_forecast(), RiskSettings()).path
    assert shows(table, var_es_table(expected).frame)  # the desk's table in words, as kronos risk prints it
    assert list(zip(table["Position"], table["Level"])) == [(t.position, f"{t.level:g}") for t in expected.horizon]
    # issue 62 item 14: when the horizon ends, its last bar's time (a weekend or a holiday inside it shows)
    from kronos_studio.desk.cells import bar_time_text

    end = shown_forecast().timestamps[-1]
    assert f"over the horizon of 5 bars ending **{bar_time_text(end)}** (its last bar)" in messages(at.caption)
    # 40 paths leave 0 or 1 beyond a 99% VaR: flagged with the paths to ask for, named as the app's control
    assert "sample at least *Sample paths* 2000" in messages(at.warning)
    assert {c.key for c in at.get("plotly_chart")} >= {"fan_chart", "risk_histogram", "risk_volatility"}
    assert any("Do the paths look like markets?" in m.value for m in at.markdown)

    at.text_input(key="risk_levels").set_value("0.9, 0.975").run()
    table = risk_table(at)
    assert sorted(set(table["Level"])) == ["0.9", "0.975"]
    at.text_input(key="risk_levels").set_value("0.95, 1.5").run()
    assert not at.exception
    assert "between 0.5 and 0.9999" in messages(at.error) and "*VaR/ES levels*" in messages(at.error)
    assert risk_table(at) is None  # refused: no numbers for settings not taken


def test_the_risk_panel_reads_enough_paths_for_its_levels_on_a_click(new_app):
    """A fan of 40 paths is too few for a 90% ES (200 needed): the panel offers to sample the same request with 200
    paths, then reads the risk from those — the numbers ``Desk.risk`` gives for that request — and says so."""
    from kronos_studio.desk.risk import read_risk
    from kronos_studio.risk.measures import RiskSettings

    at = small(new_app().run(), horizon=5, paths=40)
    at.button(key="run_forecast").click().run()
    at.text_input(key="risk_levels").set_value("0.9").run()
    assert not at.exception and not at.error, messages(at.error)
    assert "risk_more_paths" in [b.key for b in at.button]
    at.button(key="risk_more_paths").click().run()
    assert not at.exception and not at.error, messages(at.error)
    fans = {fc.paths.shape[0]: fc for fc in kept_forecasts()}
    assert set(fans) == {40, 200}  # the fan's own, and the risk's
    assert fans[200].provenance["seed"] == fans[40].provenance["seed"]
    expected = read_risk(fans[200], RiskSettings(levels=(0.9,))).path
    assert shows(risk_table(at), var_es_table(expected).frame)
    assert any("Read from a sample of 200 paths" in c.value for c in at.caption)
    at.run()  # kept: read from the 200 paths again without a click, and no button
    assert "risk_more_paths" not in [b.key for b in at.button]
    assert shows(risk_table(at), var_es_table(expected).frame)
