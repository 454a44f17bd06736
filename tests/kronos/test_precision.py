"""bf16 forecasts match fp32 forecasts in distribution (they are not meant to match number for number)."""
from __future__ import annotations

import numpy as np
import pytest
from testkit import random_bars

from kronos.checkpoints import load_pair
from kronos.pipeline import KronosPipeline

SEEDS = 12  # independent runs per precision
ORIGINS = (200, 215, 230, 245)  # a small walk-forward: forecast from each origin, score against what came
HORIZON, PATHS, LOOKBACK = 8, 16, 64
TOLERANCE_SE = 4.0  # |mean difference| allowed, in standard errors of the difference (two-sided p ~ 6e-5)


def crps(samples: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Sample CRPS per bar: E|X - y| - E|X - X'| / 2; samples [paths, horizon], observed [horizon]."""
    spread = np.abs(samples[:, None] - samples[None]).mean(axis=(0, 1))
    return np.abs(samples - observed).mean(axis=0) - spread / 2


def walk_forward_scores(pipeline: KronosPipeline, seed: int) -> dict[str, float]:
    """One run over every origin (one batch): mean CRPS of the close, coverage of the 10-90% band, and the
    median forecast's log distance to the last close, each averaged over origins and horizon."""
    series = random_bars(max(ORIGINS) + HORIZON, seed=5)
    forecasts = pipeline.predict_batch([series.iloc[:o] for o in ORIGINS], HORIZON, paths=PATHS, seed=seed,
                                       lookback=LOOKBACK)
    scores = {"crps": [], "coverage": [], "median_move": []}
    for origin, fc in zip(ORIGINS, forecasts):
        closes = fc.paths[:, :, 3]
        observed = series["close"].to_numpy()[origin:origin + HORIZON]
        low, mid, high = np.quantile(closes, [0.1, 0.5, 0.9], axis=0)
        scores["crps"].append(crps(closes, observed).mean() / observed.mean())
        scores["coverage"].append(((observed >= low) & (observed <= high)).mean())
        scores["median_move"].append(np.log(mid / series["close"].iloc[origin - 1]).mean())
    return {k: float(np.mean(v)) for k, v in scores.items()}


@pytest.mark.parametrize("name", ["tiny"])
def test_bf16_matches_fp32_in_distribution(random_model, name):
    """Over independent seeds, the walk-forward's CRPS, band coverage and median forecast of bf16 runs
    differ from fp32 runs by no more than Monte-Carlo noise: a two-sample (Welch) comparison of the
    per-seed means, within TOLERANCE_SE standard errors. fp32 seeds and bf16 seeds are disjoint, so the
    two samples are independent."""
    folder = random_model(name).folder
    runs = {}
    for precision, seeds in (("fp32", range(SEEDS)), ("bf16", range(SEEDS, 2 * SEEDS))):
        pipeline = KronosPipeline(load_pair(folder, device="cpu", context=512, precision=precision))
        forecast = pipeline.predict(random_bars(80), 2, paths=2)
        assert forecast.provenance["precision"] == precision
        runs[precision] = [walk_forward_scores(pipeline, s) for s in seeds]
    for metric in ("crps", "coverage", "median_move"):
        a = np.array([r[metric] for r in runs["fp32"]])
        b = np.array([r[metric] for r in runs["bf16"]])
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert se > 0, f"{metric}: no Monte-Carlo spread at all, the comparison would say nothing"
        assert abs(a.mean() - b.mean()) <= TOLERANCE_SE * se, (
            f"{metric}: fp32 {a.mean():.5f} vs bf16 {b.mean():.5f}, {abs(a.mean() - b.mean()) / se:.1f} standard "
            f"errors apart (allowed {TOLERANCE_SE})")


def test_precision_is_checked():
    with pytest.raises(ValueError, match="precision"):
        load_pair("/nonexistent", precision="fp16")
