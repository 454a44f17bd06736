"""A volatility forecast: realized volatility over the horizon read from the sample paths, beside the
statistical models' forecasts from the history and the history's own realized volatility.

Every reading is of the bar's log-return, as a volatility per bar and over the horizon (the square root of
the summed variance). Estimators of one bar's variance:

* close-to-close: r_t^2, r_t = ln(C_t / C_{t-1}) (the first bar from the last observed close);
* Parkinson (1980): ln(H_t / L_t)^2 / (4 ln 2);
* Garman–Klass (1980): 1/2 ln(H_t / L_t)^2 - (2 ln 2 - 1) ln(C_t / O_t)^2 (intrabar only: no overnight gap).

From the paths: each path's realized volatility, its mean variance over the paths as the forecast and a
central interval across paths. Models (fitted on the last ``MODEL_WINDOW`` bars of the history): GARCH(1,1)
and GJR-GARCH(1,1,1) with Student t (``kronos_studio.ensemble.members.fit_arch``), HAR on range variance
(``kronos_studio.ensemble.volatility.fit_har``) and EWMA (RiskMetrics, ``arch``'s ``EWMAVariance``).

A candle whose high sits below its body (or low above it) has its range widened to cover open and close,
and a zero-range bar reads as no movement (variance 0): both are counted and said, never a silent NaN.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

from kronos.config import BAR_COLUMNS, CLOSE
from kronos.errors import Notice
from kronos.lazy import np, pd
from kronos_studio.ensemble.bar_variance import GK_BODY, PARKINSON, range_variance
from kronos_studio.ensemble.members import fit_arch
from kronos_studio.ensemble.volatility import HarMember, fit_har
from kronos_studio.evaluation.path_stats import HIGH, LOW, OPEN

from .measures import RiskSettings

MODEL_WINDOW = 500  # bars of returns the models are fitted on (the studio's volatility members' window)
PATH_METHODS = ("close_to_close", "parkinson", "garman_klass")
MODEL_METHODS = ("garch", "gjr_garch", "har", "ewma")


@dataclass
class BarVariances:
    """[..., n] per-bar variance estimates and what had to be done to read them."""

    close_to_close: np.ndarray
    parkinson: np.ndarray
    garman_klass: np.ndarray
    widened: int  # candles whose range was widened to cover their open and close
    zero_range: int  # bars with high == low (read as variance 0)
    unreadable: int  # bars with a non-positive or missing price (NaN, left out of the means)
    bars: int

    def of(self, method: str) -> np.ndarray:
        return getattr(self, method)

    def notices(self, what: str) -> list[Notice]:
        out = []
        if self.unreadable:
            out.append(Notice(f"{self.unreadable} of {self.bars} {what} have a missing or non-positive price and are left "
                              "out of the realized volatility", values={"unreadable_bars": self.unreadable}))
        if self.widened:
            out.append(Notice(f"{self.widened} of {self.bars} {what} have a high below their open/close or a low above "
                              "it: their range is widened to cover the body for Parkinson and Garman–Klass",
                              kind="note", values={"widened_bars": self.widened}))
        if self.zero_range:
            out.append(Notice(f"{self.zero_range} of {self.bars} {what} have zero range (high = low): Parkinson and "
                              "Garman–Klass read them as no movement, which biases the range estimates down",
                              values={"zero_range_bars": self.zero_range}))
        return out


def bar_variances(bars: np.ndarray, previous_close: np.ndarray | float) -> BarVariances:
    """Per-bar variances of ``bars`` [..., n, 6] (columns ``BAR_COLUMNS``); ``previous_close``: the close
    before each series' first bar (scalar or [...])."""
    b = np.asarray(bars, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        o, h, lo, c = (np.where(b[..., k] > 0, b[..., k], np.nan) for k in (OPEN, HIGH, LOW, CLOSE))
        prev = np.concatenate([np.broadcast_to(np.asarray(previous_close, np.float64)[..., None], c[..., :1].shape),
                               c[..., :-1]], axis=-1)
        prev = np.where(prev > 0, prev, np.nan)
        r = np.log(c / prev)
        readable = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        top, bottom = np.fmax(h, lo), np.fmin(h, lo)  # a high below the low: read as the two swapped
        widened = readable & ((top < np.fmax(o, c)) | (bottom > np.fmin(o, c)) | (h < lo))
        top, bottom = np.fmax(top, np.fmax(o, c)), np.fmin(bottom, np.fmin(o, c))
        u = np.where(readable, np.log(top / bottom), np.nan)
        body = np.where(readable, np.log(c / o), np.nan)
    return BarVariances(r ** 2, PARKINSON * u ** 2, 0.5 * u ** 2 - GK_BODY * body ** 2, int(widened.sum()),
                        int((readable & (u == 0)).sum()), int((~readable).sum()), int(np.prod(c.shape)))


@dataclass(frozen=True)
class VolatilityReading:
    """One volatility forecast or measurement of a bar's log-return."""

    method: str
    source: str  # "paths", "model" or "history"
    per_bar: float  # sqrt of the mean per-bar variance
    horizon: float  # sqrt of the variance summed over the horizon (the history's: its per-bar x sqrt(horizon))
    low: float | None = None  # the per-bar volatility's interval across paths
    high: float | None = None


@dataclass
class VolatilityForecast:
    horizon: int
    readings: list[VolatilityReading]
    interval: float
    notices: list[Notice] = field(default_factory=list)

    def get(self, method: str, source: str | None = None) -> VolatilityReading:
        return next(r for r in self.readings if r.method == method and (source is None or r.source == source))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([r.__dict__ for r in self.readings])

    def to_dict(self) -> dict:
        return {"horizon": self.horizon, "interval": self.interval, "readings": [r.__dict__ for r in self.readings],
                "notices": [n.worded() for n in self.notices]}


def path_readings(paths: np.ndarray, last_close: float, interval: float) -> tuple[list[VolatilityReading], BarVariances]:
    """The paths' realized volatility by each of ``PATH_METHODS``: the mean variance over paths as the
    forecast, the ``interval`` of per-path volatility across paths."""
    v = bar_variances(paths, last_close)
    horizon = v.bars // max(1, len(paths))
    out = []
    for method in PATH_METHODS:
        with warnings.catch_warnings():  # a path of unreadable bars: NaN, left out below and said by the notices
            warnings.simplefilter("ignore", RuntimeWarning)
            per_path = np.nanmean(v.of(method), axis=-1)
        per_path = per_path[np.isfinite(per_path)]
        if not len(per_path):
            continue  # said by the notices (every bar unreadable)
        mean = float(per_path.mean())
        lo, hi = np.quantile(np.sqrt(per_path), [(1 - interval) / 2, (1 + interval) / 2])
        out.append(VolatilityReading(method, "paths", math.sqrt(mean), math.sqrt(mean * horizon), float(lo), float(hi)))
    return out, v


def history_readings(history: pd.DataFrame, window: int, horizon: int) -> tuple[list[VolatilityReading], BarVariances]:
    """The last ``window`` bars' realized volatility by each of ``PATH_METHODS``."""
    bars = history[list(BAR_COLUMNS)].to_numpy(np.float64)[-(window + 1):]
    v = bar_variances(bars[1:], bars[0, CLOSE])
    out = []
    for method in PATH_METHODS:
        x = v.of(method)
        if np.isfinite(x).any():
            mean = float(np.nanmean(x))
            out.append(VolatilityReading(method, "history", math.sqrt(mean), math.sqrt(mean * horizon)))
    return out, v


def log_returns(history: pd.DataFrame, window: int = MODEL_WINDOW) -> np.ndarray:
    close = history["close"].to_numpy(np.float64)[-(window + 1):]
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.diff(np.log(np.where(close > 0, close, np.nan)))
    return r[np.isfinite(r)]


def garch_variances(returns: np.ndarray, horizon: int, o: int = 0) -> np.ndarray | None:
    """[horizon] per-step variance forecasts of GARCH(1,1) (``o`` = 1: GJR) with Student t, None when it
    cannot be fitted."""
    fitted = fit_arch(returns, o=o)
    if fitted is None:
        return None
    fit, scale = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = fit.forecast(horizon=horizon, reindex=False).variance.to_numpy()[-1] * scale ** 2
    return v if np.isfinite(v).all() else None


def ewma_variances(returns: np.ndarray, horizon: int, lam: float) -> np.ndarray | None:
    """[horizon] EWMA (RiskMetrics) variance forecasts: flat at the next bar's."""
    from arch.univariate import EWMAVariance, ZeroMean

    r = returns[np.isfinite(returns)]
    scale = float(r.std()) if len(r) > 1 else 0.0
    if len(r) < 2 or scale == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ZeroMean(r / scale, volatility=EWMAVariance(lam), rescale=False).fit(disp="off")
        return res.forecast(horizon=horizon, reindex=False).variance.to_numpy()[-1] * scale ** 2


def har_variances(history: pd.DataFrame, horizon: int, window: int = MODEL_WINDOW) -> np.ndarray | None:
    """[horizon] HAR forecasts of the range variance (the studio's HAR member's), None under 100 bars."""
    v = range_variance(history.iloc[-(window + 1):])[1:]
    v = v[np.isfinite(v)]
    if len(v) < HarMember.min_bars or v.mean() <= 0:
        return None
    return fit_har(v).forecast(v, horizon)


def model_variances(history: pd.DataFrame, horizon: int, lam: float) -> dict[str, np.ndarray | None]:
    """method -> [horizon] per-step variance forecasts of each of ``MODEL_METHODS`` (None: not fitted)."""
    r = log_returns(history)
    return {"garch": garch_variances(r, horizon), "gjr_garch": garch_variances(r, horizon, o=1),
            "har": har_variances(history, horizon), "ewma": ewma_variances(r, horizon, lam)}


def volatility_forecast(forecast, settings: RiskSettings = RiskSettings(), models: bool = True) -> VolatilityForecast:
    """The volatility of ``forecast``'s paths over its horizon, beside the models' forecasts from its history
    (``models``) and the history's realized volatility over ``settings.history_window`` bars."""
    history = forecast.history
    last = float(history["close"].iloc[-1])
    paths = np.asarray(forecast.paths)
    horizon = paths.shape[1]
    readings, v = path_readings(paths, last, settings.vol_interval)
    notices = v.notices("sampled bars")
    past, hv = history_readings(history, settings.history_window, horizon)
    readings += past
    notices += hv.notices("history bars")
    if models:
        for method, var in model_variances(history, horizon, settings.ewma_lambda).items():
            if var is None:
                notices.append(Notice(f"{method} gave no forecast: too little history to fit it, or the fit failed",
                                      kind="note", values={"method": method}))
                continue
            readings.append(VolatilityReading(method, "model", math.sqrt(float(var.mean())), math.sqrt(float(var.sum()))))
    return VolatilityForecast(horizon, readings, settings.vol_interval, notices)
