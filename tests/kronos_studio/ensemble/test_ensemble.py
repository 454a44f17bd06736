"""The ensemble: quantiles to paths, the mixture, the combination methods, the meta-learner's time order,
member identities and file format, and the ensemble fitted to one series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from testkit import sampled

from data_sources import Bars
from kronos.settings import ForecastSettings
from kronos_studio.cli.errors import cli_line
from kronos_studio.ensemble.combine import (
    EQUAL,
    METHODS,
    QUANTILE_LEVELS,
    cross_abs_sum,
    pool_crps,
    pool_terms,
    quantile_average_paths,
    stacking_weights,
)
from kronos_studio.ensemble.ensemble import Ensemble, apply_spread, mixture_counts
from kronos_studio.ensemble.features import asset_class, series_features
from kronos_studio.ensemble.members import CHEAP_MEMBER_PATHS, GarchMember, member_identity
from kronos_studio.ensemble.meta import MetaLearner
from kronos_studio.ensemble.quantile_paths import brownian_scores, log_return_paths, read_quantiles
from kronos_studio.ensemble.series import SeriesFit, fit_to_series, load_series_meta, series_key
from kronos_studio.ensemble.train import SeriesSpec, fit_meta, signal_evaluations
from kronos_studio.ensemble.volatility import HarMember
from kronos_studio.evaluation.baselines import Bootstrap, RandomWalk
from kronos_studio.evaluation.metrics import pair_abs_sum


def walk(n: int, seed: int = 0, vol: float = 0.01) -> pd.DataFrame:
    """Daily bars of a geometric random walk with coherent candles."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, vol, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, vol, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, vol, n))
    ts = pd.bdate_range("2015-01-05", periods=n, tz="America/New_York")
    return pd.DataFrame({"timestamp": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": rng.uniform(1e5, 2e5, n), "amount": 0.0})


def members(paths=40, rw_window=60):
    return {m.key: m for m in (RandomWalk(paths=paths, window=rw_window), Bootstrap(paths=paths), GarchMember(paths=paths),
                               HarMember(paths=paths))}


def at(horizon: int, seed: int, paths: int = 30) -> ForecastSettings:
    return ForecastSettings(horizon=horizon, paths=paths, seed=seed)


def drawn(member, history, horizon: int, seed: int) -> np.ndarray:
    return member.sample(history, None, at(horizon, seed)).paths


def test_quantiles_become_paths_with_those_quantiles_and_brownian_dependence():
    levels = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    horizon = 4
    q = np.stack([norm.ppf(levels) * np.sqrt(t) for t in range(1, horizon + 1)])  # a Brownian motion's
    z = brownian_scores(40_000, horizon, np.random.default_rng(0))
    values = read_quantiles(levels, q, z)
    for t in range(horizon):
        np.testing.assert_allclose(np.quantile(values[:, t], levels), q[t], atol=0.03 * np.sqrt(t + 1))
    corr = np.corrcoef(values[:, 0], values[:, 3])[0, 1]
    assert corr == pytest.approx(np.sqrt(1 / 4), abs=0.02)  # corr(W_1, W_4) = sqrt(1/4)
    # Crossing quantiles are sorted, and price paths from log quantiles stay positive.
    r = log_return_paths(levels, 100 * np.exp(q[:, ::-1] * 0.01), 100.0, 500, np.random.default_rng(1))
    assert np.isfinite(r).all() and (100 * np.exp(np.cumsum(r, axis=1)) > 0).all()


def test_mixture_counts_sum_and_follow_the_weights():
    counts = mixture_counts({"a": 0.5, "b": 0.3, "c": 0.2}, 30)
    assert counts == {"a": 15, "b": 9, "c": 6}
    counts = mixture_counts({"a": 0.34, "b": 0.33, "c": 0.33}, 10)
    assert sum(counts.values()) == 10 and counts["a"] == 4


def test_spread_widens_around_the_median_and_keeps_candles():
    paths = sampled(GarchMember(paths=200), walk(600), None, 5, 0)
    wide = apply_spread(paths, 1.5)
    log_c, log_w = np.log(paths[:, :, 3]), np.log(wide[:, :, 3])
    np.testing.assert_allclose(np.median(log_w, 0), np.median(log_c, 0), atol=1e-5)
    np.testing.assert_allclose(log_w.std(0), 1.5 * log_c.std(0), rtol=1e-3)
    o, h, lo, c = (wide[:, :, i] for i in range(4))
    assert (lo <= np.minimum(o, c) + 1e-4).all() and (h >= np.maximum(o, c) - 1e-4).all()


def test_garch_paths_reproduce_with_the_seed_and_have_fat_tails_fitted():
    history = walk(600, seed=3)
    a = sampled(GarchMember(paths=50), history, None, 10, 7)
    assert np.array_equal(a, sampled(GarchMember(paths=50), history, None, 10, 7))
    assert not np.array_equal(a, sampled(GarchMember(paths=50), history, None, 10, 8))
    assert a.shape == (50, 10, 6) and (a[:, :, :4] > 0).all()


def test_asset_classes_and_features_are_scale_free():
    assert [asset_class("24/7"), asset_class("FX"), asset_class("XNYS"), asset_class(None)] == [
        "crypto", "fx", "equity", "other"]
    h = walk(300)
    scaled = h.assign(**{c: h[c] * 1000 for c in ("open", "high", "low", "close")})
    assert series_features(h, 10, "1d", "equity") == pytest.approx(series_features(scaled, 10, "1d", "equity"))


@pytest.fixture(scope="module")
def evaluations():
    frame = walk(900, seed=5)
    spec = SeriesSpec("walk", frame, "1d", "equity", 5, list(range(560, 890, 6)))
    return frame, spec, signal_evaluations([spec], members(), at(5, 0))


def test_no_feature_sees_past_its_cut_off(evaluations):
    """Change every bar after a cut-off: the features of that cut-off and of all earlier ones stay
    exactly the same (only the targets of cut-offs whose horizon reaches the change may move)."""
    frame, spec, evals = evaluations
    k = 20
    changed_from = spec.cutoffs[k]
    other = frame.copy()
    later = other.index >= changed_from
    for col in ("open", "high", "low", "close"):
        other.loc[later, col] *= np.linspace(0.5, 3.0, later.sum())
    again = signal_evaluations([SeriesSpec("walk", other, "1d", "equity", 5, spec.cutoffs)], members(), at(5, 0))
    features = [c for c in evals.table.columns if c not in ("target", "crps_pct", "used")]
    t0, t1 = evals.table, again.table
    upto = t0["cutoff_time"] <= frame["timestamp"].iloc[changed_from - 1]
    assert upto.sum() == (k + 1) * len(members())
    pd.testing.assert_frame_equal(t0.loc[upto, features], t1.loc[upto, features])
    unaffected = t0["cutoff_time"] <= frame["timestamp"].iloc[changed_from - 1 - spec.horizon]
    pd.testing.assert_series_equal(t0.loc[unaffected, "target"], t1.loc[unaffected, "target"])
    assert not t0.loc[~upto, features].equals(t1.loc[~upto, features])  # the check can see a change


def test_meta_learner_round_trips_as_lightgbm_text_and_json(evaluations, tmp_path):
    _, _, evals = evaluations
    meta = fit_meta(evals, paths=40)
    assert set(meta.members) == {"random_walk", "bootstrap", "garch", "har"}
    assert meta.method in (*METHODS, EQUAL) and set(meta.info["validation_crps_pct"]) >= {"softmax", EQUAL, "member:har"}
    meta.save(tmp_path)
    assert (tmp_path / "meta_learner.txt").read_text().startswith("tree")  # LightGBM's own text format
    again = MetaLearner.load(tmp_path)
    rows = evals.cutoffs[0]["features"]
    np.testing.assert_array_equal(meta.predict(rows), again.predict(rows))
    assert (again.temperature, again.spread) == (meta.temperature, meta.spread)
    assert (again.method, again.combinations, again.identities) == (meta.method, meta.combinations, meta.identities)
    weights = again.weights(rows)
    assert sum(weights.values()) == pytest.approx(1.0) and min(weights.values()) >= 0
    (tmp_path / "meta_learner.txt").write_text("not a model")
    with pytest.raises(ValueError, match="no readable meta-learner"):
        MetaLearner.load(tmp_path)


def test_spreads_are_the_sharpest_whose_validation_band_holds_its_nominal_share(evaluations):
    """Sharpness subject to calibration: each method's spread is the smallest on the grid whose validation
    p10–p90 band covers at least 0.8, not the CRPS-optimal one (which left the band at 0.76)."""
    from kronos_studio.ensemble.train import calibrated_spread

    assert calibrated_spread({0.9: (1.0, 0.70), 1.0: (0.99, 0.79), 1.1: (1.01, 0.81), 1.2: (1.02, 0.86)}) == 1.1
    assert calibrated_spread({0.9: (1.0, 0.60), 1.5: (1.1, 0.70)}) == 1.5  # none covers: the widest
    _, _, evals = evaluations
    meta = fit_meta(evals, paths=30)
    by_spread = meta.info["validation_by_spread"]
    for method, scores in by_spread.items():
        spread = meta.spread_of(method)
        covering = [float(s) for s, (_, coverage) in scores.items() if coverage >= 0.8]
        assert spread == (min(covering) if covering else max(map(float, scores))), method
    coverage = meta.info["validation_coverage_p10_p90"]
    if any(coverage[m] >= 0.8 for m in (*by_spread, EQUAL)):
        assert coverage[meta.method] >= 0.8  # a calibrated method is chosen when there is one


def test_ensemble_paths_are_a_seeded_mixture_with_ordered_quantiles(evaluations):
    frame, _, evals = evaluations
    ens = Ensemble(members(30), fit_meta(evals, paths=30), interval="1d", asset="equity")
    history = frame.iloc[:700]
    a = drawn(ens, history, 8, 11)
    assert a.shape == (30, 8, 6) and np.array_equal(a, drawn(ens, history, 8, 11))
    assert not np.array_equal(a, drawn(ens, history, 8, 12))
    q = np.quantile(a[:, :, 3], [0.1, 0.5, 0.9], axis=0)
    assert (np.diff(q, axis=0) >= 0).all()
    o, h, lo, c = (a[:, :, i] for i in range(4))
    assert (lo <= np.minimum(o, c) + 1e-3).all() and (h >= np.maximum(o, c) - 1e-3).all()
    mixture = ens.combine(history, ens.member_paths(history, None, at(8, 11)), at(8, 11))
    assert np.array_equal(mixture.paths, a) and sum(mixture.weights.values()) == pytest.approx(1.0)
    assert set(mixture.members) == set(ens.members) and all(p.shape == (30, 8, 6) for p in mixture.members.values())
    with pytest.raises(ValueError, match="missing"):
        Ensemble({"random_walk": members()["random_walk"]}, ens.meta)
    # A member the meta-learner never saw (a Chronos-2 given to the bundled one) is refused, not dropped.
    extra = {**members(30), "chronos2": members(30)["random_walk"]}
    with pytest.raises(ValueError, match=r"cannot weigh \['chronos2'\].*retrain.*chronos2='off'") as e:
        Ensemble(extra, ens.meta)
    assert "--chronos2 off" in cli_line(e.value)  # the command line words the setting as its flag


def test_a_meta_learner_is_used_only_with_the_members_it_was_trained_with(evaluations):
    _, _, evals = evaluations
    meta = fit_meta(evals, paths=30)
    assert Ensemble(members(30), meta).method == meta.method
    other = members(30, rw_window=30)  # the same keys, another random walk
    with pytest.raises(ValueError, match=r"trained with random_walk=.*@\w+, not random_walk=.*retrain"):
        Ensemble(other, meta)
    ens = Ensemble(other, meta, on_mismatch="equal", meta_label="the bundled meta-learner")
    assert ens.method == EQUAL
    assert ens.describe_weighting().startswith("equal weights: the bundled meta-learner was trained with random_walk=")
    weighting = ens.describe()["weighting_rule"]
    assert weighting["rule"] == EQUAL and weighting["trained_with"]["random_walk"] != weighting["given"]["random_walk"]
    history = walk(700)
    mixture = ens.combine(history, ens.member_paths(history, None, at(5, 3)), at(5, 3))
    assert set(mixture.weights.values()) == {0.25}
    # A different member set is a stated fallback too, or refused where the user named the meta-learner.
    fewer = {k: m for k, m in members(30).items() if k != "har"}
    assert Ensemble(fewer, meta, on_mismatch="equal").weighting["reason"].endswith("missing ['har']")
    with pytest.raises(ValueError, match="missing"):
        Ensemble(fewer, meta)


def test_stacking_weights_go_to_the_true_distribution():
    """One member draws from the distribution the actuals come from, one is too narrow, one is biased:
    the CRPS-optimal pool puts (nearly) all weight on the true one, and w·a - ½wᵀBw is the pool's CRPS."""
    rng = np.random.default_rng(0)
    terms = []
    for _ in range(300):
        y = 100 + rng.normal(0, 1, 5)
        paths = {k: np.repeat((100 + rng.normal(mu, sd, (40, 5)))[:, :, None], 6, axis=2)
                 for k, (mu, sd) in {"true": (0, 1), "narrow": (0, 0.3), "biased": (1.0, 1)}.items()}
        terms.append(pool_terms(paths, ["true", "narrow", "biased"], y, 100.0))
    w = stacking_weights(terms)
    assert w[0] > 0.9 and w.sum() == pytest.approx(1.0)
    # The quadratic form is the fair CRPS of the pooled samples when the weights are path counts.
    from kronos_studio.evaluation.metrics import crps_samples

    a, b = terms[0]
    x = np.concatenate([100 + rng.normal(0, 1, (20, 5)), 100 + rng.normal(0, 0.3, (20, 5))])
    y = 100 + rng.normal(0, 1, 5)
    paths = {"p": np.repeat(x[:20, :, None], 6, axis=2), "q": np.repeat(x[20:, :, None], 6, axis=2)}
    a, b = pool_terms(paths, ["p", "q"], y, 100.0)
    pooled = crps_samples(x, y).mean()
    # The fair estimator of the pool counts pairs across the whole set: equal up to its S/(S-1) factors.
    assert pool_crps(np.array([0.5, 0.5]), a, b) == pytest.approx(pooled, rel=0.02)


def test_pair_sums_by_sorting_equal_every_pair_summed():
    """The sums of |x_i - y_j| by sorting (B's entries) equal the sum over all pairs, ties and unequal counts
    included, for two sets and for a set with itself."""
    rng = np.random.default_rng(3)
    for s, t, h in ((40, 7, 3), (5, 60, 2), (1, 1, 1)):
        x, y = rng.standard_normal((s, h)), rng.standard_normal((t, h))
        y[: min(s, t)] = x[: min(s, t)]  # ties across the sets
        x[-1] = x[0]  # and within one
        np.testing.assert_allclose(cross_abs_sum(x, y), np.abs(x[:, None] - y[None]).sum(axis=(0, 1)), rtol=1e-12)
        np.testing.assert_allclose(pair_abs_sum(x), np.abs(x[:, None] - x[None]).sum(axis=(0, 1)), rtol=1e-12,
                                   atol=1e-12)


def test_quantile_averaging_of_two_gaussians_averages_their_quantiles():
    history = walk(200)
    last = float(history["close"].iloc[-1])
    rng = np.random.default_rng(1)
    h = 3
    sd = {"a": 0.01, "b": 0.03}
    mu = {"a": -0.01, "b": 0.02}
    member_paths = {k: np.repeat((last * np.exp(mu[k] + sd[k] * rng.standard_normal((20_000, h))))[:, :, None],
                                 6, axis=2) for k in sd}
    paths = quantile_average_paths(history, member_paths, {"a": 0.5, "b": 0.5}, 20_000, seed=2)
    levels = QUANTILE_LEVELS[[1, 5, 9, 13, 17]]
    want = 0.5 * sum(last * np.exp(mu[k] + sd[k] * norm.ppf(levels)) for k in sd)
    for t in range(h):
        np.testing.assert_allclose(np.quantile(paths[:, t, 3], levels), want, rtol=2e-3)
    o, hi, lo, c = (paths[:, :, i] for i in range(4))
    assert (lo <= np.minimum(o, c) + 1e-3).all() and (hi >= np.maximum(o, c) - 1e-3).all()


def test_fit_to_series_stores_by_its_key_and_reloads(tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path))
    bars = Bars.from_frame(walk(800, seed=9), source="file", symbol="WALK", interval="1d", calendar="XNYS")
    meta = fit_to_series(bars, members(20), ForecastSettings(horizon=5, paths=20), SeriesFit(cutoffs=40))
    key = series_key(bars, 5, members(20))
    assert meta.folder == tmp_path / "ensembles" / key and meta.method in ("stacking", EQUAL)
    assert meta.info["provenance"]["series_key"] == key and meta.info["provenance"]["cutoffs"] == 40
    again = load_series_meta(bars, members(20), 5)
    assert again.combinations == meta.combinations and again.identities == meta.identities
    assert load_series_meta(bars, members(20), 10) is None  # another horizon: another key
    other = members(20, rw_window=30)
    assert load_series_meta(bars, other, 5) is None
    with pytest.raises(ValueError, match="retrain"):
        Ensemble(other, again)
    a = Ensemble(members(20), again, method="stacking").combine(
        walk(800, seed=9), {k: drawn(m, walk(800, seed=9), 5, 0) for k, m in members(20).items()}, at(5, 0, 20))
    assert a.weights == pytest.approx(again.group_weights("stacking", "equity/1d"))


def test_the_bundled_meta_learner_names_its_members_identities():
    from kronos_studio.bundled import default_model_path
    from kronos_studio.ensemble.bundled import load_bundled_meta
    from kronos_studio.ensemble.members import weights_sha256

    meta = load_bundled_meta()
    assert set(meta.members) == {"kronos", "har", "gjr_garch", "garch", "random_walk", "bootstrap"}
    assert set(meta.identities) == set(meta.members) and all(i["digest"] for i in meta.identities.values())
    assert meta.identities["kronos"]["predictor_sha256"] == weights_sha256(default_model_path() / "predictor")
    assert meta.method in (*METHODS, EQUAL)
    for k in ("har", "random_walk"):
        assert meta.identities[k]["digest"] == member_identity(members()[k] if k != "random_walk"
                                                               else RandomWalk(paths=30))["digest"]


def test_the_bundled_meta_learner_with_another_kronos_weighs_equally_and_says_why(random_model, tmp_path):
    """The user's Kronos (here random weights) is not the one the bundled meta-learner was trained with:
    never applied silently; a copy of it named by the user (--meta) refuses instead."""
    import shutil

    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.ensemble.bundled import ENSEMBLE_DIR, bars_ensemble, load_bundled_meta
    from kronos_studio.forecasting import studio_pipeline

    pipeline = studio_pipeline(load_pair(random_model("tiny").folder, device="cpu"))
    bars = Bars.from_frame(walk(700), source="file", symbol="WALK", interval="1d", calendar="XNYS")
    settings = ForecastSettings(horizon=5, paths=8)
    ens = bars_ensemble(pipeline, bars, load_bundled_meta(), settings)
    assert ens.method == EQUAL
    # Kronos draws the forecast's 8 paths; the cheap members draw enough for their quantiles to be read.
    counts = {k: p.shape[0] for k, p in ens.member_paths(bars.frame, None, at(5, 0, 8)).items()}
    assert counts == {k: 8 if k == "kronos" else CHEAP_MEMBER_PATHS for k in ens.members}
    assert ens.sample(bars.frame, None, at(5, 0, 8)).paths.shape == (8, 5, 6)  # the forecast's path count
    assert ens.describe_weighting().startswith("equal weights: the bundled meta-learner was trained with kronos=")
    assert ", not kronos=" in ens.describe_weighting() and ens.describe()["weighting_rule"]["rule"] == EQUAL
    shutil.copytree(ENSEMBLE_DIR, tmp_path / "meta")
    with pytest.raises(ValueError, match=r"was trained with kronos=.*retrain"):
        bars_ensemble(pipeline, bars, MetaLearner.load(tmp_path / "meta"), settings)


def test_an_interval_the_meta_learner_never_saw_is_named_in_the_weighting():
    """Minute bars take the weights fitted on every group together: the weighting line says so; the
    groups it trained on say nothing more."""
    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import default_model_path
    from kronos_studio.ensemble.bundled import bars_ensemble, load_bundled_meta
    from kronos_studio.forecasting import studio_pipeline

    pipeline = studio_pipeline(load_pair(default_model_path(), device="cpu"))
    lines = {}
    for interval in ("1d", "1m"):
        bars = Bars.from_frame(walk(700), source="file", symbol="WALK", interval=interval, calendar="XNYS")
        ens = bars_ensemble(pipeline, bars, load_bundled_meta(), ForecastSettings(horizon=5, paths=8))
        assert ens.weighting["rule"] == "meta-learner"  # the bundled members: its own weights apply
        lines[interval] = ens.describe_weighting()
    assert "never trained on equity/1m bars" in lines["1m"] and "equity/1d" in lines["1m"]
    assert "never trained" not in lines["1d"]


def test_currency_bars_take_the_currency_weights_of_the_bundled_meta_learner():
    """The bundled meta-learner trained on hourly EUR/USD bars: an FX-week hourly series takes that group's
    weights (said by no 'never trained' line), not those fitted on all groups together."""
    from data_sources import load_sample
    from kronos.checkpoints import load_pair
    from kronos.settings import ForecastSettings
    from kronos_studio.bundled import default_model_path
    from kronos_studio.ensemble.bundled import bars_ensemble, load_bundled_meta
    from kronos_studio.forecasting import studio_pipeline

    meta = load_bundled_meta()
    assert "fx/1h" in meta.trained_groups()
    fx, everything = meta.group_weights(meta.method, "fx/1h"), meta.group_weights(meta.method, "all")
    assert fx != pytest.approx(everything)
    bars = load_sample("EUR/USD hourly 2017-2018 (backtesting.py)").tail(700)
    ens = bars_ensemble(studio_pipeline(load_pair(default_model_path(), device="cpu")), bars, meta,
                        ForecastSettings(horizon=5, paths=8))
    assert ens.group == "fx/1h" and "never trained" not in ens.describe_weighting()
    mixture = ens.combine(bars.frame, ens.member_paths(bars.frame, None, at(5, 0, 8)), at(5, 0, 8))
    assert mixture.weights == pytest.approx(fx)


def test_the_quantile_average_reads_all_of_a_members_paths_the_pool_its_first(evaluations):
    """Quantile averaging reads each member's quantiles from every path it drew (a cheap member draws
    more than the forecast's count: quantiles of 30 draws are noisy); a linear pool takes a member's first
    paths, in proportion to its weight."""
    frame, _, evals = evaluations
    meta, history = fit_meta(evals, paths=30), frame.iloc[:700]
    made = {k: drawn(m, history, 8, 3 + i) for i, (k, m) in enumerate(members(100).items())}
    last = float(history["close"].iloc[-1])
    widened = {k: p.copy() for k, p in made.items()}
    for p in widened.values():
        p[30:, :, :4] = last + 3 * (p[30:, :, :4] - last)  # paths 31..100 only
    for method, moves in (("quantile", True), ("stacking", False), (EQUAL, False)):
        ens = Ensemble(members(30), meta, interval="1d", asset="equity", method=method)
        a, b = ens.combine(history, made, at(8, 5)).paths, ens.combine(history, widened, at(8, 5)).paths
        assert a.shape == b.shape == (30, 8, 6)
        assert (not np.array_equal(a, b)) == moves, method


def test_the_fit_walks_each_member_on_the_bars_an_ensemble_forecast_hands_it():
    """The weights are fitted to the members as the ensemble forecasts with them: each reads its own lookback
    within the ensemble's history (the settings' lookback, else ENSEMBLE_LOOKBACK), never more."""
    from dataclasses import dataclass, field, replace

    from kronos_studio.forecasters.base import ENSEMBLE_LOOKBACK

    @dataclass
    class Reader(Bootstrap):
        own: int = 400
        read: list = field(default_factory=list)

        def lookback(self, horizon):
            return self.own

        def draw(self, history, future, settings):
            self.read.append(len(history))
            return super().draw(history, future, settings)

    frame = walk(1200, seed=2)
    spec = SeriesSpec("walk", frame, "1d", "equity", 5, [1000, 1050, 1100])
    short, long_ = Reader(paths=20, own=400), Reader(paths=20, own=ENSEMBLE_LOOKBACK + 300)
    long_.key = "long"
    signal_evaluations([spec], {**members(20), "bootstrap": short, "long": long_}, at(5, 0))
    assert short.read == [400] * 3 and long_.read == [ENSEMBLE_LOOKBACK] * 3
    short.read.clear(), long_.read.clear()
    signal_evaluations([spec], {**members(20), "bootstrap": short, "long": long_}, replace(at(5, 0), lookback=150))
    assert short.read == [150] * 3 and long_.read == [150] * 3


def test_a_member_served_in_place_of_the_one_weighed_is_said(evaluations):
    """Issue 56: an ensemble whose member reads more than the one its meta-learner weighed (Chronos-2 conditioned on
    covariates) keeps the weights and says so: the note names the member weighed, both identities stay in the
    weighting, and the mixture draws the new member's paths."""
    frame, _, evals = evaluations
    ens = Ensemble(members(30), fit_meta(evals, paths=30), interval="1d", asset="equity")
    history = frame.iloc[:700]
    other = GarchMember(paths=30, window=250)
    served, said = ens.with_member("garch", other, "a shorter window")
    assert served.members["garch"] is other and ens.members["garch"] is not other  # the original is left alone
    assert "fitted on the unconditioned garch member" in said and "reads a shorter window" in said
    assert said in served.weighting["note"] and said in served.describe()["weighting"]
    replaced = served.weighting["replaced"]["garch"]
    assert replaced["weighed"] == ens.identities["garch"] and replaced["serving"] == member_identity(other)
    assert replaced["weighed"]["digest"] != replaced["serving"]["digest"]
    assert served.describe()["member_identities"]["garch"] == member_identity(other)
    made = served.sample(history, None, at(5, 3))
    assert not np.array_equal(made.members["garch"], ens.sample(history, None, at(5, 3)).members["garch"])
    # weighed equally anyway: no weights were fitted to the member replaced, nothing to say
    equal = Ensemble(members(30), ens.meta, interval="1d", asset="equity", method=EQUAL)
    served, said = equal.with_member("garch", other, "a shorter window")
    assert said is None and "replaced" in served.weighting and "note" not in served.weighting
