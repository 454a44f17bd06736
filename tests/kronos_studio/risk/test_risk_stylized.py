import numpy as np
import pytest

from kronos_studio.risk.stylized import facts, stylized_check


def bars_from_returns(r: np.ndarray, volume: np.ndarray | None = None, last: float = 100.0) -> np.ndarray:
    close = last * np.exp(np.cumsum(r, axis=1))
    open_ = np.concatenate([np.full((len(r), 1), last), close[:, :-1]], axis=1)
    high, low = np.maximum(open_, close) * 1.001, np.minimum(open_, close) * 0.999
    volume = np.ones_like(close) if volume is None else volume
    return np.stack([open_, high, low, close, volume, volume], axis=-1)


def clustered(s: int, n: int, seed: int, leverage: bool = False) -> np.ndarray:
    """[s, n] GARCH(1,1) returns (t shocks); ``leverage``: falls raise the next variance more (GJR)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(5, (s, n)) * np.sqrt(3 / 5)
    r, v = np.empty((s, n)), np.full(s, 1e-4)
    for i in range(n):
        r[:, i] = np.sqrt(v) * z[:, i]
        shock = 0.02 * r[:, i] ** 2 + (0.2 * r[:, i] ** 2 * (r[:, i] < 0) if leverage else 0.1 * r[:, i] ** 2)
        v = 1e-6 + shock + 0.85 * v
    return r


def test_clustered_fat_tailed_paths_show_kurtosis_and_volatility_clustering_iid_ones_do_not():
    rng = np.random.default_rng(0)
    iid, _ = facts(bars_from_returns(rng.normal(0, 0.01, (400, 30))), 100.0, "iid")
    garch, _ = facts(bars_from_returns(clustered(400, 30, 1)), 100.0, "garch")
    assert abs(iid.excess_kurtosis) < 0.2 and garch.excess_kurtosis > 1
    assert max(abs(v) for v in iid.abs_acf.values()) < 0.05
    assert garch.abs_acf[1] > 0.1 and garch.abs_acf[1] > garch.abs_acf[10] > 0
    assert list(garch.abs_acf) == list(range(1, 11))


def test_leverage_is_negative_when_falls_raise_volatility():
    with_leverage, _ = facts(bars_from_returns(clustered(400, 30, 2, leverage=True)), 100.0, "gjr")
    rng = np.random.default_rng(3)
    none, _ = facts(bars_from_returns(rng.normal(0, 0.01, (400, 30))), 100.0, "iid")
    assert with_leverage.leverage < -0.05 and abs(none.leverage) < 0.03


def test_volume_return_correlation_and_a_flat_volume_said():
    rng = np.random.default_rng(4)
    r = rng.normal(0, 0.01, (200, 20))
    linked, _ = facts(bars_from_returns(r, 1e6 * (1 + 50 * np.abs(r)) * rng.lognormal(0, 0.1, r.shape)), 100.0, "x")
    flat, notices = facts(bars_from_returns(r), 100.0, "sampled paths")
    assert linked.volume_abs_return > 0.5
    assert flat.volume_abs_return is None and any("volume" in n.problem for n in notices)


def test_ohlc_validity_share_and_short_paths_say_which_lags_they_lack():
    rng = np.random.default_rng(5)
    bars = bars_from_returns(rng.normal(0, 0.01, (100, 5)))
    bars[:10, 0, 1] = bars[:10, 0, 2] * 0.5  # 10 of 500 bars with the high below the low
    got, notices = facts(bars, 100.0, "sampled paths")
    assert got.ohlc_valid == pytest.approx(0.98)
    assert list(got.abs_acf) == [1, 2, 3, 4]
    assert any(n.values.get("lags") == [5, 6, 7, 8, 9, 10] for n in notices)


def test_the_check_of_a_forecast_sets_history_and_paths_side_by_side(make_forecast):
    rng = np.random.default_rng(6)
    check = stylized_check(make_forecast(rng.normal(0, 0.01, (300, 12))))
    table = check.table()
    assert list(table.columns) == ["history", "paths"] and "abs_acf_10" in table.index
    assert check.history.returns == 299 and check.paths.returns == 300 * 12
    assert check.history.ohlc_valid == 1.0 and check.paths.ohlc_valid == 1.0
