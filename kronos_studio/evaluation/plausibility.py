"""Is a fan fit to be read at all? Sampled prices at or below zero, or a band far wider than anything
the history itself ever moved over the same horizon, mean the numbers around the fan are not worth
quoting (a mixed or mis-scaled series, or a model far outside its training data). Pure numpy."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.config import BAR_COLUMNS, CLOSE
from kronos.lazy import np
from kronos.quantiles import BAND, path_quantiles

PRICES = [BAR_COLUMNS.index(c) for c in ("open", "high", "low", "close")]
WIDTH_FACTOR = 4.0  # a band this many times wider than the history's own spread of h-bar returns
MIN_WINDOWS = 20  # h-bar return windows the history needs before its spread is a yardstick


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def check_fan(paths: np.ndarray, history_close: np.ndarray, band: tuple[float, float] = BAND) -> list[Problem]:
    """Problems of sampled ``paths`` [S, horizon, 6] (price units) given the history's closes."""
    problems = []
    prices = paths[:, :, PRICES]
    bad = (prices <= 0).any(axis=(1, 2))
    if bad.any():
        first = int(np.argmax((prices <= 0).any(axis=(0, 2))))
        problems.append(Problem("non_positive_prices", (
            f"{int(bad.sum())} of {len(paths)} sample paths reach a price at or below zero (first at step "
            f"{first + 1}): no quantile, probability or return computed from them is meaningful. Check the bars "
            "(mixed instruments, a wrong scale, unadjusted splits) or use another model.")))
    close = np.asarray(history_close, dtype=np.float64)
    horizon = paths.shape[1]
    last = close[-1]
    if len(close) > horizon + MIN_WINDOWS and last > 0 and (close > 0).all():
        moves = close[horizon:] / close[:-horizon] - 1
        lo, hi = path_quantiles(moves, sorted(band))
        seen = hi - lo
        q_lo, q_hi = path_quantiles(paths[:, -1, CLOSE], sorted(band))
        width = (q_hi - q_lo) / last
        if seen > 0 and width > WIDTH_FACTOR * seen:
            problems.append(Problem("implausible_band", (
                f"the {band[0]:.0%}–{band[1]:.0%} band at the horizon spans {width:.0%} of the last close, "
                f"{width / seen:.0f}x the {seen:.1%} that {horizon}-bar moves of this history spanned: the fan "
                "says more about the model than about this market. Check the bars or use another model.")))
    return problems
