"""The risk desk's standard models. Each answers its own distribution of the horizon return
(``horizon_return(history, future, settings, levels)``, a ``distribution.HorizonReturn``), so a risk backtest reads
its VaR, ES and variance forecast from that distribution, with no sampling noise; each is also a forecaster
(``kronos_studio.forecasters.base.PathModel``: sample paths [S, horizon, 6]) where paths are wanted (their candles
for the Garman–Klass proxy, a forecast of them on any face).

* ``HistoricalSimulation``: the last 250 bars' close-to-close log-returns. One bar: VaR and ES are the empirical
  quantile and tail mean of those 250 returns. Beyond one bar: of the window's 250 - h + 1 overlapping h-bar
  returns (the window's own aggregation, its autocorrelation kept; not the square-root-of-time rule). Its variance
  forecast: h times the window's mean squared return.
* ``EwmaNormal``: normal log-returns with the RiskMetrics EWMA variance (lambda 0.94, ``arch``), closed form;
  beyond one bar the variance is h times the next bar's (RiskMetrics' square-root-of-time rule).
* ``GarchT`` (the ensemble's ``GarchMember``, ``GARCH-t``) and ``GjrGarchT`` (its ``GjrGarchMember``,
  GJR-GARCH(1,1,1)-t: a leverage term, ``arch_model(..., p=1, o=1, q=1, dist="t")``): Student t with the fit's
  nu and ``arch``'s analytic variance forecast, closed form; beyond one bar the horizon's log-return is read as a
  Student t with the same nu and the summed variance (the sum of GARCH-t steps is not exactly t: its tails thin
  as the horizon grows, so this reading errs on the wide side).
* ``LogHar``: HAR in logs (Corsi 2009) on each bar's range variance (``ensemble.bar_variance.range_variance``,
  Garman–Klass with the gap; the studio's HAR member's target): log v_{t+1} on 1, log v_t and the means of log v
  over the last 5 and 22 bars, least squares; the variance forecast exp(forecast + s^2/2) (s^2 the residual
  variance: the lognormal mean), iterated beyond one bar on its own forecasts. Returns: that variance times the
  window's standardized residual returns r_t / sqrt(fitted v_t), centred, empirical (their fat tails kept; beyond
  one bar their one-bar shape is scaled by the summed variance). On intraday bars it models the bars divided by
  their time-of-day slot's share of the variance, as the HAR member does.
* ``FilteredHistoricalSimulation``: GARCH(1,1)-t's variance with its own standardized residuals (Barone-Adesi et
  al. 1999). One bar: exactly the next bar's volatility times each residual of the window. Beyond one bar:
  ``arch``'s bootstrap forecast with ``fhs_draws(levels)`` draws (at least 10,000, and at least the highest
  level's ``paths_needed``).

A model that cannot be fitted at a cut-off (too little history, a failed fit) is read there as the plain
volatility random walk (normal, the last 60 bars' volatility), as its paths would be, and the backtest counts
those cut-offs. Candles are built around the closes as the studio's baselines do (``candles_from_log_returns``).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.ensemble.bar_variance import range_variance
from kronos_studio.ensemble.intraday import time_of_day, time_of_day_identity
from kronos_studio.ensemble.members import CANDLE_WINDOW, GarchMember, fit_arch
from kronos_studio.ensemble.volatility import HAR_SPANS, GjrGarchMember, HarFit, HarMember, har_components
from kronos_studio.evaluation.baselines import Bootstrap, RandomWalk, candles_from_log_returns
from kronos_studio.forecasters.base import PathModel

from .distribution import EmpiricalReturn, HorizonReturn, ParametricReturn
from .measures import RISKMETRICS_LAMBDA, paths_needed
from .volatility import ewma_variances, log_returns

HS_WINDOW = 250  # bars of returns historical simulation reads (a trading year, as the Basel rules take)
FHS_MIN_DRAWS = 10_000  # draws of filtered historical simulation beyond one bar, at least
LOG_FLOOR = 0.05  # a bar's range variance is read as at least this share of the window's mean (a bar without trades has 0, and no log)


def fhs_draws(levels) -> int:
    """Draws filtered historical simulation reads a horizon of more than one bar from: enough for the highest
    level's ES (``paths_needed``), and ``FHS_MIN_DRAWS`` at least."""
    return max(FHS_MIN_DRAWS, paths_needed(max(levels)))


def random_walk_return(history: pd.DataFrame, horizon: int) -> HorizonReturn:
    """The plain volatility random walk's horizon return (what a model that cannot be fitted draws its paths from):
    normal, the last ``CANDLE_WINDOW`` bars' volatility, square-root-of-time."""
    r = log_returns(history, CANDLE_WINDOW)
    variance = horizon * (float(r.var()) if len(r) > 1 else 0.0)
    return ParametricReturn(variance, f"normal, the last {CANDLE_WINDOW} bars' volatility (the model could not be "
                            "fitted here)", True, 0.0, math.sqrt(variance), None)


