"""The ensemble's members: forecasters (``kronos_studio.forecasters.Forecaster``: ``sample(history, future,
settings)``) with an ``identity()`` that a meta-learner compares.

* ``KronosMember``: any Kronos the studio loads (official, bundled, folder, with a LoRA adapter).
* ``GarchMember``: GARCH(1,1) with Student-t innovations (the ``arch`` package), simulated paths.
* ``volatility``: HAR on range variance and GJR-GARCH (their own module).
* ``chronos2.Chronos2Member``: Chronos-2's native quantiles turned into paths (its own module).
* The naive baselines of ``kronos_studio.evaluation.baselines`` (random walk, bootstrap) as they are.

A cheap member (all but Kronos) is built with its own path count (``cheap_member_paths``), the ensemble's
Kronos member draws the settings' paths.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kronos.config import WEIGHTS_FILE
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import RandomWalk, candles_from_log_returns
from kronos_studio.forecasters.base import PathModel
from kronos_studio.forecasters.kronos import KronosForecaster

from .intraday import time_of_day, time_of_day_identity

CANDLE_WINDOW = 60  # bars whose intrabar ranges the simulated candles resample
# Paths a cheap member (simulated, or Chronos-2's quantiles turned into paths) draws at least, whatever the
# forecast's path count: quantile averaging reads each member's quantiles, and the 5% and 95% quantiles of
# 30 draws are noisy enough to cost about 2-4% of the mixture's CRPS, those of 100 still ~0.7% (docs/ensemble.md).
# Kronos draws the forecast's own count: its paths are what costs time.
CHEAP_MEMBER_PATHS = 400


def cheap_member_paths(paths: int) -> int:
    """Paths a cheap member draws for a forecast of ``paths`` paths."""
    return max(int(paths), CHEAP_MEMBER_PATHS)


def identity_digest(identity: dict) -> str:
    """sha256 (16 hex digits) of a member's identity (canonical JSON): what a meta-learner compares."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def member_identity(member) -> dict:
    """``member.identity()`` with its digest (by default a member is known by its key and name only)."""
    own = member.identity()
    return {**own, "digest": identity_digest(own)}


@lru_cache(maxsize=16)
def _file_sha256(path: str, mtime_ns: int, size: int) -> str:  # keyed by mtime and size: a rewritten file is re-hashed
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def weights_sha256(folder) -> str | None:
    """sha256 (16 hex digits) of a checkpoint folder's weights file, None when there is none."""
    path = Path(folder) / WEIGHTS_FILE if folder is not None else None
    if path is None or not path.is_file():
        return None
    st = path.stat()
    return _file_sha256(str(path), st.st_mtime_ns, st.st_size)


class KronosMember(KronosForecaster):
    """A Kronos pipeline (``kronos.KronosPipeline`` or the studio's) as an ensemble member: the forecaster,
    named as a member, with the identity a meta-learner compares."""

    def __init__(self, pipeline, name: str | None = None):
        super().__init__(pipeline)
        self.name = name or f"Kronos ({pipeline.pair.name})"

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, **self.pair.provenance()}

    def identity(self) -> dict:
        """The model it samples: revisions and the weights' content hashes (never a machine's paths), so
        the same checkpoint is the same member anywhere, and another one (official Kronos-base instead of
        the bundled model) is not."""
        pair = self.pair
        p, t = pair.predictor_source, pair.tokenizer_source
        return {"key": self.key, "model": Path(pair.name).name,  # a folder's name, not where it lies
                "predictor_revision": p.revision if p else None, "tokenizer_revision": t.revision if t else None,
                "predictor_sha256": weights_sha256(p.path) if p else None,
                "tokenizer_sha256": weights_sha256(t.path) if t else None}


def fit_arch(returns: np.ndarray, *, o: int = 0):
    """(fitted ``arch`` result, scale) of a zero-mean GARCH (p=1, ``o`` asymmetric terms, q=1) with
    Student-t innovations on ``returns / scale``, scale = their standard deviation; None when there is too
    little to fit (under 50 returns, or flat ones) or the fit failed (not converged, or non-finite). The fit is
    deterministic, so it is kept for the same returns: a risk backtest fits GARCH-t and filtered historical
    simulation on the same window at every cut-off."""
    r = returns[np.isfinite(returns)]
    return _fit_arch(np.ascontiguousarray(r, np.float64).tobytes(), o)


