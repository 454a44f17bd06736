"""Volatility members: forecasters whose only job is the size of the next moves (zero mean), paths
[S, horizon, 6] in price units (``kronos_studio.forecasters.base.PathModel``).

* ``bar_variance.range_variance``: each bar's close-to-close variance read from its open, high, low and
  close (Garman–Klass plus the overnight gap), far less noisy than the squared return.
* ``HarMember``: a HAR model (daily, weekly, monthly components) of that range variance.
* ``GjrGarchMember``: the ``GarchMember`` of ``members`` with an asymmetric (leverage) term,
  GJR-GARCH(1,1,1), Student t; the same fitting and simulation code.
* ``intraday.time_of_day``: on intraday bars, each bar's share of the variance by its slot in the session;
  HAR and the GARCH members model the returns divided by it.
"""
from __future__ import annotations

from dataclasses import dataclass

from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import RandomWalk, candles_from_log_returns
from kronos_studio.forecasters.base import PathModel

from .bar_variance import range_variance
from .intraday import time_of_day, time_of_day_identity
from .members import CANDLE_WINDOW, GarchMember

HAR_SPANS = (1, 5, 22)  # bars in the daily, weekly and monthly components


def har_components(v: np.ndarray) -> np.ndarray:
    """[n - 21, 4] regressors of bars t = 21 .. n-1: 1, v_t and the means of v over the last 5 and the
    last 22 bars up to t."""
    cum = np.r_[0.0, np.cumsum(v)]
    start = HAR_SPANS[-1] - 1
    cols = [(cum[start + 1:] - cum[start + 1 - k:len(cum) - k]) / k for k in HAR_SPANS]
    return np.column_stack([np.ones(len(v) - start), *cols])


@dataclass
class HarFit:
    """v_{t+1} = b0 + b_d v_t + b_w mean(v_{t-4..t}) + b_m mean(v_{t-21..t}) + e, by least squares."""

    coef: np.ndarray  # [b0, b_d, b_w, b_m]
    fitted: np.ndarray  # [n - 22] one-step predictions of v_22 .. v_{n-1}, floored
    floor: float  # forecasts below this (a share of the mean variance) are raised to it
    ceiling: float  # and above this (the largest variance fitted on) lowered to it

    def forecast(self, v: np.ndarray, horizon: int) -> np.ndarray:
        """[horizon] variances after ``v``'s last bar, iterating the recursion on its own forecasts."""
        path = list(v[-HAR_SPANS[-1]:])
        for _ in range(horizon):
            x = har_components(np.asarray(path[-HAR_SPANS[-1]:]))[-1]
            path.append(float(np.clip(x @ self.coef, self.floor, self.ceiling)))
        return np.asarray(path[HAR_SPANS[-1]:])


def fit_har(v: np.ndarray) -> HarFit:
    """Least-squares HAR fit on the variance series ``v`` (at least 27 bars). Plain variance, not its
    log: the iterated linear forecast is then the conditional expectation of future variance (a log
    model's needs a Jensen correction that, for one-bar range variances, is large and uncertain), and
    a zero range (a bar that never traded) needs no special case."""
    x = har_components(v)
    coef, *_ = np.linalg.lstsq(x[:-1], v[HAR_SPANS[-1]:], rcond=None)
    # A least-squares fit on a noisy window can predict negative or explosive variances: forecasts are
    # kept between 5% of the mean variance and the largest one seen.
    floor, ceiling = 0.05 * float(v.mean()), float(v.max())
    return HarFit(coef, np.clip(x[:-1] @ coef, floor, ceiling), floor, max(ceiling, floor))


@dataclass
class HarMember(PathModel):
    """HAR on Garman–Klass range variance: the variance path over the horizon from the HAR recursion,
    log-returns = sqrt(variance) x standardized residual returns r_t / sqrt(fitted v_t) of the window,
    bootstrapped (their fat tails and skew kept; any level bias of ranges against close-to-close moves
    is carried by them), then centred (zero mean). Candles built as the baselines do."""

    paths: int | None = None  # None: the settings'
    window: int = 500  # bars the HAR is fitted on (refitted at every forecast)
    time_of_day: bool = True  # intraday bars: model them divided by their slot's share of the variance
    name: str = "HAR (Garman–Klass range variance)"
    key = "har"
    min_bars = 100  # fewer usable bars: the plain volatility random walk

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        horizon = settings.horizon
        bars = history.iloc[-(self.window + 1):]
        v = range_variance(bars)
        profile = time_of_day(bars, future, v) if self.time_of_day else None
        v = v[1:]  # the first bar has no previous close (no gap term)
        close = bars["close"].to_numpy(np.float64)
        r = np.diff(np.log(np.where(close > 0, close, np.nan)))
        if profile is not None:  # model the deseasonalised bars; the future's slots scale the steps back
            v, r = v / profile[0][1:], r / np.sqrt(profile[0][1:])
        usable = np.isfinite(v) & np.isfinite(r)  # a bar with an unreadable price is skipped
        v, r = v[usable], r[usable]
        if len(v) < self.min_bars or v.mean() <= 0:
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        fit = fit_har(v)
        z = r[HAR_SPANS[-1]:] / np.sqrt(fit.fitted)
        z = z - z.mean()
        rng = np.random.default_rng(settings.seed)
        variance = fit.forecast(v, horizon) * (1.0 if profile is None else profile[1])
        steps = z[rng.integers(len(z), size=(self.draws(settings), horizon))] * np.sqrt(variance)
        return candles_from_log_returns(history, steps, rng, CANDLE_WINDOW)

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window, "variance": "Garman–Klass + gap",
                "components": list(HAR_SPANS), **time_of_day_identity(self.time_of_day)}

    def identity(self) -> dict:
        return self.describe()


@dataclass
class GjrGarchMember(GarchMember):
    """GJR-GARCH(1,1,1), Student t: GARCH plus a term for negative returns (falls raise volatility more)."""

    name: str = "GJR-GARCH(1,1,1), Student t"
    key = "gjr_garch"
    o = 1

