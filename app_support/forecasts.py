"""Forecast runs: a content-addressed store of sampled paths (shared by all sessions of the process)
and a runner that shows a progress bar with steps and ETA while sampling."""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

import pandas as pd
import streamlit as st

from .models import ModelChoice, load_model, model_identity

MAX_STORED = 64


class LRUStore:
    """A thread-safe LRU of results by content key. Forecasts are keyed by (data hash, interval,
    calendar, future stamps, model, settings); the settings hold the seed, so equal keys mean equal
    samples, and quantiles are re-drawn from the stored paths, never resampled."""

    def __init__(self, size: int = MAX_STORED):
        self._items: OrderedDict = OrderedDict()
        self._running: dict = {}  # key -> Event set when the run that computes it ends
        self._lock = threading.Lock()
        self.size = size

    def claim(self, key) -> tuple[bool, threading.Event]:
        """(True, event) when the caller is to compute ``key`` (and must ``release`` it), or
        (False, event) when another thread already is: wait on the event, then ``get``."""
        with self._lock:
            if key in self._running:
                return False, self._running[key]
            event = self._running[key] = threading.Event()
            return True, event

    def release(self, key) -> None:
        with self._lock:
            event = self._running.pop(key, None)
        if event is not None:
            event.set()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, forecast) -> None:
        with self._lock:
            self._items[key] = forecast
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@st.cache_resource(show_spinner=False)
def store() -> LRUStore:
    return LRUStore()


def _stamp_digest(stamps: pd.DatetimeIndex | None) -> str:
    if stamps is None:
        return "calendar"
    return hashlib.sha256(",".join(map(str, stamps)).encode()).hexdigest()[:16]


def forecast_key(bars, choice: ModelChoice, settings, future=None) -> tuple:
    return (bars.content_hash(), bars.interval, bars.calendar, _stamp_digest(future), model_identity(choice, bars),
            settings)


def future_stamps(bars, horizon: int) -> pd.DatetimeIndex:
    """Future bar times on the bars' trading calendar (sessions, holidays), as the data layer knows it."""
    from kronos.pipeline import InputError

    try:
        return bars.future_timestamps(horizon)
    except Exception as e:
        raise InputError(f"could not place {horizon} future bars after the last one ({e}); "
                         "check the interval, or use fewer bars of horizon") from None


def cached(bars, choice: ModelChoice, settings, future=None):
    return store().get(forecast_key(bars, choice, settings, future))


class ProgressBar:
    """st.progress with step count, elapsed time and ETA; redraws at most every 0.1 s."""

    def __init__(self, label: str, unit: str = "step"):
        self.bar = st.progress(0.0, text=f"{label}: preparing…")
        self.unit = unit
        self.restart(label)

    def restart(self, label: str) -> None:
        """A new phase: new label, elapsed time and ETA from now."""
        self.label = label
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, step: int, total: int) -> None:
        now = time.perf_counter()
        if step < total and now - self.last < 0.1:
            return
        self.last = now
        elapsed = now - self.started
        eta = elapsed / step * (total - step) if step else 0.0
        self.bar.progress(step / total, text=f"{self.label}: {self.unit} {step} of {total} · "
                                             f"{elapsed:.1f} s elapsed · ETA {eta:.1f} s")

    def done(self) -> None:
        self.bar.empty()


def run(bars, choice: ModelChoice, settings, future=None, label: str | None = None):
    """(Forecast, came_from_store). Loads the model once per process; raises kronos.pipeline.InputError
    or kronos.checkpoints.CheckpointError with messages meant for the user."""
    key = forecast_key(bars, choice, settings, future)
    results = store()
    while True:
        hit = results.get(key)
        if hit is not None:
            return hit, True
        mine, finished = results.claim(key)
        if mine:
            break
        # The same forecast is running for another session: share its result instead of sampling it twice.
        with st.spinner("The same forecast is being sampled for another session: sharing its result…"):
            finished.wait()
    try:
        return _sample(bars, choice, settings, future, label, key), False
    finally:
        results.release(key)  # on failure too: a waiting session then tries itself and gets its own message


def _sample(bars, choice: ModelChoice, settings, future, label: str | None, key):
    from kronos.pipeline import KronosPipeline

    if future is None:
        future = future_stamps(bars, settings.horizon)
    if choice.kind == "ensemble":  # every member and the mixture from one run (app_support.ensemble)
        from .ensemble import sample

        fc = sample(bars, choice, settings, future, label)
        store().put(key, fc)
        return fc
    pair = load_model(choice)
    bar = ProgressBar(label or f"Sampling {settings.paths} paths with {pair.name}")
    try:
        fc = KronosPipeline(pair).predict(bars, settings=settings, future_timestamps=future, progress=bar)
    finally:
        bar.done()
    store().put(key, fc)
    return fc
