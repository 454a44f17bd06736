"""Forecast runs: a content-addressed store of sampled paths (shared by all sessions of the process)
and a runner that shows a progress bar with steps and ETA while sampling."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from .models import ModelChoice, forecaster, model_identity
from .runs import LRUStore, ProgressBar


@st.cache_resource(show_spinner=False)
def store() -> LRUStore:
    return LRUStore()


def _stamp_digest(stamps: pd.DatetimeIndex | None) -> str:
    if stamps is None:
        return "calendar"
    return hashlib.sha256(",".join(map(str, stamps)).encode()).hexdigest()[:16]


def forecast_key(bars, choice: ModelChoice, settings, future=None) -> tuple:
    """The store's key: the workspace first (with sign-in, a user's identical forecast is never another's "from
    cache"; without, every session shares the default one), then everything the sampled paths depend on."""
    from . import auth

    return (auth.workspace(), bars.content_hash(), bars.interval, bars.calendar, _stamp_digest(future),
            model_identity(choice, bars), settings)


def future_stamps(bars, horizon: int) -> pd.DatetimeIndex:
    """Future bar times on the bars' trading calendar (sessions, holidays), as the data layer knows it."""
    from kronos.errors import InputError

    try:
        return bars.future_timestamps(horizon)
    except Exception as e:
        raise InputError(f"could not place {horizon} future bars after the last one ({e}); "
                         "check the interval, or use fewer bars of horizon") from None


def cached(bars, choice: ModelChoice, settings, future=None):
    """The stored forecast, or None (also when what serves ``champion`` cannot be read now: the run says why)."""
    from kronos.errors import UserError

    try:
        key = forecast_key(bars, choice, settings, future)
    except UserError:
        return None
    return store().get(key)


def run(bars, choice: ModelChoice, settings, future=None, label: str | None = None):
    """(Forecast, came_from_store). Loads the model once per process; raises kronos.errors.InputError
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
    from kronos_studio.forecasters import make_forecast

    if future is None:
        future = future_stamps(bars, settings.horizon)
    fc_maker = forecaster(bars, choice, settings)
    many = len(fc_maker.members)
    bar = ProgressBar(label or (f"Ensemble: sampling {settings.paths} paths from each of {many} members" if many
                                else f"Sampling {settings.paths} paths with {fc_maker.name}"),
                      unit="member" if many else "step")
    try:
        fc = make_forecast(fc_maker, bars, settings, future, progress=bar)
    finally:
        bar.done()
    store().put(key, fc)
    return fc
