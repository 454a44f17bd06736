"""The Screener's risk columns (issue 55): VaR/ES and the paths' volatility shown as percentages beside P(up),
their settings from ``RiskSettings``' knobs, the tail flag naming the sidebar's control, a bad level refused."""
from __future__ import annotations

import json

from test_app import messages
from test_screener import open_screener

from app_support import screener
from kronos_studio.batch.summary import risk_column
from kronos_studio.risk.measures import paths_needed

HORIZON, PATHS = 6, 40


def table(at):
    return next(d for d in at.dataframe if d.key and d.key.startswith("screener_table_"))


def test_the_screener_shows_the_risk_columns_it_was_asked_for(new_app):
    at = open_screener(new_app, HORIZON, PATHS)
    at.text_input(key=screener.RISK_PREFIX + "levels").set_value("0.9, 0.975").run()
    at.multiselect(key=screener.RISK_PREFIX + "positions").set_value(["long"]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception, at.exception
    assert not at.error, messages(at.error)
    run = at.session_state[screener.RESULT_KEY]
    assert run.settings.risk.levels == (0.9, 0.975) and run.settings.risk.positions == ("long",)
    ok = run.rows[run.rows["status"] == "ok"].reset_index(drop=True)
    shown = table(at).value
    risk = [risk_column(m, "long", a) for a in (0.9, 0.975) for m in ("var", "es")] + ["vol_horizon", "vol_bar"]
    assert set(risk) <= set(shown.columns) and not any("short" in c for c in shown.columns)
    for c in risk:  # the rows' numbers, unchanged: the grid formats them
        assert list(shown[c]) == list(ok[c]) and shown[c].notna().all(), c
    config = json.loads(table(at).proto.columns)
    for c in risk:
        assert config[c]["label"] != c and config[c]["type_config"]["format"] == "percent", (c, config[c])
    assert config[risk_column("var", "long", 0.975)]["label"] == "VaR 97.5% long"
    # 40 paths leave 4 beyond a 0.9 VaR, 1 beyond 0.975: the flag names the sidebar's control and the count the
    # higher level asks for
    assert "have an ES read from fewer than 20 paths" in messages(at.warning)
    assert f"sample at least *Sample paths* {paths_needed(0.975)}" in messages(at.warning)

    at.text_input(key=screener.RISK_PREFIX + "levels").set_value("0.95").run()  # other levels than the run's
    assert "risk levels (0.9, 0.975) → (0.95,)" in messages(at.warning)


def test_each_rows_horizon_is_said_in_time_beside_its_var_and_mixed_intervals_are_flagged(new_app):
    """Issue 62 item 8: the bundled samples are daily, hourly and minute bars, so a 6-bar VaR is of 6 days on one
    row and 6 hours on the next: a **Horizon** column right before the VaR says each row's, and a warning says the
    watchlist mixes intervals, naming them; a watchlist of one interval gets no such warning."""
    from data_sources.intervals import span_text

    at = open_screener(new_app, HORIZON, PATHS)
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    run = at.session_state[screener.RESULT_KEY]
    ok = run.rows[run.rows["status"] == "ok"].reset_index(drop=True)
    shown = table(at).value
    assert shown[screener.HORIZON_TIME].tolist() == [span_text(i, HORIZON) for i in ok["interval"]]
    assert {"6 d", "6 h", "6 min"} <= set(shown[screener.HORIZON_TIME])
    columns = list(shown.columns)
    # right before the risk columns: the serving risk model's name and VaR/ES, then the paths' VaR (one horizon)
    risk = screener.risk_shown(shown, run.risk_columns)
    assert risk[0] == "risk_model" and risk_column("var", "long", 0.95) in risk
    assert columns[columns.index(screener.HORIZON_TIME) + 1:][:len(risk)] == risk
    assert json.loads(table(at).proto.columns)[screener.HORIZON_TIME]["label"] == "Horizon"
    warned = messages(at.warning)
    assert "the watchlist mixes bar intervals (1d: " in warned and "1h: " in warned and "1m: " in warned
    assert "6 d against 6 h" in warned and "screen one interval per watchlist" in warned

    daily = [n for n in at.multiselect(key="scr_samples").value if "daily" in n]
    at.multiselect(key="scr_samples").set_value(daily[:2]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    assert set(table(at).value[screener.HORIZON_TIME]) == {"6 d"}
    assert "mixes bar intervals" not in messages(at.warning)


def test_a_bad_level_is_refused_and_the_screener_waits(new_app):
    at = open_screener(new_app, HORIZON, PATHS)
    at.text_input(key=screener.RISK_PREFIX + "levels").set_value("0.95, 1.5").run()
    assert not at.exception, at.exception
    shown = messages(at.error)
    assert "No risk columns for these settings." in shown and "VaR/ES levels must lie between 0.5 and 0.9999" in shown
    assert "give each of *VaR/ES levels* between 0.5 and 0.9999" in shown
    assert at.button(key="run_screener").disabled
