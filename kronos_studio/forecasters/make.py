"""The one function that makes a forecast: refuse a history too short for the model, trim it to the
lookback, place the future bar times on the bars' calendar, call the forecaster, write the provenance
every forecast carries."""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone

import pandas as pd

from kronos.bars import InputError, bars_frame, input_digest
from kronos.forecast import Forecast
from kronos.settings import ForecastSettings

from .base import Forecaster, Progress


def make_forecast(forecaster: Forecaster, bars, settings: ForecastSettings, future=None,
                  progress: Progress | None = None) -> Forecast:
    """A forecast of ``bars`` (a ``data_sources.Bars`` or a bars frame) by ``forecaster`` from its last
    ``settings.lookback`` bars (default: ``forecaster.lookback(horizon)``), at ``future`` bar times (default:
    the bars' trading calendar, as ``kronos_studio.forecasting.calendar_future_timestamps`` places them).
    Raises ``kronos.errors.InputError`` with a message meant for the user."""
    started = time.perf_counter()
    history, future = _prepare(forecaster, bars, settings, future)
    return _stamp(forecaster.sample(history, future, settings, progress), forecaster, history, settings, started)


def make_forecasts(forecaster: Forecaster, bars_list, settings: ForecastSettings) -> list[Forecast]:
    """``make_forecast`` for many series: one batched run where the forecaster has one (``sample_batch``,
    each series on its own random stream, so it gets the paths a run of it alone gives), else one by one."""
    if not hasattr(forecaster, "sample_batch"):
        return [make_forecast(forecaster, bars, settings) for bars in bars_list]
    started = time.perf_counter()
    prepared = [_prepare(forecaster, bars, settings, None) for bars in bars_list]
    made = forecaster.sample_batch([h for h, _ in prepared], [f for _, f in prepared], settings)
    return [_stamp(fc, forecaster, h, settings, started) for fc, (h, _) in zip(made, prepared)]


def _prepare(forecaster, bars, settings, future) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """(the history it reads, the future bar times)."""
    from kronos_studio.forecasting import calendar_future_timestamps

    frame = bars_frame(bars)
    check_history(forecaster, len(frame), settings.lookback)
    if settings.lookback and len(frame) < settings.lookback:
        raise InputError(f"lookback is {settings.lookback} bars but only {len(frame)} are available: "
                         "lower the lookback or load more history")
    frame = frame.iloc[-(settings.lookback or forecaster.lookback(settings.horizon)):].reset_index(drop=True)
    if future is None:
        future = calendar_future_timestamps(bars, pd.DatetimeIndex(frame["timestamp"]), settings.horizon)
    future = pd.DatetimeIndex(future)
    if len(future) != settings.horizon:
        raise InputError(f"{len(future)} future bar times were given for a horizon of {settings.horizon}")
    return frame, future


def check_history(forecaster: Forecaster, bars: int, lookback: int | None = None) -> None:
    """Refuses (``InputError``) ``bars`` bars of history, or a ``lookback`` that cuts them, shorter than the
    ``min_history`` the forecaster needs, with both numbers and the fix."""
    need = forecaster.min_history
    if bars < need:
        raise InputError(f"the history has {bars} bars but {forecaster.name} needs at least {need} to estimate "
                         f"the series' scale from: load at least {need} bars (an earlier start, or a shorter "
                         "interval)")
    if lookback is not None and lookback < need:
        raise InputError(f"lookback is {lookback} bars but {forecaster.name} needs at least {need} to estimate "
                         f"the series' scale from: raise the lookback to {need} or more")


def _stamp(fc: Forecast, forecaster, history: pd.DataFrame, settings, started: float) -> Forecast:
    """The provenance every forecast carries; what the forecaster wrote itself (Kronos: the core's) stays."""
    common = {"seed": int(settings.seed), "input_sha256": input_digest(history),
              "history_start": str(history["timestamp"].iloc[0]), "history_end": str(history["timestamp"].iloc[-1]),
              "bars_used": len(history), "lookback_default": settings.lookback is None,
              "settings": dataclasses.asdict(settings),
              "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "elapsed_s": round(time.perf_counter() - started, 3)}
    for key, value in common.items():
        fc.provenance.setdefault(key, value)
    fc.provenance["forecaster"] = forecaster.key
    return fc
