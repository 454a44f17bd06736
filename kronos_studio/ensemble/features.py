"""What the meta-learner sees at a cut-off: the series' kind and recent behaviour, and each member's
forecast, all scale-free. Everything is computed from the history (bars up to the cut-off) and the
members' paths, which only ever see that history: nothing after a cut-off can reach its features.
Pure numpy/pandas."""
from __future__ import annotations

from scipy.special import ndtri

from data_sources.calendars import CRYPTO, FX
from data_sources.intervals import parse_interval
from data_sources.sources import SOURCES
from kronos.config import CLOSE
from kronos.lazy import np, pd
from kronos.quantiles import BAND, path_quantiles

ASSET_CLASSES = ("equity", "crypto", "fx", "other")
VOL_WINDOW, LONG_VOL_WINDOW, MOMENTUM_WINDOW = 20, 100, 20
GAUSSIAN_BAND = float(ndtri(BAND[1]) - ndtri(BAND[0]))  # the p10–p90 width of a standard normal


def asset_class(calendar: str | None, source: str = "") -> str:
    """'crypto' for 24/7 markets, 'fx' for the FX week, 'equity' for an exchange calendar, else 'other'."""
    registered = SOURCES.get(source)
    if calendar == CRYPTO or (registered is not None and registered.asset_class == "crypto"):
        return "crypto"
    if calendar == FX:
        return "fx"
    return "equity" if calendar else "other"


def interval_minutes(interval: str) -> float:
    return parse_interval(interval).total_seconds() / 60


def _log_returns(close: np.ndarray, window: int) -> np.ndarray:
    r = np.diff(np.log(np.maximum(close[-(window + 1):], 1e-12)))
    return r[np.isfinite(r)]


def series_features(history: pd.DataFrame, horizon: int, interval: str, asset: str) -> dict:
    """Features of the series at the cut-off (its last bar): kind, horizon, recent volatility and drift."""
    close = history["close"].to_numpy(np.float64)
    vol = float(_log_returns(close, VOL_WINDOW).std()) if len(close) > 2 else 0.0
    long_vol = float(_log_returns(close, LONG_VOL_WINDOW).std()) if len(close) > 2 else 0.0
    momentum = float(np.log(close[-1] / close[-min(len(close), MOMENTUM_WINDOW + 1)]))
    return {
        "asset_class": ASSET_CLASSES.index(asset),
        "log_interval_minutes": float(np.log(interval_minutes(interval))),
        "horizon": float(horizon),
        "log_vol": float(np.log(max(vol, 1e-8))),
        "vol_ratio": vol / long_vol if long_vol > 0 else 1.0,
        "momentum_z": momentum / (max(vol, 1e-8) * np.sqrt(MOMENTUM_WINDOW)),
    }


def _fan_summary(paths: np.ndarray, last_close: float) -> tuple[float, float, float]:
    """(p10–p90 band width, median move) of the log close at the horizon, and the band at the first step."""
    log_close = np.log(np.maximum(paths[:, :, CLOSE].astype(np.float64), 1e-12) / last_close)  # [S, H]
    lo, mid, hi = path_quantiles(log_close[:, -1], [BAND[0], 0.5, BAND[1]])
    first_lo, first_hi = path_quantiles(log_close[:, 0], BAND)
    return float(hi - lo), float(mid), float(first_hi - first_lo)


def member_features(member_paths: dict[str, np.ndarray], last_close: float, vol: float,
                    reference: str = "random_walk") -> dict[str, dict]:
    """Member key -> its forecast relative to the other members and to the series, never one model's
    absolute look: the log of its band width over the ``reference`` member's and over the median
    member's, its median move against the members' median move and against the series' own spread
    (vol x sqrt(h)), both in units of the reference's band, and how much of its own band the first step
    already holds (a fan that starts wide or collapses)."""
    fans = {k: _fan_summary(p, last_close) for k, p in member_paths.items()}
    horizon = next(iter(member_paths.values())).shape[1]
    unit = max(vol, 1e-8) * np.sqrt(horizon)
    # Without the reference among the members: the band a Gaussian random walk at the recent vol would draw.
    ref_band = max(fans[reference][0] if reference in fans else GAUSSIAN_BAND * unit, 1e-12)
    median_band = max(float(np.median([f[0] for f in fans.values()])), 1e-12)
    median_move = float(np.median([f[1] for f in fans.values()]))
    return {k: {"log_band_vs_reference": float(np.log(max(band, 1e-12) / ref_band)),
                "log_band_vs_median": float(np.log(max(band, 1e-12) / median_band)),
                "move_vs_median": (mid - median_move) / ref_band,
                "band_vs_series": band / unit,
                "first_step_share": first / max(band, 1e-12)}
            for k, (band, mid, first) in fans.items()}


def recent_vol(history: pd.DataFrame) -> float:
    r = _log_returns(history["close"].to_numpy(np.float64), VOL_WINDOW)
    return float(r.std()) if len(r) > 1 else 0.0
