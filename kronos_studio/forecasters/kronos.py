"""Kronos (any model the studio loads: bundled, official, a folder, with a LoRA adapter) as a forecaster."""
from __future__ import annotations

import dataclasses

from kronos.config import MIN_HISTORY, default_lookback
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings

from .window import future_times, history_window

WALK_FORWARD_BATCH = 10  # cut-offs sampled in one batched run (each chunk shares one random stream)


class KronosForecaster:
    """A ``KronosPipeline`` (the studio's: future bar times from the calendar) behind the seam. ``events``:
    the exogenous inputs of an event adapter (``KronosPipeline.predict``'s), None for none."""

    key = "kronos"
    members: dict = {}
    min_history = MIN_HISTORY  # the mean and standard deviation it normalises each column by

    def __init__(self, pipeline, events=None):
        self.pipeline, self.pair, self.events = pipeline, pipeline.pair, events
        self.name = self.pair.name

    def lookback(self, horizon: int) -> int:
        return default_lookback(self.pair.context, horizon)

    def describe(self) -> dict:
        return {"model": self.pair.name, **self.pair.provenance(), "device": str(self.pair.device)}

    def training_period(self):
        from kronos_studio.evaluation.training_period import training_period

        return training_period(self.pair)

    def sample(self, history, future, settings, progress=None) -> Forecast:
        return self.pipeline.sample([history], [future], settings, events=self.events, progress=progress)[0]

    def sample_batch(self, histories, futures, settings) -> list[Forecast]:
        """Many series in one batched run, each on its own random stream (``kronos batch``)."""
        return self.pipeline.sample(histories, futures, settings, events=self.events, per_series_stream=True)

    def walk_forward_fn(self, settings: ForecastSettings) -> KronosCutoffs:
        return KronosCutoffs(self, settings, WALK_FORWARD_BATCH)


class KronosCutoffs:
    """A Kronos forecaster as the walk-forward's forecast function ``(history, future, horizon, seed) ->
    paths``: every cut-off is forecast with ``settings`` whole (its seed and horizon the cut-off's) from the
    history window a forecast of those bars reads (``history_window``). ``batch_size`` > 1: that many
    cut-offs in one batched run, sharing one random stream seeded with the first one's seed."""

    def __init__(self, forecaster: KronosForecaster, settings: ForecastSettings, batch_size: int = 0,
                 name: str | None = None):
        self.forecaster, self.settings = forecaster, settings
        self.name = name or forecaster.name
        if batch_size > 1:
            self.batch_size = batch_size
            self.batch = self._batch

    def at(self, horizon: int, seed: int) -> ForecastSettings:
        return dataclasses.replace(self.settings, horizon=horizon, seed=int(seed))

    def __call__(self, history, future, horizon: int, seed: int):
        settings = self.at(horizon, seed)
        window = history_window(self.forecaster, history, settings)
        return self.forecaster.sample(window, future_times(history, window, horizon, future), settings).paths

    def _batch(self, histories, futures, horizon, seeds):
        out = []
        for i in range(0, len(histories), self.batch_size):
            settings = self.at(horizon, seeds[i])
            chunk = zip(histories[i:i + self.batch_size], futures[i:i + self.batch_size])
            windows = [(w, future_times(h, w, horizon, f))
                       for h, f in chunk for w in [history_window(self.forecaster, h, settings)]]
            fcs = self.forecaster.pipeline.sample([w for w, _ in windows], [f for _, f in windows], settings,
                                                  events=self.forecaster.events)
            out.extend(fc.paths for fc in fcs)
        return out
