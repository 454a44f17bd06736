"""What every page's long runs share: a thread-safe LRU of results by content key (with one computation
per key across sessions) and a progress bar with steps and ETA. Imports nothing else of the app, so any
module of it can use them without an import cycle."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

import streamlit as st

MAX_STORED = 64


class LRUStore:
    """A thread-safe LRU of results by content key. Forecasts are keyed by (workspace, data hash, interval,
    calendar, future stamps, model, settings); the settings hold the seed, so equal keys mean equal
    samples, and quantiles are re-drawn from the stored paths, never resampled. The workspace keeps a
    signed-in user's results their own (``forecasts.forecast_key``)."""

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
