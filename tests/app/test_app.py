"""Page logic through Streamlit's AppTest (no browser): forecast, cache, gate, errors, compare."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from app_helpers import BAD_CSV, good_csv, kept_forecasts

from kronos.config import MIN_HISTORY


def small(at, horizon=8, paths=4):
    at.sidebar.number_input(key="sb_horizon").set_value(horizon).run()
    at.number_input(key="sb_paths").set_value(paths).run()
    return at


def messages(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def test_starts_with_sidebar_and_gate(new_app):
    at = new_app().run()
    assert not at.exception
    assert at.sidebar.selectbox(key="sb_source").value == "sample"
    labels = at.sidebar.selectbox(key="sb_model").options
    assert labels[0].startswith("test-tiny-a") and any("Kronos-small" in o for o in labels)
    assert "3270 bars" in at.markdown[0].value  # AAPL bundled sample
    # the sample opens split-adjusted (noted); the raw file, split jumps and the offered fix, one toggle away
    assert "applied fix 'adjust_splits'" in messages(at.markdown)
    assert not any(c.key == "fix_split_jump" for c in at.checkbox)
    at.sidebar.toggle(key="sb_adjusted").set_value(False).run()
    assert at.checkbox(key="fix_split_jump") and "3270 bars" in at.markdown[0].value
    from app_support import models

    assert models.warm_up().torch_ready.wait(timeout=300)  # started once the first page was drawn
    at.sidebar.toggle(key="sb_adjusted").set_value(True).run()
    assert "Device: **cpu" in messages(at.sidebar.caption)
    assert "Run forecast" in messages(at.info)
    # Before a forecast: the bars the model reads (the lookback), candles only, up to the forecast start.
    charts = at.get("plotly_chart")
    assert [c.key for c in charts] == ["history_chart"]
    fig = json.loads(charts[0].proto.spec)
    lookback = at.sidebar.number_input(key="sb_lookback_128").value
    assert [t["type"] for t in fig["data"]] == ["candlestick"] and len(fig["data"][0]["x"]) == lookback
    assert fig["layout"]["title"]["text"].endswith(f" of the {lookback} bars the model reads")
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["forecast start"]
    assert pd.Timestamp(fig["layout"]["shapes"][0]["x0"]) == pd.Timestamp(fig["data"][0]["x"][-1])


def test_forecast_cached_and_requantiled_without_resampling(new_app):

    at = small(new_app().run())
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    assert not at.error, messages(at.error)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    kinds = [t["type"] for t in fig["data"]]
    assert "candlestick" in kinds and any(t.get("fill") == "tonexty" for t in fig["data"])
    metrics = {m.label: m for m in at.metric}
    assert "P(close ends above last close)" in metrics
    assert metrics["Sampling time"].delta == "just sampled"
    table = at.dataframe[0].value
    assert len(table) == 8 and "close_p10" in table.columns and "close_p90" in table.columns
    export = at.json[0].value
    export = json.loads(export) if isinstance(export, str) else export
    assert export["provenance"]["seed"] == 0 and export["provenance"]["model"] == "test-tiny-a"
    assert len(export["data"]["content_sha256"]) == 64 and export["app"]["version"]
    n = len(kept_forecasts())

    at.selectbox(key="fan_band").set_value("p25–p75").run()  # display only: no new sample
    assert {m.label: m for m in at.metric}["Sampling time"].delta == "from cache"
    assert "close_p25" in at.dataframe[0].value.columns
    at.segmented_control(key="fan_field").set_value("volume").run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(t["type"] == "bar" for t in fig["data"])
    assert len(kept_forecasts()) == n

    at.number_input(key="sb_seed").set_value(7).run()  # a new seed is a new forecast: not served from cache
    assert [c.key for c in at.get("plotly_chart")] == ["history_chart"] and "Run forecast" in messages(at.info)
    at.number_input(key="sb_seed").set_value(0).run()  # back: instantly from the store
    assert at.get("plotly_chart") and len(kept_forecasts()) == n


def test_events_are_drawn(new_app):
    at = small(new_app().run())
    at.text_area(key="events_text").input("2013-02-20, Earnings\nnot a date, x").run()
    assert "not a date" in messages(at.warning)
    at.button(key="run_forecast").click().run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    texts = [a.get("text") for a in fig["layout"]["annotations"]]
    assert "Earnings" in texts and "forecast start" in texts


def upload(at, name, data, mime="text/csv"):
    at.sidebar.selectbox(key="sb_source").set_value("file").run()
    at.sidebar.file_uploader(key="sb_upload").set_value((name, data, mime)).run()
    return at


def test_good_upload_then_bad_upload_then_recovers(new_app):
    at = upload(new_app().run(), "mine.csv", good_csv())
    assert not at.exception and not at.error, messages(at.error)
    assert "**mine**" in at.markdown[0].value and "200 bars" in at.markdown[0].value
    assert "timezone_assumed" in messages(at.markdown)
    at.sidebar.selectbox(key="sb_file_tz").set_value("America/New_York").run()
    at.sidebar.selectbox(key="sb_file_cal").set_value("XNYS").run()
    assert "calendar XNYS" in at.markdown[0].value and "timezone_assumed" not in messages(at.markdown)
    at.sidebar.file_uploader(key="sb_upload").set_value(("bad.csv", BAD_CSV, "text/csv")).run()
    assert not at.exception
    assert "no date/time column" in messages(at.error)
    at.sidebar.selectbox(key="sb_source").set_value("sample").run()  # the app keeps working
    assert not at.error and "3270 bars" in at.markdown[0].value


def test_gate_notes_belong_to_the_file_on_screen(new_app):
    """Two files with the same bars but different columns: each shows its own reader notes."""
    lines = good_csv().decode().splitlines()
    with_adj = "\n".join([lines[0] + ",Adj Close", *(f"{row},{row.split(',')[4]}" for row in lines[1:])]) + "\n"
    at = upload(new_app().run(), "with_adj.csv", with_adj.encode())
    assert "Adj Close" in messages(at.markdown)
    at.sidebar.file_uploader(key="sb_upload").set_value(("plain.csv", good_csv(), "text/csv")).run()
    assert not at.exception and "**plain**" in at.markdown[0].value
    assert "Adj Close" not in messages(at.markdown)


def test_gate_blocks_until_fix_accepted(new_app):
    text = good_csv(160).decode().splitlines()
    rows = text[1:]
    shuffled = "\n".join([text[0], *rows[:50], rows[60], *rows[50:]]) + "\n"  # one duplicated, out-of-order row
    at = upload(new_app().run(), "dups.csv", shuffled.encode())
    assert "cannot run" in messages(at.error)
    assert not any(b.key == "run_forecast" for b in at.button)  # no run button while blocked
    for key in ("fix_duplicate_timestamps", "fix_unsorted"):
        if at.checkbox(key=key) is not None:
            at.checkbox(key=key).check().run()
    assert not at.error, messages(at.error)
    assert at.button(key="run_forecast")


def test_short_history_is_an_error_not_a_traceback(new_app):
    at = upload(new_app().run(), "short.csv", good_csv(40))
    assert not at.exception
    assert "short_history" in messages(at.markdown) and "cannot run" in messages(at.error)


@pytest.mark.parametrize("exc_name,expected", [("SourceUnavailableError", "Could not reach the data source"),
                                               ("SymbolNotFoundError", "Could not load the bars")])
def test_network_errors_are_messages(new_app, monkeypatch, exc_name, expected):
    import data_sources
    from data_sources import errors

    def fail(*args, **kwargs):
        raise getattr(errors, exc_name)("ZZZZ: no such symbol / no network; check the ticker")

    monkeypatch.setattr(data_sources, "load_bars", fail)
    at = new_app().run()
    at.sidebar.selectbox(key="sb_source").set_value("yfinance").run()
    at.sidebar.text_input(key="sb_symbol_yfinance").input("ZZZZ").run()
    assert not at.exception
    assert expected in messages(at.error) and "ZZZZ" in messages(at.error)


def test_offline_official_model_is_a_clear_error(new_app, no_network):
    at = small(new_app().run())
    at.sidebar.selectbox(key="sb_model").set_value("official:small").run()
    at.button(key="run_forecast").click().run()
    assert not at.exception
    err = messages(at.error)
    assert "model could not be loaded" in err and "bundled model" in err
    at.sidebar.selectbox(key="sb_model").set_value(at.sidebar.selectbox(key="sb_model").options[0]).run()
    assert not at.error  # switching back works


def test_no_bundled_model_warns(new_app, monkeypatch):
    import kronos_studio.bundled

    monkeypatch.delenv("KRONOS_STUDIO_MODELS")
    monkeypatch.setattr(kronos_studio.bundled, "bundled_models", lambda: {})
    at = new_app().run()
    assert not at.exception
    assert "No bundled model" in messages(at.sidebar.warning)


def test_compare_backtest(new_app):
    import base64

    import numpy as np

    def values(v):  # a trace's data from the figure's JSON: plotly writes numpy arrays as base64 typed arrays
        if isinstance(v, dict):
            return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).astype(float)
        return np.array(v, float)

    at = small(new_app().run(), horizon=6, paths=4)
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    picked = at.multiselect(key="cmp_models").value  # the two local test models by default
    assert [k.rsplit("/", 1)[-1] for k in picked] == ["test-tiny-a", "test-tiny-b"]
    at.button(key="run_compare").click().run()  # forecast mode: the horizon numbers, no scores, no verdict
    assert not at.exception and not at.error, messages(at.error)
    ahead = at.dataframe[0].value
    assert {"expected return", "P(up)", "band width p10–p90", "first-step gap"} <= set(ahead.columns)
    assert "CRPS" not in ahead.columns and len(ahead) == 2 and "Verdict" not in messages(at.info)
    at.segmented_control(key="cmp_mode").set_value("Backtest").run()
    assert at.date_input(key="cmp_cutoff")
    at.button(key="run_compare").click().run()
    assert not at.exception and not at.error, messages(at.error)
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "xaxis2" in fig["layout"] and fig["layout"]["yaxis2"].get("matches") == "y"
    assert any(t.get("name") == "actual close" for t in fig["data"])
    table, across = at.dataframe[0].value, at.dataframe[1].value
    models = ["test-tiny-a (local folder)", "test-tiny-b (local folder)"]
    assert list(table["model"]) == [*models, "random walk (hist. vol)"]  # the baseline on the same cut-off
    assert {"expected return", "P(up)", "band width p10–p90", "first-step gap", "CRPS", "CRPS skill vs random walk",
            "p10–p90 coverage"} <= set(table.columns)
    assert table["p10–p90 coverage"].between(0, 1).all() and (table["time (s)"][:2] > 0).all()
    assert table["P(up)"].between(0, 1).all() and (table["band width p10–p90"] >= 0).all()
    skill = table["CRPS skill vs random walk"]
    np.testing.assert_allclose(skill[:2], 1 - table["CRPS"][:2] / table["CRPS"][2])
    assert skill[2] == 0  # the reference against itself (it read "None" in the table)
    # The scores are of the fans drawn, against the actual bars drawn: MAE and coverage from the chart's traces.
    for axis, name in zip(("x", "x2"), models):
        traces = [t for t in fig["data"] if t.get("xaxis", "x") == axis]
        y = values(next(t for t in traces if t["name"] == "actual close")["y"])
        p50, lo, hi = (values(next(t for t in traces if t["name"] == n)["y"])[1:]
                       for n in ("close p50", "close p10", "close p10–p90"))
        row = table.set_index("model").loc[name]
        assert row["MAE (p50 close)"] == pytest.approx(np.abs(p50 - y).mean(), rel=1e-5)
        assert row["p10–p90 coverage"] == pytest.approx(((y >= lo) & (y <= hi)).mean())
    verdict = next(i.value for i in at.info if "Verdict" in i.value)
    best = table[:2].sort_values("CRPS")["model"].iloc[0]
    assert f"On this cut-off, {best} has the lower CRPS" in verdict
    assert "beyond noise" in verdict and "over the 8 cut-offs" in verdict
    assert list(across["model"]) == models and (across["cut-offs"] == 8).all()
    assert (across["95% CI low"] <= across["CRPS skill vs random walk"]).all()
    assert (across["CRPS skill vs random walk"] <= across["95% CI high"]).all()
    # The overlay: one chart, both models' median and band, from the stored backtest (no new run).
    at.segmented_control(key="cmp_view").set_value("Overlay").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    overlay = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "xaxis2" not in overlay["layout"]
    for name in models:
        assert any(t.get("name") == f"{name}: p50, p10–p90" for t in overlay["data"])
        assert any(t.get("legendgroup") == name and t.get("fill") == "tonexty" for t in overlay["data"])
    assert at.info and "Verdict" in messages(at.info)


def test_evaluate_page_scores_against_baselines_and_serves_reruns_from_the_store(new_app):
    at = small(new_app().run(), horizon=6, paths=6)
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception and "Run evaluation" in messages(at.info)
    at.number_input(key="ev_cutoffs").set_value(8).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error, messages(at.error)
    metrics = {m.label: m for m in at.metric}
    assert {"p10–p90 coverage", "Held-out coverage, calibrated", "CRPS skill vs random walk",
            "Direction hit at horizon"} <= set(metrics)
    assert "95% CI" in metrics["Direction hit at horizon"].delta
    assert "95% CI" in metrics["CRPS skill vs random walk"].delta
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    coverage, pit = charts
    assert len(coverage["data"][0]["x"]) == 6  # one point per horizon step
    assert any(t["name"] == "held-out, calibrated" for t in coverage["data"])
    assert pit["data"][0]["type"] == "bar" and sum(pit["data"][0]["y"]) == pytest.approx(1)
    table, skill = at.dataframe[0].value, at.dataframe[1].value
    assert len(table) == 4 and (table["cutoffs"] == 8).all()
    assert list(skill.index) == ["random walk (hist. vol)", "bootstrap (past returns)", "persistence (last bar)"]
    assert "ran in" in messages(at.caption)
    at.run()  # the same inputs again: served from the store, nothing recomputed
    assert "from the store" in messages(at.caption)


def test_forecast_badge_runs_an_evaluation_and_calibrates_the_fan(new_app):
    from app_support.trust import reports

    reports.clear()  # the store is per process: forget other tests' evaluations
    at = small(new_app().run(), horizon=6, paths=6)
    at.button(key="run_forecast").click().run()
    assert "Not evaluated" in messages(at.caption)
    # AAPL's closes are written with up to 3 decimals (half cents): the level is shown at that precision
    level = next(n for n in at.number_input if n.label == "Price level")
    assert level.format == "%.3f"
    assert {m.label for m in at.metric} >= {"Expected max drawdown", f"P(touch {level.value:.3f} within horizon)"}
    at.button(key="badge_evaluate").click().run()
    assert not at.exception and not at.error, messages(at.error)
    assert "p10–p90 held" in {m.label for m in at.metric}
    assert "Not evaluated" not in messages(at.caption)  # only the new result, not the old prompt beside it
    held = next(m for m in at.metric if m.label == "p10–p90 held").value
    if int(held.rstrip("%")) < 70:  # a poor band is said in words, not only as a number
        assert f"held the actual {held} of the time" in messages(at.warning)
    assert not at.toggle(key="calibrated_fan").disabled
    raw = json.loads(at.get("plotly_chart")[0].proto.spec)
    at.toggle(key="calibrated_fan").set_value(True).run()
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert fig["layout"]["title"]["text"].endswith("(calibrated)")
    band = next(t for t in fig["data"] if t.get("fill") == "tonexty")
    assert band["y"] != next(t for t in raw["data"] if t.get("fill") == "tonexty")["y"]
    export = at.json[0].value
    export = json.loads(export) if isinstance(export, str) else export
    assert export["provenance"]["calibration"]["cutoffs"] >= 2
    next(n for n in at.number_input if n.label == "Price level").set_value(10.0).run()  # far below: all paths above
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["P(close above 10.000 at horizon)"] == "100%" and metrics["P(touch 10.000 within horizon)"] == "0%"
    reports.clear()  # a restart: the track record comes back from disk
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(6).run()
    at.number_input(key="sb_paths").set_value(6).run()
    assert "p10–p90 held" in {m.label for m in at.metric} and not at.toggle(key="calibrated_fan").disabled
    at.sidebar.slider(key="sb_temperature").set_value(0.5).run()  # other settings: calibration no longer applies
    at.button(key="run_forecast").click().run()
    assert at.toggle(key="calibrated_fan").disabled and "p10–p90 held" in {m.label for m in at.metric}
    assert not json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["text"].endswith("(calibrated)")


def test_fine_tune_refuses_an_adapter_name_with_a_path(new_app):
    at = new_app().run()
    at.switch_page("pages/fine_tune.py").run()
    at.text_input(key="ft_name").set_value("../../escape").run()
    assert not at.exception
    assert any("Adapter name refused" in e.value for e in at.error)
    # Markdown eats a lone backslash: the source doubles it, so the message shows '\' (issue 21 item 12).
    assert any(r"without '/', '\\' or '..'" in e.value for e in at.error), messages(at.error)
    assert not any(b.key == "ft_run" for b in at.button)  # nothing can start with that name


def test_fine_tune_warns_when_the_event_calendar_misses_the_bars(new_app):
    """Issue 21 item 12: the bundled calendar (2022-2026) and the 2000-2013 sample: no event in the bars."""
    at = new_app().run()
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception
    assert "The event calendar does not cover these bars at all" in messages(at.warning)
    assert "2000-03-01 → 2013-03-01" in messages(at.warning)


def test_a_fan_with_impossible_prices_is_not_drawn_as_if_fine(new_app, monkeypatch):
    """A model whose paths fall below zero: the page says so before the fan, and the chart title too."""
    from kronos.pipeline import KronosPipeline

    real = KronosPipeline.sample

    def falls_below_zero(self, *args, **kwargs):
        forecasts = real(self, *args, **kwargs)
        for fc in forecasts:
            fc.paths[: len(fc.paths) // 2, -1, :4] = -1.0  # half the paths end at a negative price
        return forecasts

    monkeypatch.setattr(KronosPipeline, "sample", falls_below_zero)
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(5).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception
    errors = messages(at.error)
    assert "not fit to read (non_positive_prices)" in errors and "at or below zero" in errors
    assert "No risk reading for this forecast" in errors and "close of 0 or below" in errors  # no VaR of such paths
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "NOT PLAUSIBLE" in fig["layout"]["title"]["text"]


class ProgressRecorder:
    """Wraps st.progress: every text a progress bar shows, and "(gone)" when it is emptied."""

    def __init__(self, monkeypatch):
        import streamlit

        self.shown: list[str] = []
        real = streamlit.progress
        recorder = self

        class Bar:
            def __init__(self, value, text=None):
                self.bar = real(value, text=text)
                recorder.shown.append(text)

            def progress(self, value, text=None):
                recorder.shown.append(text)
                self.bar.progress(value, text=text)

            def empty(self):
                recorder.shown.append("(gone)")
                self.bar.empty()

        monkeypatch.setattr(streamlit, "progress", Bar)


def count_reads(monkeypatch) -> list:
    """Every call of the file reader the app makes (its timezone and symbol)."""
    import data_sources

    reads, real = [], data_sources.read_bars_file

    def read(*args, **kwargs):
        reads.append((kwargs.get("timezone"), kwargs.get("symbol")))
        return real(*args, **kwargs)

    monkeypatch.setattr(data_sources, "read_bars_file", read)
    return reads


def held_bars(at) -> list:
    from app_support.data import UPLOAD_STATE
    from data_sources import Bars

    return [v for v in at.session_state[UPLOAD_STATE].results.values() if isinstance(v, Bars)]


def test_an_upload_is_read_once_under_a_progress_bar_and_kept_as_one_copy(new_app, monkeypatch):
    from app_support.data import UPLOAD_STATE

    reads, bars = count_reads(monkeypatch), ProgressRecorder(monkeypatch)
    at = upload(new_app().run(), "mine.csv", good_csv())
    assert not at.exception and "200 bars" in at.markdown[0].value
    assert len(reads) == 1
    assert bars.shown[0].startswith("Reading mine.csv (") and bars.shown[-1] == "(gone)"
    assert any("parsing the columns" in (t or "") for t in bars.shown)  # fed by the reader's stages
    [first] = held_bars(at)
    shown = len(bars.shown)
    at.run()
    at.switch_page("pages/compare.py").run()
    at.switch_page("pages/forecast.py").run()
    assert not at.exception and "200 bars" in at.markdown[0].value
    assert len(reads) == 1 and len(bars.shown) == shown  # no new read, no progress bar
    assert held_bars(at)[0] is first  # the same object: not a copy per rerun
    at.sidebar.selectbox(key="sb_file_tz").set_value("America/New_York").run()
    assert len(reads) == 2 and len(held_bars(at)) == 1 and held_bars(at)[0] is not first  # one parsed copy
    at.sidebar.selectbox(key="sb_file_tz").set_value(None).run()
    assert len(reads) == 3 and "timezone_assumed" in messages(at.markdown)  # the other options' bars were let go
    at.sidebar.selectbox(key="sb_source").set_value("sample").run()
    assert UPLOAD_STATE not in at.session_state  # the file's bars go with it


def test_a_bad_upload_is_not_read_again_on_every_rerun(new_app, monkeypatch):
    reads = count_reads(monkeypatch)
    at = upload(new_app().run(), "bad.csv", BAD_CSV)
    at.run()
    at.run()
    assert not at.exception and "no date/time column" in messages(at.error)
    assert len(reads) == 1


def test_reruns_do_not_hash_the_bars_again(new_app, monkeypatch):
    """The content hash keys the gate, the forecast store, the badge and the export: once per bars object."""
    from data_sources.schema import Bars

    computed, real = [], Bars.content_hash
    monkeypatch.setattr(Bars, "content_hash", lambda self: computed.append(len(self)) or real(self))
    at = small(upload(new_app().run(), "mine.csv", good_csv()))
    at.button(key="run_forecast").click().run()
    assert not at.exception and at.get("plotly_chart") and at.json  # the fan, the table and the export
    assert computed.count(200) == 1  # the file's bars: hashed once, when read
    n = len(computed)
    at.run()
    at.selectbox(key="fan_band").set_value("p25–p75").run()
    assert at.get("plotly_chart") and len(computed) == n


def test_a_file_of_several_instruments_is_read_once_per_choice(new_app, monkeypatch):
    reads = count_reads(monkeypatch)
    lines = good_csv().decode().splitlines()
    both = "\n".join([lines[0] + ",symbol", *(f"{r},AAA" for r in lines[1:]), *(f"{r},BBB" for r in lines[1:])])
    at = upload(new_app().run(), "two.csv", both.encode())
    at.run()
    assert "holds 2 instruments" in messages(at.info) and len(reads) == 1
    pick = next(s for s in at.selectbox if (s.key or "").startswith("file_symbol_"))
    pick.set_value("BBB").run()
    at.run()
    assert not at.exception and "**BBB**" in at.markdown[0].value and "200 bars" in at.markdown[0].value
    assert reads == [(None, None), (None, "BBB")]


def test_the_header_spans_earliest_to_latest_also_for_unsorted_rows(new_app):
    lines = good_csv().decode().splitlines()
    rows = lines[1:]
    unsorted = "\n".join([lines[0], rows[-1], *rows[1:-1], rows[0]]) + "\n"  # the last day first, the first last
    at = upload(new_app().run(), "unsorted.csv", unsorted.encode())
    assert not at.exception
    assert "2023-01-02 00:00 → 2023-10-06 00:00" in at.markdown[0].value, at.markdown[0].value
    assert "cannot run" in messages(at.error)  # and the gate still reports the order


def test_the_lookback_never_offers_more_than_the_chosen_model_reads(new_app):
    from app_support.models import model_choices
    from app_support.sidebar import STATE_KEY

    at = new_app().run()
    choices = model_choices()
    assert len({c.context for c in choices}) >= 2  # the check below sees more than one context
    for choice in sorted(choices, key=lambda c: -c.context):  # the largest first: a big lookback to carry over
        at.sidebar.selectbox(key="sb_model").set_value(choice.key).run()
        box = next(n for n in at.sidebar.number_input if n.key.startswith("sb_lookback_"))
        assert box.max == choice.context and box.min == MIN_HISTORY <= box.value <= choice.context
        assert at.session_state[STATE_KEY].lookback <= choice.context
        box.set_value(choice.context).run()  # the most this model allows
        assert not at.exception and at.session_state[STATE_KEY].lookback == choice.context


def test_the_sampling_controls_are_in_the_sidebar_not_behind_an_expander(new_app):
    at = new_app().run()
    sampling = {"sb_paths", "sb_seed", "sb_temperature", "sb_top_p"}
    in_sidebar = {w.key for w in [*at.sidebar.number_input, *at.sidebar.slider]}
    assert sampling <= in_sidebar
    folded = {w.key for e in at.sidebar.expander for w in [*e.number_input, *e.slider]}
    assert "sb_top_k" in folded  # the expander is seen (the rarely changed top-k lives there)
    assert not sampling & folded


def test_every_sampling_knob_has_a_sidebar_control_that_reaches_the_settings(new_app):
    """The sidebar draws its sampling controls from ``kronos.settings.knobs``: each knob (clip too, which had
    no control) has a widget keyed ``sb_<name>`` whose value the page's settings carry."""
    from app_support.sidebar import STATE_KEY
    from kronos.settings import knobs

    at = new_app().run()
    widgets = {w.key: w for w in [*at.sidebar.number_input, *at.sidebar.slider, *at.sidebar.toggle]}
    for name, (default, knob) in knobs().items():
        widget = widgets[f"sb_{name}"]
        assert widget.label == knob.label and widget.value == default
        other = (not default) if isinstance(default, bool) else (knob.low if default != knob.low else knob.high)
        widget.set_value(other).run()
        assert not at.exception and getattr(at.session_state[STATE_KEY].settings(), name) == other, name


