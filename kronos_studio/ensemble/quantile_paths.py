"""Sample paths from per-step quantiles, for members that forecast quantiles rather than paths.

A path is z_t = (e_1 + ... + e_t) / sqrt(t) with e iid N(0, 1): each z_t is standard normal, and two
steps of one path are correlated as a Brownian motion's (corr(z_s, z_t) = sqrt(s / t)), so paths
wander like prices rather than jumping between quantiles. Step t's value is the quantile function
read at z_t, piecewise linear in the normal score of the levels and extended linearly past the outermost
levels (a Gaussian tail): for Gaussian quantiles this reproduces the Gaussian exactly. Pure numpy.
"""
from __future__ import annotations

from scipy.special import ndtri

from kronos.lazy import np


def brownian_scores(paths: int, horizon: int, rng: np.random.Generator) -> np.ndarray:
    """[paths, horizon] standard-normal scores, correlated along each path like a Brownian motion."""
    steps = np.arange(1, horizon + 1)
    return np.cumsum(rng.standard_normal((paths, horizon)), axis=1) / np.sqrt(steps)


def read_quantiles(levels: np.ndarray, quantiles: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Values at normal ``scores`` [S, H] of the quantile functions given by ``quantiles`` [H, L] at
    ``levels`` [L] (sorted first, so crossing quantiles cannot make a non-monotone function)."""
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 1 or len(levels) < 2 or not ((levels > 0) & (levels < 1)).all():
        raise ValueError("need at least two quantile levels strictly between 0 and 1")
    order = np.argsort(levels)
    x = ndtri(levels[order])  # normal scores of the levels
    q = np.sort(np.asarray(quantiles, dtype=np.float64)[:, order], axis=1)
    out = np.empty(scores.shape, dtype=np.float64)
    for t in range(q.shape[0]):
        z = scores[:, t]
        inside = np.interp(z, x, q[t])
        lo_slope = (q[t, 1] - q[t, 0]) / (x[1] - x[0])
        hi_slope = (q[t, -1] - q[t, -2]) / (x[-1] - x[-2])
        out[:, t] = np.where(z < x[0], q[t, 0] + (z - x[0]) * lo_slope,
                             np.where(z > x[-1], q[t, -1] + (z - x[-1]) * hi_slope, inside))
    return out


def log_return_paths(levels, close_quantiles: np.ndarray, last_close: float, paths: int,
                     rng: np.random.Generator) -> np.ndarray:
    """[paths, H] close-to-close log-returns whose cumulative closes follow ``close_quantiles`` [H, L]
    (price units) at every step. The quantiles are read in log price, so paths stay positive."""
    log_q = np.log(np.maximum(np.asarray(close_quantiles, dtype=np.float64), 1e-12) / last_close)
    cumulative = read_quantiles(levels, log_q, brownian_scores(paths, log_q.shape[0], rng))
    return np.diff(cumulative, axis=1, prepend=0.0)
