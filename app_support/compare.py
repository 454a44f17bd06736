"""Compare page runs: the chosen models on the same bars, settings and seed. Forecast mode samples each model once
(``forecasts.run``); backtest mode is the front desk's (``Desk.compare_backtest``: every model walked forward over
the chosen cut-off and the ones before it, beside the random walk), under a progress bar, kept for every session,
so a display-only change (the view toggle) redraws without sampling."""
from __future__ import annotations

from kronos.errors import UserError
from kronos_studio.desk import CompareBacktested, CompareBacktestRequest, ComparePlan, CompareWindow, ModelRef

from . import auth, forecasts
from .errors import app_message
from .models import load_model, wait_for_torch
from .runs import ProgressBar


def run_forecasts(bars, choices: list[ModelRef], settings, clicked: bool) -> tuple[dict, dict]:
    """({label: Forecast}, {label: error}): stored forecasts, and on ``clicked`` the missing ones
    sampled; one model failing (e.g. an offline download) leaves the others standing."""
    results, errors = {}, {}
    for c in choices:
        fc = forecasts.cached(bars, c, settings)
        if fc is None and clicked:
            try:
                fc, _ = forecasts.run(bars, c, settings, label=f"{c.label}: sampling {settings.paths} paths")
            except Exception as e:
                errors[c.label] = app_message(e)
                continue
        if fc is not None:
            results[c.label] = fc
    return results, errors


def request(bars, choices: list[ModelRef], settings, cutoff, plan: ComparePlan) -> CompareBacktestRequest:
    """The desk's request of a backtest of ``choices`` on gated ``bars`` cut at ``cutoff``, in the session's
    workspace."""
    return CompareBacktestRequest(bars, tuple(choices), settings, cutoff, plan, auth.workspace())


def window(asked: CompareBacktestRequest) -> CompareWindow:
    """The bars the models see and those they are scored on (``Desk.compare_window``); a ``UserError`` when fewer
    than a horizon of bars follow the cut-off."""
    return forecasts.desk(computing=False).compare_window(asked)


def stored_backtest(asked: CompareBacktestRequest) -> CompareBacktested | None:
    """The kept backtest of this request, None when it was never run (or what serves ``champion`` cannot be read)."""
    try:
        return forecasts.desk(computing=False).kept_compare_backtest(asked)
    except UserError:  # the run says why
        return None


def run_backtest(asked: CompareBacktestRequest) -> CompareBacktested:
    """``Desk.compare_backtest`` under a progress bar (a phase per model); each model loaded first, with its
    download's progress. Raises ``UserError`` when no cut-off fits (too little history)."""
    for choice in asked.models:
        if choice.per_series:
            wait_for_torch()
        else:
            try:
                load_model(choice)
            except Exception:  # the backtest says why, beside the models that run
                pass
    bar = ProgressBar(f"Backtest: {asked.models[0].label}", unit="cut-off")
    phase = [asked.models[0].label]

    def progress(name, i, n):
        if name != phase[0]:
            phase[0] = name
            bar.restart(f"Backtest: {name}")
        bar(i, n)

    try:
        return forecasts.desk().compare_backtest(asked, progress=progress)
    finally:
        bar.done()
