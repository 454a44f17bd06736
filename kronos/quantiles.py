"""The quantile levels the studio reports and how their columns are named (one home for both)."""
from __future__ import annotations

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)  # p10 / p50 / p90: what a forecast reports unless asked otherwise
BAND = (0.1, 0.9)  # the central 80% band: drawn as the fan, scored as coverage


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