MEMBER_NAMES = {"kronos": "Kronos", "bootstrap": "Bootstrap", "garch": "GARCH", "gjr_garch": "GJR-GARCH", "har": "HAR",
                "random_walk": "Random walk"}  # the bundled meta-learner's order


def stored_forecast(provenance: dict, ensemble: bool = False):
    """The one forecast (``ensemble``: the one ensemble forecast) in the forecast store, which holds this test's
    own only (conftest's ``own_result_stores``), checked to be the one whose provenance the page exported."""
    [fc] = [fc for fc in kept_forecasts() if hasattr(fc, "members") or not ensemble]
    assert {k: fc.provenance[k] for k in ("created_at", "input_sha256", "seed")} == \
        {k: provenance[k] for k in ("created_at", "input_sha256", "seed")}
    return fc


def test_chronos2_on_this_machine_joins_the_ensemble_and_the_sidebar_and_model_line_say_so(new_app, monkeypatch):
    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    at = small(new_app().run(), horizon=6, paths=7)
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    assert "Chronos-2: left out ($KRONOS_STUDIO_CHRONOS2=off)" in messages(at.sidebar.caption)  # the tests' default
    monkeypatch.setenv("KRONOS_STUDIO_CHRONOS2", str(BUNDLED_CHRONOS2))  # a folder of Chronos-2 weights
    at.run()
    assert f"Chronos-2: {BUNDLED_CHRONOS2} joins the members" in messages(at.sidebar.caption)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    export = at.json[0].value
    prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
    assert set(prov["members"]) == {*MEMBER_NAMES, "chronos2"}
    assert prov["weights"]["chronos2"] == pytest.approx(1 / 7) and prov["chronos2"].startswith("Chronos-2 joins")
    assert "Chronos-2 14%" in messages(at.caption) and "· Chronos-2 joins: " in messages(at.caption)


