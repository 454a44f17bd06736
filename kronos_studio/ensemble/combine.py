"""How the ensemble combines its members' forecasts at a cut-off. Every method is fitted on training
cut-offs and compared with the others on the latest ones (``train.fit_meta``); the meta-learner file
records which one won and the parameters of all of them.

* ``softmax``: weights softmax(-predicted log CRPS ratio / temperature) from the LightGBM model
  (``meta.py``), which reads the cut-off's features; a linear pool of the members' paths.
* ``stacking``: fixed CRPS-optimal linear-pool weights per asset class and interval: the weights on the
  simplex that minimise the pool's mean fair CRPS on the training cut-offs. The CRPS of a pool of
  sample sets is exact in the weights: CRPS(sum w_k F_k, y) = w·a - ½ wᵀBw with a_k = E|X_k - y| and
  B_kl = E|X_k - X_l| (B_kk by the fair pair sum), a convex quadratic on the simplex.
* ``quantile``: quantile averaging (Vincentization): the weighted mean of the members' quantiles at
  every step, turned into paths by ``quantile_paths``; weights fitted like stacking, on the quantile
  score (2 × the mean pinball loss over the levels, the CRPS read on that grid of levels).
* ``equal``: equal weights, the fallback when a meta-learner cannot be used for these members.

Every method then scales the paths around the per-step median by its ``spread``. Scores are in % of
the last close, so series of any price level pool. Pure numpy/scipy.
"""
from __future__ import annotations

from scipy.optimize import minimize

from kronos.config import CLOSE
from kronos.lazy import np, pd
from kronos.quantiles import path_quantiles
from kronos_studio.evaluation.baselines import candles_from_log_returns
from kronos_studio.evaluation.metrics import pair_abs_sum

from .members import CANDLE_WINDOW
from .quantile_paths import log_return_paths

METHODS = ("softmax", "stacking", "quantile")
EQUAL = "equal"
ALL = "all"  # the weights fitted on every group together: used where a group has none of its own
QUANTILE_LEVELS = np.arange(1, 20) / 20  # 0.05 .. 0.95


def group_key(asset: str, interval: str) -> str:
    return f"{asset}/{interval}"


def _closes(paths: np.ndarray, last: float) -> np.ndarray:
    """[S, H] closes in % of the last close."""
    return np.asarray(paths, np.float64)[:, :, CLOSE] / abs(last) * 100


def cross_abs_sum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[H] sums over every pair (i, j) of |x_i - y_j| at each step, for x [S, H] and y [T, H]. By sorting y,
    O((S + T) log T) a step where the pairs are S x T: what keeps hundreds of paths a member cheap to fit.
    Each x_i against the c samples of y at or below it (sum b) and the rest: x_i c - b + (sum y - b) - x_i (T - c)."""
    ys = np.sort(y, axis=0)
    below = np.vstack([np.zeros((1, ys.shape[1])), np.cumsum(ys, axis=0)])  # [T + 1, H]: sums of the first c
    count = np.stack([np.searchsorted(ys[:, h], x[:, h], side="right") for h in range(x.shape[1])], axis=1)
    b = np.take_along_axis(below, count, axis=0)
    return (x * (2 * count - ys.shape[0]) - 2 * b + below[-1]).sum(axis=0)


def pool_terms(member_paths: dict[str, np.ndarray], keys: list[str], actual: np.ndarray,
               last: float) -> tuple[np.ndarray, np.ndarray]:
    """(a [K], B [K, K]) of one cut-off, averaged over the steps, so that the fair CRPS of the linear
    pool with weights w is w·a - ½ wᵀBw (in % of the last close)."""
    x = [_closes(member_paths[k], last) for k in keys]
    y = np.asarray(actual, np.float64) / abs(last) * 100
    a = np.array([np.abs(xk - y).mean() for xk in x])
    b = np.empty((len(keys), len(keys)))
    for i, xi in enumerate(x):
        for j in range(i, len(keys)):
            d = pair_abs_sum(xi) if i == j else cross_abs_sum(xi, x[j])  # [H]
            s_i, s_j = xi.shape[0], x[j].shape[0]
            pairs = s_i * (s_i - 1) if i == j else s_i * s_j  # fair: a set's own pairs skip i == j
            b[i, j] = b[j, i] = float((d / max(pairs, 1)).mean())
    return a, b


def pool_crps(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(w @ a - 0.5 * w @ b @ w)


def simplex_minimize(fun, grad, k: int) -> np.ndarray:
    """The weights on the simplex minimising ``fun`` (SLSQP from equal weights)."""
    res = minimize(fun, np.full(k, 1 / k), jac=grad, method="SLSQP", bounds=[(0.0, 1.0)] * k,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones(k)}],
                   options={"maxiter": 500, "ftol": 1e-12})
    w = np.clip(res.x, 0, None)
    return w / w.sum()


def stacking_weights(terms: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """CRPS-optimal linear-pool weights over cut-offs with ``pool_terms``."""
    a = np.mean([t[0] for t in terms], axis=0)
    b = np.mean([t[1] for t in terms], axis=0)
    return simplex_minimize(lambda w: pool_crps(w, a, b), lambda w: a - b @ w, len(a))


def member_quantiles(member_paths: dict[str, np.ndarray], keys: list[str], last: float) -> np.ndarray:
    """[K, H, L] every member's close quantiles at ``QUANTILE_LEVELS``, in % of the last close."""
    return np.stack([path_quantiles(_closes(member_paths[k], last), QUANTILE_LEVELS).T for k in keys])


