"""A risk model's own distribution of the horizon return, read for VaR, ES and the variance forecast without
sampling noise: the seam between a model that knows its distribution (the risk desk's standard models,
``baselines``: each answers ``horizon_return(history, future, settings)``) and one that only samples paths
(Kronos, the ensemble, Chronos-2: read from its paths by ``measures.tail_risk``).

R is the horizon's log-return of the close (the sum of its bars' close-to-close log-returns). A position's loss is
its simple return's, as from paths: 1 - e^R for a long, e^R - 1 for a short.

* ``ParametricReturn``: R = mu + sigma Z, Z a unit-variance normal or Student t with nu degrees of freedom. VaR is
  exact: the loss at Z's a-quantile q_a (1 - e^(mu - sigma q_a) for a long, e^(mu + sigma q_a) - 1 for a short).
  ES is the closed-form tail mean of Z, e_a = E[Z | Z >= q_a] (normal: phi(q_a) / (1 - a); unit-variance t:
  sqrt((nu - 2) / nu) f_nu(t_a) (nu + t_a^2) / ((nu - 1)(1 - a)), t_a the t's a-quantile), put through the same
  exponential as the VaR (1 - e^(mu - sigma e_a), e^(mu + sigma e_a) - 1). That is the tail mean of the log-return
  read as a simple return: by Jensen's inequality it differs from the simple return's own tail mean by about
  half the tail's variance of R (a few parts in a million of the ES at a daily 1% volatility), and it is the only
  finite reading for a Student-t short, whose e^R has no tail mean at all.
* ``EmpiricalReturn``: R equally likely to be each of its values (historical simulation's window, filtered
  historical simulation's scaled residuals or draws): VaR and ES exactly as from paths (``measures.tail_risk``:
  the studio's quantile rule, the Acerbi–Tasche tail mean).

``variance`` is the model's forecast of the realized variance the backtest scores it against: the expected sum of
the horizon's squared one-bar log-returns. ``losses`` stands for the loss distribution where draws are needed (the
Acerbi–Szekely ES test simulates each period's loss from them): a parametric model's at ``LOSS_GRID`` evenly spaced
quantile levels, an empirical one's its own values (or their quantiles at those levels when there are more).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from kronos.config import CLOSE
from kronos.lazy import np

from .measures import position_losses, tail_risk

LOSS_GRID = 2000  # quantile levels (i - 1/2) / n a distribution's draws are read at for the ES test's simulation


def _grid(n: int = LOSS_GRID) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


@dataclass(frozen=True)
class HorizonReturn:
    """The base: ``variance`` (expected summed squared one-bar log-returns over the horizon), ``method`` (how the
    distribution is read, in words) and ``fallback`` (the model could not be fitted: this is the plain volatility
    random walk's, as its paths would be)."""

    variance: float
    method: str
    fallback: bool = False

    def tail(self, position: str, level: float) -> tuple[float, float]:
        """(VaR, ES) of ``position``'s loss at ``level``, as positive fractions of the position's value."""
        raise NotImplementedError

    def losses(self, position: str) -> np.ndarray:
        """Draws that stand for ``position``'s loss distribution."""
        raise NotImplementedError

    def scaled(self, factor: float) -> HorizonReturn:
        """The same distribution with its variance times ``factor``: the log-return R read as sqrt(factor) R
        (a volatility rescaling: ``recalibrate``'s filtered scaling)."""
        raise NotImplementedError


def standardized_tail(level: float, nu: float | None = None) -> tuple[float, float]:
    """(q_a, e_a): the ``level`` quantile of a unit-variance normal (``nu`` None) or Student t with ``nu`` degrees
    of freedom, and its upper tail mean E[Z | Z >= q_a]."""
    from scipy.stats import norm, t

    if nu is None:
        q = float(norm.ppf(level))
        return q, float(norm.pdf(q)) / (1 - level)
    unit = math.sqrt((nu - 2) / nu)  # a t_nu's standard deviation is sqrt(nu / (nu - 2))
    q = float(t.ppf(level, nu))
    return unit * q, unit * float(t.pdf(q, nu)) * (nu + q * q) / ((nu - 1) * (1 - level))


@dataclass(frozen=True)
class ParametricReturn(HorizonReturn):
    """R = ``loc`` + ``scale`` Z, Z a unit-variance normal (``nu`` None) or Student t."""

    loc: float = 0.0
    scale: float = 0.0
    nu: float | None = None

    def _loss(self, position: str, z):
        r = np.exp(self.loc + self.scale * np.asarray(z, np.float64)) - 1
        return position_losses(r, position)

    def tail(self, position: str, level: float) -> tuple[float, float]:
        q, e = standardized_tail(level, self.nu)
        side = -1.0 if position == "long" else 1.0  # a long loses in Z's lower tail, a short in its upper one
        return float(self._loss(position, side * q)), float(self._loss(position, side * e))

    def losses(self, position: str) -> np.ndarray:
        from scipy.stats import norm, t

        u = _grid()
        z = norm.ppf(u) if self.nu is None else t.ppf(u, self.nu) * math.sqrt((self.nu - 2) / self.nu)
        return self._loss(position, z)

    def scaled(self, factor: float) -> ParametricReturn:
        root = math.sqrt(factor)
        return replace(self, variance=self.variance * factor, loc=self.loc * root, scale=self.scale * root)


@dataclass(frozen=True)
class EmpiricalReturn(HorizonReturn):
    """R equally likely to be each of ``values`` (log-returns over the horizon)."""

    values: np.ndarray = None

    def _losses(self, position: str) -> np.ndarray:
        return position_losses(np.exp(np.asarray(self.values, np.float64)) - 1, position)

    def tail(self, position: str, level: float) -> tuple[float, float]:
        t = tail_risk(self._losses(position), level, errors=False)
        return t.var, t.es

    def losses(self, position: str) -> np.ndarray:
        x = self._losses(position)
        return x if len(x) <= LOSS_GRID else np.quantile(x, _grid(), method="inverted_cdf")

    def scaled(self, factor: float) -> EmpiricalReturn:
        return replace(self, variance=self.variance * factor,
                       values=np.asarray(self.values, np.float64) * math.sqrt(factor))


def paths_return(paths: np.ndarray, last_close: float, variance: float, method: str = "") -> EmpiricalReturn:
    """A sampled model's horizon return read from its paths [S, H, 6]: R equally likely to be each path's log-return
    of the close from ``last_close`` to the horizon's end (its VaR and ES are then exactly those of the paths,
    ``measures.tail_risk``); ``variance`` its forecast of the realized variance (the walk's, from the paths'
    candles). Paths without a readable close are left out; a close of 0 or below is read as a total loss of a long
    (a log-return of ln 1e-12), as its simple return of -1 would be."""
    ratio = np.asarray(paths, np.float64)[:, -1, CLOSE] / float(last_close)
    ratio = ratio[np.isfinite(ratio)]
    values = np.log(np.maximum(ratio, 1e-12))
    return EmpiricalReturn(float(variance), method or f"empirical: the {len(values)} paths", False, values)


def reads_own_distribution(model) -> bool:
    """Whether ``model`` answers its own horizon-return distribution (``horizon_return``) instead of only paths."""
    return callable(getattr(model, "horizon_return", None))
