"""A retrain request (``schemas.RetrainRequest``) as a job for ``jobs.JobRunner``: the bars read and gated
and the settings checked before the job starts (a 422 at once), then the gated retrain of the series
(``kronos_studio.training.retrain``) in the request's workspace; the result is one row per decision. With
``series`` (a watchlist, as ``POST /v1/batch`` takes), every series is retrained in turn
(``kronos_studio.batch.retrain_watchlist``) and each row names its series; a series refused or locked
is one row saying so, and the others go on."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from kronos.lazy import pd
from kronos.settings import knob_values
from kronos_studio.desk import DECIDED, LOCKED, REFUSED, RetrainRequest, RetrainSettings, RetrainWatchlistRequest
from kronos_studio.desk.retrain_watchlist import check_size

from . import compute
from .errors import ServiceError, one_line
from .jobs import checkpoint
from .public_ids import AdapterNumbers
from .schemas import knob_options
from .series import placed, series_entries

MADE_BY = "POST /v1/retrain"  # what the registry records as the maker of the adapters a request trains
ONE_SERIES = ("bars_csv", "source", "symbol", "interval", "exchange", "timezone")  # a watchlist names its own


def retrain_run(body, desk, ledger):
    """The job of a retrain request on ``ledger`` (scoped to the request's workspace) through the service's
    ``desk`` (its warm Kronos pairs, its limits). Without a model, a series is retrained on its champion's base."""
    # the settings' own checks (one rule for every face) and the limits, refused as the 422 or 413 they are
    settings = RetrainSettings(horizon=body.horizon, include_training_period=body.include_training_period,
                               **knob_values(body, RetrainSettings))
    if body.series is not None:
        return watchlist_run(body, settings, desk, ledger)
    check_size(desk.limits, settings)  # the server's limits first (a 413 names its setting), then the settings' own
    settings.check()  # before the bars are read (the base model's context is checked once it is loaded)
    retraining = desk.retrain(RetrainRequest(compute.bars_request(body), body.model, settings, body.every,
                                             made_by=MADE_BY), ledger=ledger, ways=compute.HTTP_WAYS)

    def run(folder: Path, stop):
        # a cancel stops it at the next training step or scoring phase: a retrain is made to be stopped
        # anywhere (the next one of the series clears what this one left half done)
        report = retraining.run(progress=lambda *_: checkpoint(stop))
        out, numbers = decisions_file(folder, ledger, report.decisions)
        return out, {"decisions": len(report.decisions), "champion": numbers.number(report.champion),
                     "promoted": sum(d["decision"] == "promoted" for d in report.decisions)}

    return run


def watchlist_run(body, settings, desk, ledger):
    """The job of a retrain request with ``series``: checked now by the desk, then each series retrained in turn
    (``Desk.retrain_watchlist``), one row per decision, a series refused or locked one row saying so."""
    given = [name for name in ONE_SERIES if getattr(body, name) is not None]
    if given:
        raise ServiceError(422, f"series names its series' bars: leave out {', '.join(given)}, or give one series' "
                                "bars without series")
    entries, texts = series_entries(desk, body.series, desk.limits)
    request = RetrainWatchlistRequest(entries, settings, model=body.model, made_by=MADE_BY,
                                      **knob_options(body, RetrainWatchlistRequest))
    desk.check_retrain_watchlist(request)

    def run(folder: Path, stop):
        done = desk.retrain_watchlist(dataclasses.replace(request, entries=placed(entries, texts, folder)),
                                      ledger=ledger, progress=lambda _: checkpoint(stop))  # a cancel: between series
        rows = []
        for outcome in done.outcomes:
            if outcome.status == DECIDED:
                rows += [{"series": outcome.series, **d, "series_champion": outcome.champion}
                         for d in outcome.decisions]
            else:
                rows.append({"series": outcome.series, "decision": outcome.status, "reason": one_line(outcome.error)})
        out, _ = decisions_file(folder, ledger, rows)
        return out, {"series": len(body.series), **{s: done.count(s) for s in (DECIDED, REFUSED, LOCKED)},
                     "promoted": done.promoted}

    return run


def decisions_file(folder: Path, ledger, rows: list[dict]):
    """(the job's result, one row per decision with its adapters named by their numbers in the workspace, the
    ``AdapterNumbers`` that named them): read after the run, so the adapters it registered are numbered too."""
    numbers = AdapterNumbers(ledger)
    out = folder / "decisions.parquet"
    pd.json_normalize([numbers.decision(r) for r in rows]).to_parquet(out, index=False)
    return out, numbers
