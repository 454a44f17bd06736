"""The quantile levels the studio reports, how their columns are named, and how a quantile is read from
sample paths (one home for all three)."""
from __future__ import annotations

from kronos.lazy import np

from .settings import Bounds

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)  # p10 / p50 / p90: what a forecast reports unless asked otherwise
# The quantile levels a forecast may be asked for: each strictly inside (0, 1), each once (a set: two levels one
# column would hold are refused). How many is the face's business (the service's limit).
LEVEL_BOUNDS = Bounds(gt=0, lt=1, min_items=1, unique=True, what="quantile levels")
BAND = (0.1, 0.9)  # the central 80% band: drawn as the fan, scored as coverage


# How a level's quantile is read from S draws: at the Weibull plotting position p(S + 1) of the sorted
# draws, where a draw's expected CDF value is its rank / (S + 1). The band of S draws of a distribution
# then holds a new draw of it with the nominal probability whatever S: 0.80 for p10-p90 (numpy's default
# "linear" rule reads p(S - 1) + 1, whose p10-p90 band of 30 draws holds 0.75, of 200 draws 0.79, so a
# fan's coverage would depend on its path count).
QUANTILE_METHOD = "weibull"


def path_quantiles(paths, levels, axis: int = 0) -> np.ndarray:
    """The ``levels`` quantiles of draws along ``axis`` (sample paths: axis 0), read as ``QUANTILE_METHOD``
    says; levels first in the result, like ``np.quantile``. Every band, table and score of the studio
    reads its quantiles here, so the band drawn is the band scored."""
    return np.quantile(np.asarray(paths), levels, axis=axis, method=QUANTILE_METHOD)


def draw_levels(n_draws: int) -> np.ndarray:
    """The level at which each of ``n_draws`` sorted draws is the quantile ``path_quantiles`` reads: the
    i-th smallest sits at i / (S + 1) (the same Weibull positions)."""
    return np.arange(1, n_draws + 1) / (n_draws + 1)


def level_name(level: float) -> str:
    """0.1 -> 'p10', 0.025 -> 'p2.5' (the suffix of quantile columns such as ``close_p10``)."""
    return f"p{round(level * 100, 6):g}"


def band_label(band: tuple[float, float] = BAND) -> str:
    """(0.1, 0.9) -> 'p10–p90'."""
    lo, hi = sorted(band)
    return f"{level_name(lo)}–{level_name(hi)}"


BAND_NAME = band_label(BAND)  # how the band is named on screen and in column names: 'p10–p90'


def band_nominal(band: tuple[float, float] = BAND) -> float:
    """The share of outcomes a calibrated band holds: 0.8 for p10–p90."""
    lo, hi = sorted(band)
    return round(hi - lo, 12)
