"""Conformal fan calibration on synthetic data whose true distribution is known: a well-specified
forecaster reaches nominal coverage within sampling error, and a too-narrow or too-wide one is brought
back to it on held-out cut-offs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kronos.config import BAR_COLUMNS
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.calibration import FanCalibration, conformal_ranks, holdout_check
from kronos_studio.evaluation.walk_forward import WalkForward, last_cutoffs, walk_forward
from kronos_studio.forecasters.base import PathModel

SIGMA = 0.01


def gbm(n: int, sigma: float = SIGMA, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, n)))
    open_ = np.r_[100.0, close[:-1]]
    return pd.DataFrame({"timestamp": pd.date_range("2020-01-01", periods=n, freq="h"), "open": open_,
                         "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
                         "close": close, "volume": np.ones(n)})


class GaussianWalk(PathModel):
    """Paths of a random walk in log price with a chosen volatility: the truth when sigma = SIGMA."""

    def __init__(self, sigma: float, paths: int = 200):
        self.sigma, self.paths, self.key = sigma, paths, "walk"
        self.name = f"walk sigma={sigma}"

    def draw(self, history, future, settings):
        rng = np.random.default_rng(settings.seed)
        close = history["close"].iloc[-1] * np.exp(np.cumsum(rng.normal(0, self.sigma, (self.paths, settings.horizon)), 1))
        out = np.repeat(close[:, :, None], len(BAR_COLUMNS), axis=2)
        out[:, :, 4:] = 1.0
        return out


def run(sigma: float, n_cutoffs: int = 600, horizon: int = 5):
    bars = gbm(n_cutoffs * horizon + 100, seed=11)
    cutoffs = last_cutoffs(len(bars), horizon, n_cutoffs, spacing=horizon, min_history=50)
    return walk_forward(GaussianWalk(sigma), bars, ForecastSettings(horizon=horizon, lookback=50), cutoffs,
                        WalkForward(keep_paths=True))


def se(p: float, n: int) -> float:
    return float(np.sqrt(p * (1 - p) / n))


def test_conformal_ranks():
    # n = 9: the 0.9 upper bound is the largest score, the 0.1 lower bound the smallest
    assert conformal_ranks(9, [0.1, 0.5, 0.9]).tolist() == [1, 5, 9]
    assert conformal_ranks(19, [0.1, 0.5, 0.9]).tolist() == [2, 10, 18]
    assert conformal_ranks(3, [0.05, 0.95]).tolist() == [1, 3]  # clipped: too few for a guarantee


def test_well_specified_forecaster_is_nominal_and_calibration_leaves_it_so():
    res = run(SIGMA)
    n = len(res.cutoffs)
    assert abs(res.covered.mean() - 0.8) < 3 * se(0.8, n)
    check = holdout_check(res, 0.5)
    assert abs(check.before - 0.8) < 3 * se(0.8, check.n_test)
    assert abs(check.after - 0.8) < 3 * se(0.8, check.n_test)
    cal = FanCalibration.from_result(res)
    assert np.abs(cal.shifts[[9, 49, 89]]).max() < 0.3 * SIGMA * np.sqrt(5) + 0.002  # almost no move
    assert cal.guaranteed((0.1, 0.9))


@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_miscalibrated_forecaster_is_brought_to_nominal_on_held_out_cutoffs(factor):
    res = run(SIGMA * factor)
    check = holdout_check(res, 0.5)
    tol = 3 * se(0.8, check.n_test)
    assert abs(check.before - 0.8) > 2 * tol  # clearly off before (too narrow: ~0.47; too wide: ~0.98)
    assert abs(check.after - 0.8) < tol
    before, after = check.by_step()
    assert (np.abs(after - 0.8) < np.abs(before - 0.8)).all()  # every step is closer to nominal
    assert check.crps_after < check.crps_before  # a sharper/wider-where-needed fan scores better


def test_applied_paths_keep_order_candles_and_volume():
    rng = np.random.default_rng(0)
    s, h = 40, 6
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (s, h)), 1))
    open_ = close * np.exp(rng.normal(0, 0.002, (s, h)))
    paths = np.stack([open_, np.maximum(open_, close) * 1.01, np.minimum(open_, close) * 0.99, close,
                      rng.uniform(1, 2, (s, h)), rng.uniform(1, 2, (s, h))], -1).astype(np.float32)
    history = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=3, freq="D"),
                            **{c: [100.0] * 3 for c in BAR_COLUMNS}})
    fc = Forecast(pd.date_range("2024-01-04", periods=h, freq="D"), paths, paths.mean(0), history,
                  ForecastSettings(horizon=h, paths=s))
    levels = np.array([0.05, 0.5, 0.95])
    cal = FanCalibration("close", levels, np.tile([[-0.05], [0.01], [0.05]], (1, h)), 30)  # widen, lift
    out = cal.apply(fc)
    c = out.paths[:, :, 3]
    np.testing.assert_array_equal(np.argsort(c, 0, kind="stable"), np.argsort(close, 0, kind="stable"))
    assert (np.ptp(c, axis=0) > np.ptp(close, axis=0)).all()  # wider at every step
    assert np.median(c) > np.median(close)
    assert (out.paths[:, :, 1] >= np.maximum(out.paths[:, :, 0], c) - 1e-3).all()
    assert (out.paths[:, :, 2] <= np.minimum(out.paths[:, :, 0], c) + 1e-3).all()
    np.testing.assert_array_equal(out.paths[:, :, 4:], paths[:, :, 4:])
    assert out.provenance["calibration"]["cutoffs"] == 30 and "calibration" not in fc.provenance
    # zero shifts change nothing; a dict round trip gives the same calibration
    zero = FanCalibration("close", levels, np.zeros((3, h)), 30)
    np.testing.assert_allclose(zero.apply(fc).paths, paths, rtol=1e-6)
    again = FanCalibration.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.apply(fc).paths, out.paths)
    with pytest.raises(ValueError, match="covers 6 steps"):
        cal.apply_values(np.ones((4, 7)))


def test_fit_refuses_non_positive_values_and_bad_shapes():
    with pytest.raises(ValueError, match="positive"):
        FanCalibration.fit(np.full((3, 5, 2), -1.0), np.ones((3, 2)))
    with pytest.raises(ValueError, match="paths"):
        FanCalibration.fit(np.ones((3, 5)), np.ones((3, 2)))
