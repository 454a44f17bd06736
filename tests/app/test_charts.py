"""Figure builders and summary numbers, from hand-made Forecast objects (no model, no Streamlit)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app_support.events import parse_events
from app_support.metrics import score, summarize
from kronos.charts import compare_grid, fan_chart
from kronos.forecast import Forecast, ForecastSettings


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
    assert fig.layout.hovermode == "x unified"
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


def test_parse_events():
    events, bad = parse_events("2024-01-05, CPI\n# comment\n2024-01-09 14:00; FOMC\nnope, x\n\n2024-02-01")
    assert [e[1] for e in events] == ["CPI", "FOMC", "2024-02-01"]
    assert events[1][0] == pd.Timestamp("2024-01-09 14:00") and bad == ["nope, x"]
