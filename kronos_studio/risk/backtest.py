"""The standard backtests of VaR, expected shortfall and volatility forecasts, on one observation per
non-overlapping period (overlapping horizon returns are dependent: the walk-forward of ``walk`` spaces its
cut-offs a horizon apart, and these tests assume it).

VaR (loss L_t, forecast VaR_t, exception when L_t > VaR_t, expected rate p = 1 - level):

* Kupiec (1995) proportion of failures: LR = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x] ~ chi2(1).
* Christoffersen (1998) independence: a first-order Markov chain of exceptions against independence, from
  the 2x2 transition counts, ~ chi2(1); conditional coverage = Kupiec + independence ~ chi2(2).
* The Basel traffic light: exceptions of a 99% VaR over the latest 250 observations, green while their
  binomial cumulative probability is under 95%, yellow under 99.99%, red from there (0-4, 5-9, 10+).

ES: Acerbi–Szekely (2014) Z2 = 1 - sum(L_t I_t / ES_t) / (T p), with its p-value from simulating the losses
from each period's own forecast distribution (its sample paths). Z2 < 0: the tail is heavier than forecast.

Volatility (proxy s_t of the variance, forecast h_t): QLIKE = s/h - ln(s/h) - 1 and MSE = (s - h)^2, the
losses robust to a noisy proxy (Patton 2011); Mincer–Zarnowitz (s on 1 and h, HAC errors, intercept 0 and
slope 1 tested jointly); Diebold–Mariano (mean loss difference over its HAC error); ``arch``'s model
confidence set. Statistics come from ``scipy.stats``, ``statsmodels`` and ``arch``; only the likelihood
ratios above are written here (no maintained package has them).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from kronos.errors import Fix, InputError, Notice

BASEL_LEVEL = 0.99
BASEL_WINDOW = 250  # observations the traffic light counts exceptions over
BASEL_EDGES = (0.95, 0.9999)  # cumulative binomial probabilities where yellow and red begin
MIN_OBSERVATIONS = 20  # a VaR test's floor, whatever the level (and at least one expected exception)
MIN_PAIRS = 10  # the volatility regressions' and comparisons' floor
ES_SIMULATIONS = 2000  # draws of Z2 under the forecasts for its p-value


@dataclass(frozen=True)
class TestResult:
    """One test: its statistic, the chi-squared degrees of freedom (None: another reference), p-value and the
    counts behind it."""

    test: str
    statistic: float
    p_value: float
    df: int | None = None
    counts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def too_few(test: str, needed: int, have: int, setting: str = "cutoffs") -> InputError:
    """The refusal of a test on fewer observations than it needs."""
    return InputError(f"the {test} needs at least {needed} observations, there are {have}",
                      {"test": test, "needed": needed, "observations": have},
                      Fix(f"score at least {needed} non-overlapping cut-offs ({{setting}})", setting, needed))


def var_observations_needed(level: float) -> int:
    """Observations a VaR test at ``level`` needs: ``MIN_OBSERVATIONS``, and enough for one expected exception."""
    return max(MIN_OBSERVATIONS, math.ceil(round(1 / (1 - level), 9)))


def _hits(hits, level: float, test: str) -> np.ndarray:
    x = np.asarray(hits, dtype=bool).ravel()
    if len(x) < var_observations_needed(level):
        raise too_few(test, var_observations_needed(level), len(x))
    return x


def exceptions(losses, var) -> np.ndarray:
    """[n] bool: the realized loss went beyond the VaR."""
    return np.asarray(losses, np.float64) > np.asarray(var, np.float64)


def _bernoulli_loglik(n_miss: int, n_hit: int, rate: float) -> float:
    from scipy.special import xlogy

    return float(xlogy(n_miss, 1 - rate) + xlogy(n_hit, rate))


def kupiec(hits, level: float) -> TestResult:
    """Kupiec's proportion-of-failures test of the exception rate against 1 - ``level``."""
    from scipy.stats import chi2

    x = _hits(hits, level, "Kupiec test")
    n, k, p = len(x), int(x.sum()), 1 - level
    lr = -2 * (_bernoulli_loglik(n - k, k, p) - _bernoulli_loglik(n - k, k, k / n))
    lr = max(lr, 0.0)
    return TestResult("kupiec_pof", lr, float(chi2.sf(lr, 1)), 1,
                      {"observations": n, "exceptions": k, "expected": n * p, "rate": k / n})


