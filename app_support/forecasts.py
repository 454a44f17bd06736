"""Forecast runs through the front desk (``kronos_studio.desk``): one result cache for every session of the
process (``models.results``), each forecast sampled once under a progress bar with steps and ETA."""
from __future__ import annotations

import streamlit as st

from kronos.config import default_lookback
from kronos.errors import InputError, UserError
from kronos.lazy import pd
from kronos_studio.desk import Desk, ForecastRequest, ModelRef

from .models import app_decode, app_desk, load_model, registry, wait_for_torch
from .runs import ProgressBar


def desk(computing: bool = True) -> Desk:
    """The app's desk (``app_desk``) over the registry in the app's decode mode. Not ``computing`` (a look into
    the cache): the decode mode is not read, so a page drawn before the warm-up does not import the model code."""
    if not computing:
        return app_desk()
    return app_desk().over(registry().decoding(app_decode()))


def identity(choice: ModelRef, bars) -> dict:
    """What ``choice`` is now for ``bars`` (``Desk.identity``), for the keys of results the app keeps beside the
    desk's (reports, backtests, adapter forecasts) in the session's workspace."""
    from .auth import workspace

    return desk(computing=False).identity(choice, bars, workspace())


def future_stamps(bars, horizon: int) -> pd.DatetimeIndex:
    """Future bar times on the bars' trading calendar (sessions, holidays), as the data layer knows it."""
    try:
        return bars.future_timestamps(horizon)
    except Exception as e:
        raise InputError(f"could not place {horizon} future bars after the last one ({e}); "
                         "check the interval, or use fewer bars of horizon") from None


def step_work(bars, settings, context: int) -> list[float]:
    """Each sampling step's expected cost for a Kronos model of ``context`` tokens reading ``settings.lookback`` of
    ``bars`` (``kronos.generate.step_work``): the steps past its context re-read their window and take far longer,
    which the ETA must know before the first of them runs."""
    from kronos.generate import step_work as work

    read = min(len(bars), settings.lookback or default_lookback(context, settings.horizon))
    return work([read], settings.horizon, context)


def cached(bars, choice: ModelRef, settings, future=None):
    """The kept forecast, or None (also when what serves ``champion`` cannot be read now: the run says why)."""
    from .auth import workspace

    try:
        kept = desk(computing=False).kept_forecast(ForecastRequest(bars, choice, settings, workspace(), future))
    except UserError:
        return None
    return None if kept is None else kept.forecast


def run(bars, choice: ModelRef, settings, future=None, label: str | None = None):
    """(Forecast, came_from_cache): sampled once per identical request across sessions (a session asking for
    one being sampled for another waits for it); the model loaded once per process. Raises
    kronos.errors.UserError or kronos.checkpoints.CheckpointError with messages meant for the user."""
    from .auth import workspace

    kept = cached(bars, choice, settings, future)
    if kept is not None:
        return kept, True
    if future is None:
        future_stamps(bars, settings.horizon)  # bars that cannot be placed refused in words before any loading
    work = None
    if choice.per_series:
        wait_for_torch()
    else:
        load_model(choice)  # with its download's progress, or a spinner: the desk then finds it loaded
        work = None if choice.mixes else step_work(bars, settings, choice.context)
    bar = ProgressBar(label or (f"Ensemble: sampling {settings.paths} paths from each member" if choice.mixes
                                else f"Sampling {settings.paths} paths with {choice.label}"),
                      unit="member" if choice.mixes else "step", work=work)
    try:
        done = desk().forecast(ForecastRequest(bars, choice, settings, workspace(), future), progress=bar,
                               waiting=lambda: st.spinner("The same forecast is being sampled for another session: "
                                                          "sharing its result…"))
    finally:
        bar.done()
    return done.forecast, done.from_cache
