import numpy as np
import pytest

from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.volatility import bar_variances, ewma_variances, volatility_forecast


def brownian_bars(n: int, sigma: float, steps: int = 200, seed: int = 0) -> np.ndarray:
    """[n, 6] bars of a driftless Brownian log-price observed ``steps`` times a bar."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(0, sigma / np.sqrt(steps), n * steps))
    x = np.r_[0.0, x].astype(np.float64)
    price = 100 * np.exp(x)
    inside = price[1:].reshape(n, steps)
    open_ = price[:-1:steps]
    close = inside[:, -1]
    high = np.maximum(inside.max(axis=1), open_)
    low = np.minimum(inside.min(axis=1), open_)
    return np.column_stack([open_, high, low, close, np.ones(n), close])


def test_range_estimators_read_the_variance_of_a_brownian_bar():
    sigma = 0.01
    bars = brownian_bars(2000, sigma, steps=1000)  # fine steps: a discretely watched range reads low
    v = bar_variances(bars, 100.0)
    for method in ("close_to_close", "parkinson", "garman_klass"):
        assert np.nanmean(v.of(method)) == pytest.approx(sigma ** 2, rel=0.1), method
    # the range estimators are the less noisy ones
    assert np.std(v.garman_klass) < np.std(v.close_to_close) / 2
    assert v.zero_range == v.widened == v.unreadable == 0


def test_zero_range_and_unreadable_bars_are_counted_and_said_never_nan():
    bars = brownian_bars(50, 0.01)
    bars[10, :4] = bars[9, 3]  # a bar that never traded: open = high = low = close
    bars[20, 2] = 0.0  # an unreadable low
    bars[30, 1] = bars[30, 2] * 0.999  # a high below the low
    v = bar_variances(bars, 100.0)
    assert (v.zero_range, v.unreadable, v.widened) == (1, 1, 1)
    assert v.parkinson[10] == 0 and v.garman_klass[10] == 0 and np.isnan(v.parkinson[20])
    assert (v.garman_klass[np.isfinite(v.garman_klass)] >= 0).all()
    said = " ".join(n.worded() for n in v.notices("bars"))
    assert "zero range" in said and "non-positive" in said and "widened" in said


def test_forecast_volatility_from_paths_models_and_history(make_forecast):
    rng = np.random.default_rng(4)
    sigma = 0.015
    fc = make_forecast(rng.normal(0, sigma, (2000, 10)))
    vol = volatility_forecast(fc, RiskSettings(vol_interval=0.9))
    c2c = vol.get("close_to_close", "paths")
    assert c2c.per_bar == pytest.approx(sigma, rel=0.03)
    assert c2c.horizon == pytest.approx(sigma * np.sqrt(10), rel=0.03)
    assert c2c.low < sigma < c2c.high
    methods = {(r.method, r.source) for r in vol.readings}
    assert {("garch", "model"), ("gjr_garch", "model"), ("har", "model"), ("ewma", "model"),
            ("close_to_close", "history"), ("parkinson", "paths"), ("garman_klass", "paths")} <= methods
    for r in vol.readings:  # the history's volatility is 1% a bar: every model reads near it
        assert np.isfinite(r.per_bar)
        if r.source in ("model", "history") and r.method == "close_to_close":
            assert r.per_bar == pytest.approx(0.01, rel=0.5)


def test_ewma_follows_the_riskmetrics_recursion():
    rng = np.random.default_rng(5)
    r = rng.normal(0, 0.01, 400)
    v = ewma_variances(r, 3, 0.94)
    assert np.allclose(v, v[0])
    # one more return moves the forecast by the recursion: s2' = lam s2 + (1 - lam) r^2
    r2 = np.r_[r, 0.03]
    assert ewma_variances(r2, 1, 0.94)[0] == pytest.approx(0.94 * v[0] + 0.06 * 0.03 ** 2, rel=1e-3)


def test_paths_with_unreadable_bars_are_left_out_and_said(make_forecast):
    rng = np.random.default_rng(7)
    fc = make_forecast(rng.normal(0, 0.01, (50, 4)))
    fc.paths[:5, :, 1:3] = np.nan  # five paths without highs and lows
    vol = volatility_forecast(fc, models=False)
    assert np.isfinite(vol.get("parkinson", "paths").per_bar)
    assert any(n.values.get("unreadable_bars") == 20 for n in vol.notices)
