"""Walk-forward evaluation and baselines: metrics with known answers, reproducible baselines, and the
same windows and seeds for every model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import Bootstrap, Persistence, RandomWalk, baselines_by_label
from kronos_studio.evaluation.metrics import band_covers, crps_samples, pit_values
from kronos_studio.evaluation.walk_forward import (
    WalkForward,
    choose_cutoffs,
    compare,
    cutoffs_from_time,
    summary_table,
    walk_forward,
)
from kronos_studio.forecasters.base import PathModel


def gbm_bars(n=800, sigma=0.01, seed=0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, sigma, n)))
    open_ = np.r_[100.0, close[:-1]]
    return pd.DataFrame({"timestamp": pd.date_range("2020-01-01", periods=n, freq="h"), "open": open_,
                         "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
                         "close": close, "volume": rng.uniform(1, 2, n)})


# --- metrics ------------------------------------------------------------------------------------
def test_crps_of_a_point_mass_is_the_absolute_error():
    y = np.array([1.0, -2.0, 3.5])
    x = np.array([[0.5, 0.0, 3.5]])
    np.testing.assert_allclose(crps_samples(x, y), [0.5, 2.0, 0.0])
    np.testing.assert_allclose(crps_samples(np.repeat(x, 7, 0), y), [0.5, 2.0, 0.0])


def test_crps_matches_the_pairwise_definition_and_the_gaussian_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 4))
    y = rng.normal(size=4)
    pairs = np.abs(x[:, None] - x[None]).sum((0, 1))
    plain = np.abs(x - y).mean(0) - 0.5 * pairs / 81
    fair = np.abs(x - y).mean(0) - 0.5 * pairs / 72  # the 9 zero diagonal terms are not pairs
    np.testing.assert_allclose(crps_samples(x, y), fair, rtol=1e-12)
    np.testing.assert_allclose(crps_samples(x, y, fair=False), plain, rtol=1e-12)
    big = rng.normal(size=(20000, 1))
    assert crps_samples(big, np.zeros(1))[0] == pytest.approx(gaussian_crps(0.0, 1.0, 0.0), abs=0.01)


def gaussian_crps(mu, sigma, y):
    """Closed form for N(mu, sigma²) (Gneiting & Raftery 2007)."""
    from scipy.stats import norm

    z = (np.asarray(y) - mu) / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))


@pytest.mark.parametrize("paths", [5, 30, 1000])
def test_the_fair_crps_is_unbiased_for_any_path_count_and_the_plain_one_is_not(paths):
    # Many forecasts of N(0, 1), each scored against its own outcome y ~ N(0.3, 1.2²): the expected
    # score is the closed form averaged over y, whatever the number of paths.
    rng = np.random.default_rng(paths)
    n = 400_000 // paths
    y = rng.normal(0.3, 1.2, n)
    x = rng.normal(size=(paths, n))
    exact = gaussian_crps(0.0, 1.0, y)
    fair = crps_samples(x, y) - exact
    noise = 4 * fair.std() / np.sqrt(n)
    assert abs(fair.mean()) < noise
    plain = crps_samples(x, y, fair=False) - exact
    if paths == 5:  # the plain estimator is off by E|X - X'| / 2S = 1 / (S sqrt(pi))
        assert plain.mean() == pytest.approx(1 / (paths * np.sqrt(np.pi)), abs=noise)
        assert plain.mean() > 10 * noise


def test_the_same_forecast_scores_the_same_with_30_and_with_200_paths():
    rng = np.random.default_rng(7)
    n = 4000
    y = rng.standard_t(5, n)
    scores = {s: crps_samples(rng.standard_t(5, (s, n)), y) for s in (30, 200)}
    diff = scores[30] - scores[200]
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n)
    plain = crps_samples(rng.standard_t(5, (30, n)), y, fair=False) - crps_samples(
        rng.standard_t(5, (200, n)), y, fair=False)
    assert plain.mean() > 4 * plain.std() / np.sqrt(n)  # the old estimator penalised the 30-path forecast


def test_a_calibrated_gaussian_covers_80_percent_and_has_uniform_pit():
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(400, 3000))
    actual = rng.normal(size=3000)
    assert band_covers(samples, actual).mean() == pytest.approx(0.8, abs=0.025)
    pit = pit_values(samples, actual)
    assert pit.mean() == pytest.approx(0.5, abs=0.02)
    hist, _ = np.histogram(pit, bins=5, range=(0, 1))
    assert (np.abs(hist / len(pit) - 0.2) < 0.03).all()
    # an overconfident forecast (half the spread) covers far less
    assert band_covers(samples * 0.5, actual).mean() < 0.55


@pytest.mark.parametrize("paths", [10, 30, 100, 200])
def test_the_band_of_a_calibrated_forecast_covers_80_percent_whatever_its_path_count(paths):
    """The p10-p90 band read from S draws (kronos.quantiles: Weibull positions) holds a new draw of the same
    distribution 80% of the time for any S >= 9; numpy's default linear rule held 0.75 at 30 paths."""
    rng = np.random.default_rng(paths)
    n = 600_000 // paths
    samples, actual = rng.standard_t(5, (paths, n)), rng.standard_t(5, n)
    covered = band_covers(samples, actual)
    assert covered.mean() == pytest.approx(0.8, abs=4 * np.sqrt(0.16 / n))
    linear = np.quantile(samples, (0.1, 0.9), axis=0)
    old = ((actual >= linear[0]) & (actual <= linear[1])).mean()
    if paths == 30:  # the rule before: (0.9·29 + 1 − (0.1·29 + 1)) / 31 = 0.748
        assert old == pytest.approx(0.748, abs=4 * np.sqrt(0.19 / n))