@dataclass
class HistoricalSimulation(Bootstrap):
    paths: int | None = None
    window: int = HS_WINDOW
    name: str = "historical simulation (last 250 bars)"
    key = "historical_simulation"

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def horizon_return(self, history: pd.DataFrame, future, settings: ForecastSettings, levels) -> HorizonReturn:
        r = log_returns(history, self.window)
        h = settings.horizon
        if len(r) < max(h, 2):
            return random_walk_return(history, h)
        method = (f"empirical: the window's {len(r)} returns" if h == 1 else
                  f"empirical: the window's {len(r) - h + 1} overlapping {h}-bar returns")
        return EmpiricalReturn(h * float(np.mean(r ** 2)), method, False, np.convolve(r, np.ones(h), "valid"))


@dataclass
class EwmaNormal(PathModel):
    paths: int | None = None
    lam: float = RISKMETRICS_LAMBDA
    window: int = 500  # bars of returns the recursion runs over (its start is forgotten at 0.94 ** 500)
    name: str = "EWMA-normal (RiskMetrics, lambda 0.94)"
    key = "ewma_normal"

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        variance = ewma_variances(log_returns(history, self.window), settings.horizon, self.lam)
        rng = np.random.default_rng(settings.seed)
        if variance is None:  # too few or flat returns: the plain volatility random walk
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        steps = rng.standard_normal((self.draws(settings), settings.horizon)) * np.sqrt(variance)
        return candles_from_log_returns(history, steps, rng, CANDLE_WINDOW)

    def horizon_return(self, history: pd.DataFrame, future, settings: ForecastSettings, levels) -> HorizonReturn:
        variance = ewma_variances(log_returns(history, self.window), settings.horizon, self.lam)
        if variance is None:
            return random_walk_return(history, settings.horizon)
        total = float(variance.sum())
        return ParametricReturn(total, "closed form: normal, the EWMA variance", False, 0.0, math.sqrt(total), None)

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "lambda": self.lam, "window": self.window}


def garch_return(model: GarchMember, history: pd.DataFrame, future, horizon: int) -> HorizonReturn:
    """The horizon return of a GARCH-t member (its fit, time-of-day scaling included): Student t with the fit's nu
    and ``arch``'s analytic variance forecast summed over the horizon."""
    fitted = model.fitted(history, future)
    if fitted is None:
        return random_walk_return(history, horizon)
    fit, scale = fitted
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        v = fit.forecast(horizon=horizon, reindex=False).variance.to_numpy()[-1] * np.asarray(scale) ** 2
    if not (np.isfinite(v).all() and (v > 0).all()):  # an explosive fit: as its paths, the plain random walk
        return random_walk_return(history, horizon)
    total, nu = float(v.sum()), float(fit.params["nu"])
    return ParametricReturn(total, f"closed form: Student t, nu {nu:.2f}" + ("" if horizon == 1 else
                            ", the horizon's summed variance"), False, 0.0, math.sqrt(total), nu)


@dataclass
class GarchT(GarchMember):
    """The ensemble's GARCH(1,1)-t member, read in closed form."""

    name: str = "GARCH(1,1)-t"

    def horizon_return(self, history: pd.DataFrame, future, settings: ForecastSettings, levels) -> HorizonReturn:
        return garch_return(self, history, future, settings.horizon)


@dataclass
class GjrGarchT(GjrGarchMember):
    """The ensemble's GJR-GARCH(1,1,1)-t member (a leverage term: falls raise the variance more), in closed form."""

    name: str = "GJR-GARCH(1,1,1)-t"

    def horizon_return(self, history: pd.DataFrame, future, settings: ForecastSettings, levels) -> HorizonReturn:
        return garch_return(self, history, future, settings.horizon)