def test_chronos2_not_on_this_machine_offers_a_download_that_says_why_it_failed(new_app, monkeypatch, tmp_path):
    """Online users get Chronos-2 in one click; here the Hub cannot be reached, and the sidebar says so
    (within the Hub probe's few seconds) instead of failing or waiting."""
    import socket

    import huggingface_hub.constants

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the socket is: nothing answers there
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("KRONOS_STUDIO_CHRONOS2")
    at = small(new_app().run(), horizon=6, paths=6)
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    assert "Chronos-2: amazon/chronos-2 is not on this machine" in messages(at.sidebar.caption)
    at.sidebar.button(key="sb_chronos2_download").click().run()
    assert not at.exception
    assert "Chronos-2 was not downloaded: 'amazon/chronos-2' is not in the local Hugging Face cache and the Hub" \
        in messages(at.sidebar.error)


def test_ensemble_forecast_shows_its_members_and_records_them(new_app):
    import numpy as np

    from app_support import sidebar

    at = small(new_app().run(), horizon=6, paths=6)
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    assert not at.exception and "Run forecast" in messages(at.info)
    assert f"{sidebar.knob_names()} go to its Kronos member" in messages(at.sidebar.caption)
    assert "top-p" in sidebar.knob_names() and "clip" in sidebar.knob_names()  # every knob, from its label
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    assert "could not be recorded" not in messages(at.warning)  # the ledger keeps ensemble forecasts too
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(t.get("fill") == "tonexty" for t in fig["data"]) and "candlestick" in [t["type"] for t in fig["data"]]
    export = at.json[0].value
    prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
    assert prov["model"] == "ensemble" and prov["seed"] == 0 and prov["bars_used"] == 520
    # The ensemble over the first listed model (random test weights), not the Kronos the bundled
    # meta-learner was trained with: equal weights, and the provenance says why.
    assert set(prov["members"]) == set(MEMBER_NAMES)
    assert prov["weighting"].startswith("equal weights: the bundled meta-learner was trained with kronos=")
    kronos = prov["members"]["kronos"]
    assert kronos["predictor_revision"] and kronos["settings"]["temperature"] == 1.0
    assert kronos["settings"]["lookback"] == 128 - 6  # the bundled Kronos reads context - horizon bars
    assert prov["members"]["garch"]["package"].startswith("arch ")
    meta = prov["meta_learner"]
    assert meta["temperature"] > 0 and meta["spread"] > 0 and len(meta["files_sha256"]) == 16
    assert list(prov["weights"]) == list(prov["members"]) and list(prov["weights"].values()) == [pytest.approx(1 / 6)] * 6
    assert sum(prov["mixture_paths"].values()) == 6
    caption = messages(at.caption)
    assert all(f"{MEMBER_NAMES[k]} {w:.0%}" in caption for k, w in prov["weights"].items())
    assert not any(t["name"].startswith(("Kronos ", "GARCH ")) for t in fig["data"])  # members off by default

    at.toggle(key="fan_members").set_value(True).run()
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [t["name"] for t in fig["data"]]
    fc = stored_forecast(prov, ensemble=True)
    for key, paths in fc.members.items():  # one legend entry per member, named with its weight; its median
        label = f"{MEMBER_NAMES[key]} {prov['weights'][key]:.0%}"  # drawn from its own paths
        median = next(t for t in fig["data"] if t["name"] == label)
        assert median.get("showlegend", True) and median["line"]["width"] < 2
        np.testing.assert_allclose(median["y"][1:], np.median(paths[:, :, 3], axis=0), rtol=1e-5)
        assert names.index(label) < names.index("close p50")  # drawn behind the ensemble's fan
    assert list(fc.members) == list(prov["members"])
    assert sum(t.get("fill") == "tonexty" for t in fig["data"]) == 1 + len(fc.members)
    labels = {f"{MEMBER_NAMES[k]} {prov['weights'][k]:.0%}" for k in fc.members}
    assert len({t["line"]["color"] for t in fig["data"] if t["name"] in labels}) == len(fc.members)  # own colours

    n = len(kept_forecasts())  # display changes and another session with the same inputs: no new sample
    at.selectbox(key="fan_band").set_value("p25–p75").run()
    assert {m.label: m for m in at.metric}["Sampling time"].delta == "from cache"
    other = small(new_app().run(), horizon=6, paths=6)
    other.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    assert other.get("plotly_chart") and len(kept_forecasts()) == n
    # A Kronos-only setting is the Kronos member's, and part of what the stored forecast is keyed by.
    at.sidebar.slider(key="sb_temperature").set_value(0.5).run()
    assert [c.key for c in at.get("plotly_chart")] == ["history_chart"]  # no fan: this forecast is not stored
    at.button(key="run_forecast").click().run()
    export = at.json[0].value
    prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
    assert prov["members"]["kronos"]["settings"]["temperature"] == 0.5 and len(kept_forecasts()) == n + 1


