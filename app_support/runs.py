"""What every page's long runs share: a progress bar with steps and ETA. Imports nothing else of the app, so
any module of it can use it without an import cycle."""
from __future__ import annotations

import time

import streamlit as st


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
