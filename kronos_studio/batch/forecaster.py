"""The worker of a batch: loads a Kronos model once and forecasts chunks of series with it. The local
engine runs one in-process; the Ray engine runs one per actor."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd

from kronos.errors import Fix, InputError
from kronos.settings import ForecastSettings

from .summary import DEFAULT_TOUCH_LEVELS, bad_touch_levels, step_quantiles, summarize, utc

CHUNK_SERIES = 32  # series per predict_batch call: past ~32 a bigger batch buys little and holds more memory


@dataclass(frozen=True)
class BatchSettings:
    """What every series of a batch is forecast with: ``forecast`` (its lookback None: the model's
    default, context - horizon, the same for every series, so that rows compare like with like) and the
    touch levels each row reports."""

    forecast: ForecastSettings
    touch_levels: tuple[float, ...] = DEFAULT_TOUCH_LEVELS

    def __post_init__(self):
        bad = bad_touch_levels(self.touch_levels)
        if bad:
            raise InputError(f"touch levels are returns like -0.1 or 0.05 (not 0, above -1), got {bad}",
                             {"touch_levels": list(bad)}, Fix("leave out or change those in {setting}", "touch_levels"))

    def forecast_settings(self, forecaster) -> ForecastSettings:
        """The settings every series is forecast with by ``forecaster`` (its default lookback made explicit)."""
        lookback = self.forecast.lookback or forecaster.lookback(self.forecast.horizon)
        return dataclasses.replace(self.forecast, lookback=lookback)


@dataclass
class SeriesJob:
    """One series ready to forecast: its row name, where its bars came from, the bars and their hash."""

    series: str
    origin: str
    bars: object  # data_sources.Bars
    data_sha256: str
    warnings: str = ""


@dataclass
class SeriesResult:
    row: dict
    steps: pd.DataFrame | None = None


class ChunkForecaster:
    """A model loaded once (``model``: a reference ``kronos_studio.forecasters.resolve`` takes, None for
    the bundled default) that forecasts lists of ``SeriesJob``, one batched run per list where it can."""

    def __init__(self, model: str | None, settings: BatchSettings, device=None, threads: int | None = None):
        import torch

        from kronos_studio.forecasters import resolve

        if threads:
            torch.set_num_threads(threads)
        self.forecaster = resolve(model, device=device)
        self.settings = settings
        self.forecast_settings = settings.forecast_settings(self.forecaster)
        self.provenance = {"predictor_revision": None, "tokenizer_revision": None, "device": "cpu",
                           **self.forecaster.describe()}

    def identity(self) -> dict:
        """The model as loaded here: the Ray engine checks every actor loaded the same one."""
        return self.provenance

    def forecast(self, jobs: list[SeriesJob]) -> list[SeriesResult]:
        """A result per job, in order. If the batch fails, each series is retried alone, so a series the
        model refuses fails only its own row."""
        from kronos_studio.forecasters import make_forecasts

        try:
            forecasts = make_forecasts(self.forecaster, [j.bars for j in jobs], self.forecast_settings)
        except (InputError, ValueError, RuntimeError) as e:
            if len(jobs) == 1:
                return [SeriesResult(failure_row(jobs[0].series, jobs[0].origin, f"forecast failed: {e}"))]
            return [r for j in jobs for r in self.forecast([j])]
        return [self._result(j, fc) for j, fc in zip(jobs, forecasts)]

    def _result(self, job: SeriesJob, fc) -> SeriesResult:
        last_close = float(fc.history["close"].iloc[-1])
        bars = job.bars
        row = {"series": job.series, "status": "ok",
               **summarize(fc.paths, last_close, self.settings.touch_levels),
               "last_close": last_close, "price_decimals": bars.price_decimals(),
               "history_end": utc([fc.history["timestamp"].iloc[-1]])[0],
               "horizon_end": utc(fc.timestamps[-1:])[0],
               "bars_used": len(fc.history),
               "warnings": job.warnings,
               "origin": job.origin, "source": bars.source, "symbol": bars.symbol, "interval": bars.interval,
               "calendar": bars.calendar, "calendar_inferred": bars.calendar_inferred, "data_sha256": job.data_sha256,
               "model": self.provenance["model"], "predictor_revision": self.provenance["predictor_revision"],
               "tokenizer_revision": self.provenance["tokenizer_revision"], "device": self.provenance["device"],
               "horizon": self.forecast_settings.horizon, "paths": self.forecast_settings.paths,
               "seed": self.forecast_settings.seed, "lookback": self.forecast_settings.lookback,
               "created_at": now_utc()}
        return SeriesResult(row, step_quantiles(job.series, fc.timestamps, fc.paths))


def failure_row(series: str, origin: str, reason: str) -> dict:
    """The row of a series that has no forecast: its name, where it came from and the one-line reason."""
    return {"series": series, "status": " ".join(str(reason).split()), "origin": origin, "created_at": now_utc()}


def now_utc() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(timezone.utc).replace(microsecond=0))
