"""The Screener page through AppTest: a batch over the bundled samples, filters, rows without a forecast,
bad input, and a row opened on the Forecast page with the run's settings (the same fan)."""
from __future__ import annotations

import base64
import json
import math

import pytest
from app_helpers import BAD_CSV, good_csv, multi_asset_csv

from app_support import screener, sidebar
from app_support.formats import width_text

HORIZON, PATHS = 8, 12


def messages(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def open_screener(new_app, horizon=HORIZON, paths=PATHS):
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(horizon).run()
    at.sidebar.number_input(key="sb_paths").set_value(paths).run()
    at.switch_page("pages/screener.py").run()
    assert not at.exception, at.exception
    return at


def run_samples(new_app, **kw):
    at = open_screener(new_app, **kw)
    assert "Run screener" in messages(at.info)
    at.button(key="run_screener").click().run()
    assert not at.exception, at.exception
    assert not at.error, messages(at.error)
    return at


def table(at):
    return next(d for d in at.dataframe if d.key and d.key.startswith("screener_table_"))


def failed_table(at):
    """The small table of rows without a forecast (a keyed st.dataframe without selection has no key here)."""
    return next(d for d in at.dataframe if list(d.value.columns) == ["series", "status", "origin"])


def select(at, position: int):
    at.session_state[table(at).key] = {"selection": {"rows": [position], "columns": [], "cells": []}}
    return at.run()


def test_screens_the_bundled_samples_and_filters(new_app):
    from data_sources import list_samples

    at = run_samples(new_app)
    run = at.session_state[screener.RESULT_KEY]
    names = [s.name for s in list_samples()]
    assert list(run.rows["series"]) == names  # one row per sample, in watchlist order
    assert run.settings.model_key.startswith("folder:") and run.settings.forecast.horizon == HORIZON
    assert run.settings.forecast.paths == PATHS and run.settings.forecast.seed == 0
    assert run.settings.forecast.lookback == at.session_state[sidebar.STATE_KEY].lookback  # the sidebar's, as Forecast reads
    metrics = {m.label: m.value for m in at.metric}
    ok = run.rows["status"] == "ok"
    assert metrics["Series"] == str(len(names)) and metrics["Forecast"] == str(int(ok.sum())) and ok.sum() >= 5
    assert "series/s" in metrics["Speed"]

    shown = table(at).value
    assert list(shown["series"]) == list(run.rows.loc[ok, "series"])  # forecast rows only by default
    assert {"p_up", "expected_return", "band_width", "expected_max_drawdown", "p_touch_-5%", "p_touch_+5%",
            "close_p50"} <= set(shown.columns)
    svg = base64.b64decode(shown["fan"].iloc[0].removeprefix("data:image/svg+xml;base64,")).decode()
    assert svg.startswith("<svg") and "<polygon" in svg and svg.count("<polyline") == 2  # band, p50, history
    assert "P(close at horizon > last close)" in messages(at.caption)
    # Every column has a name for people, and the two that say which row is which stay put when the grid
    # (wider than a laptop's page) scrolls sideways.
    config = json.loads(table(at).proto.columns)
    assert set(shown.columns) <= set(config), set(shown.columns) - set(config)
    assert all(config[c]["label"] and config[c]["label"] != c for c in shown.columns if c != "fan")
    assert [c for c in shown.columns if config[c].get("pinned")] == ["fan", "series"]

    at.slider(key="scr_p_up").set_value(50).run()
    expect = run.rows[ok & (run.rows["p_up"] >= 0.5)]
    assert list(table(at).value["series"]) == list(expect["series"])
    at.slider(key="scr_p_up").set_value(0).run()
    band_key = next(s.key for s in at.slider if s.key.startswith("scr_band_"))
    widths = run.rows.loc[ok, "band_width"]
    cut = math.ceil(widths.median() * 200) / 2  # percent, on the slider's 0.5 steps
    at.slider(key=band_key).set_value(cut).run()
    narrow = table(at).value
    assert 0 < len(narrow) < len(widths) or widths.nunique() == 1
    assert len(narrow) == int((widths <= cut / 100 + 1e-12).sum()) and (narrow["band_width"] <= cut / 100).all()


def test_a_row_opens_on_the_forecast_page_with_the_same_fan(new_app):
    at = run_samples(new_app)
    run = at.session_state[screener.RESULT_KEY]
    shown = table(at).value
    assert at.button(key="screener_open").disabled  # nothing selected yet
    position = 1
    row = run.rows.set_index("series").loc[shown["series"].iloc[position]]
    select(at, position)
    assert not at.button(key="screener_open").disabled
    assert f"Opens **{row.name}**" in messages(at.caption)

    at.number_input(key="sb_horizon").set_value(HORIZON + 5).run()  # the sidebar moves on after the run...
    assert "horizon 8 → 13" in messages(at.warning)
    select(at, position)
    at.button(key="screener_open").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Forecast"
    assert at.session_state["sb_horizon"] == HORIZON  # ...the row opens with the settings it was made with
    assert at.sidebar.selectbox(key="sb_sample").value == row.name
    assert f"**{row['symbol']}** · {row['interval']}" in at.markdown[0].value
    metrics = {m.label: m.value for m in at.metric}  # run at once, no click: the row's numbers
    assert metrics["P(close ends above last close)"] == f"{row['p_up']:.0%}"
    assert metrics["Expected return at horizon"] == f"{row['expected_return']:+.2%}"
    assert metrics["Band width p10–p90 at horizon"] == width_text(row["band_width"])
    assert metrics["Expected max drawdown"] == f"{row['expected_max_drawdown']:.1%}"
    assert {m.label: m.delta for m in at.metric}["Sampling time"] == "just sampled"
    # AppTest's run() goes back to the page it last switched to (a browser stays): come back to Forecast.
    at.switch_page("pages/forecast.py").run()  # the sidebar kept the row's series and settings: same forecast
    assert not at.exception and f"**{row['symbol']}** · {row['interval']}" in at.markdown[0].value
    assert {m.label: m.delta for m in at.metric}["Sampling time"] == "from cache"


def test_uploaded_files_keep_rows_without_a_forecast(new_app):
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([("good.csv", good_csv(), "text/csv"),
                                                  ("broken.csv", BAD_CSV, "text/csv")]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    run = at.session_state[screener.RESULT_KEY]
    assert list(run.rows["series"]) == ["broken", "good"]  # the folder's order: by file name
    assert run.rows["status"].iloc[0].startswith("cannot load") and run.rows["status"].iloc[1] == "ok"
    assert list(table(at).value["series"]) == ["good"]
    failed = failed_table(at).value
    assert list(failed["series"]) == ["broken"] and "no date/time column" in failed["status"].iloc[0]
    at.toggle(key="scr_ok_only").set_value(False).run()  # in the main table, with its reason
    shown = table(at).value
    assert list(shown["series"]) == ["broken", "good"] and shown["status"].iloc[0].startswith("cannot load")
    assert len(at.dataframe) == 1  # no separate table then
    select(at, 1)  # an uploaded file opens on the Forecast page too (issue 21): the file is handed over
    assert not at.button(key="screener_open").disabled and "Opens **good**" in messages(at.caption)
    at.button(key="screener_open").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Forecast" and "**good** ·" in at.markdown[0].value
    assert "good.csv" in messages(at.sidebar.caption)
    row = run.rows.set_index("series").loc["good"]
    assert {m.label: m.value for m in at.metric}["P(close ends above last close)"] == f"{row['p_up']:.0%}"


def test_an_unsorted_fx_export_is_screened_with_the_sort_fix_and_opened_with_it(new_app, tmp_path):
    """Issue 21: the Screener accepts the gate's fixes, infers the FX week like the Forecast page, shows
    EURUSD at its own precision and P(up) rounded as the Forecast page rounds it."""
    import pandas as pd
    from testkit import fx_hourly_export

    def probability_text(p):  # as the Forecast page shows P(up)
        return f"{p:.0%}"

    frame = pd.read_csv(fx_hourly_export(tmp_path / "EURUSD.csv"))
    frame.iloc[[100, 101]] = frame.iloc[[101, 100]].to_numpy()  # two rows swapped: unsorted
    data = frame.to_csv(index=False).encode()
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([("EURUSD.csv", data, "text/csv")]).run()
    at.button(key="run_screener").click().run()
    status = at.session_state[screener.RESULT_KEY].rows["status"].iloc[0]
    assert status.startswith("data-quality gate: unsorted") and "'sort'" in status
    at.multiselect(key="scr_fixes").set_value(["sort"]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    run = at.session_state[screener.RESULT_KEY]
    row = run.rows.iloc[0]
    assert row["status"] == "ok" and row["calendar"] == "FX" and row["calendar_inferred"]
    assert pd.Timestamp(row["horizon_end"]).day_of_week != 5  # never a Saturday
    shown = table(at).value.iloc[0]
    assert row["price_decimals"] == 5
    for c in ("close_p10", "close_p50", "close_p90"):  # 1.14781, not 1.15
        assert shown[c] == f"{row[c]:.5f}"
    assert f"{shown['p_up']:g}%" == probability_text(row["p_up"])  # whole percents on both pages
    select(at, 0)
    at.button(key="screener_open").click().run()
    assert not at.exception, at.exception
    assert at.checkbox(key="fix_unsorted").value  # the run's fix is accepted on the Forecast page too
    assert "Calendar **FX** inferred from the bar times" in messages(at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["P(close ends above last close)"] == probability_text(row["p_up"])
    level = next(n for n in at.number_input if n.key.startswith("level_"))
    assert level.format == "%.5f" and level.value == round(level.value, 5)
    assert any(m.label.startswith("P(close above 1.") and len(m.label.split()[2]) == 7 for m in at.metric), \
        [m.label for m in at.metric]


def test_sample_paths_start_at_two(new_app):
    at = new_app().run()
    assert at.sidebar.number_input(key="sb_paths").min == 2


def test_tickers_offline_become_rows_with_their_reason(new_app, no_network):
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("tickers").run()
    at.text_area(key="scr_symbols_yfinance").input("aapl, msft\nspy").run()
    at.button(key="run_screener").click().run()
    assert not at.exception
    run = at.session_state[screener.RESULT_KEY]
    assert list(run.rows["series"]) == ["AAPL", "MSFT", "SPY"]
    assert run.rows["status"].str.contains("cannot reach Yahoo Finance").all()
    assert list(failed_table(at).value["series"]) == ["AAPL", "MSFT", "SPY"]
    assert "No series could be forecast" in messages(at.error) and len(at.dataframe) == 1  # the reasons only
    assert not [b for b in at.button if b.key == "screener_open"]


@pytest.mark.parametrize("kind, text, expected", [
    ("tickers", " ,, ", "no ticker or pair given"),
    ("samples", None, "no sample chosen"),
])
def test_a_bad_watchlist_is_a_message(new_app, kind, text, expected):
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value(kind).run()
    if kind == "tickers":
        at.text_area(key="scr_symbols_yfinance").input(text).run()
    else:
        at.multiselect(key="scr_samples").set_value([]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception
    assert "Check the watchlist" in messages(at.error) and expected in messages(at.error)


def test_the_ensemble_is_not_offered_for_screening(new_app):
    at = new_app().run()
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    at.switch_page("pages/screener.py").run()
    assert not at.exception and "switch off **Ensemble**" in messages(at.info)
    assert not any(b.key == "run_screener" for b in at.button)


def test_chunk_size():
    assert screener.chunk_size(7) == 4 and screener.chunk_size(100) == 10 and screener.chunk_size(10_000) == 32


def test_a_change_of_any_forecast_setting_is_named_against_the_run():
    """``changes`` reads every field of ForecastSettings, a sampling knob added later (clip) included."""
    from dataclasses import fields, replace

    from app_support.screener import RunSettings, changes
    from kronos.settings import ForecastSettings

    then = RunSettings("k", "Kronos", "ref", 512, ForecastSettings(horizon=10))
    assert changes(then, then) == []
    assert changes(then, replace(then, model_label="Other")) == ["model Kronos → Other"]
    for f in fields(ForecastSettings):
        value = getattr(then.forecast, f.name)
        other = (not value) if isinstance(value, bool) else (64 if value is None else value / 2 if value else 3)
        [said] = changes(then, replace(then, forecast=replace(then.forecast, **{f.name: other})))
        assert said.startswith(f.name.replace("_", "-") + " "), said


def test_sparkline_draws_history_band_and_median_in_its_box():
    import re

    url = screener.sparkline([10, 11, 12], [11, 10], [12, 13], [13, 16], up=True)
    svg = base64.b64decode(url.removeprefix("data:image/svg+xml;base64,")).decode()
    numbers = [float(v) for v in re.findall(r'points="([^"]+)"', svg)[0].replace(",", " ").split()]
    xs, ys = numbers[0::2], numbers[1::2]
    assert min(xs) >= 0 and max(xs) == screener.SPARK_W and 0 <= min(ys) and max(ys) <= screener.SPARK_H
    assert "#2e7d32" in svg  # green median: P(up) > 50%
    assert screener.sparkline([], [], [], []) == ""


def test_open_on_forecast_keeps_the_sidebar_boxes_filled_and_warns_of_nothing(new_app, monkeypatch, caplog):
    """Issue 45 item 8: opening a row sets the sidebar's widgets without Streamlit's "default value but
    also set via the Session State API" warning, and the file's Timezone and Calendar boxes show their
    choice (a box whose value is None shows empty) on Forecast and on the other pages."""
    import logging

    from streamlit.elements.lib import policies

    monkeypatch.setattr(policies, "_shown_default_value_warning", False)  # logged once per process
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([("good.csv", good_csv(), "text/csv")]).run()
    at.button(key="run_screener").click().run()
    select(at, 0)
    with caplog.at_level(logging.WARNING):
        at.button(key="screener_open").click().run()
    assert not at.exception, at.exception
    assert "set via the Session State API" not in caplog.text
    assert at.title[0].value == "Forecast" and "**good** ·" in at.markdown[0].value
    for page in ("pages/forecast.py", "pages/compare.py"):
        if page != "pages/forecast.py":
            at.switch_page(page).run()
        assert not at.exception, at.exception
        boxes = {k: at.sidebar.selectbox(key=k) for k in ("sb_file_tz", "sb_file_cal")}
        shown = {k: b.format_func(b.value) if b.index is not None else None for k, b in boxes.items()}
        assert shown == {"sb_file_tz": "as in the file", "sb_file_cal": "infer from the bar times"}, (page, shown)
        assert at.session_state[sidebar.STATE_KEY].timezone is None  # and they mean what they say
        assert at.session_state[sidebar.STATE_KEY].calendar is None


def test_a_file_of_several_instruments_is_screened_one_series_per_instrument(new_app):
    """Issue 45 item 7: the Screener offers the instruments of a multi-asset file (all at first) and screens
    each chosen one as its own series; a row opens on the Forecast page with its instrument picked there."""
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([("daily.csv", multi_asset_csv(), "text/csv")]).run()
    assert not at.exception, at.exception
    picker = next(m for m in at.multiselect if (m.key or "").startswith("scr_instruments_"))
    assert picker.label == "Instruments in daily.csv" and picker.value == ["AAA", "BBB", "CCC"]
    assert "holds 3 instruments" in messages(at.caption)
    picker.set_value(["AAA", "BBB"]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    run = at.session_state[screener.RESULT_KEY]
    rows = run.rows.set_index("series")
    # each named by its instrument, as the ledger names its series (a file's name is no part of it)
    assert list(run.rows["series"]) == ["AAA", "BBB"] and (rows["status"] == "ok").all(), rows["status"]
    assert list(rows["symbol"]) == ["AAA", "BBB"] and (rows["bars_used"] > 0).all()
    assert rows.loc["BBB", "last_close"] == pytest.approx(10 * rows.loc["AAA", "last_close"])  # each its own bars
    assert rows.loc["AAA", "origin"].endswith("daily.csv (AAA)")

    select(at, 1)
    assert "Opens **BBB**" in messages(at.caption)
    at.button(key="screener_open").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Forecast" and "**BBB** ·" in at.markdown[0].value
    assert next(s for s in at.selectbox if (s.key or "").startswith("file_symbol_")).value == "BBB"
    assert {m.label: m.value for m in at.metric}["P(close ends above last close)"] == f"{rows.loc['BBB', 'p_up']:.0%}"


def test_two_exchanges_files_of_one_symbol_are_two_rows_each_named_apart_by_its_file(new_app, tmp_path):
    """Issue 62 item 1: a row is named by its instrument, and by file:instrument only where another file holds the
    same instrument (a row's name is unique); each row's symbol is the series' name the ledger keeps, which no
    file's name enters: bitfinex's and bitstamp's BTC are both BTC, whose venue neither file names."""
    from testkit import BITFINEX, BITSTAMP, exchange_files

    files = exchange_files(tmp_path)
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([(name, files[name].read_bytes(), "text/csv")
                                                   for name in (BITFINEX, BITSTAMP)]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    rows = at.session_state[screener.RESULT_KEY].rows
    assert list(rows["series"]) == ["bitfinex_(BTC,ETH)USD_d:BTC", "bitfinex_(BTC,ETH)USD_d:ETH",
                                    "bitstamp_(BTC,ETH,LTC)USD_d:BTC", "bitstamp_(BTC,ETH,LTC)USD_d:ETH", "LTC"]
    assert (rows["status"] == "ok").all(), list(rows["status"])
    assert list(rows["symbol"]) == ["BTC", "ETH", "BTC", "ETH", "LTC"]  # the series the ledger and registry know
    assert rows["last_close"].nunique() == 5  # each row its own bars

def test_no_instrument_chosen_is_a_message(new_app):
    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([("daily.csv", multi_asset_csv(), "text/csv")]).run()
    next(m for m in at.multiselect if (m.key or "").startswith("scr_instruments_")).set_value([]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception
    assert "no instrument of daily.csv is chosen: pick at least one of AAA, BBB, CCC" in messages(at.error)


def test_a_refusal_names_the_control_that_fixes_it(new_app, monkeypatch):
    """Issue 46: a library error's fix reads as the sidebar control's label, not as a keyword argument."""
    from kronos.errors import Fix, InputError

    def refuse(*args, **kwargs):
        raise InputError("only 40 bars per series", {"bars": 40},
                         (Fix("lower {setting}", "lookback"), Fix("turn on {setting}", "anchor", True)))

    monkeypatch.setattr(screener, "run", refuse)
    at = open_screener(new_app)
    at.button(key="run_screener").click().run()
    shown = messages(at.error)
    assert "only 40 bars per series: lower *Lookback (bars)*; turn on *Start the fan at the last close*" in shown
    assert "lower lookback" not in shown and "anchor=True" not in shown


def adjusted_csv(level: float = 1298.0) -> bytes:
    """A vendor's export of adjusted closes written to six decimals ("1298.217163")."""
    import io

    import pandas as pd

    frame = pd.read_csv(io.BytesIO(good_csv()))
    for c in ("open", "high", "low", "close"):
        frame[c] = (frame[c] * level / 100).round(6)
    return frame.to_csv(index=False, float_format="%.6f").encode()


def test_uploads_are_named_as_uploaded_and_priced_as_quoted(new_app):
    """The "From" column and the reasons name an uploaded file by its name, never the server's folder it was
    stored in; adjusted closes written to six decimals are shown in cents (not "1,298.217163")."""
    from data_sources.storage import storage_root

    at = open_screener(new_app)
    at.segmented_control(key="scr_kind").set_value("upload").run()
    at.file_uploader(key="scr_upload").set_value([("GOOG.csv", adjusted_csv(), "text/csv"),
                                                  ("broken.csv", BAD_CSV, "text/csv")]).run()
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, messages(at.error)
    shown = table(at).value.set_index("series")
    assert shown.loc["GOOG", "origin"] == "GOOG.csv"
    assert failed_table(at).value.set_index("series").loc["broken", "origin"] == "broken.csv"
    rows = at.session_state[screener.RESULT_KEY].rows
    assert not rows[["origin", "status"]].astype(str).apply(lambda c: c.str.contains(str(storage_root()))).any().any()
    assert rows.set_index("series").loc["GOOG", "price_decimals"] == 2
    for c in ("close_p10", "close_p50", "close_p90", "last_close"):
        whole, _, cents = shown.loc["GOOG", c].partition(".")
        assert len(cents) == 2 and whole.replace(",", "").isdigit(), shown.loc["GOOG", c]
