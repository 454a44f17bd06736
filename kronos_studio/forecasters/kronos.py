"""Kronos (any model the studio loads: bundled, official, a folder, with a LoRA adapter) as a forecaster."""
from __future__ import annotations

from kronos.config import MIN_HISTORY, default_lookback
from kronos.forecast import Forecast


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
        return self.pipeline.predict(history, settings=settings, future_timestamps=future, events=self.events,
                                     progress=progress)

    def sample_batch(self, histories, futures, settings) -> list[Forecast]:
        """Many series in one batched run, each on its own random stream (``kronos batch``)."""
        return self.pipeline.predict_batch(histories, settings=settings, future_timestamps=futures,
                                           per_series_stream=True)

    def walk_forward_fn(self, settings):
        from kronos_studio.evaluation.walk_forward import kronos_forecast_fn

        return kronos_forecast_fn(self.pipeline, paths=settings.paths, batch_size=WALK_FORWARD_BATCH,
                                  temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                                  anchor=settings.anchor)


WALK_FORWARD_BATCH = 10  # cut-offs sampled in one batched run (each chunk shares one random stream)
