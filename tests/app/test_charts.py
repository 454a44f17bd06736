"""Figure builders and summary numbers, from hand-made Forecast objects (no model, no Streamlit)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app_support import charts
from app_support.charts import compare_grid, fan_chart, label_rows, overlay_chart, quote_currency
from app_support.events import parse_events
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings
from kronos_studio.desk.metrics import cutoff_scores, score, summarize, verdict
from kronos_studio.evaluation.metrics import crps_samples


def make_forecast(paths=50, horizon=10, seed=0, intraday=False) -> Forecast:
    rng = np.random.default_rng(seed)
    if intraday:
        days = pd.bdate_range("2024-07-01", periods=5, tz="America/New_York")
        stamps = pd.DatetimeIndex([d + pd.Timedelta(hours=9.5 + k) for d in days for k in range(7)])
        hist_ts, fut = stamps[:21], stamps[21:21 + horizon]
    else:
        hist_ts = pd.bdate_range("2024-01-01", periods=40, tz="America/New_York")
        fut = pd.bdate_range(hist_ts[-1] + pd.Timedelta(days=1), periods=horizon, tz="America/New_York")
    n = len(hist_ts)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    history = pd.DataFrame({"timestamp": hist_ts, "open": close - 0.5, "high": close + 1, "low": close - 1,
                            "close": close, "volume": 1000.0, "amount": 1e5})
    base = close[-1] + np.cumsum(rng.normal(0, 1, (paths, horizon)), axis=1)
    p = np.stack([base, base + 1, base - 1, base, np.full_like(base, 1000), np.full_like(base, 1e5)], axis=-1)
    return Forecast(pd.DatetimeIndex(fut), p.astype(np.float32), p.mean(0).astype(np.float32), history,
                    ForecastSettings(horizon=horizon, paths=paths))


def test_fan_chart_layers():
    fc = make_forecast()
    fig = fan_chart(fc, paths=5, events=[(fc.timestamps[3], "CPI"), ("1990-01-01", "outside")])
    names = [t.name for t in fig.data]
    assert fig.data[0].type == "candlestick"
    assert "close p10–p90" in names and "close p50" in names and "forecast start" in names
    assert "5 sample paths" in names
    band = next(t for t in fig.data if t.name == "close p10–p90")
    assert band.fill == "tonexty" and len(band.x) == 11  # anchored at the last bar + horizon
    texts = [a.text for a in fig.layout.annotations]
    assert "CPI" in texts and "forecast start" in texts and "outside" not in texts
    assert len(fig.layout.shapes) == 2
    # one point per hover (not a unified box): a unified box would name an arbitrary sample path
    assert fig.layout.hovermode == "closest"
    assert {"bounds": ["sat", "mon"]} in [rb.to_plotly_json() for rb in fig.layout.xaxis.rangebreaks]
    assert isinstance(fig.data[0].x[0], np.datetime64)  # naive wall clock: no offset for plotly.js to drop


def test_band_is_ordered_and_matches_quantiles():
    fc = make_forecast()
    fig = fan_chart(fc, band=(0.9, 0.1))
    lo = np.array(next(t for t in fig.data if t.name == "close p10").y[1:])
    hi = np.array(next(t for t in fig.data if t.name == "close p10–p90").y[1:])
    q = fc.quantiles((0.1, 0.9))
    np.testing.assert_allclose(lo, q["close_p10"], rtol=1e-5)
    np.testing.assert_allclose(hi, q["close_p90"], rtol=1e-5)
    assert (hi >= lo).all()


@pytest.mark.parametrize("field", ["high", "low", "volume"])
def test_other_fields(field):
    fig = fan_chart(make_forecast(), field=field)
    assert f"{field} p50" in [t.name for t in fig.data]
    assert fig.data[0].type == ("bar" if field == "volume" else "candlestick")


def test_bad_inputs():
    with pytest.raises(ValueError, match="field"):
        fan_chart(make_forecast(), field="amount")
    with pytest.raises(ValueError, match="band"):
        fan_chart(make_forecast(), band=(0.5, 0.5))


def test_intraday_hides_nights():
    fig = fan_chart(make_forecast(horizon=7, intraday=True))
    hours = [rb.to_plotly_json() for rb in fig.layout.xaxis.rangebreaks if rb.pattern == "hour"]
    assert hours and hours[0]["bounds"] == [16, 9]  # 09:30-15:30 bars, half a bar each side


def test_compare_grid_shares_axes():
    a, b = make_forecast(seed=1), make_forecast(seed=2)
    actual = pd.DataFrame({"timestamp": a.timestamps, "close": np.linspace(100, 101, 10)})
    fig = compare_grid({"A": a, "B": b}, actual=actual, subtitles={"A": "1.0 s", "B": "2.0 s"})
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    assert sum(t.name == "actual close" for t in fig.data) == 2
    assert sum(bool(t.showlegend) for t in fig.data if t.name == "history") == 1
    assert "1.0 s" in fig.layout.annotations[0].text


@pytest.mark.parametrize("intraday", [True, False])
def test_compare_grid_hides_the_same_hours_as_one_fan(intraday):
    """Each subplot adds its own bars, so the grid's times repeat and jump back: the bar step is still the
    smallest gap between distinct times. (It once took the jump back as the step, and its hour breaks hid
    every intraday bar: the side-by-side view drew no candle and no fan.)"""
    a, b = make_forecast(horizon=7, intraday=intraday, seed=1), make_forecast(horizon=7, intraday=intraday, seed=2)
    grid = compare_grid({"A": a, "B": b})
    one = fan_chart(a)
    assert ([rb.to_plotly_json() for rb in grid.layout.xaxis.rangebreaks]
            == [rb.to_plotly_json() for rb in one.layout.xaxis.rangebreaks])


def test_summary_and_score():
    fc = make_forecast(paths=200)
    s = summarize(fc)
    last = fc.history["close"].iloc[-1]
    end = fc.paths[:, -1, 3]
    assert s.prob_up == pytest.approx((end > last).mean())
    assert s.expected_return == pytest.approx(end.mean() / last - 1, rel=1e-5)
    assert s.band_width > 0 and s.band_low < s.band_high
    median = np.median(fc.paths[:, :, 3], axis=0)
    perfect = score(fc, pd.DataFrame({"close": median}))
    assert perfect.mae == pytest.approx(0, abs=1e-4) and perfect.coverage == 1.0
    far = score(fc, pd.DataFrame({"close": median + 1000}))
    assert far.coverage == 0.0 and far.mae == pytest.approx(1000, rel=1e-4)
    assert far.crps == pytest.approx(crps_samples(fc.paths[:, :, 3], median + 1000).mean())
    assert far.crps > perfect.crps > 0


def test_parse_events():
    events, bad = parse_events("2024-01-05, CPI\n# comment\n2024-01-09 14:00; FOMC\nnope, x\n\n2024-02-01")
    assert [e[1] for e in events] == ["CPI", "FOMC", "2024-02-01"]
    assert events[1][0] == pd.Timestamp("2024-01-09 14:00") and bad == ["nope, x"]


# --- the fan's opening view, gap, legend, candles, labels, hover, currency ------------------------------
def _bars_in(fig, stamps) -> int:
    lo, hi = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    return int(((stamps >= lo) & (stamps <= hi)).sum())


def test_fan_opens_on_a_window_with_the_forecast_at_40_percent_and_keeps_the_full_history():
    fc = make_forecast(horizon=20)  # 40 history bars
    spike = fc.history.copy()
    spike.loc[0, "high"] = 10_000  # far out of view: must not set the price axis
    fc = Forecast(fc.timestamps, fc.paths, fc.mean, spike, fc.settings)
    fig = fan_chart(fc, paths=5)
    hist = charts._wall(fc.history["timestamp"])
    assert len(fig.data[0].x) == 40  # everything is drawn, a zoom-out away
    shown = _bars_in(fig, hist)
    assert shown == 30  # 1.5x the horizon
    assert 20 / (shown + 20) >= 0.4
    lo, hi = fig.layout.yaxis.range
    band = next(t for t in fig.data if t.name == "close p10–p90")
    assert hi < 10_000 and hi >= max(band.y) and lo <= min(next(t for t in fig.data if t.name == "close p10").y)
    low_in_view = fc.history["low"].iloc[-30:].min()
    assert lo <= low_in_view
    for horizon in (1, 5, 13, 60):
        assert horizon / (charts.initial_window(horizon) + horizon) >= 0.4
    assert charts.initial_window(14) >= 20


def test_volume_axis_starts_at_zero():
    fig = fan_chart(make_forecast(), field="volume")
    assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] > 1000


def test_first_step_gap_is_drawn_and_named():
    fc = make_forecast()
    fc.paths[:, 0, 0] += 2.0  # open the first bar 2 above the model's close: a visible jump
    fig = fan_chart(fc)
    gap = next(t for t in fig.data if t.name.startswith("first-step gap"))
    last = fc.history["close"].iloc[-1]
    first_open = np.median(fc.paths[:, 0, 0])
    assert gap.y == pytest.approx((last, first_open))
    assert gap.x[0] == charts._wall(fc.history["timestamp"])[-1] and gap.x[1] == charts._wall(fc.timestamps)[0]
    pct = f"{first_open / last - 1:+.2%}"
    assert pct in gap.name and pct in gap.text[1]
    assert summarize(fc).first_step_gap == pytest.approx(first_open / last - 1, rel=1e-5)
    assert not any(t.name.startswith("first-step gap") for t in fan_chart(fc, field="volume").data)


def test_legend_below_the_plot_and_title_below_the_modebar_strip():
    fig = fan_chart(make_forecast(), title="AAPL 1d: 20-bar forecast, 30 paths (calibrated)")
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0 and fig.layout.legend.yanchor == "top"
    title = fig.layout.title
    assert title.yref == "container" and title.yanchor == "top" and title.pad.t == charts.MODEBAR_PX
    assert title.text == "AAPL 1d: 20-bar forecast,<br>30 paths (calibrated)"  # wrapped for a phone
    assert fig.layout.margin.t >= charts.MODEBAR_PX + 2 * 24
    short = fan_chart(make_forecast(), title="AAPL 1d: 20-bar forecast")
    assert short.layout.title.text == "AAPL 1d: 20-bar forecast" and short.layout.margin.t < fig.layout.margin.t


def test_up_candles_hollow_down_candles_filled():
    candles = fan_chart(make_forecast()).data[0]
    assert candles.increasing.fillcolor.replace(" ", "").endswith(",0)")  # transparent: hollow
    assert candles.decreasing.fillcolor == candles.decreasing.line.color == charts.DOWN
    assert candles.increasing.line.color == charts.UP != charts.DOWN


def test_label_rows_stagger_collisions_and_thin_the_rest():
    assert label_rows([0, 10, 20], [5, 5, 5]) == [0, 0, 0]  # apart: one row
    assert label_rows([0, 1, 2], [5, 5, 5]) == [0, 1, 2]
    assert label_rows([2, 0, 1], [5, 5, 5]) == [2, 0, 1]  # by position, not by input order
    assert label_rows([0, 1, 2, 3, 4], [10] * 5, rows=4) == [0, 1, 2, 3, None]
    assert label_rows([0, 1, 6], [5, 5, 5]) == [0, 1, 0]  # a freed row is reused


def test_close_event_labels_get_different_heights_far_ones_share_one():
    fc = make_forecast(horizon=20)
    days = charts._wall(fc.history["timestamp"])
    close = [(days[-8], "CPI"), (days[-7], "FOMC"), (days[-6], "Earnings")]
    fig = fan_chart(fc, events=close)
    y = {a.text: a.y for a in fig.layout.annotations}
    assert len({y["CPI"], y["FOMC"], y["Earnings"]}) == 3
    far = fan_chart(fc, events=[(days[-25], "CPI"), (days[-12], "FOMC")])
    y = {a.text: a.y for a in far.layout.annotations}
    assert y["CPI"] == y["FOMC"]
    crowd = fan_chart(fc, events=[(days[-9 + i], f"event {i}") for i in range(6)])
    labels = [a.text for a in crowd.layout.annotations]
    assert len(labels) < 7 and len(crowd.layout.shapes) == 7  # thinned labels keep their line...
    markers = next(t for t in crowd.data if t.name == "events")
    assert list(markers.text) == [f"event {i}" for i in range(6)]  # ...and their name on hover


def test_sample_paths_hover_shows_each_paths_number_and_value():
    fc = make_forecast()
    paths = next(t for t in fan_chart(fc, paths=3).data if t.name == "3 sample paths")
    assert "path %{customdata}" in paths.hovertemplate and "%{y" in paths.hovertemplate
    ids, ys = np.array(paths.customdata, dtype=object), np.array(paths.y, dtype=object)
    for i in range(3):
        at = ids == i
        assert np.allclose(ys[at][1:].astype(float), fc.paths[i, :, 3])  # after the shared anchor
    assert paths.hoverinfo != "skip"


def test_quote_currency_only_where_symbol_or_source_says():
    assert quote_currency("BTC/USDT", "ccxt") == "USDT"
    assert quote_currency("ETH/BTC:BTC", "ccxt") == "BTC"
    assert quote_currency("EURUSD=X", "yfinance") == "USD"
    assert quote_currency("BTC-USD", "yfinance") == "USD"
    assert quote_currency("AAPL", "yfinance") == "" and quote_currency("AAPL", "sample") == ""
    assert quote_currency("BRK-B", "yfinance") == ""
    assert quote_currency("SAP.DE", "yfinance", "Yahoo Finance via yfinance (XETRA, EUR); split/dividend-adjusted") == "EUR"
    assert quote_currency("SAP.DE", "file", "Yahoo Finance via yfinance (XETRA, EUR)") == ""  # only Yahoo's own bars
    fc = make_forecast()
    assert fan_chart(fc, currency="USDT").layout.yaxis.title.text == "close (USDT)"
    assert fan_chart(fc).layout.yaxis.title.text == "close"
    assert fan_chart(fc, field="volume", currency="USDT").layout.yaxis.title.text == "volume"


def test_overlay_draws_every_model_in_its_own_colour():
    a, b = make_forecast(seed=1), make_forecast(seed=2)
    actual = pd.DataFrame({"timestamp": a.timestamps, "close": np.linspace(100, 101, 10)})
    fig = overlay_chart({"A": a, "B": b}, actual=actual, currency="USD")
    medians = [t for t in fig.data if t.name in ("A: p50, p10–p90", "B: p50, p10–p90")]
    assert len(medians) == 2 and medians[0].line.color != medians[1].line.color
    for name, fc in (("A", a), ("B", b)):
        group = [t for t in fig.data if t.legendgroup == name]
        assert [bool(t.showlegend is not False) for t in group] == [False, False, True]  # one legend entry
        assert group[1].fill == "tonexty"
        np.testing.assert_allclose(group[2].y[1:], np.median(fc.paths[:, :, 3], axis=0), rtol=1e-5)
    assert sum(t.type == "candlestick" for t in fig.data) == 1 and "actual close" in [t.name for t in fig.data]
    assert fig.layout.yaxis.title.text == "close (USD)" and "xaxis2" not in fig.layout


# --- backtest scores and the verdict, on hand-made walk-forwards ------------------------------------------
def _walk(shift: float, noise: float, n_cutoffs: int, seed_offset: int = 0):
    """A walk-forward of a forecaster whose paths centre ``shift`` away from the actual next closes."""
    from kronos.settings import ForecastSettings
    from kronos_studio.evaluation.walk_forward import walk_forward
    from kronos_studio.forecasters.base import PathModel

    rng = np.random.default_rng(7)
    n = 200
    ts = pd.bdate_range("2023-01-02", periods=n, tz="America/New_York")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    bars = pd.DataFrame({"timestamp": ts, "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
                         "volume": 1000.0, "amount": 1e5})

    class Shifted(PathModel):
        key, name = "shifted", f"shift {shift}"

        def draw(self, history, future, settings):
            truth = bars.set_index("timestamp").loc[future, "close"].to_numpy()
            r = np.random.default_rng(settings.seed + seed_offset)
            x = truth + shift + r.normal(0, noise, (50, settings.horizon))
            return np.repeat(x[:, :, None], 6, axis=2)

    cutoffs = [200 - 5 * (i + 1) for i in range(n_cutoffs)]
    return walk_forward(Shifted(), bars, ForecastSettings(horizon=5), cutoffs)


def test_cutoff_scores_are_the_walk_forwards_numbers():
    good, rw = _walk(0.0, 1.0, 3), _walk(3.0, 1.0, 3)
    row = cutoff_scores(good, rw, i=1)
    assert row["CRPS"] == pytest.approx(good.crps[1].mean())
    assert row["p10–p90 coverage"] == pytest.approx(good.covered[1].mean())
    assert row["CRPS skill vs random walk"] == pytest.approx(1 - good.crps[1].mean() / rw.crps[1].mean())
    with pytest.raises(ValueError, match="same cut-offs"):
        cutoff_scores(good, _walk(0.0, 1.0, 4))


def test_verdict_beyond_noise_only_across_enough_cutoffs():
    good, bad = _walk(0.0, 1.0, 8), _walk(2.0, 1.0, 8)
    v = verdict({"bad": bad, "good": good})
    assert v.best == "good" and v.runner_up == "bad" and v.beyond_noise is True and v.cutoffs == 8
    pct = good.crps[0].mean() / abs(good.last[0]) * 100  # in % of price, as the cards show it
    assert v.text.startswith(f"On this cut-off, good has the lower CRPS ({pct:.2f}% vs ")
    assert "the difference is beyond noise" in v.text and v.interval[0] > 0
    one = verdict({"bad": _walk(2.0, 1.0, 1), "good": _walk(0.0, 1.0, 1)})
    assert one.beyond_noise is None and "not assessed" in one.text and "1 cut-off," in one.text
    assert "beyond noise:" not in one.text


def test_verdict_names_the_random_walk_when_it_beats_every_model():
    """Issue 21 item 11: a baseline better than both models on the shown cut-off is said in the verdict,
    in % of price like the cards; a worse one is not mentioned."""
    import dataclasses

    a, b, walk = _walk(1.0, 1.0, 8), _walk(2.0, 1.0, 8), _walk(0.0, 1.0, 8)
    walk = dataclasses.replace(walk, name="random walk (hist. vol)")
    v = verdict({"a": a, "b": b}, baseline=walk)
    pct = walk.crps[0].mean() / abs(walk.last[0]) * 100
    assert v.text.endswith(f". But the random walk (hist. vol) beat both models on this cut-off ({pct:.2f}% of price).")
    assert "% of price)" in v.text.split(";")[0] and v.best == "a"
    worse = verdict({"a": a, "b": walk}, baseline=dataclasses.replace(b, name="random walk (hist. vol)"))
    assert "random walk" not in worse.text


def test_verdict_says_not_beyond_noise_when_the_interval_spans_zero():
    a, b = _walk(0.0, 1.0, 8), _walk(0.0, 1.0, 8, seed_offset=1000)  # equally good, other random draws
    v = verdict({"a": a, "b": b})
    lo, hi = v.interval
    assert lo < 0 < hi and v.beyond_noise is False and "not beyond noise" in v.text and "spans 0" in v.text


def test_verdict_with_three_models_names_all_and_needs_same_cutoffs():
    v = verdict({"a": _walk(1.0, 1.0, 5), "b": _walk(0.0, 1.0, 5), "c": _walk(3.0, 1.0, 5)})
    assert v.text.startswith("On this cut-off, b has the lowest CRPS (") and "; a " in v.text and ", c " in v.text
    assert v.runner_up == "a"
    with pytest.raises(ValueError, match="same cut-offs"):
        verdict({"a": _walk(0.0, 1.0, 5), "b": _walk(0.0, 1.0, 6)})


def _ledger_steps(starts, horizon=5, scored=(5, 5), model=("m", "m"), interval="1d"):
    """A Ledger.steps_frame of daily forecasts from the given last-bar dates (New York midnights, kept in UTC)."""
    rows = []
    for pid, (start, n, name) in enumerate(zip(starts, scored, model), start=1):
        days = pd.bdate_range(start, periods=horizon + 1, tz="America/New_York")
        for step in range(1, horizon + 1):
            rows.append({"prediction_id": pid, "model": name, "step": step, "timezone": "America/New_York",
                         "interval": interval, "last_bar_at": days[0].tz_convert("UTC"), "last_close": 100.0,
                         "timestamp": days[step].tz_convert("UTC"), "close_p10": 95.0, "close_p50": 100.0,
                         "close_p90": 105.0, "bar_time": days[step].tz_convert("UTC") if step <= n else pd.NaT,
                         "actual_close": 100.0 + step if step <= n else np.nan})
    return pd.DataFrame(rows)


def test_track_record_chart_tells_forecasts_apart_and_breaks_the_actual_line_at_gaps():
    """Issue 21 item 13: one colour per forecast (a line style per model), the actual close broken between
    forecasts three months apart, daily times as dates in the series' zone, no 'actual close' entry while
    none arrived."""
    fig = charts.track_record_chart(_ledger_steps(["2013-01-02", "2013-04-02"], model=("m", "n")))
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(bands) == 2 and bands[0].fillcolor != bands[1].fillcolor
    p50 = [t for t in fig.data if t.name.endswith(": p50")]
    assert p50[0].line.dash != p50[1].line.dash  # two models
    actual = next(t for t in fig.data if t.name == "actual close")
    assert sum(x is None for x in actual.x) == 1  # one break: between the two forecasts' bars
    assert pd.Timestamp(actual.x[0]) == pd.Timestamp("2013-01-02")  # New York midnight, not 05:00
    assert "%{x|%Y-%m-%d}<" in actual.hovertemplate  # dates for daily bars
    same = charts.track_record_chart(_ledger_steps(["2013-01-02", "2013-01-04"]))  # overlapping: one line
    assert not any(x is None for x in next(t for t in same.data if t.name == "actual close").x)
    none = charts.track_record_chart(_ledger_steps(["2013-01-02"], scored=(0,), model=("m",)))
    assert "actual close" not in [t.name for t in none.data]


def test_eleven_past_forecasts_get_eleven_colours():
    starts = [str(d.date()) for d in pd.bdate_range("2013-01-02", periods=11, freq="10B")]
    fig = charts.track_record_chart(_ledger_steps(starts, scored=(5,) * 11, model=("m",) * 11))
    assert len({t.fillcolor for t in fig.data if t.fill == "tonexty"}) == 11


def test_the_fx_weekend_is_hidden_on_the_time_axis():
    """Issue 21: hourly FX bars stop Friday 17:00 and resume Sunday 17:00 New York: the chart hides that
    stretch (Sunday has bars, so no Saturday-Monday pattern would)."""
    from app_support.charts import _rangebreaks

    hours = pd.date_range("2019-03-18", "2019-03-29", freq="h")  # New York wall clock
    open_ = ~(((hours.day_of_week == 4) & (hours.hour >= 17)) | (hours.day_of_week == 5)
              | ((hours.day_of_week == 6) & (hours.hour < 17)))
    breaks = _rangebreaks(hours[open_])
    hidden = [b for b in breaks if "values" in b]
    assert hidden == [{"values": ["2019-03-22 16:30:00"], "dvalue": 48 * 3600 * 1000.0}]


def shanghai_5min_forecast(horizon: int = 30) -> Forecast:
    """5-minute bars on the Shanghai A-share sessions (09:30-11:30, 13:00-15:00, bars at their start),
    the forecast running on over the lunch break and the night."""
    rng = np.random.default_rng(5)
    days = pd.bdate_range("2024-07-01", periods=4, tz="Asia/Shanghai")
    minutes = [*range(9 * 60 + 30, 11 * 60 + 30, 5), *range(13 * 60, 15 * 60, 5)]
    stamps = pd.DatetimeIndex([d + pd.Timedelta(minutes=m) for d in days for m in minutes])
    hist_ts, fut = stamps[:-horizon], stamps[-horizon:]
    close = 10 + np.cumsum(rng.normal(0, 0.01, len(hist_ts))).round(2)
    history = pd.DataFrame({"timestamp": hist_ts, "open": close, "high": close + 0.02, "low": close - 0.02,
                            "close": close, "volume": 1000.0, "amount": 1e4})
    base = close[-1] + np.cumsum(rng.normal(0, 0.01, (20, horizon)), axis=1)
    p = np.stack([base, base + 0.02, base - 0.02, base, np.full_like(base, 1000), np.full_like(base, 1e4)], -1)
    return Forecast(fut, p.astype(np.float32), p.mean(0).astype(np.float32), history,
                    ForecastSettings(horizon=horizon, paths=20))


def hidden_hours(fig) -> list[tuple[float, float]]:
    return [tuple(rb.bounds) for rb in fig.layout.xaxis.rangebreaks if rb.pattern == "hour"]


def test_the_lunch_break_and_the_night_are_hidden_and_no_bar_is():
    """Issue 45, item 13b: 11:30-13:00 and 15:00-09:30 hold no bar: both are hidden (half a bar kept each
    side), on the history and the forecast alike, and no bar falls in a hidden stretch."""
    fc = shanghai_5min_forecast()
    half = 2.5 / 60
    breaks = hidden_hours(fan_chart(fc))
    np.testing.assert_allclose(breaks, [(11 + 25 / 60 + half, 13 - half), (14 + 55 / 60 + half, 9.5 - half)])
    drawn = pd.DatetimeIndex([*fc.history["timestamp"], *fc.timestamps])
    hours = np.asarray((drawn - drawn.normalize()) / pd.Timedelta(hours=1))
    for start, end in breaks:
        inside = (hours >= start) & (hours < end) if start < end else (hours >= start) | (hours < end)
        assert not inside.any()
    lookback = fc.history.tail(96)
    np.testing.assert_allclose(hidden_hours(charts.history_chart(lookback, 30)), breaks)  # before the forecast too


def test_a_bar_missing_now_and_then_leaves_the_day_drawn():
    stamps = pd.date_range("2024-07-01 09:30", periods=300, freq="min")
    assert charts._rangebreaks(stamps.delete([40, 41, 200])) == charts._rangebreaks(stamps)


def test_candle_hover_writes_prices_at_the_series_own_decimals():
    """Issue 45, item 13c: the candles' hover (open/high/low/close) follows the y axis's hoverformat, which
    was unset: plotly wrote 2-decimal prices with more decimals."""
    fc = shanghai_5min_forecast()  # prices with two decimals
    assert fan_chart(fc).layout.yaxis.hoverformat == ",.2f"
    assert charts.history_chart(fc.history, 30).layout.yaxis.hoverformat == ",.2f"
    assert fan_chart(fc, "volume").layout.yaxis.hoverformat == ",.0f"