def quantile_weights(quantiles: list[np.ndarray], actuals: list[np.ndarray]) -> np.ndarray:
    """Weights on the simplex minimising the mean over cut-offs of the quantile score of the weighted mean
    quantiles (``quantiles`` [K, H, L] and ``actuals`` [H] in % of each cut-off's last close; the horizon
    may differ between cut-offs, each counts once)."""
    levels = len(QUANTILE_LEVELS)
    q = np.concatenate([qn.reshape(qn.shape[0], -1) for qn in quantiles], axis=1)  # [K, M]
    y = np.concatenate([np.repeat(np.asarray(yn, np.float64), levels) for yn in actuals])  # [M]
    tau = np.concatenate([np.tile(QUANTILE_LEVELS, len(yn)) for yn in actuals])
    share = np.concatenate([np.full(len(yn) * levels, 1 / (len(yn) * levels)) for yn in actuals]) / len(actuals)

    def fun(w):
        diff = y - w @ q
        return float(2 * share @ np.maximum(tau * diff, (tau - 1) * diff))

    def grad(w):  # d pinball / d q = (1{y < q} - tau), times d q / d w_k = q_k
        return 2 * q @ (share * ((y < w @ q) - tau))

    return simplex_minimize(fun, grad, q.shape[0])


def quantile_average_closes(member_paths: dict[str, np.ndarray], weights: dict[str, float], last: float,
                            paths: int, rng: np.random.Generator) -> np.ndarray:
    """[paths, H] closes whose quantiles at every step are the weighted mean of the members' close quantiles."""
    keys = [k for k, w in weights.items() if w > 0]
    w = np.array([weights[k] for k in keys])
    mean_q = np.einsum("k,khl->hl", w / w.sum(), member_quantiles(member_paths, keys, last)) * abs(last) / 100
    return last * np.exp(np.cumsum(log_return_paths(QUANTILE_LEVELS, mean_q, last, paths, rng), axis=1))


def quantile_average_paths(history: pd.DataFrame, member_paths: dict[str, np.ndarray], weights: dict[str, float],
                           paths: int, seed: int) -> np.ndarray:
    """[paths, H, 6] candles around ``quantile_average_closes`` (built as the simulated members' are)."""
    last = float(history["close"].iloc[-1])
    rng = np.random.default_rng(seed)
    closes = quantile_average_closes(member_paths, weights, last, paths, rng)
    log_returns = np.diff(np.log(closes), axis=1, prepend=np.log(last))
    return candles_from_log_returns(history, log_returns, rng, CANDLE_WINDOW).astype(np.float32)
