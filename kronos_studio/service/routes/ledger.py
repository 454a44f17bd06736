"""The workspace's forecast ledger: ``/v1/ledger/...`` (its forecasts, scores, track record, drift; scoring
new bars; deleting a forecast)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ..deps import Shared, Who, WorkspaceLedger
from ..errors import ServiceError
from ..ledger_views import drift_body, ledger_filters, records, track_record_body
from ..schemas import ScoreRequest

router = APIRouter(prefix="/v1/ledger")
LEVELS = "VaR/ES levels of the exceptions (repeatable; default 0.95 and 0.99)"
POSITIONS = "positions of the exceptions: long and/or short (repeatable; default both)"
ROW_ID = Annotated[int, Path(ge=1, le=2**63 - 1, description="a forecast's id (a 64-bit integer of the ledger)")]


@router.get("/predictions")
def ledger_predictions(who: Who, ledger: WorkspaceLedger, symbol: str | None = None, source: str | None = None,
                       interval: str | None = None, model: str | None = None, since: str | None = None):
    """The workspace's forecasts with their realized scores so far, newest first."""
    frame = ledger.predictions_frame(**ledger_filters(symbol, source, interval, model, since))
    return {"workspace": who.workspace, "predictions": records(frame)}


@router.get("/evaluations")
def ledger_evaluations(who: Who, ledger: WorkspaceLedger, symbol: str | None = None, source: str | None = None,
                       interval: str | None = None, model: str | None = None, since: str | None = None):
    """The workspace's scored (forecast, step) rows."""
    frame = ledger.evaluations_frame(**ledger_filters(symbol, source, interval, model, since))
    return {"workspace": who.workspace, "evaluations": records(frame)}


@router.get("/track-record")
def ledger_track_record(who: Who, ledger: WorkspaceLedger, symbol: str | None = None, source: str | None = None,
                        interval: str | None = None, since: str | None = None, include_experiments: bool = False,
                        levels: Annotated[list[float] | None, Query(description=LEVELS)] = None,
                        positions: Annotated[list[str] | None, Query(description=POSITIONS)] = None,
                        exceptions: Annotated[bool, Query(description="also the VaR exceptions (reads every scored "
                                                                      "forecast's paths)")] = True):
    """The realized track record of each model in the workspace (coverage, CRPS %, direction hits), of
    the forecasts at the default sampling settings unless ``include_experiments``; and ``exceptions``: each
    scored forecast's VaR/ES at ``levels`` for ``positions`` read from its paths, its exception, and per series
    and model the exceptions against the expected count with Kupiec and Christoffersen on non-overlapping
    forecasts (`kronos ledger exceptions`)."""
    filters = ledger_filters(symbol, source, interval, None, since)
    return {"workspace": who.workspace, **track_record_body(ledger, filters, include_experiments, levels, positions,
                                                            exceptions)}


@router.get("/drift")
def ledger_drift(who: Who, ledger: WorkspaceLedger, symbol: str | None = None, source: str | None = None,
                 interval: str | None = None, model: str | None = None, last: int | None = None,
                 include_experiments: bool = False):
    """Drift of each series and model in the workspace over its ``last`` newest scored forecasts (`kronos
    ledger drift`): the state (ok, drifting, too few scored forecasts), first-bar coverage with its binomial
    p-value, the PIT's Kolmogorov-Smirnov p-value, CRPS skill against the random walk with its 95% interval."""
    filters = ledger_filters(symbol, source, interval, model, None)
    return {"workspace": who.workspace, **drift_body(ledger, filters, last, include_experiments)}


@router.post("/score")
def ledger_score(body: ScoreRequest, ledger: WorkspaceLedger, service: Shared):
    """Score the workspace's forecasts of a series on newer bars of it (`kronos ledger score FILE`)."""
    from kronos_studio.bars_input import read_csv_text

    service.limits.check_csv_lines(body.bars_csv)
    bars = read_csv_text(body.bars_csv, symbol=body.symbol, exchange=body.exchange, timezone=body.timezone,
                         calendar=body.calendar)
    service.limits.check_bars(len(bars.frame))
    report = ledger.score(bars)
    return {"predictions": report.predictions, "steps": report.steps, "completed": report.completed,
            "skipped": report.skipped}


@router.delete("/predictions/{prediction_id}")
def ledger_delete(prediction_id: ROW_ID, who: Who, ledger: WorkspaceLedger):
    from kronos_studio.ledger import LedgerError

    try:
        ledger.delete(prediction_id)
    except LedgerError:
        raise ServiceError(404, f"no prediction {prediction_id} in workspace '{who.workspace}'") from None
    return {"deleted": prediction_id}