def test_random_walk_with_the_true_volatility_is_calibrated_in_walk_forward():
    bars = gbm_bars(1500, sigma=0.01, seed=3)
    res = walk_forward(RandomWalk(paths=300, window=200), bars, ForecastSettings(horizon=5), None,
                       WalkForward(n_cutoffs=250, min_history=250))
    assert res.covered.shape == (len(res.cutoffs), 5)
    assert res.covered.mean() == pytest.approx(0.8, abs=0.06)
    assert res.coverage_by_step().shape == (5,)
    assert 0.4 < res.pit.mean() < 0.6


def test_perfect_forecast_scores_zero_error_and_full_direction():
    bars = gbm_bars(300)
    prices = ["open", "high", "low", "close", "volume"]
    bars[prices] = bars[prices].astype(np.float32).astype(np.float64)  # a forecast's paths are float32

    class Oracle(PathModel):
        key = name = "oracle"

        def draw(self, history, future, settings):
            rows = bars.set_index("timestamp").loc[future, ["open", "high", "low", "close", "volume"]]
            vals = rows.to_numpy()
            amount = vals[:, 4:5] * vals[:, :4].mean(1, keepdims=True)
            return np.concatenate([vals, amount], 1)[None]

    res = walk_forward(Oracle(), bars, ForecastSettings(horizon=4), None, WalkForward(n_cutoffs=10, min_history=50))
    assert res.crps.max() == pytest.approx(0, abs=1e-9)
    assert res.abs_error.max() == pytest.approx(0, abs=1e-9)
    assert res.direction_hit.all()
    s = res.summary()
    assert s["coverage_p10_p90"] == 1.0 and s["direction_hit"] == 1.0


def test_persistence_crps_equals_its_absolute_error():
    res = walk_forward(Persistence(), gbm_bars(400), ForecastSettings(horizon=3, paths=30), None,
                       WalkForward(n_cutoffs=8, min_history=50))
    np.testing.assert_allclose(res.crps, res.abs_error, atol=1e-4)
    assert res.n_paths == 1
    # it predicts no move: float32 round-off of the last price must not count as a direction call
    assert res.direction_hit.sum() == 0


# --- baselines ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [RandomWalk, Bootstrap])
def test_baselines_are_reproducible_by_seed_and_coherent(cls):
    from kronos.pipeline import bars_frame

    hist = bars_frame(random_bars(300, 5))
    fut = pd.date_range(hist["timestamp"].iloc[-1], periods=11, freq="5min")[1:]
    model = cls(paths=50)
    a, b, c = (model.sample(hist, fut, ForecastSettings(horizon=10, paths=8, seed=seed)).paths for seed in (1, 1, 2))
    assert a.shape == (50, 10, 6)  # its own path count, whatever the settings ask
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    o, h, lo, cl = (a[..., i] for i in range(4))
    assert (h >= np.maximum(o, cl) - 1e-3).all() and (lo <= np.minimum(o, cl) + 1e-3).all()
    assert (a[..., 4] > 0).all()


