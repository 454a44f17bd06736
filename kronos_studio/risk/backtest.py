"""The standard backtests of VaR, expected shortfall and volatility forecasts, on one observation per
non-overlapping period (overlapping horizon returns are dependent: the walk-forward of ``walk`` spaces its
cut-offs a horizon apart, or, asked for overlapping ones, runs these tests on their non-overlapping subsample and
compares losses with the overlap's autocorrelation allowed for).

Where ``vetted`` (0.1.0: numpy and scipy only, each statistic checked against R's rugarch, esback, GAS and the
published tables; ``tests/kronos_studio/risk/test_risk_battery.py`` holds it to them) has the test, it computes it
here; this module hands it our inputs and reads its results into ``TestResult``.

VaR (loss L_t, forecast VaR_t, exception when L_t > VaR_t, expected rate p = 1 - level):

* Kupiec (1995) proportion of failures: LR = -2 ln[(1-p)^(n-x) p^x] + 2 ln[(1-x/n)^(n-x) (x/n)^x] ~ chi2(1)
  (``vetted.var.kupiec``).
* Christoffersen (1998) independence: a first-order Markov chain of exceptions against independence, from
  the 2x2 transition counts, ~ chi2(1); conditional coverage = Kupiec + independence ~ chi2(2)
  (``vetted.var.christoffersen``).
* Engle–Manganelli (2004) dynamic quantile: the hits 1{exception} - p regressed on a constant, their own 4 lags
  and the VaR, DQ = b'X'Xb / (p (1 - p)); its p-value by simulating independent hits with the VaRs held fixed
  (``vetted.var.dynamic_quantile``, ``pvalue="monte_carlo"``: the chi-squared limit rejects a correct 99% VaR too
  often with 2.5 exceptions expected a year).
* The Basel traffic light: exceptions of a 99% VaR over the latest 250 observations, green while their
  binomial cumulative probability is under 95%, yellow under 99.99%, red from there (0-4, 5-9, 10+;
  ``vetted.frtb.binomial_zones``, which calls yellow amber).

ES: Acerbi–Szekely (2014) Z2 = 1 - sum(L_t I_t / ES_t) / (T p), with its p-value from simulating the losses
from each period's own forecast distribution (``vetted.es.acerbi_szekely`` with a sampler). Z2 < 0: the tail is
heavier than forecast.

VaR and ES jointly: the FZ0 loss (Fissler–Ziegel 2016; Patton, Ziegel and Chen 2019; ``vetted.es.fz0_loss``),
strictly consistent for the pair, so mean FZ0 ranks VaR/ES models and its differences are compared by
Diebold–Mariano and the model confidence set as the volatility losses are.

Volatility (proxy s_t of the variance, forecast h_t): QLIKE = s/h - ln(s/h) - 1 and MSE = (s - h)^2, the
losses robust to a noisy proxy (Patton 2011); Mincer–Zarnowitz (s on 1 and h, HAC errors, intercept 0 and
slope 1 tested jointly); Diebold–Mariano (mean loss difference over its HAC error); ``arch``'s model
confidence set.

Diebold–Mariano stays here rather than ``vetted.compare``: vetted's (R's ``dm.test``) counts autocovariances only
to the horizon less one, and loss differences of volatility and tail forecasts are autocorrelated at any horizon
(volatility clusters); this one takes a Newey–West variance with the automatic bandwidth, at least the overlap.

One verdict per model (``verdict``): its tests' p-values adjusted together by Holm's method
(``statsmodels``' ``multipletests``), a test counting against it when its adjusted p is below 5%; the traffic
light is a rule outside that family (red counts against, yellow is flagged), as vetted's reports treat it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from kronos.errors import Fix, InputError, Notice
from kronos.lazy import np, pd

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

    __test__ = False  # not a pytest test class

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


def hits_as_pnl(hits) -> tuple[np.ndarray, float]:
    """(P&L, VaR) that ``vetted`` reads as exactly these exceptions: it counts one where P&L < -VaR, so a hit is
    handed as a P&L of -1 and a miss as 0 against a VaR of 1/2 (the counting tests read nothing else)."""
    return np.where(np.asarray(hits, bool), -1.0, 0.0), 0.5


def kupiec(hits, level: float) -> TestResult:
    """Kupiec's proportion-of-failures test of the exception rate against 1 - ``level`` (``vetted.var.kupiec``)."""
    from vetted.var import kupiec as vetted_kupiec

    x = _hits(hits, level, "Kupiec test")
    got = vetted_kupiec(*hits_as_pnl(x), alpha=1 - level)
    d = got.detail
    return TestResult("kupiec_pof", got.statistic, got.p_value, 1,
                      {"observations": d["observations"], "exceptions": d["exceptions"], "expected": d["expected"],
                       "rate": d["rate"]})


