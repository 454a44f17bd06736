"""The champion/challenger gate: does a freshly trained model serve? Torch-free: it reads walk-forward
results (``EvalResult``) of the challenger and the champion on the same held-out cut-offs.

The rule (``decide``): promote only when
  1. the challenger's fair CRPS is lower than the champion's beyond noise: the paired 95% bootstrap
     interval of the per-cut-off CRPS difference (challenger - champion, % of the last close, cut-offs
     resampled together; ``scipy.stats.bootstrap``) lies wholly below 0; and
  2. its p10-p90 coverage is no further from the nominal 80% than the champion's plus
     ``COVERAGE_TOLERANCE``.
Otherwise it is rejected, with the numbers that decided it: a challenger that forecast exactly as the champion
on every cut-off (the interval is the point 0) is said to have changed nothing, not to be worse.

The same paired interval decides between risk models (``decide_losses``: the risk champion, on the per-cut-off
FZ0 loss of VaR and ES, with QLIKE of the variance in the place of coverage).

Every decision also says how small a difference it could have seen (``detectable_difference``): the minimum
detectable effect of the paired differences at the gate's level and ``GATE_POWER``. On a few noisy cut-offs it
is large, and a rejection then says little (docs/learning.md, "Can the gate promote?").
"""
from __future__ import annotations

from dataclasses import dataclass

from kronos.lazy import np
from kronos.quantiles import BAND, BAND_NAME

GATE_LEVEL = 0.95  # the confidence of the CRPS-difference interval that must exclude 0
COVERAGE_TOLERANCE = 0.05  # how much further from nominal the challenger's band coverage may be than the champion's
MIN_GATE_CUTOFFS = 5  # fewer held-out cut-offs than this cannot tell a better model from noise
GATE_RESAMPLES = 2000  # bootstrap resamples of the interval (seeded: the same scores, the same decision)
GATE_POWER = 0.8  # the power each decision's smallest detectable difference is quoted at
NOMINAL_COVERAGE = BAND[1] - BAND[0]

PROMOTED, REJECTED = "promoted", "rejected"


@dataclass(frozen=True)
class Decision:
    decision: str  # PROMOTED or REJECTED
    reason: str
    diff: float  # mean CRPS difference, challenger - champion (% of the last close)
    diff_ci95: tuple[float, float]
    coverage: dict  # role -> p10-p90 coverage
    detectable: float = float("nan")  # the smallest mean difference it detects at GATE_POWER (% of the last close)
    unchanged: bool = False  # the challenger scored exactly as the champion on every cut-off


def crps_difference_interval(challenger: np.ndarray, champion: np.ndarray,
                             level: float = GATE_LEVEL) -> tuple[float, float]:
    """Paired bootstrap interval of mean(challenger - champion) over per-cut-off scores."""
    from scipy.stats import bootstrap

    diff = np.asarray(challenger, np.float64) - np.asarray(champion, np.float64)
    if np.ptp(diff) == 0:  # every cut-off the same difference: the interval is that point
        return float(diff[0]), float(diff[0])
    res = bootstrap((diff,), np.mean, confidence_level=level, n_resamples=GATE_RESAMPLES, method="percentile",
                    random_state=np.random.default_rng(0))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def detectable_difference(diff, level: float = GATE_LEVEL, power: float = GATE_POWER) -> float:
    """The smallest mean difference the gate tells from noise with probability ``power``, given the spread of
    the paired per-cut-off differences ``diff``: the paired t-test's minimum detectable effect (two-sided at
    1 - ``level``, as the interval must exclude 0; ``statsmodels``' ``TTestPower``) times their standard
    deviation. NaN with fewer than 2 cut-offs or differences without spread."""
    from statsmodels.stats.power import TTestPower

    diff = np.asarray(diff, np.float64)
    spread = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    if not spread > 0:
        return float("nan")
    effect = TTestPower().solve_power(nobs=len(diff), alpha=1 - level, power=power, alternative="two-sided")
    return float(effect) * spread


def decide(challenger, champion) -> Decision:
    """The gate on two ``EvalResult`` of the same cut-offs (the champion's: the base model's when the series
    has no champion)."""
    if list(challenger.cutoffs) != list(champion.cutoffs):
        raise ValueError("the gate compares models on the same cut-offs")
    return decide_scores(challenger.crps_pct_by_cutoff(), champion.crps_pct_by_cutoff(),
                         float(challenger.covered.mean()), float(champion.covered.mean()))