def christoffersen(hits, level: float) -> tuple[TestResult, TestResult]:
    """Christoffersen's independence test (chi2(1)) and conditional coverage test (chi2(2))."""
    from scipy.stats import chi2

    x = _hits(hits, level, "Christoffersen test").astype(int)
    prev, nxt = x[:-1], x[1:]
    n00, n01 = int(((prev == 0) & (nxt == 0)).sum()), int(((prev == 0) & (nxt == 1)).sum())
    n10, n11 = int(((prev == 1) & (nxt == 0)).sum()), int(((prev == 1) & (nxt == 1)).sum())
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    markov = _bernoulli_loglik(n00, n01, pi01) + _bernoulli_loglik(n10, n11, pi11)
    lr_ind = max(-2 * (_bernoulli_loglik(n00 + n10, n01 + n11, pi) - markov), 0.0)
    counts = {"n00": n00, "n01": n01, "n10": n10, "n11": n11, "pi01": pi01, "pi11": pi11}
    pof = kupiec(x, level)
    lr_cc = pof.statistic + lr_ind
    return (TestResult("christoffersen_independence", lr_ind, float(chi2.sf(lr_ind, 1)), 1, counts),
            TestResult("christoffersen_conditional_coverage", lr_cc, float(chi2.sf(lr_cc, 2)), 2,
                       {**counts, "kupiec_lr": pof.statistic, "exceptions": pof.counts["exceptions"],
                        "observations": pof.counts["observations"]}))


def basel_zone_of(n_exceptions: int, observations: int = BASEL_WINDOW, level: float = BASEL_LEVEL) -> str:
    """'green', 'yellow' or 'red': where the binomial cumulative probability of ``n_exceptions`` falls."""
    from scipy.stats import binom

    cdf = binom.cdf(n_exceptions, observations, 1 - level)
    return "green" if cdf < BASEL_EDGES[0] else "yellow" if cdf < BASEL_EDGES[1] else "red"


def traffic_light(hits, level: float) -> TestResult:
    """The Basel traffic light of a 99% VaR on the latest 250 observations (statistic: the exceptions;
    ``p_value``: their binomial tail probability P(X >= x)). Refused for another level or fewer observations."""
    from scipy.stats import binom

    if not math.isclose(level, BASEL_LEVEL):
        raise InputError(f"the Basel traffic light judges a {BASEL_LEVEL:.0%} VaR, not a {level:.4g} one",
                         {"level": level}, Fix(f"include {BASEL_LEVEL} in {{setting}}", "levels"))
    x = np.asarray(hits, dtype=bool).ravel()
    if len(x) < BASEL_WINDOW:
        raise too_few("Basel traffic light", BASEL_WINDOW, len(x))
    window = x[-BASEL_WINDOW:]
    k = int(window.sum())
    return TestResult("basel_traffic_light", float(k), float(binom.sf(k - 1, BASEL_WINDOW, 1 - level)), None,
                      {"zone": basel_zone_of(k), "exceptions": k, "observations": BASEL_WINDOW,
                       "left_out": len(x) - BASEL_WINDOW})


def var_tests(hits, level: float, one_step: bool = True) -> tuple[dict[str, TestResult], list[Notice]]:
    """Kupiec, Christoffersen and (a 99% VaR of one-step returns: ``one_step``) the traffic light: each test
    that ``hits`` can hold, and a notice for each it cannot (how many it needs, how many there are)."""
    out, notices = {}, []
    for run in (lambda: [kupiec(hits, level)], lambda: list(christoffersen(hits, level))):
        try:
            out |= {t.test: t for t in run()}
        except InputError as e:
            notices.append(Notice(e.problem, e.fix, values=e.values))
            break  # the same floor: the next cannot run either
    if math.isclose(level, BASEL_LEVEL) and not one_step:
        notices.append(Notice("no Basel traffic light: it judges one-step VaRs, and these are of longer horizons",
                              (Fix("backtest a horizon of 1 bar ({setting})", "horizon", 1),), kind="note"))
    elif math.isclose(level, BASEL_LEVEL):
        try:
            out["basel_traffic_light"] = traffic_light(hits, level)
        except InputError as e:
            notices.append(Notice(e.problem, e.fix, values=e.values))
    return out, notices


