"""Kronos (any model the studio loads: bundled, official, a folder, with a LoRA adapter) as a forecaster."""
from __future__ import annotations

from kronos.config import MIN_HISTORY, default_lookback
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings

from .base import Forecaster
from .period import training_period


class KronosForecaster(Forecaster):
    """A ``KronosPipeline`` (the studio's: future bar times from the calendar) behind the seam. ``events``:
    the exogenous inputs of an event adapter (``KronosPipeline.predict``'s), None for none."""

    key = "kronos"
    min_history = MIN_HISTORY  # the mean and standard deviation it normalises each column by
    batch_size = 10  # walk-forward cut-offs sampled in one batched run (``sample_batch``, one shared stream)

    def __init__(self, pipeline, events=None):
        self.pipeline, self.pair, self.events = pipeline, pipeline.pair, events
        self.name = self.pair.name

    def lookback(self, horizon: int) -> int:
        return default_lookback(self.pair.context, horizon)

    def lookback_reason(self, horizon: int) -> str:
        context = self.pair.context
        if self.lookback(horizon) == context - horizon:
            return f"context {context} - horizon {horizon}"
        return f"half the context {context}, as context - horizon would leave {context - horizon}"

    def describe(self) -> dict:
        return {"model": self.pair.name, **self.pair.provenance(), "device": str(self.pair.device)}

    def training_period(self):
        return training_period(self.pair)

    def device(self) -> str:
        return str(self.pair.device)

    def sample(self, history, future, settings: ForecastSettings, progress=None) -> Forecast:
        return self.pipeline.sample([history], [future], settings, events=self.events, progress=progress)[0]

    def sample_batch(self, histories, futures, settings: ForecastSettings,
                     per_series_stream: bool = True) -> list[Forecast]:
        """Many series in one batched run (``Forecaster.sample_batch``): each on its own random stream, or all on
        one shared stream (the walk-forward's cut-offs)."""
        return self.pipeline.sample(histories, futures, settings, events=self.events,
                                    per_series_stream=per_series_stream)