def test_compare_offers_the_ensemble(new_app):
    at = small(new_app().run(), horizon=6, paths=6)
    at.switch_page("pages/compare.py").run()
    first = at.multiselect(key="cmp_models").value[0]
    at.multiselect(key="cmp_models").set_value([first, f"ensemble:{bundled_key()}"]).run()
    at.button(key="run_compare").click().run()
    assert not at.exception and not at.error, messages(at.error)
    table = at.dataframe[0].value
    assert len(table) == 2 and table["model"].iloc[1].startswith("Ensemble")
    assert table["P(up)"].between(0, 1).all()


def bundled_key() -> str:
    """The sidebar's key of the default bundled model (the one the bundled meta-learner was trained with)."""
    from app_support.models import model_choices

    return next(c.key for c in model_choices() if c.bundled)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's inductor on torch.jit
def test_with_compiled_decoding_the_warm_up_compiles_the_forecast_pages_first_shape(new_app, monkeypatch):
    """``KRONOS_STUDIO_DECODE=compiled``: at start the app's warm-up forecasts with the bundled model at the
    Forecast page's starting settings, which compiles that shape's decode steps in the background, so the
    page's first forecast with that model runs them (as ``kronos serve --decode compiled`` does)."""
    from app_support import models
    from app_support.models import DECODE_ENV
    from kronos.accel.static_decode import decoder_pool

    monkeypatch.setenv(DECODE_ENV, "compiled")
    models.warm_up.clear()  # this process's warm-up ran before the setting: start a new one
    try:
        at = new_app().run()  # app.py starts the warm-up once the page is drawn
        warm = models.warm_up()
        warm.thread.join(timeout=600)
        bundled = next(c for c in models.model_choices() if c.bundled)
        pool = decoder_pool(models.registry().pair(bundled.ref, precision=bundled.precision).predictor)  # every pipeline on the model shares it
        pool.wait_for_builds(timeout=600)
        assert pool.failed == {}
        at.sidebar.selectbox(key="sb_model").set_value(bundled.key).run()  # nothing else changed
        at.button(key="run_forecast").click().run()
        assert not at.exception and not at.error, messages(at.error)
        export = at.json[0].value
        prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
        assert prov["decode"] == "compiled" and "compile_pending" not in prov
        at.sidebar.number_input(key="sb_horizon").set_value(45).run()  # another shape: not compiled yet
        at.button(key="run_forecast").click().run()
        export = at.json[0].value
        prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
        assert prov["decode"] == "eager" and prov["compile_pending"]
        pool.wait_for_builds(timeout=600)  # not left compiling beside the next tests
    finally:
        models.warm_up.clear()


