"""The forecast a long-running process makes once at start-up, before anyone asks: ``kronos serve --decode
compiled`` and the app with ``KRONOS_STUDIO_DECODE=compiled``. It loads the model and, in compiled mode,
starts compiling the decode steps of the shape the first requests most likely have (on a background thread:
``kronos.accel.static_decode``), so that they find them ready instead of waiting or running the eager steps."""
from __future__ import annotations

from collections.abc import Callable

from kronos.settings import ForecastSettings
from kronos_studio.forecasters.make import make_forecast

from .resolve import ModelRef, resolve


def warm_up_forecast(ref: ModelRef | str | None, settings: ForecastSettings, *,
                     load_pair: Callable[[str], object], decode: str | None) -> None:
    """One forecast of the first bundled sample by ``ref`` (None: the bundled default) with ``settings``:
    the settings of the requests to be ready for, since a compiled decode step serves one shape (paths,
    horizon and context rounded up, sampling). ``load_pair`` loads the model as the process's own
    forecasts load it, so that they share its compiled steps. Raises what ``resolve`` and
    ``make_forecast`` raise; a process works without its warm-up."""
    from data_sources import list_samples, load_sample

    bars = load_sample(list_samples()[0].name)
    make_forecast(resolve(ref, bars, settings, load_pair=load_pair, decode=decode), bars, settings)
