"""Scores of a probabilistic forecast given as samples (paths on axis 0): CRPS, PIT, band coverage.
Pure numpy; nothing here imports torch."""
from __future__ import annotations

from kronos.lazy import np
from kronos.quantiles import BAND, path_quantiles

CRPS_ESTIMATOR = "fair"  # recorded beside every stored score, so scores of another estimator are never mixed in


def crps_samples(samples: np.ndarray, actual: np.ndarray, fair: bool = True) -> np.ndarray:
    """CRPS of ``samples`` [S, ...] (draws of the forecast distribution) against ``actual``.

    fair (default): mean |X_i - y| - sum_{i != j} |X_i - X_j| / (2 S (S - 1)). Its expectation is the
    CRPS of the distribution the samples come from, whatever S, so forecasts scored with different
    path counts (a model's 30 paths, a baseline's 200) are comparable. The plain estimator
    (``fair=False``, the CRPS of the empirical distribution: the pair sum over S²) is biased upward by
    E|X - X'| / (2S), which punishes the forecast with fewer paths. One sample (S = 1) scores the
    absolute error with either."""
    x = np.sort(np.asarray(samples, dtype=np.float64), axis=0)
    y = np.asarray(actual, dtype=np.float64)
    s = x.shape[0]
    pairs = s * (s - 1) if fair else s * s
    return np.abs(x - y).mean(axis=0) - 0.5 * _sorted_pair_abs_sum(x) / max(pairs, 1)


def pair_abs_sum(samples: np.ndarray) -> np.ndarray:
    """sum over i, j of |x_i - x_j| for ``samples`` [S, ...] (both orders of each pair), by sorting."""
    return _sorted_pair_abs_sum(np.sort(np.asarray(samples, dtype=np.float64), axis=0))


def _sorted_pair_abs_sum(x: np.ndarray) -> np.ndarray:
    """``pair_abs_sum`` of samples already sorted along axis 0: the k-th smallest of S is above k samples and
    below S - 1 - k, so the sum is 2 sum_k (2k - S + 1) x_(k)."""
    s = x.shape[0]
    weights = (2 * np.arange(s) - s + 1).reshape((s,) + (1,) * (x.ndim - 1))
    return 2 * (weights * x).sum(axis=0)


def pit_values(samples: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """The paths' quantile of the actual value: P(X < y) + ½ P(X = y) (mid-rank for ties)."""
    x = np.asarray(samples)
    y = np.asarray(actual)
    return (x < y).mean(axis=0) + 0.5 * (x == y).mean(axis=0)


def band_covers(samples: np.ndarray, actual: np.ndarray, band: tuple[float, float] = BAND) -> np.ndarray:
    lo, hi = path_quantiles(samples, band)
    return (actual >= lo) & (actual <= hi)


def score_paths(samples: np.ndarray, actual: np.ndarray, last: float) -> dict[str, np.ndarray]:
    """Every per-step score of one fan: ``samples`` [S, H] of one column, ``actual`` [H] what happened,
    ``last`` the value the forecast started from. The walk-forward and the forecast ledger both score
    with this, so a forecast scored later gives the numbers a backtest on the same cut-off gives.

    Returns arrays [H]: lower / median / upper (the band and p50), crps, covered (actual inside the
    band), pit, direction_hit (median and actual moved the same way from ``last``)."""
    x = np.asarray(samples, dtype=np.float64)
    y = np.asarray(actual, dtype=np.float64)
    lo, med, hi = path_quantiles(x, (BAND[0], 0.5, BAND[1]))
    moved = med - last
    moved[np.abs(moved) <= 1e-6 * abs(last)] = 0  # float32 round-off of an unchanged price is no move
    return {"lower": lo, "median": med, "upper": hi, "crps": crps_samples(x, y), "covered": (y >= lo) & (y <= hi),
            "pit": pit_values(x, y), "direction_hit": np.sign(moved) == np.sign(y - last)}