def test_evaluate_ranks_the_ensemble_against_its_members_and_the_baselines(new_app):
    at = small(new_app().run(), horizon=6, paths=6)
    at.sidebar.selectbox(key="sb_model").set_value(bundled_key()).run()
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    at.switch_page("pages/evaluate.py").run()
    at.number_input(key="ev_cutoffs").set_value(6).run()
    at.button(key="ev_run").click().run()
    # The bundled Kronos member trained on this sample's years: nothing honest to score by default ...
    assert not at.exception and "inside the model's training period" in messages(at.error) and "Include cut-offs" in messages(at.error)
    # ... unless asked for, and then every number is marked in-sample.
    at.toggle(key="ev_include_training_period").set_value(True).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and len(at.error) == 1 and "In-sample:" in messages(at.error)
    assert "6 of these 6 cut-offs" in messages(at.error)
    scores = at.dataframe[0].value
    ranking = next(d.value for d in at.dataframe if "role" in d.value.columns)
    members = [f"{n} (member)" for n in MEMBER_NAMES.values()]
    baselines = ["random walk (hist. vol)", "bootstrap (past returns)", "persistence (last bar)"]
    assert sorted(ranking["model"]) == sorted(["Ensemble", *members, *baselines])
    assert list(ranking["rank"]) == list(range(1, 11)) and ranking["CRPS, % of price"].is_monotonic_increasing
    assert (ranking["cut-offs"] == 6).all()
    rows = ranking.set_index("model")
    assert rows.loc["Ensemble", "role"] == "ensemble" and set(rows.loc[members, "role"]) == {"member"}
    # The same walk-forward as the scores above: the ensemble's and the baselines' numbers agree with them.
    for name in ["Ensemble", *baselines]:
        assert rows.loc[name, "CRPS, % of price"] == pytest.approx(scores.loc[name, "crps_pct"])
        assert rows.loc[name, "p10–p90 coverage"] == pytest.approx(scores.loc[name, "coverage_p10_p90"])
    rw = rows.loc["random walk (hist. vol)", "CRPS, % of price"]
    skill = rows["CRPS skill vs random walk"]
    assert skill.to_numpy() == pytest.approx(1 - rows["CRPS, % of price"].to_numpy() / rw)
    assert ((rows["95% CI low"] <= skill + 1e-12) & (skill <= rows["95% CI high"] + 1e-12)).all()
    assert rows.loc[members, "mean weight"].sum() == pytest.approx(1)
    assert rows.loc[members, "CRPS, % of price"].nunique() == len(members)  # each member scored on its own paths
    place = int(rows.loc["Ensemble", "rank"])
    assert f"The ensemble ranks {place} of 10" in messages(at.markdown)
    # Paired on the cut-offs, against the member with the lowest CRPS: the "no worse than its best member".
    best = rows.loc[members, "CRPS, % of price"].idxmin()
    skill = 1 - rows.loc["Ensemble", "CRPS, % of price"] / rows.loc[best, "CRPS, % of price"]
    from kronos_studio.desk.metrics import signed_percent

    line = next(str(m.value) for m in at.markdown if str(m.value).startswith("Against its best member"))
    assert line.startswith(f"Against its best member, {best.removesuffix(' (member)')}: CRPS skill")
    assert f"skill {signed_percent(skill)} (95% CI" in line


