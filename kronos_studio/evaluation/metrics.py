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


def score_paths(samples: np.ndarray, actual: np.ndarray, last: float) -> dict[str, np.ndarray]:
    """Every per-step score of one fan: ``samples`` [S, H] of one column, ``actual`` [H] what happened,
    ``last`` the value the forecast started from. The walk-forward and the forecast ledger both score
    with this, so a forecast scored later gives the numbers a backtest on the same cut-off gives.

    Returns arrays [H]: lower / median / upper (the band and p50), crps, covered (actual inside the
    band), pit, direction_hit (median and actual moved the same way from ``last``)."""
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(actual, dtype=np.float64)
    lo, med, hi = np.quantile(x, (BAND[0], 0.5, BAND[1]), axis=0)
    moved = med - last
    moved[np.abs(moved) <= 1e-6 * abs(last)] = 0  # float32 round-off of an unchanged price is no move
    return {"lower": lo, "median": med, "upper": hi, "crps": crps_samples(x, y), "covered": (y >= lo) & (y <= hi),
            "pit": pit_values(x, y), "direction_hit": np.sign(moved) == np.sign(y - last)}
