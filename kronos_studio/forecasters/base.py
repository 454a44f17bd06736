"""What a forecaster is. Kronos (any model the studio loads), the ensemble, Chronos-2, GARCH, HAR and every
baseline satisfy ``Forecaster``; ``make_forecast``, the walk-forward, the trust report, batch and the
ensemble need nothing else of them."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from kronos.config import MIN_HISTORY
from kronos.forecast import Forecast
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings

from .period import TrainingPeriod

Progress = Callable[[int, int], None]  # (done, total): sampling steps, members, ...
STATISTICAL_LOOKBACK = 520  # bars a statistical model (and the ensemble) reads when the settings give none (GARCH fits on 500 returns)
ENSEMBLE_LOOKBACK = STATISTICAL_LOOKBACK  # bars of history the ensemble hands its members when none is given


class Forecaster:
    """The base of every forecaster. ``key``, ``name``, ``lookback``, ``lookback_reason``, ``describe`` and
    ``sample`` are each forecaster's own; the optional capabilities have their defaults here, so a caller
    asks every forecaster the same way instead of probing it for them: ``sample_batch`` (a batched run, where
    ``batch_size`` > 1), ``identity`` (what the ensemble's meta-learner compares), ``training_period`` (the
    data it learned from), ``device`` (where it samples) and ``members`` (what it mixes)."""

    key: str  # what code looks up: "kronos", "ensemble", "garch", "random_walk", ...
    name: str  # what a person reads
    min_history = MIN_HISTORY  # bars of history it needs at least (MIN_HISTORY for a model that estimates a scale)
    members: dict[str, Forecaster] = {}  # key -> each forecaster it mixes ({} for a single model)
    # Series, or a walk-forward's cut-offs, it samples in one batched run (``sample_batch``); 1: it has no
    # batched run, and each is sampled on its own.
    batch_size = 1

    def lookback(self, horizon: int) -> int:
        """Bars of history it reads when the settings give no lookback."""
        raise NotImplementedError

    def lookback_reason(self, horizon: int) -> str:
        """Why ``lookback(horizon)`` is what it is, in words: 'context 128 - horizon 30'."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Provenance: what it is, versions, content hashes."""
        return {"key": self.key, "name": self.name}

    def identity(self) -> dict:
        """What a meta-learner trained with it compares (``ensemble.members.member_identity``): by default
        its key and name; a model with weights adds what tells one checkpoint from another."""
        return {"key": self.key, "name": self.name}

    def training_period(self) -> TrainingPeriod | None:
        """The ``period.TrainingPeriod`` of market data it learned from; None (the default) when it learned
        from nothing before the history it is given, or nothing records it."""
        return None

    def device(self) -> str:
        """Where it samples: its torch model's device, "cpu" (the default) for a numpy model."""
        return "cpu"

    def sample(self, history: pd.DataFrame, future: pd.DatetimeIndex, settings: ForecastSettings,
               progress: Progress | None = None) -> Forecast:
        """A forecast from exactly ``history`` (already trimmed to the lookback) at ``future`` bar times,
        with ``settings`` whole (its seed, horizon and paths)."""
        raise NotImplementedError

    def sample_batch(self, histories: Sequence[pd.DataFrame], futures: Sequence, settings: ForecastSettings,
                     per_series_stream: bool = True) -> list[Forecast]:
        """Many series in one run: each on its own random stream seeded with ``settings.seed`` (``kronos batch``:
        a series gets the paths a run of it alone gives), or, in a batched run, all on one shared stream
        (``per_series_stream=False``: the walk-forward's cut-offs). The default has no batched run: each
        series is sampled on its own, so it has no shared stream to offer."""
        if not per_series_stream:
            raise NotImplementedError(f"{self.name} has no batched run to share one random stream in")
        return [self.sample(h, f, settings) for h, f in zip(histories, futures, strict=True)]


class PathModel(Forecaster):
    """The ``Forecaster`` part every model fitted on the history it is given shares (the baselines, GARCH,
    HAR, Chronos-2): a subclass draws its paths in ``draw(history, future, settings)`` -> [S, horizon, 6].

    ``paths``: the model's own path count, None for the settings'. A cheap model may keep its own on
    purpose: the trust report's baselines draw ``baselines.BASELINE_PATHS`` whatever the model's count,
    and the ensemble's cheap members at least ``members.CHEAP_MEMBER_PATHS`` (their quantiles are read)."""

    paths: int | None = None

    def draws(self, settings: ForecastSettings) -> int:
        """Paths it draws for a forecast with ``settings``."""
        return int(self.paths or settings.paths)

    def lookback(self, horizon: int) -> int:
        return STATISTICAL_LOOKBACK

    def lookback_reason(self, horizon: int) -> str:
        return f"the statistical models' default, {STATISTICAL_LOOKBACK}"

    def draw(self, history: pd.DataFrame, future: pd.DatetimeIndex | None, settings: ForecastSettings) -> np.ndarray:
        raise NotImplementedError

    def sample(self, history, future, settings, progress=None) -> Forecast:
        made = self.forecast(history, future, settings, self.draw(history, future, settings))
        if progress is not None:
            progress(1, 1)
        return made

    def forecast(self, history, future, settings: ForecastSettings, paths: np.ndarray) -> Forecast:
        """Drawn ``paths`` as the ``Forecast`` they are, with this model's provenance."""
        paths = np.asarray(paths, np.float32)
        return Forecast(pd.DatetimeIndex(future if future is not None else []), paths, paths.mean(axis=0), history,
                        settings, {"model": self.key, **self.describe(), "device": "cpu"})  # numpy