def test_a_horizon_past_the_context_is_forecast(new_app):
    """Issue 21 item 5: the horizon box goes past the model's context (128 here): 129 bars are forecast."""
    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(129).run()
    at.number_input(key="sb_paths").set_value(2).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    table = next(d.value for d in at.dataframe if "timestamp" in d.value.columns)
    assert len(table) == 129


def test_the_fan_is_anchored_at_the_last_close_and_the_sidebar_switches_it_off(new_app):
    """Anchored by default (the model line says by how much the tokenizer was off); off, the paths are the
    official output: the same fan divided by that one factor, and the quantiles table changes."""
    import numpy as np

    at = small(new_app().run(), horizon=5, paths=6)
    at.button(key="run_forecast").click().run()
    assert not at.exception
    line = next(c.value for c in at.caption if "Model **" in c.value)
    assert "anchored at the last close (the tokenizer rebuilt it" in line
    anchored = at.dataframe[0].value
    at.sidebar.toggle(key="sb_anchor").set_value(False).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception
    assert "unanchored: the official output" in next(c.value for c in at.caption if "Model **" in c.value)
    raw = at.dataframe[0].value
    ratio = (anchored["close_p50"] / raw["close_p50"]).to_numpy()
    assert not np.allclose(ratio, 1) and np.allclose(ratio, ratio[0], rtol=1e-4)  # one factor for the whole fan