# --- expected shortfall ---------------------------------------------------------------------------
def _z2(losses: np.ndarray, var: np.ndarray, es: np.ndarray, p: float) -> np.ndarray:
    """Acerbi–Szekely Z2 of losses [..., T] against VaR/ES [T]."""
    tail = np.where(losses > var, losses, 0.0)
    return 1 - (tail / es).sum(axis=-1) / (losses.shape[-1] * p)


def acerbi_szekely_z2(losses, var, es, level: float, draws: Sequence[np.ndarray],
                      simulations: int = ES_SIMULATIONS, seed: int = 0) -> TestResult:
    """Acerbi–Szekely's unconditional ES test: Z2 of the realized ``losses`` against the forecasts' ``var``
    and ``es``, its p-value P(Z2* <= Z2) from ``simulations`` draws of every period's loss from ``draws``
    (each period's forecast loss sample, e.g. its paths')."""
    L, v, e = (np.asarray(a, np.float64).ravel() for a in (losses, var, es))
    need = var_observations_needed(level)
    if len(L) < need:
        raise too_few("Acerbi–Szekely ES test", need, len(L))
    if len(draws) != len(L) or np.any(e <= 0):
        raise ValueError("one loss sample per period and positive ES forecasts are needed")
    p = 1 - level
    rng = np.random.default_rng(seed)
    sims = np.stack([np.asarray(d, np.float64)[rng.integers(len(d), size=simulations)] for d in draws], axis=1)
    z_sim = _z2(sims, v, e, p)
    z = float(_z2(L, v, e, p))
    return TestResult("acerbi_szekely_z2", z, float((z_sim <= z).mean()), None,
                      {"observations": len(L), "exceptions": int((L > v).sum()), "simulations": simulations,
                       "z2_simulated_p5": float(np.quantile(z_sim, 0.05))})


# --- volatility -----------------------------------------------------------------------------------
def _positive(forecast, name: str) -> np.ndarray:
    h = np.asarray(forecast, np.float64)
    if not np.all(np.isfinite(h)) or np.any(h <= 0):
        raise InputError(f"{name} must be positive variances", {name: int((~(h > 0)).sum())},
                         Fix("give variance forecasts above 0"))
    return h


def qlike(proxy, forecast) -> np.ndarray:
    """QLIKE loss s/h - ln(s/h) - 1 of variance forecasts ``forecast`` against the proxy ``proxy`` (0 at s = h).
    A zero proxy has no QLIKE in this form: refused (``volatility_losses`` leaves such periods out and says so)."""
    h = _positive(forecast, "the forecasts")
    s = _positive(proxy, "the proxies")
    ratio = s / h
    return ratio - np.log(ratio) - 1


def mse_variance(proxy, forecast) -> np.ndarray:
    return (np.asarray(proxy, np.float64) - np.asarray(forecast, np.float64)) ** 2


LOSSES = {"qlike": qlike, "mse": mse_variance}


def volatility_losses(proxy, forecasts: Mapping[str, np.ndarray], loss: str = "qlike"
                      ) -> tuple[pd.DataFrame, list[Notice]]:
    """[T, models] ``loss`` of each model's variance forecasts against ``proxy``; periods whose proxy is 0 (no
    QLIKE) or not a number are left out of every model alike, and said."""
    s = np.asarray(proxy, np.float64)
    keep = np.isfinite(s) & ((s > 0) if loss == "qlike" else np.ones(len(s), bool))
    notices = []
    if not keep.all():
        notices.append(Notice(f"{int((~keep).sum())} of {len(s)} periods have a zero or unreadable realized variance "
                              f"and are left out of the {loss} comparison", values={"left_out": int((~keep).sum())}))
    frame = pd.DataFrame({k: LOSSES[loss](s[keep], np.asarray(h, np.float64)[keep]) for k, h in forecasts.items()})
    return frame, notices


