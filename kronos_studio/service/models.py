"""Models loaded once and kept warm: a small thread-safe registry keyed by model reference. Requests that
name the same model share its weights; a model's first requests wait on one load, not one each."""
from __future__ import annotations

import threading
from collections.abc import Callable

from kronos.settings import DEFAULT_HORIZON, ForecastSettings


class ModelRegistry:
    """Kronos pairs by the reference ``resolve`` loads them by (the bundled default: its folder).
    ``load(ref)``: how a pair is loaded (default ``kronos.checkpoints.load_pair(ref)``, as ``kronos
    forecast`` loads it without options)."""

    def __init__(self, load: Callable[[str], object] | None = None, decode: str | None = None):
        """``decode``: how every pipeline runs its decode loop (``kronos.accel.resolve_decode``); 'compiled'
        keeps compiled steps on each loaded model (``kronos serve --decode``)."""
        self.decode = decode
        if load is None:
            from kronos.checkpoints import load_pair as load
        self.load = load
        self.pairs: dict[str, object] = {}
        self.lock = threading.Lock()  # guards the two dicts, never held while loading or sampling
        self.loading: dict[str, threading.Lock] = {}
        self.sampling: dict[str, threading.Lock] = {}

    def pair(self, ref: str):
        """The warm pair of ``ref``, loaded on its first use."""
        ref = str(ref)
        with self.lock:
            if ref in self.pairs:
                return self.pairs[ref]
            one_load = self.loading.setdefault(ref, threading.Lock())
        with one_load:  # concurrent first requests: one loads, the others then find it loaded
            with self.lock:
                if ref in self.pairs:
                    return self.pairs[ref]
            pair = self.load(ref)
            with self.lock:
                self.pairs[ref] = pair
            return pair

    def forecaster(self, ref: str | None, bars, settings: ForecastSettings, workspace: str | None = None):
        """The forecaster ``ref`` names (``kronos_studio.forecasters.resolve``) on a warm pair, with
        ``workspace``'s fits of the ensemble to a series. Raises what ``resolve`` raises
        (``CheckpointError``, ``FileNotFoundError``, ``ValueError``)."""
        from kronos_studio.forecasters import resolve

        return resolve(ref, bars, settings, load_pair=self.pair, workspace=workspace, decode=self.decode)

    def sampling_lock(self, ref: str | None) -> threading.Lock:
        """Held while a model samples: one forecast per model at a time, each on all the cores, instead
        of several fighting for them (and one pair's modules are never run from two threads at once)."""
        with self.lock:
            return self.sampling.setdefault(str(ref), threading.Lock())

    def warm_up(self, horizon: int = DEFAULT_HORIZON) -> None:
        """``kronos_studio.forecasters.warm_up_forecast`` by the default model at the default settings
        (``horizon`` bars, 30 paths): loads the model, and with decode 'compiled' starts compiling the usual
        shape's decode steps before the first requests need them. Errors are the forecast's own: the service
        works without a warm-up."""
        from kronos_studio.forecasters import warm_up_forecast

        with self.sampling_lock(None):
            warm_up_forecast(None, ForecastSettings(horizon=horizon), load_pair=self.pair, decode=self.decode)

    def loaded(self) -> list[str]:
        with self.lock:
            return list(self.pairs)