@lru_cache(maxsize=512)  # a 250-cut-off backtest's windows (its models run one after another); ~40 KB each
def _fit_arch(data: bytes, o: int):
    from arch import arch_model

    r = np.frombuffer(data, np.float64)
    scale = float(r.std()) if len(r) > 1 else 0.0
    if len(r) < 50 or scale == 0.0:
        return None
    # Fitted on returns in units of their own standard deviation: the optimiser is well scaled at
    # any bar interval (minute returns are ~1e-4, daily ones ~1e-2).
    model = arch_model(r / scale, mean="Zero", vol="GARCH", p=1, o=o, q=1, dist="t", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; a failed fit is caught below
        fit = model.fit(disp="off", show_warning=False)
    failed = fit.convergence_flag != 0 or not np.isfinite(fit.params).all()
    return None if failed else (fit, scale)


@dataclass
class GarchMember(PathModel):
    """GARCH(1,1) on close-to-close log-returns with Student-t innovations (fat tails), zero mean; paths
    are simulated from the fitted model, candles built around them as the baselines do. ``o`` = 1 (a
    subclass) adds the asymmetric term of GJR-GARCH."""

    paths: int | None = None  # None: the settings'
    window: int = 500  # bars of returns the model is fitted on (refitted at every forecast)
    time_of_day: bool = True  # intraday bars: model returns divided by their slot's volatility (intraday.time_of_day)
    name: str = "GARCH(1,1), Student t"
    key = "garch"
    o = 0

    def fit(self, history: pd.DataFrame, factors: np.ndarray | None = None):
        """``fit_arch`` on the last ``window`` close-to-close log-returns of ``history``, divided by the
        square roots of ``factors`` (their variance shares, one per return) when given."""
        close = history["close"].to_numpy(np.float64)[-(self.window + 1):]
        r = np.diff(np.log(np.maximum(close, 1e-12)))
        return fit_arch(r if factors is None else r / np.sqrt(factors), o=self.o)

    def fitted(self, history: pd.DataFrame, future):
        """(the ``fit`` of ``history``, the scale of its unit returns at each of the ``future`` bars: a number, or
        [H] on intraday bars, their slots' time-of-day factors), None when it cannot be fitted."""
        profile = time_of_day(history.iloc[-(self.window + 1):], future) if self.time_of_day else None
        fitted = self.fit(history) if profile is None else self.fit(history, profile[0][1:])
        if fitted is None:
            return None
        fit, scale = fitted
        if profile is not None:
            scale = scale * np.sqrt(profile[1])  # the future bars' slots scale the deseasonalised steps back
        return fit, scale

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        fitted = self.fitted(history, future)
        walk = RandomWalk(paths=self.draws(settings), window=CANDLE_WINDOW)
        if fitted is None:  # too little to fit, or a failed fit: the plain volatility random walk
            return walk.draw(history, future, settings)
        fit, scale = fitted
        rng = np.random.default_rng(settings.seed)
        nu = float(fit.params["nu"])

        def innovations(size):  # unit-variance Student t from our seeded generator (arch's own is global)
            return rng.standard_t(nu, size) * np.sqrt((nu - 2) / nu)

        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # an explosive fit overflows here: caught below
            sims = fit.forecast(horizon=settings.horizon, method="simulation", simulations=self.draws(settings),
                                reindex=False,
                                rng=innovations).simulations.values[-1]  # [S, H]
            paths = candles_from_log_returns(history, sims * scale, rng, CANDLE_WINDOW)
        if not np.isfinite(paths).all():  # an explosive fit: the plain volatility random walk
            return walk.draw(history, future, settings)
        return paths

    def lookback(self, horizon: int) -> int:
        return self.window + 1  # ``window`` returns

    def describe(self) -> dict:
        import arch

        return {**self.identity(), "package": f"arch {arch.__version__}"}

    def identity(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window, **time_of_day_identity(self.time_of_day)}
