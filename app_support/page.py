"""The opening steps every page shares: the sidebar's inputs, the bars (or why not), their staleness
and description, the lookback the model(s) will read, the data-quality gate and the sampling settings.
A page calls ``open_page`` once and gets what it needs, or the page stops with a message."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from kronos_studio.desk import ModelRef

from . import data, ledger, sidebar


@dataclass
class PageStart:
    inputs: sidebar.Inputs
    bars: object  # data_sources.Bars, with the fixes the user accepted
    lookback: int
    settings: object | None  # kronos.pipeline.ForecastSettings; None when the page asked for none

    @property
    def choice(self) -> ModelRef | None:
        return self.inputs.model


def open_page(*, need_model: bool = True, gate_key: str | None = "fix", settings: bool = True) -> PageStart:
    """``need_model``: stop when no model is chosen. ``gate_key``: widget key prefix of the quality
    gate, None for a page that gates later itself. ``settings``: check the sampling settings."""
    inputs = sidebar.current()
    bars = data.load(inputs)
    if bars is not None:
        ledger.score(bars)  # newer bars of a series score its forecasts that are due (app_support.ledger)
    if bars is None or (need_model and inputs.model is None):
        st.stop()
    data.show_staleness(bars)
    st.markdown(data.describe(bars))
    for note in (data.naming_note(bars), data.calendar_note(bars)):
        if note:
            st.caption(note, help=None)
    lookback = inputs.lookback_for(inputs.model)
    slides = inputs.slides(inputs.model)
    if slides:
        m = inputs.model
        st.caption(f"Lookback {lookback} + horizon {inputs.horizon} exceed the {m.context} bars {m.label} reads: the "
                   f"last {slides} sampling steps recompute a sliding window (exact, as the official model, but "
                   f"slower). A lookback of {max(2, m.context - inputs.horizon)} keeps every step on the cache.")
    if gate_key is not None:
        bars = data.quality_gate(bars, lookback, key=gate_key)
        if bars is None:
            st.stop()
    return PageStart(inputs, bars, lookback, inputs.settings_or_stop(lookback) if settings else None)