def christoffersen(hits, level: float) -> tuple[TestResult, TestResult]:
    """Christoffersen's independence test (chi2(1)) and conditional coverage test (chi2(2))
    (``vetted.var.christoffersen``)."""
    from vetted.var import christoffersen as vetted_christoffersen

    x = _hits(hits, level, "Christoffersen test")
    got = vetted_christoffersen(*hits_as_pnl(x), alpha=1 - level)
    d = got.detail
    counts = {**d["transitions"], "pi01": d["pi01"], "pi11": d["pi11"]}
    return (TestResult("christoffersen_independence", d["lr_ind"], d["p_ind"], 1, counts),
            TestResult("christoffersen_conditional_coverage", got.statistic, got.p_value, 2,
                       {**counts, "kupiec_lr": d["lr_uc"], "exceptions": d["exceptions"],
                        "observations": d["observations"]}))


DQ_LAGS = 4  # the dynamic quantile test's own lags of the hits (Engle and Manganelli's choice)
DQ_SIMULATIONS = 2000  # independent hit sequences its p-value is simulated from


def dynamic_quantile(losses, var, level: float, seed: int = 0, simulations: int = DQ_SIMULATIONS) -> TestResult:
    """Engle and Manganelli's dynamic quantile test (``vetted.var.dynamic_quantile``, Monte Carlo p-value): are the
    exceptions of the VaRs ``var`` predictable from their own last ``DQ_LAGS`` and the VaR itself? A VaR below 0
    (a forecast gain at that level) has no test here: refused as ``ValueError``."""
    from vetted.var import dynamic_quantile as vetted_dq

    L, v = np.asarray(losses, np.float64).ravel(), np.asarray(var, np.float64).ravel()
    need = max(var_observations_needed(level), DQ_LAGS + 3)
    if len(L) < need:
        raise too_few("dynamic quantile test", need, len(L))
    got = vetted_dq(-L, v, alpha=1 - level, lags=DQ_LAGS, pvalue="monte_carlo", n_sims=simulations, seed=seed)
    return TestResult("dynamic_quantile", got.statistic, got.p_value, got.detail["df"],
                      {"observations": len(L), "exceptions": int((L > v).sum()), "lags": DQ_LAGS,
                       "simulations": simulations})


def basel_zone_of(n_exceptions: int, observations: int = BASEL_WINDOW, level: float = BASEL_LEVEL) -> str:
    """'green', 'yellow' or 'red': where the binomial cumulative probability of ``n_exceptions`` falls
    (``vetted.frtb.binomial_zones``, MAR99's rule; its amber is the Basel text's yellow)."""
    from vetted.frtb import binomial_zones

    zones = binomial_zones(observations, 1 - level, *BASEL_EDGES)
    return ("green" if n_exceptions <= zones["green"][1] else "yellow" if n_exceptions < zones["red_from"]
            else "red")


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
def acerbi_szekely_z2(losses, var, es, level: float, draws: Sequence[np.ndarray],
                      simulations: int = ES_SIMULATIONS, seed: int = 0) -> TestResult:
    """Acerbi–Szekely's unconditional ES test (``vetted.es.acerbi_szekely``): Z2 of the realized ``losses`` against
    the forecasts' ``var`` and ``es``, its p-value (1 + #{Z2* <= Z2}) / (1 + ``simulations``) from draws of every
    period's loss from ``draws`` (each period's forecast loss sample, e.g. its paths'). ``ValueError`` where the
    forecasts are no ES (an ES of 0 or below, or below its VaR, or a VaR below 0)."""
    from vetted.es import acerbi_szekely

    L, v, e = (np.asarray(a, np.float64).ravel() for a in (losses, var, es))
    need = var_observations_needed(level)
    if len(L) < need:
        raise too_few("Acerbi–Szekely ES test", need, len(L))
    if len(draws) != len(L):
        raise ValueError("one loss sample per period is needed")
    samples = [np.asarray(d, np.float64) for d in draws]

    def sampler(rng, n):  # [n, T] P&L: each period's loss drawn from its own forecast, negated
        return -np.stack([d[rng.integers(len(d), size=n)] for d in samples], axis=1)

    got = acerbi_szekely(-L, v, e, alpha=1 - level, sampler=sampler, n_sims=simulations, seed=seed)
    d = got.detail
    return TestResult("acerbi_szekely_z2", got.statistic, got.p_value, None,
                      {"observations": len(L), "exceptions": d["exceptions"], "simulations": simulations,
                       "z1": d["z1"], "zone": d["zone"], "amber_below": d["thresholds"]["amber"]})


