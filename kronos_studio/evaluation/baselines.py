"""Naive baselines, forecasters like every other (``kronos_studio.forecasters.base.PathModel``): paths
[S, horizon, 6] in price units, S their own ``paths`` or the settings'.

* ``RandomWalk``: Gaussian log-returns with the historical volatility of the last ``window`` closes
  (zero drift by default): the "historical-volatility band" users compare Kronos against.
* ``Bootstrap``: close-to-close log-returns resampled (with replacement) from the last ``window``.
* ``Persistence``: the last bar repeated (a point forecast: its CRPS is the absolute error).

Candles are built coherently: open = previous close, high/low the envelope of open and close widened
by a resampled historical intrabar range; volume/amount are the recent median (not forecast).
"""
from __future__ import annotations

from dataclasses import dataclass

from kronos.config import BAR_COLUMNS
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.forecasters.base import PathModel

BASELINE_PATHS = 200  # paths the trust report's baselines draw, whatever the model's count (their CRPS is stable)


def _arrays(history: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: history[c].to_numpy(np.float64) for c in BAR_COLUMNS}


def _log_returns(close: np.ndarray, window: int) -> np.ndarray:
    close = close[-(window + 1):]
    r = np.diff(np.log(np.maximum(close, 1e-12)))
    return r[np.isfinite(r)]


def candles_from_log_returns(history: pd.DataFrame, log_returns: np.ndarray, rng: np.random.Generator,
                             window: int) -> np.ndarray:
    """[S, H] close-to-close log-returns after the last bar -> [S, H, 6] coherent candles: open = the
    previous close, high/low the body widened by intrabar ranges resampled from the last ``window`` bars,
    volume/amount their recent median (not forecast)."""
    a = _arrays(history)
    last_close = a["close"][-1]
    close = last_close * np.exp(np.cumsum(log_returns, axis=1))
    open_ = np.concatenate([np.full((close.shape[0], 1), last_close), close[:, :-1]], axis=1)
    body_hi, body_lo = np.maximum(open_, close), np.minimum(open_, close)
    tail = slice(-window, None)
    up = np.log(a["high"][tail] / np.maximum(a["open"][tail], a["close"][tail]))
    down = np.log(np.minimum(a["open"][tail], a["close"][tail]) / a["low"][tail])
    up, down = np.clip(np.nan_to_num(up), 0, None), np.clip(np.nan_to_num(down), 0, None)
    idx = rng.integers(len(up), size=close.shape)
    high = body_hi * np.exp(up[idx])
    low = body_lo * np.exp(-down[idx])
    volume = np.full_like(close, np.median(a["volume"][tail]))
    amount = np.full_like(close, np.median(a["amount"][tail]))
    return np.stack([open_, high, low, close, volume, amount], axis=-1).astype(np.float32)


@dataclass
class RandomWalk(PathModel):
    paths: int | None = None  # None: the settings'
    window: int = 60  # bars of history for the volatility estimate
    drift: bool = False
    name: str = "random walk (hist. vol)"  # the label shown in tables; ``key`` is what code looks up
    key = "random_walk"

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        r = _log_returns(history["close"].to_numpy(np.float64), self.window)
        sigma = float(r.std()) if len(r) > 1 else 0.0
        mu = float(r.mean()) if self.drift and len(r) else 0.0
        rng = np.random.default_rng(settings.seed)
        steps = rng.normal(mu, sigma, size=(self.draws(settings), settings.horizon))
        return candles_from_log_returns(history, steps, rng, self.window)


    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window}

    def identity(self) -> dict:
        return self.describe()


@dataclass
class Bootstrap(PathModel):
    paths: int | None = None  # None: the settings'
    window: int = 250  # bars of history whose returns are resampled
    name: str = "bootstrap (past returns)"
    key = "bootstrap"

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        r = _log_returns(history["close"].to_numpy(np.float64), self.window)
        rng = np.random.default_rng(settings.seed)
        size = (self.draws(settings), settings.horizon)
        steps = r[rng.integers(len(r), size=size)] if len(r) else np.zeros(size)
        return candles_from_log_returns(history, steps, rng, self.window)

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window}

    def identity(self) -> dict:
        return self.describe()


@dataclass
class Persistence(PathModel):
    name: str = "persistence (last bar)"
    key = "persistence"
    min_history = 1  # repeats the last bar: nothing is estimated from the history

    paths = 1  # a point forecast: one path whatever the settings ask

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        last = history[list(BAR_COLUMNS)].to_numpy(np.float32)[-1]
        return np.broadcast_to(last, (1, settings.horizon, len(BAR_COLUMNS))).copy()


REFERENCE = RandomWalk.key  # the baseline skill is quoted against: the plain volatility band


def default_baselines(paths: int = BASELINE_PATHS) -> dict:
    """The baselines the trust panel and the model cards compare against, by key (``b.name`` is the
    label to show)."""
    return {b.key: b for b in (RandomWalk(paths=paths), Bootstrap(paths=paths), Persistence())}


def baselines_by_label(paths: int = BASELINE_PATHS) -> dict:
    """The same baselines keyed by their labels: for tables where the key is the row's name."""
    return {b.name: b for b in default_baselines(paths).values()}
