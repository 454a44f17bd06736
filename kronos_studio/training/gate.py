"""The champion/challenger gate: does a freshly trained model serve? Torch-free: it reads walk-forward
results (``EvalResult``) of the challenger and the champion on the same held-out cut-offs.

The rule (``decide``): promote only when
  1. the challenger's fair CRPS is lower than the champion's beyond noise: the paired 95% bootstrap
     interval of the per-cut-off CRPS difference (challenger - champion, % of the last close, cut-offs
     resampled together; ``scipy.stats.bootstrap``) lies wholly below 0; and
  2. its p10-p90 coverage is no further from the nominal 80% than the champion's plus
     ``COVERAGE_TOLERANCE``.
Otherwise it is rejected, with the numbers that decided it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kronos.quantiles import BAND, BAND_NAME

GATE_LEVEL = 0.95  # the confidence of the CRPS-difference interval that must exclude 0
COVERAGE_TOLERANCE = 0.05  # how much further from nominal the challenger's band coverage may be than the champion's
MIN_GATE_CUTOFFS = 5  # fewer held-out cut-offs than this cannot tell a better model from noise
GATE_RESAMPLES = 2000  # bootstrap resamples of the interval (seeded: the same scores, the same decision)
NOMINAL_COVERAGE = BAND[1] - BAND[0]

PROMOTED, REJECTED = "promoted", "rejected"


@dataclass(frozen=True)
class Decision:
    decision: str  # PROMOTED or REJECTED
    reason: str
    diff: float  # mean CRPS difference, challenger - champion (% of the last close)
    diff_ci95: tuple[float, float]
    coverage: dict  # role -> p10-p90 coverage


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
    interval = f"CRPS difference {diff:+.3f}% (95% interval {lo:+.3f}% to {hi:+.3f}%) over {len(ours)} cut-offs"
    if hi >= 0:
        why = "does not exclude 0" if lo < 0 else "lies above 0: the challenger is worse"
        return Decision(REJECTED, f"{interval} {why}", diff, (lo, hi), coverage)
    if gap_c > gap_k + COVERAGE_TOLERANCE:
        return Decision(REJECTED, f"{interval}, but its {BAND_NAME} coverage {cov_c:.2f} is {gap_c:.2f} from "
                                  f"{NOMINAL_COVERAGE:.2f}, the champion's {cov_k:.2f} only {gap_k:.2f} (tolerance "
                                  f"{COVERAGE_TOLERANCE})", diff, (lo, hi), coverage)
    return Decision(PROMOTED, f"{interval} excludes 0; coverage {cov_c:.2f} vs the champion's {cov_k:.2f}",
                    diff, (lo, hi), coverage)
