"""The Fine-tune page's run: ``Desk.fine_tune`` of the sidebar's bars and model under two progress bars, the
training's (steps, elapsed, ETA, validation loss) and the before/after walk-forward's."""
from __future__ import annotations

import time

import streamlit as st

from kronos_studio.desk import FineTuned, FineTunePlan, FineTuneRequest, ModelRef

from . import forecasts
from .models import load_model


def run(bars, choice: ModelRef, settings, plan: FineTunePlan, folder, calendar) -> FineTuned:
    """An adapter of ``choice`` trained on ``bars`` as ``plan`` asks, written to ``folder`` (named after it), with
    ``calendar``'s events (None: none), then judged before/after with ``settings``. Raises ``UserError``s and
    ``CheckpointError`` with messages meant for the user."""
    load_model(choice)  # with its download's progress: the desk then finds it loaded
    request = FineTuneRequest((bars,), settings, str(folder), choice, plan, name=folder.name,
                              calendars=() if calendar is None else (calendar,), bundled_calendar=False)
    bar = st.progress(0.0, text="Fine-tuning: preparing…")
    started = time.perf_counter()

    def progress(step, total, record):
        if step % max(1, total // 100) and step != total:
            return
        el = time.perf_counter() - started
        loss = f" · val loss {record['val_loss']:.4f}" if "val_loss" in record else ""
        bar.progress(step / total, text=f"Fine-tuning: step {step} of {total} · {el:.0f} s · "
                                        f"ETA {el / step * (total - step):.0f} s{loss}")

    names = []

    def evaluation_progress(model, i, n):
        if model not in names:
            names.append(model)
        bar.progress(min(1.0, (len(names) - 1 + i / n) / 6), text=f"Walk-forward: {model} ({i}/{n})")

    try:
        return forecasts.desk().fine_tune(request, progress=progress, evaluation_progress=evaluation_progress)
    finally:
        bar.empty()