def decide_scores(challenger_crps, champion_crps, challenger_coverage: float, champion_coverage: float) -> Decision:
    """The gate on per-cut-off fair CRPS (% of the last close, the same cut-offs in the same order) and the
    p10-p90 coverage of each: what ``decide`` reads from two ``EvalResult``, and the ensemble's meta-learners
    are scored by on recorded forecasts (``kronos_studio.ensemble.gated``)."""
    ours, theirs = np.asarray(challenger_crps, np.float64), np.asarray(champion_crps, np.float64)
    if ours.shape != theirs.shape or ours.ndim != 1 or not len(ours):
        raise ValueError("the gate compares models on the same cut-offs")
    lo, hi = crps_difference_interval(ours, theirs)
    diff = float((ours - theirs).mean())
    cov_c, cov_k = float(challenger_coverage), float(champion_coverage)
    gap_c, gap_k = abs(cov_c - NOMINAL_COVERAGE), abs(cov_k - NOMINAL_COVERAGE)
    coverage = {"challenger": cov_c, "champion": cov_k}
    n = len(ours)
    if np.array_equal(ours, theirs):  # the same forecasts' scores: nothing to judge, and nothing worse
        return Decision(REJECTED, f"the challenger changed nothing: its CRPS equals the champion's on all {n} cut-offs "
                                  "(difference 0 on each)", 0.0, (lo, hi), coverage, unchanged=True)
    detectable = detectable_difference(ours - theirs)
    interval = f"CRPS difference {diff:+.3f}% (95% interval {lo:+.3f}% to {hi:+.3f}%) over {n} cut-offs"
    sees = (f"; these {n} cut-offs detect a difference of {detectable:.3f}% ({detectable / theirs.mean():.0%} of the "
            f"champion's CRPS) at {GATE_POWER:.0%} power" if np.isfinite(detectable) and theirs.mean() > 0 else "")
    if hi >= 0:
        why = "lies above 0: the challenger is worse" if lo > 0 else "does not exclude 0"
        return Decision(REJECTED, f"{interval} {why}{sees}", diff, (lo, hi), coverage, detectable)
    if gap_c > gap_k + COVERAGE_TOLERANCE:
        return Decision(REJECTED, f"{interval}, but its {BAND_NAME} coverage {cov_c:.2f} is {gap_c:.2f} from "
                                  f"{NOMINAL_COVERAGE:.2f}, the champion's {cov_k:.2f} only {gap_k:.2f} (tolerance "
                                  f"{COVERAGE_TOLERANCE})", diff, (lo, hi), coverage, detectable)
    return Decision(PROMOTED, f"{interval} excludes 0; coverage {cov_c:.2f} vs the champion's {cov_k:.2f}",
                    diff, (lo, hi), coverage, detectable)


def decide_losses(challenger, champion, loss: str, second=None, second_loss: str = "") -> Decision:
    """The gate on any per-cut-off loss (lower is better; the same cut-offs in the same order): promote only when the
    paired 95% bootstrap interval of the mean difference (challenger - champion; ``crps_difference_interval``) lies
    wholly below 0 and, when ``second`` (challenger's, champion's per-cut-off ``second_loss``) is given, the
    interval of that difference does not lie wholly above 0 (the challenger is not worse on it beyond noise). The
    risk champion's rule (``kronos_studio.risk.champion``): FZ0 of VaR and ES, then QLIKE of the variance."""
    ours, theirs = np.asarray(challenger, np.float64), np.asarray(champion, np.float64)
    if ours.shape != theirs.shape or ours.ndim != 1 or not len(ours):
        raise ValueError("the gate compares models on the same cut-offs")
    n = len(ours)
    lo, hi = crps_difference_interval(ours, theirs)
    diff = float((ours - theirs).mean())
    if np.array_equal(ours, theirs):
        return Decision(REJECTED, f"the challenger changed nothing: its {loss} equals the champion's on all {n} cut-offs",
                        0.0, (lo, hi), {}, unchanged=True)
    detectable = detectable_difference(ours - theirs)
    interval = f"{loss} difference {diff:+.4f} (95% interval {lo:+.4f} to {hi:+.4f}) over {n} cut-offs"
    sees = (f"; these {n} cut-offs detect a difference of {detectable:.4f} at {GATE_POWER:.0%} power"
            if np.isfinite(detectable) else "")
    other = {}
    if second is not None:
        a, b = (np.asarray(x, np.float64) for x in second)
        slo, shi = crps_difference_interval(a, b)
        other = {f"{second_loss}_challenger": float(a.mean()), f"{second_loss}_champion": float(b.mean()),
                 f"{second_loss}_diff_ci95": (slo, shi)}
    if hi >= 0:
        why = "lies above 0: the challenger is worse" if lo > 0 else "does not exclude 0"
        return Decision(REJECTED, f"{interval} {why}{sees}", diff, (lo, hi), other, detectable)
    if other and other[f"{second_loss}_diff_ci95"][0] > 0:
        slo, shi = other[f"{second_loss}_diff_ci95"]
        return Decision(REJECTED, f"{interval}, but its {second_loss} is worse beyond noise (difference interval "
                                  f"{slo:+.4f} to {shi:+.4f})", diff, (lo, hi), other, detectable)
    return Decision(PROMOTED, f"{interval} excludes 0" + (
        f"; {second_loss} {other[f'{second_loss}_challenger']:.3f} vs the champion's "
        f"{other[f'{second_loss}_champion']:.3f}" if other else ""), diff, (lo, hi), other, detectable)