def newey_west_lags(n: int) -> int:
    """Newey–West's (1994) automatic bandwidth: floor(4 (n / 100)^(2/9))."""
    return int(math.floor(4 * (n / 100) ** (2 / 9)))


@dataclass(frozen=True)
class MincerZarnowitz:
    intercept: float
    slope: float
    intercept_se: float
    slope_se: float
    r_squared: float
    joint: TestResult  # intercept 0 and slope 1, F test with the HAC covariance

    def to_dict(self) -> dict:
        return asdict(self)


def mincer_zarnowitz(proxy, forecast, lags: int | None = None) -> MincerZarnowitz:
    """OLS of the proxy on 1 and the forecast with HAC (Newey–West, ``lags``; default the automatic rule)
    errors, and the joint F test of intercept 0 and slope 1."""
    import statsmodels.api as sm

    s, h = np.asarray(proxy, np.float64).ravel(), np.asarray(forecast, np.float64).ravel()
    if len(s) < MIN_PAIRS:
        raise too_few("Mincer–Zarnowitz regression", MIN_PAIRS, len(s))
    lags = newey_west_lags(len(s)) if lags is None else lags
    res = sm.OLS(s, sm.add_constant(h, has_constant="add")).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    f = res.f_test((np.eye(2), np.array([0.0, 1.0])))
    joint = TestResult("mincer_zarnowitz_joint", float(np.squeeze(f.fvalue)), float(f.pvalue), None,
                       {"observations": len(s), "hac_lags": lags, "df_num": int(f.df_num), "df_denom": int(f.df_denom)})
    return MincerZarnowitz(float(res.params[0]), float(res.params[1]), float(res.bse[0]), float(res.bse[1]),
                           float(res.rsquared), joint)


def diebold_mariano(loss_a, loss_b, lags: int | None = None) -> TestResult:
    """Diebold–Mariano test of equal mean loss: d = a - b regressed on a constant with HAC (Newey–West)
    errors; statistic mean(d) / se, p-value two-sided from the normal. Negative: ``a`` has the lower loss."""
    import statsmodels.api as sm

    d = np.asarray(loss_a, np.float64).ravel() - np.asarray(loss_b, np.float64).ravel()
    if len(d) < MIN_PAIRS:
        raise too_few("Diebold–Mariano test", MIN_PAIRS, len(d))
    lags = newey_west_lags(len(d)) if lags is None else lags
    if np.ptp(d) == 0:  # the same losses: nothing to tell apart
        return TestResult("diebold_mariano", 0.0, 1.0, None, {"observations": len(d), "hac_lags": lags,
                                                              "mean_difference": float(d.mean())})
    res = sm.OLS(d, np.ones((len(d), 1))).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    return TestResult("diebold_mariano", float(res.tvalues[0]), float(res.pvalues[0]), None,
                      {"observations": len(d), "hac_lags": lags, "mean_difference": float(d.mean())})


def model_confidence_set(losses: pd.DataFrame, size: float = 0.1, reps: int = 1000, block_size: int | None = None,
                         seed: int = 0) -> pd.DataFrame:
    """``arch.bootstrap.MCS`` of the models (columns of ``losses``): each model's MCS p-value and whether it is
    in the set at ``size``."""
    from arch.bootstrap import MCS

    if len(losses) < MIN_PAIRS:
        raise too_few("model confidence set", MIN_PAIRS, len(losses))
    same = [b for i, a in enumerate(losses.columns) for b in losses.columns[i + 1:]
            if np.allclose(losses[a], losses[b], equal_nan=True)]
    if same:  # arch's elimination divides by the spread of their difference, 0 here, and fails
        raise InputError(f"no model confidence set: {', '.join(same)} scored the very same losses as another model",
                         {"same": same})
    mcs = MCS(losses, size=size, reps=reps, block_size=block_size, seed=seed)
    mcs.compute()
    p = mcs.pvalues.iloc[:, 0]
    return pd.DataFrame({"mcs_pvalue": p, "included": [m in set(mcs.included) for m in p.index]}).reindex(losses.columns)