def fz0(losses, var, es, level: float) -> np.ndarray:
    """[T] FZ0 loss of each period's joint (VaR, ES) forecast against its realized loss (``vetted.es.fz0_loss``;
    in return space, v = -VaR and e = -ES: -1{r <= v}(v - r)/(p e) + v/e + ln(-e) - 1). Lower is better; a period
    whose forecast is no ES (ES at or below 0, below the VaR, or a VaR below 0) has none: NaN."""
    from vetted.es import fz0_loss

    L, v, e = (np.asarray(a, np.float64).ravel() for a in (losses, var, es))
    ok = np.isfinite(L) & np.isfinite(v) & np.isfinite(e) & (v >= 0) & (e > 0) & (e >= v)
    out = np.full(len(L), np.nan)
    if ok.any():
        out[ok] = fz0_loss(-L[ok], v[ok], e[ok], alpha=1 - level)
    return out


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


def hac_lags(n: int, overlap: int = 1) -> int:
    """The Newey–West lags of ``n`` observations whose horizons overlap ``overlap`` at a time (1: none): the
    automatic rule, and at least ``overlap - 1`` (the autocorrelation overlapping returns carry by construction)."""
    return max(newey_west_lags(n), int(overlap) - 1)


def mincer_zarnowitz(proxy, forecast, lags: int | None = None, overlap: int = 1) -> MincerZarnowitz:
    """OLS of the proxy on 1 and the forecast with HAC (Newey–West, ``lags``; default ``hac_lags``) errors, and the
    joint F test of intercept 0 and slope 1."""
    import statsmodels.api as sm

    s, h = np.asarray(proxy, np.float64).ravel(), np.asarray(forecast, np.float64).ravel()
    if len(s) < MIN_PAIRS:
        raise too_few("Mincer–Zarnowitz regression", MIN_PAIRS, len(s))
    lags = hac_lags(len(s), overlap) if lags is None else lags
    res = sm.OLS(s, sm.add_constant(h, has_constant="add")).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    f = res.f_test((np.eye(2), np.array([0.0, 1.0])))
    joint = TestResult("mincer_zarnowitz_joint", float(np.squeeze(f.fvalue)), float(f.pvalue), None,
                       {"observations": len(s), "hac_lags": lags, "df_num": int(f.df_num), "df_denom": int(f.df_denom)})
    return MincerZarnowitz(float(res.params[0]), float(res.params[1]), float(res.bse[0]), float(res.bse[1]),
                           float(res.rsquared), joint)


def diebold_mariano(loss_a, loss_b, lags: int | None = None, overlap: int = 1) -> TestResult:
    """Diebold–Mariano test of equal mean loss: d = a - b regressed on a constant with HAC (Newey–West, ``lags``;
    default ``hac_lags``) errors; statistic mean(d) / se, p-value two-sided from the normal. Negative: ``a`` has
    the lower loss."""
    import statsmodels.api as sm

    d = np.asarray(loss_a, np.float64).ravel() - np.asarray(loss_b, np.float64).ravel()
    if len(d) < MIN_PAIRS:
        raise too_few("Diebold–Mariano test", MIN_PAIRS, len(d))
    lags = hac_lags(len(d), overlap) if lags is None else lags
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


# --- one verdict per model ------------------------------------------------------------------------
VERDICT_LEVEL = 0.05  # the family-wise level of a model's verdict
PASSES, FLAGGED, REJECTED, UNTESTED = "passes", "flagged", "rejected", "untested"


def verdict(tests: Sequence[tuple[str, TestResult]], level: float = VERDICT_LEVEL, untested: Sequence[str] = ()
            ) -> dict:
    """One verdict on a model from its ``tests`` ((label, result): every test of every position and level): the
    p-values adjusted together by Holm's method (``statsmodels``), a test counting against the model when its
    adjusted p is below ``level``; the traffic light is a rule outside the family: red counts against, yellow is
    flagged. ``rejected`` (any against), ``flagged`` (a yellow zone, none against), ``passes``, or ``untested`` when
    no test could run (too few cut-offs: "passes" would claim a test nobody ran), with the adjusted p-values, what
    counted against it in words and ``untested``, the positions and levels where no test ran (a verdict on the
    others does not speak for them: a 0.95 VaR that passes says nothing of the 0.99 tail)."""
    from statsmodels.stats.multitest import multipletests

    family = [(label, t) for label, t in tests if t.test != "basel_traffic_light" and np.isfinite(t.p_value)]
    zones = [(label, t.counts["zone"]) for label, t in tests if t.test == "basel_traffic_light"]
    adjusted = {}
    if family:
        adjusted = dict(zip([label for label, _ in family],
                            multipletests([t.p_value for _, t in family], method="holm")[1].tolist()))
    against = [f"{label} (Holm p {p:.3f})" for label, p in adjusted.items() if p < level]
    against += [f"{label}: red zone" for label, zone in zones if zone == "red"]
    yellow = [f"{label}: yellow zone" for label, zone in zones if zone == "yellow"]
    word = REJECTED if against else FLAGGED if yellow else PASSES if family or zones else UNTESTED
    return {"verdict": word, "family": len(family), "level": level, "holm_p": adjusted, "against": against,
            "flagged": yellow, "untested": list(untested)}
