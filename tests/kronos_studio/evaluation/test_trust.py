"""Trust-panel arithmetic: threshold probabilities and drawdowns from paths, Wilson intervals, skill
scores, PIT histograms, latest cut-offs, time-limited walk-forwards and the report built from them."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from kronos.config import BAR_COLUMNS
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import REFERENCE, RandomWalk
from kronos_studio.evaluation.path_stats import drawdown_summary, level_probabilities, max_drawdowns
from kronos_studio.evaluation.trust import (
    TrustPlan,
    evaluate,
    pit_histogram,
    skill_interval,
    skill_score,
    wilson_interval,
)
from kronos_studio.evaluation.walk_forward import WalkForward, last_cutoffs, walk_forward


def forecast_of(closes, highs=None, lows=None, last=100.0) -> Forecast:
    closes = np.asarray(closes, dtype=np.float32)
    s, h = closes.shape
    highs = closes if highs is None else np.asarray(highs, np.float32)
    lows = closes if lows is None else np.asarray(lows, np.float32)
    paths = np.stack([closes, highs, lows, closes, np.ones_like(closes), np.ones_like(closes)], -1)
    history = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=2, freq="D"),
                            **{c: [last, last] for c in BAR_COLUMNS}})
    return Forecast(pd.date_range("2024-01-03", periods=h, freq="D"), paths, paths.mean(0), history,
                    ForecastSettings(horizon=h, paths=s))


def test_level_probabilities_from_known_paths():
    fc = forecast_of([[101, 103, 104], [99, 98, 97], [100, 106, 102], [102, 101, 100.5]],
                     highs=[[102, 104, 104], [100, 99, 98], [101, 107, 103], [103, 102, 101]])
    up = level_probabilities(fc, 103.5)
    assert up.touch_side == "above" and up.p_touch == 0.5  # highs 104 and 107 reach it
    assert up.p_above_at_horizon == 0.25 and up.p_below_at_horizon == 0.75
    down = level_probabilities(fc, 98)
    assert down.touch_side == "below" and down.p_touch == 0.25  # only the falling path's low
    assert down.p_below_at_horizon == 0.25
    with pytest.raises(ValueError, match="positive price"):
        level_probabilities(fc, -1)


def test_max_drawdown_from_the_last_close():
    fc = forecast_of([[110, 99, 120], [90, 95, 100], [100, 100, 100]], last=100)
    np.testing.assert_allclose(max_drawdowns(fc.paths, float(fc.history['close'].iloc[-1])), [0.1, 0.1, 0.0], atol=1e-6)  # 110->99, 100->90, flat
    assert drawdown_summary(fc)["expected"] == pytest.approx(0.2 / 3, abs=1e-6)


def test_wilson_interval_and_skill():
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 3), round(hi, 3)) == (0.490, 0.943)  # textbook values
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert skill_score(0.8, 1.0) == pytest.approx(0.2) and skill_score(1.5, 1.0) == pytest.approx(-0.5)
    rng = np.random.default_rng(0)
    ref = rng.uniform(1, 2, 40)
    assert skill_interval(ref, ref) == (0.0, 0.0)  # the same scores: no skill, no doubt
    lo, hi = skill_interval(ref * 0.5 * rng.uniform(0.9, 1.1, 40), ref)  # about half the error
    assert 0.4 < lo < 0.5 < hi < 0.6
    lo, hi = skill_interval(rng.uniform(1, 2, 40), ref)  # unrelated noise of the same size: spans 0
    assert lo < 0 < hi
    edges, shares = pit_histogram((np.arange(1000) + 0.5) / 1000)
    assert len(edges) == 11 and np.allclose(shares, 0.1)


def test_last_cutoffs_are_the_latest_spaced_ones():
    assert last_cutoffs(100, 10, 3, spacing=10, min_history=20) == [70, 80, 90]
    assert last_cutoffs(100, 10, 50, spacing=30, min_history=20) == [30, 60, 90]  # history runs out
    with pytest.raises(ValueError):
        last_cutoffs(25, 10, 3, spacing=5, min_history=20)


def gbm(n, seed=0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({"timestamp": pd.date_range("2021-01-04", periods=n, freq="B"), "open": close,
                         "high": close * 1.002, "low": close * 0.998, "close": close, "volume": np.ones(n)})


def test_time_limit_keeps_the_newest_cutoffs():
    class Slow(RandomWalk):
        def draw(self, history, future, settings):
            time.sleep(0.05)
            return super().draw(history, future, settings)

    bars = gbm(400)
    settings = ForecastSettings(horizon=5, paths=20, lookback=60)
    cutoffs = last_cutoffs(400, 5, 30, spacing=5, min_history=60)
    res = walk_forward(Slow(), bars, settings, cutoffs, WalkForward(time_limit_s=0.12))
    assert 1 <= len(res.cutoffs) < 30 and res.meta["requested_cutoffs"] == 30
    assert res.cutoffs == cutoffs[-len(res.cutoffs):]  # the latest ones, in time order
    assert res.seeds == [30 - len(res.cutoffs) + i for i in range(len(res.cutoffs))]  # their own seeds
    full = walk_forward(RandomWalk(), bars, settings, cutoffs)
    np.testing.assert_array_equal(full.crps[-len(res.cutoffs):], res.crps)  # the same cut-offs, the same seeds


def test_report_scores_the_model_against_baselines_on_the_same_cutoffs():
    bars = gbm(600, seed=4)
    model = RandomWalk(paths=100, window=100, name="a model")
    report = evaluate(model, bars, ForecastSettings(horizon=5, lookback=120), TrustPlan(n_cutoffs=24))
    assert report.cutoffs == 24 and not report.cut_short
    assert all(r.cutoffs == report.model.cutoffs for r in report.baselines.values())
    table, skill = report.table(), report.skill()
    # baselines are looked up by key and shown by label
    assert list(report.baselines) == ["random_walk", "bootstrap", "persistence"] and REFERENCE == "random_walk"
    labels = [r.name for r in report.baselines.values()]
    assert list(table.index) == ["a model", *labels] and list(skill.index) == labels
    # skill is 1 - model / baseline on the numbers in the table
    for name in labels:
        assert skill.loc[name, "crps_skill"] == pytest.approx(1 - table.loc["a model", "crps_pct"] /
                                                              table.loc[name, "crps_pct"])
        assert skill.loc[name, "crps_skill_lo"] <= skill.loc[name, "crps_skill"] <= skill.loc[name, "crps_skill_hi"]
    b = report.badge()
    assert b["reference"] == report.baselines[REFERENCE].name == "random walk (hist. vol)"
    assert b["crps_skill"] == pytest.approx(skill.loc["random walk (hist. vol)", "crps_skill"])
    assert b["coverage"] == pytest.approx(report.model.covered.mean())
    rate, lo, hi, n = report.direction()
    assert n == 24 and lo <= rate <= hi
    cov = report.coverage_by_step()
    assert list(cov.index) == [1, 2, 3, 4, 5] and "held-out, calibrated" in cov.columns
    assert report.calibration.horizon == 5 and report.check.n_fit + report.check.n_test == 24


def test_track_record_round_trips_through_json():
    import json

    from kronos_studio.evaluation.trust import TrackRecord

    report = evaluate(RandomWalk(paths=50, window=100), gbm(400, seed=2),
                      ForecastSettings(horizon=4, lookback=100, top_p=0.9), TrustPlan(n_cutoffs=10))
    record = report.track_record()
    again = TrackRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again.numbers == record.numbers and again.settings == record.settings
    np.testing.assert_array_equal(again.calibration.shifts, report.calibration.shifts)


def test_a_record_of_the_earlier_band_rule_keeps_no_calibration_and_says_so():
    """A track record stored before bands were read at the Weibull positions: its fan calibration was
    fitted with the other rule and is not applied; its CRPS numbers (fair) stay."""
    from kronos_studio.evaluation.trust import STALE_BAND_NOTE, TrackRecord

    report = evaluate(RandomWalk(paths=50, window=100), gbm(400, seed=2), ForecastSettings(horizon=4, lookback=100),
                      TrustPlan(n_cutoffs=10))
    record = report.track_record()
    assert record.numbers["quantile_method"] == "weibull" and record.current() is record
    old = TrackRecord({k: v for k, v in record.numbers.items() if k != "quantile_method"}, record.settings,
                      record.calibration)
    now = old.current()
    assert now.calibration is None and STALE_BAND_NOTE in now.notes
    assert now.numbers["crps_pct"] == record.numbers["crps_pct"] and now.numbers["coverage"] == record.numbers["coverage"]
