"""Statistics of a fan's sample paths, in one place for every screen that shows them: the Forecast page
and its "Ask the paths", the Screener and `kronos batch`. Each path counts once; paths are arrays
[paths, horizon, 6] in price units with columns ``kronos.config.BAR_COLUMNS``.

* P(up), expected and median return: of the path's last value against the last observed one.
* The band: quantiles of the last value (``kronos.quantiles.BAND`` unless told).
* P(touch): a level above the last close is touched when a bar's high reaches it, one below when a bar's
  low does, at any bar of the horizon (intrabar).
* Maximum drawdown of a path: the largest fall of its close from the running peak, the last observed close
  included as the starting peak (close to close, as drawdowns are usually quoted).
* First-step gap: the first bar's median open against the last close (the jump before the first step).
"""
from __future__ import annotations

from dataclasses import dataclass

from kronos.config import BAR_COLUMNS, CLOSE
from kronos.errors import Fix, InputError
from kronos.lazy import np
from kronos.quantiles import BAND, path_quantiles

OPEN, HIGH, LOW = (BAR_COLUMNS.index(c) for c in ("open", "high", "low"))


def at_horizon(paths: np.ndarray, column: int = CLOSE) -> np.ndarray:
    """[S] each path's last value of ``column``."""
    return np.asarray(paths)[:, -1, column].astype(np.float64)


def prob_up(paths: np.ndarray, last: float, column: int = CLOSE) -> float:
    return float((at_horizon(paths, column) > last).mean())


def expected_return(paths: np.ndarray, last: float, column: int = CLOSE) -> float:
    return float(at_horizon(paths, column).mean() / last - 1) if last else float("nan")


def median_return(paths: np.ndarray, last: float, column: int = CLOSE) -> float:
    return float(np.median(at_horizon(paths, column)) / last - 1) if last else float("nan")


def band_at_horizon(paths: np.ndarray, band=BAND, column: int = CLOSE) -> tuple[float, float]:
    """(low, high) quantiles of the paths' last values."""
    lo, hi = path_quantiles(at_horizon(paths, column), sorted(band))
    return float(lo), float(hi)


def touched(paths: np.ndarray, level: float, last_close: float) -> np.ndarray:
    """[S] bool: the path reaches the price ``level`` intrabar within the horizon (by its highs for a level
    at or above the last close, by its lows for one below)."""
    p = np.asarray(paths)
    if level >= last_close:
        return p[:, :, HIGH].max(axis=1) >= level
    return p[:, :, LOW].min(axis=1) <= level


def max_drawdowns(paths: np.ndarray, last_close: float) -> np.ndarray:
    """[S] each path's maximum drawdown over the horizon, as a fraction of the running peak close."""
    close = np.asarray(paths)[:, :, CLOSE].astype(np.float64)
    series = np.concatenate([np.full((close.shape[0], 1), last_close), close], axis=1)
    return (1 - series / np.maximum.accumulate(series, axis=1)).max(axis=1)


def first_step_gap(paths: np.ndarray, last_close: float) -> float:
    first_open = float(np.median(np.asarray(paths)[:, 0, OPEN]))
    return first_open / last_close - 1 if last_close else float("nan")


# --- questions about one forecast (Ask the paths) --------------------------------------------------
@dataclass(frozen=True)
class LevelAnswer:
    level: float
    last_close: float
    p_above_at_horizon: float
    p_below_at_horizon: float
    p_touch: float  # reached intrabar at least once within the horizon
    touch_side: str  # "above" (reached by a high) or "below" (reached by a low)
    paths: int


def default_level(forecast) -> float:
    """The price "Ask the paths" starts from: the top of the band (``BAND``'s upper quantile, p90) of the close at the
    horizon, the fan's own upper edge where it ends. About 1 path in 10 ends above it and more touch it on the way,
    whatever the instrument's scale: a fixed +5% is out of reach of an hour of minute bars or a day of EUR/USD
    (0% / 100% / 0%) and inside every path of a volatile coin. Falls back to the last close where the paths give
    no positive price."""
    top = band_at_horizon(forecast.paths)[1]
    return top if np.isfinite(top) and top > 0 else float(forecast.history["close"].iloc[-1])


def level_probabilities(forecast, level: float) -> LevelAnswer:
    """Probabilities about ``level`` (a price) from the forecast's paths."""
    level = float(level)
    if not np.isfinite(level) or level <= 0:
        raise InputError(f"the level must be a positive price, got {level}", {"level": level},
                         Fix("give a price above 0"))
    last = float(forecast.history["close"].iloc[-1])
    end = at_horizon(forecast.paths)
    return LevelAnswer(level, last, float((end > level).mean()), float((end < level).mean()),
                       float(touched(forecast.paths, level, last).mean()), "above" if level >= last else "below",
                       forecast.paths.shape[0])


def drawdown_summary(forecast, levels=(0.5, 0.9)) -> dict[str, float]:
    """Expected maximum drawdown and some of its quantiles over the paths."""
    dd = max_drawdowns(forecast.paths, float(forecast.history["close"].iloc[-1]))
    return {"expected": float(dd.mean()), **{f"p{round(q * 100):g}": float(path_quantiles(dd, q)) for q in levels}}
