"""What every page's long runs share: a progress bar with steps and ETA. Imports nothing else of the app, so
any module of it can use it without an import cycle."""
from __future__ import annotations

import time
from collections.abc import Sequence

import streamlit as st


class Eta:
    """The seconds a run has left, from the time its done steps took. ``work``: each step's expected cost
    (``kronos.generate.step_work``: 1 for a cached decode step, more for one whose window slides); without it every
    step costs the same. The steps of work 1 and the heavier ones are timed apart: each kind's seconds per unit of
    work are measured on its own steps once one has run (until then the heavier ones are priced at the cached
    steps' rate times their work), so a forecast whose later steps slide is not foretold from its fast first ones,
    and a machine where sliding costs less than the model says is believed as soon as it shows it."""

    def __init__(self, work: Sequence[float] | None = None):
        self.work = None if work is None else [float(w) for w in work]
        self.step = 0  # steps done so far
        self.spent = {False: 0.0, True: 0.0}  # seconds on the steps of work 1 (False) and the heavier ones (True)
        self.done = {False: 0.0, True: 0.0}  # the work of those steps

    def _work(self, total: int) -> list[float]:
        return self.work if self.work is not None and len(self.work) == total else [1.0] * total

    def record(self, step: int, seconds: float, total: int) -> None:
        """Steps up to ``step`` are done, ``seconds`` after the previous record (shared by the steps between in
        proportion to their work). A step before the last recorded one starts the count again."""
        if step < self.step:
            self.__init__(self.work)
        work = self._work(total)
        between = work[self.step:step]
        whole = sum(between)
        for w in between:
            self.spent[w > 1] += seconds * w / whole
            self.done[w > 1] += w
        self.step = max(self.step, step)

    def left(self, total: int) -> float:
        """Seconds the steps after the recorded ones should take."""
        light = self.spent[False] / self.done[False] if self.done[False] else None
        heavy = self.spent[True] / self.done[True] if self.done[True] else light
        light = heavy if light is None else light
        if light is None:
            return 0.0
        return sum(w * (heavy if w > 1 else light) for w in self._work(total)[self.step:total])


class ProgressBar:
    """st.progress with step count, elapsed time and ETA (``Eta``; ``work``: each step's expected cost); redraws at
    most every 0.1 s."""

    def __init__(self, label: str, unit: str = "step", work: Sequence[float] | None = None):
        self.bar = st.progress(0.0, text=f"{label}: preparing…")
        self.unit = unit
        self.restart(label, work)

    def restart(self, label: str, work: Sequence[float] | None = None) -> None:
        """A new phase: new label, elapsed time and ETA from now."""
        self.label = label
        self.started = self.mark = time.perf_counter()
        self.last = 0.0
        self.eta = Eta(work)

    def __call__(self, step: int, total: int) -> None:
        now = time.perf_counter()
        self.eta.record(step, now - self.mark, total)
        self.mark = now
        if step < total and now - self.last < 0.1:
            return
        self.last = now
        self.bar.progress(min(step / total, 1.0), text=f"{self.label}: {self.unit} {step} of {total} · "
                                                       f"{now - self.started:.1f} s elapsed · "
                                                       f"ETA {self.eta.left(total):.1f} s")

    def done(self) -> None:
        self.bar.empty()