def test_precision_bf16_from_the_sidebar_reaches_the_model_and_the_fan_says_it(new_app):
    at = small(new_app().run(), horizon=6, paths=6)
    at.button(key="run_forecast").click().run()
    assert not at.exception and "fp32" in messages(at.caption)
    before = len(kept_forecasts())
    at.sidebar.button_group(key="sb_precision").set_value("bf16").run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    export = at.json[0].value
    prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
    assert prov["precision"] == "bf16" and "bf16" in messages(at.caption)
    assert len(kept_forecasts()) == before + 1  # stored apart from the fp32 fan, not served from it


def test_fit_the_ensemble_to_the_series_then_its_forecasts_use_it(new_app):
    at = small(new_app().run(), horizon=6, paths=6)
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and "fitted to" not in messages(at.caption)
    at.switch_page("pages/evaluate.py").run()
    at.number_input(key="ev_cutoffs").set_value(6).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error, messages(at.error)
    at.button(key="ens_fit").click().run()
    assert not at.exception and not at.error, messages(at.error)
    assert "Forecasts of this series now use them" in messages(at.success)
    at.switch_page("pages/forecast.py").run()  # the forecast stored before the fit is not served again
    at.button(key="run_forecast").click().run()
    assert not at.exception and "fitted to AAPL 1d" in messages(at.caption)


def test_temperature_zero_is_greedy_from_the_sidebar(new_app):
    """The slider reaches 0, documented (kronos.settings.SamplingConfig, its help text) as greedy: the forecast
    carries temperature 0 and every path is the same."""
    import numpy as np

    at = small(new_app().run(), horizon=5, paths=4)
    slider = at.sidebar.slider(key="sb_temperature")
    assert slider.min == 0.0 and "0 = greedy" in slider.help
    slider.set_value(0.0).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    export = at.json[0].value
    prov = (json.loads(export) if isinstance(export, str) else export)["provenance"]
    assert prov["settings"]["temperature"] == 0.0
    fc = stored_forecast(prov)
    assert len(fc.paths) == 4 and all(np.array_equal(p, fc.paths[0]) for p in fc.paths)
