"""The ensemble's members: forecasters with the walk-forward's forecast-function signature
``member(history, future_timestamps, horizon, seed) -> paths [S, horizon, 6]`` (price units), a
``key`` that code looks up, a display ``name``, and ``describe()`` for provenance.

* ``KronosMember``: any Kronos the studio loads (official, bundled, folder, with a LoRA adapter).
* ``GarchMember``: GARCH(1,1) with Student-t innovations (the ``arch`` package), simulated paths.
* ``volatility``: HAR on range variance and GJR-GARCH (their own module).
* ``chronos2.Chronos2Member``: Chronos-2's native quantiles turned into paths (its own module).
* The naive baselines of ``kronos_studio.evaluation.baselines`` (random walk, bootstrap) as they are.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from kronos_studio.evaluation.baselines import RandomWalk, candles_from_log_returns
from kronos_studio.forecasters.kronos import KronosCutoffs, KronosForecaster

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
    """``member.identity()`` with its digest; a member without one is known by its key and name only."""
    own = member.identity() if hasattr(member, "identity") else {"key": member.key, "name": member.name}
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
    from kronos.config import WEIGHTS_FILE

    path = Path(folder) / WEIGHTS_FILE if folder is not None else None
    if path is None or not path.is_file():
        return None
    st = path.stat()
    return _file_sha256(str(path), st.st_mtime_ns, st.st_size)


class KronosMember(KronosCutoffs):
    """A Kronos pipeline (``kronos.KronosPipeline`` or the studio's) as a member sampling with ``settings``
    (whole: temperature, top-p, top-k, clip, anchor, lookback, paths; the seed and horizon the cut-off's);
    batches cut-offs in a walk-forward like the trust panel does."""

    key = "kronos"

    def __init__(self, pipeline, settings, name: str | None = None, batch_size: int = 10):
        super().__init__(KronosForecaster(pipeline), settings, batch_size, name or f"Kronos ({pipeline.pair.name})")

    def reads(self, bars: int) -> int:
        """Bars of a ``bars``-long history this member reads."""
        return min(bars, self.settings.lookback or bars)

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, **self.forecaster.pair.provenance(),
                "settings": {k: v for k, v in dataclasses.asdict(self.settings).items() if k not in ("horizon", "seed")}}

    def identity(self) -> dict:
        """The model it samples: revisions and the weights' content hashes (never a machine's paths), so
        the same checkpoint is the same member anywhere, and another one (official Kronos-base instead of
        the bundled model) is not."""
        pair = self.forecaster.pair
        p, t = pair.predictor_source, pair.tokenizer_source
        return {"key": self.key, "model": Path(pair.name).name,  # a folder's name, not where it lies
                "predictor_revision": p.revision if p else None, "tokenizer_revision": t.revision if t else None,
                "predictor_sha256": weights_sha256(p.path) if p else None,
                "tokenizer_sha256": weights_sha256(t.path) if t else None}

    def training_period(self):
        from kronos_studio.evaluation.training_period import training_period

        return training_period(self.forecaster.pair)


def fit_arch(returns: np.ndarray, *, o: int = 0):
    """(fitted ``arch`` result, scale) of a zero-mean GARCH (p=1, ``o`` asymmetric terms, q=1) with
    Student-t innovations on ``returns / scale``, scale = their standard deviation; None when there is too
    little to fit (under 50 returns, or flat ones) or the fit failed (not converged, or non-finite)."""
    from arch import arch_model

    r = returns[np.isfinite(returns)]
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
class GarchMember:
    """GARCH(1,1) on close-to-close log-returns with Student-t innovations (fat tails), zero mean; paths
    are simulated from the fitted model, candles built around them as the baselines do. ``o`` = 1 (a
    subclass) adds the asymmetric term of GJR-GARCH."""

    paths: int = 200
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

    def __call__(self, history: pd.DataFrame, future: pd.DatetimeIndex, horizon: int, seed: int) -> np.ndarray:
        profile = time_of_day(history.iloc[-(self.window + 1):], future) if self.time_of_day else None
        fitted = self.fit(history) if profile is None else self.fit(history, profile[0][1:])
        if fitted is None:  # too little to fit, or a failed fit: the plain volatility random walk
            return RandomWalk(paths=self.paths, window=CANDLE_WINDOW)(history, future, horizon, seed)
        fit, scale = fitted
        if profile is not None:
            scale = scale * np.sqrt(profile[1])  # the future bars' slots scale the deseasonalised steps back
        rng = np.random.default_rng(seed)
        nu = float(fit.params["nu"])

        def innovations(size):  # unit-variance Student t from our seeded generator (arch's own is global)
            return rng.standard_t(nu, size) * np.sqrt((nu - 2) / nu)

        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # an explosive fit overflows here: caught below
            sims = fit.forecast(horizon=horizon, method="simulation", simulations=self.paths, reindex=False,
                                rng=innovations).simulations.values[-1]  # [S, H]
            paths = candles_from_log_returns(history, sims * scale, rng, CANDLE_WINDOW)
        if not np.isfinite(paths).all():  # an explosive fit: the plain volatility random walk
            return RandomWalk(paths=self.paths, window=CANDLE_WINDOW)(history, future, horizon, seed)
        return paths

    def reads(self, bars: int) -> int:
        return min(bars, self.window + 1)  # ``window`` returns

    def describe(self) -> dict:
        import arch

        return {**self.identity(), "package": f"arch {arch.__version__}"}

    def identity(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.window, **time_of_day_identity(self.time_of_day)}


class BaselineMember:
    """A naive baseline (random walk, bootstrap) with ``describe()``."""

    def __init__(self, baseline):
        self.baseline, self.key, self.name = baseline, baseline.key, baseline.name

    def __call__(self, history, future, horizon, seed):
        return self.baseline(history, future, horizon, seed)

    def reads(self, bars: int) -> int:
        return min(bars, self.baseline.window + 1)  # ``window`` returns

    def describe(self) -> dict:
        return {"key": self.key, "name": self.name, "window": self.baseline.window}

    def identity(self) -> dict:
        return self.describe()