@dataclass
class LogHar(PathModel):
    paths: int | None = None
    window: int = 500  # bars it is fitted on (refitted at every forecast)
    time_of_day: bool = True  # intraday bars: model them divided by their slot's share of the variance
    name: str = "log-HAR (range variance)"
    key = "log_har"
    min_bars = HarMember.min_bars  # fewer usable bars: the plain volatility random walk

    def fitted(self, history: pd.DataFrame, future, horizon: int) -> tuple[np.ndarray, np.ndarray] | None:
        """([horizon] variance forecasts of the close-to-close log-return in the standardized residuals' units,
        the window's standardized residual returns, centred), None under ``min_bars`` usable bars."""
        bars = history.iloc[-(self.window + 1):]
        v = range_variance(bars)
        profile = time_of_day(bars, future, v) if self.time_of_day else None
        v = v[1:]  # the first bar has no previous close (no gap term)
        close = bars["close"].to_numpy(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.diff(np.log(np.where(close > 0, close, np.nan)))
        if profile is not None:  # model the deseasonalised bars; the future's slots scale the forecasts back
            v, r = v / profile[0][1:], r / np.sqrt(profile[0][1:])
        usable = np.isfinite(v) & np.isfinite(r)
        v, r = v[usable], r[usable]
        if len(v) < self.min_bars or v.mean() <= 0:
            return None
        x = np.log(np.maximum(v, LOG_FLOOR * v.mean()))
        comps = har_components(x)
        coef, *_ = np.linalg.lstsq(comps[:-1], x[HAR_SPANS[-1]:], rcond=None)
        fitted = comps[:-1] @ coef
        s2 = float(np.var(x[HAR_SPANS[-1]:] - fitted, ddof=comps.shape[1]))
        # forecasts kept within the logs it was fitted on, as the HAR member keeps its own within its variances
        logs = HarFit(coef, fitted, float(x.min()), float(x.max())).forecast(x, horizon)
        z = r[HAR_SPANS[-1]:] / np.sqrt(np.exp(fitted + s2 / 2))
        variance = np.exp(logs + s2 / 2) * (1.0 if profile is None else profile[1])
        return variance, z - z.mean()

    def horizon_return(self, history: pd.DataFrame, future, settings: ForecastSettings, levels) -> HorizonReturn:
        got = self.fitted(history, future, settings.horizon)
        if got is None:
            return random_walk_return(history, settings.horizon)
        variance, z = got
        total = float(variance.sum())
        return EmpiricalReturn(total * float(np.mean(z ** 2)), f"empirical: the log-HAR variance times the window's "
                               f"{len(z)} standardized residuals", False, math.sqrt(total) * z)

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        got = self.fitted(history, future, settings.horizon)
        if got is None:
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        variance, z = got
        rng = np.random.default_rng(settings.seed)
        steps = z[rng.integers(len(z), size=(self.draws(settings), settings.horizon))] * np.sqrt(variance)
        return candles_from_log_returns(history, steps, rng, CANDLE_WINDOW)

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window, "variance": "Garman–Klass + gap, in logs",
                "components": list(HAR_SPANS), **time_of_day_identity(self.time_of_day)}

    def identity(self) -> dict:
        return self.describe()


@dataclass
class FilteredHistoricalSimulation(PathModel):
    paths: int | None = None
    window: int = 500
    name: str = "filtered historical simulation (GARCH(1,1)-t residuals)"
    key = "filtered_historical_simulation"

    def _simulate(self, fit, horizon: int, draws: int, seed: int) -> np.ndarray:
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            return fit.forecast(horizon=horizon, method="bootstrap", simulations=draws, reindex=False,
                                random_state=np.random.RandomState(seed % 2**32)).simulations.values[-1]  # [S, H]

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        fitted = fit_arch(log_returns(history, self.window))
        rng = np.random.default_rng(settings.seed)
        if fitted is None:  # too little to fit, or a failed fit: the plain volatility random walk
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        fit, scale = fitted
        sims = self._simulate(fit, settings.horizon, self.draws(settings), settings.seed)
        with np.errstate(over="ignore", invalid="ignore"):
            paths = candles_from_log_returns(history, sims * scale, rng, CANDLE_WINDOW)
        if not np.isfinite(paths).all():
            return RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW).draw(history, future, settings)
        return paths

    def horizon_return(self, history: pd.DataFrame, future, settings: ForecastSettings, levels) -> HorizonReturn:
        fitted = fit_arch(log_returns(history, self.window))
        h = settings.horizon
        if fitted is None:
            return random_walk_return(history, h)
        fit, scale = fitted
        if h == 1:  # exactly: the next bar's volatility times each standardized residual of the window
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                var1 = float(fit.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
            z = np.asarray(fit.std_resid, np.float64)
            z = z[np.isfinite(z)]
            steps = (scale * math.sqrt(var1) * z)[:, None]
            method = f"empirical: the next bar's GARCH volatility times the window's {len(z)} standardized residuals"
        else:
            draws = fhs_draws(levels)
            steps = self._simulate(fit, h, draws, settings.seed) * scale
            method = f"{draws:,} bootstrap draws of the GARCH path with the window's standardized residuals"
        if not np.isfinite(steps).all():
            return random_walk_return(history, h)
        return EmpiricalReturn(float(np.mean(np.sum(steps ** 2, axis=1))), method, False, steps.sum(axis=1))

    def lookback(self, horizon: int) -> int:
        return self.window + 1

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window}


def risk_baselines(paths: int | None = None) -> dict:
    """key -> the standard risk models (each drawing ``paths`` paths where paths are drawn; None: the settings')."""
    return {m.key: m for m in (HistoricalSimulation(paths=paths), EwmaNormal(paths=paths), GarchT(paths=paths),
                               GjrGarchT(paths=paths), LogHar(paths=paths), FilteredHistoricalSimulation(paths=paths))}