# --- same windows and seeds for every model -----------------------------------------------------
class Recorder(PathModel):
    def __init__(self, name):
        self.key = self.name = name
        self.calls = []

    def draw(self, history, future, settings):
        self.calls.append((history["timestamp"].iloc[0], history["timestamp"].iloc[-1], len(history),
                           tuple(future), settings.seed, settings.temperature))
        return np.repeat(history[["open", "high", "low", "close", "volume", "amount"]].to_numpy()[-1:][None],
                         settings.horizon, axis=1)


def test_walk_forward_gives_every_model_the_same_windows_and_seeds():
    bars = gbm_bars(500)
    a, b = Recorder("a"), Recorder("b")
    settings = ForecastSettings(horizon=6, lookback=100, seed=11, temperature=0.7)
    results = compare({"a": a, "b": b, **baselines_by_label(paths=20)}, bars, settings, options=WalkForward(n_cutoffs=7))
    assert a.calls == b.calls and len(a.calls) == 7
    assert all(c[5] == 0.7 for c in a.calls)  # the settings reach every cut-off whole
    assert [c[4] for c in a.calls] == list(range(11, 18))
    assert all(c[2] == 100 for c in a.calls)
    cut = results["a"].cutoffs
    assert all(r.cutoffs == cut and r.seeds == results["a"].seeds for r in results.values())
    # the future timestamps handed over are the real next bars, after the history
    for _first, last, _n, fut, _seed, _temperature in a.calls:
        assert fut[0] > last and len(fut) == 6
    table = summary_table(results)
    assert list(table.index) == list(results) and {"crps", "coverage_p10_p90", "mae_median",
                                                   "direction_hit"} <= set(table.columns)


def test_cutoffs_are_spread_and_respect_history_and_horizon():
    c = choose_cutoffs(100, 10, 5, min_history=20)
    assert c[0] == 20 and c[-1] == 90 and len(c) == 5
    with pytest.raises(ValueError):
        choose_cutoffs(20, 10, 5, min_history=15)
    bars = gbm_bars(300)
    c = cutoffs_from_time(bars, bars["timestamp"].iloc[200], 5, 4)
    assert c[0] == 200 and c[-1] == 295


def test_kronos_runs_in_walk_forward_and_keeps_pit_and_paths(random_model):
    from kronos.pipeline import KronosPipeline
    from kronos_studio.forecasters.kronos import KronosForecaster

    pair = random_model("tiny").ours(context=64)
    kronos = KronosForecaster(KronosPipeline(pair))
    settings = ForecastSettings(horizon=3, paths=4, lookback=60)
    res = walk_forward(kronos, random_bars(200, 2), settings, None, WalkForward(n_cutoffs=2, keep_paths=True))
    assert res.paths.shape == (2, 4, 3, 6) and res.pit.shape == (2, 3)
    # the PIT stored is the paths' quantile of the actual
    np.testing.assert_allclose(res.pit, [pit_values(res.paths[i, :, :, 3], res.actual[i]) for i in range(2)])
    again = walk_forward(kronos, random_bars(200, 2), settings, None, WalkForward(n_cutoffs=2))
    np.testing.assert_array_equal(again.crps, res.crps)  # seeded: the same numbers
    kronos.batch_size = 1  # one cut-off per run: each on its own seed's stream
    res_1 = walk_forward(kronos, random_bars(200, 2), settings, None, WalkForward(n_cutoffs=2))
    assert res_1.crps.shape == (2, 3) and np.isfinite(res_1.crps).all()
    assert res.pit_frame().shape == (6, 3) and len(res.per_cutoff()) == 2


def test_each_sorted_draw_is_the_quantile_read_at_its_draw_level():
    """The fan calibration moves each path by its rank's level (draw_levels): those levels must be where
    path_quantiles reads each sorted draw, or a calibrated band would not be the band that was fitted."""
    from kronos.quantiles import draw_levels, path_quantiles

    for n in (2, 9, 30, 200):
        x = np.sort(np.random.default_rng(n).standard_t(4, n))
        np.testing.assert_allclose(path_quantiles(x, draw_levels(n)), x, rtol=1e-12)
