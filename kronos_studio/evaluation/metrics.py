"""Scores of a probabilistic forecast given as samples (paths on axis 0): CRPS, PIT, band coverage.
Pure numpy; nothing here imports torch."""
from __future__ import annotations

import numpy as np

from kronos.quantiles import BAND


def crps_samples(samples: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Sample CRPS: E|X - y| - ½ E|X - X'| over the empirical distribution of ``samples`` [S, ...].

    A point mass (S = 1, or identical samples) gives the absolute error."""
    x = np.sort(np.asarray(samples, dtype=np.float64), axis=0)
    y = np.asarray(actual, dtype=np.float64)
    s = x.shape[0]
    term1 = np.abs(x - y).mean(axis=0)
    # sum_{i,j} |x_i - x_j| = 2 sum_i (2i - s + 1) x_(i) for sorted x, i = 0..s-1
    weights = (2 * np.arange(s) - s + 1).reshape((s,) + (1,) * (x.ndim - 1))
    term2 = 2 * (weights * x).sum(axis=0) / (s * s)
    return term1 - 0.5 * term2


def pit_values(samples: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """The paths' quantile of the actual value: P(X < y) + ½ P(X = y) (mid-rank for ties)."""
    x = np.asarray(samples)
    y = np.asarray(actual)
    return (x < y).mean(axis=0) + 0.5 * (x == y).mean(axis=0)


def band_covers(samples: np.ndarray, actual: np.ndarray, band: tuple[float, float] = BAND) -> np.ndarray:
    lo, hi = np.quantile(samples, band, axis=0)
    return (actual >= lo) & (actual <= hi)
