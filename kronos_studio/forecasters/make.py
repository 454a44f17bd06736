"""The one function that makes a forecast: read the forecaster's history window (``window``), place the
future bar times on the bars' calendar, call the forecaster, make its candles valid and bound its volume and
amount (``bounds``) and write the provenance every forecast carries."""
from __future__ import annotations

import time

from kronos.forecast import Forecast, history_provenance
from kronos.settings import ForecastSettings
from kronos.threads import ThreadUse, computing
from kronos_studio.fair import check_asker, stoppable

from .base import Forecaster, Progress
from .bounds import bounded
from .window import future_times, history_window


def make_forecast(forecaster: Forecaster, bars, settings: ForecastSettings, future=None,
                  progress: Progress | None = None) -> Forecast:
    """A forecast of ``bars`` (a ``data_sources.Bars`` or a bars frame) by ``forecaster`` from its last
    ``settings.lookback`` bars (default: ``forecaster.lookback(horizon)``), at ``future`` bar times (default:
    the bars' trading calendar, as ``kronos_studio.forecasting.calendar_future_timestamps`` places them).
    Raises ``kronos.errors.InputError`` with a message meant for the user."""
    check_asker()  # an asker gone already (a request that came as the server stops) starts nothing
    started = time.perf_counter()
    history = history_window(forecaster, bars, settings)
    future = future_times(bars, history, settings.horizon, future)
    with computing() as threads:  # each sampling step first checks that the forecast's asker is still there
        fc = forecaster.sample(history, future, settings, stoppable(progress))
    return _stamp(fc, forecaster, settings, started, threads)


def make_forecasts(forecaster: Forecaster, bars_list, settings: ForecastSettings) -> list[Forecast]:
    """``make_forecast`` for many series: one batched run where the forecaster has one (``sample_batch``,
    each series on its own random stream, so it gets the paths a run of it alone gives), else one by one."""
    if forecaster.batch_size <= 1:
        return [make_forecast(forecaster, bars, settings) for bars in bars_list]
    started = time.perf_counter()
    histories = [history_window(forecaster, bars, settings) for bars in bars_list]
    futures = [future_times(bars, h, settings.horizon) for bars, h in zip(bars_list, histories)]
    with computing() as threads:
        made = forecaster.sample_batch(histories, futures, settings)
    return [_stamp(fc, forecaster, settings, started, threads) for fc in made]


def _stamp(fc: Forecast, forecaster, settings, started: float, threads: ThreadUse) -> Forecast:
    """The provenance every forecast carries, written here only; the forecaster's own (what it is, how it
    sampled) stays beside it. ``threads``: the CPU threads it sampled with, and why (``kronos.threads``).
    Candles leave valid, volume and amount bounded (``bounds.bounded``)."""
    fc = bounded(fc)
    fc.provenance.update(history_provenance(fc.history, settings, started))
    fc.provenance["forecaster"] = forecaster.key
    fc.provenance["threads"] = threads.describe()
    return fc
