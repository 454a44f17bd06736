"""The workspace's forecast ledger: ``/v1/ledger/...`` (its forecasts, scores, track record, drift; scoring
new bars; deleting a forecast)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from kronos.settings import Bounds
from kronos_studio.ledger.drift_window import MIN_SCORED
from kronos_studio.risk.measures import RiskSettings

from ..deps import Shared, TextQuery, Who, WorkspaceLedger
from ..errors import ServiceError
from ..ledger_views import drift_body, ledger_filters, records, track_record_body
from ..public_ids import FORECAST_ID_CHARS, AdapterNumbers, forecast_frame, forecast_row
from ..schemas import EVERY_ROUTE, ScoreRequest, answers, bounded_type, knob_fields

router = APIRouter(prefix="/v1/ledger", responses=answers(*EVERY_ROUTE))
LEVELS = "VaR/ES levels of the exceptions (repeatable; default 0.95 and 0.99)"
POSITIONS = "positions of the exceptions: long and/or short (repeatable; default both)"
# the exceptions' levels and positions: RiskSettings' own fields, with their bounds (sets, a bounded count)
LEVEL_TYPE, POSITION_TYPE = (hint for hint, _ in knob_fields(RiskSettings, ("levels", "positions")).values())
Levels = Annotated[LEVEL_TYPE, Query(description=LEVELS)]  # optional (None: the defaults), never JSON's null
Positions = Annotated[POSITION_TYPE, Query(description=POSITIONS)]
LAST = Annotated[bounded_type(int, "last", Bounds(ge=MIN_SCORED)),
                 Query(description="the newest scored forecasts judged per series and model")]
FORECAST_ID = Annotated[str, Path(pattern=f"^[0-9a-f]{{{FORECAST_ID_CHARS}}}$",
                                  description="a forecast's public id (its ledger 'id', GET /v1/ledger/predictions)")]


@router.get("/predictions")
def ledger_predictions(who: Who, ledger: WorkspaceLedger, symbol: TextQuery = None, source: TextQuery = None,
                       interval: TextQuery = None, model: TextQuery = None, since: TextQuery = None):
    """The workspace's forecasts with their realized scores so far, newest first."""
    frame = ledger.predictions_frame(**ledger_filters(symbol, source, interval, model, since))
    return {"workspace": who.workspace, "predictions": public_records(frame, ledger)}


@router.get("/evaluations")
def ledger_evaluations(who: Who, ledger: WorkspaceLedger, symbol: TextQuery = None, source: TextQuery = None,
                       interval: TextQuery = None, model: TextQuery = None, since: TextQuery = None):
    """The workspace's scored (forecast, step) rows."""
    frame = ledger.evaluations_frame(**ledger_filters(symbol, source, interval, model, since))
    return {"workspace": who.workspace, "evaluations": public_records(frame, ledger)}


@router.get("/track-record")
def ledger_track_record(who: Who, ledger: WorkspaceLedger, symbol: TextQuery = None, source: TextQuery = None,
                        interval: TextQuery = None, since: TextQuery = None, include_experiments: bool = False,
                        levels: Levels = None, positions: Positions = None,
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
def ledger_drift(who: Who, ledger: WorkspaceLedger, symbol: TextQuery = None, source: TextQuery = None,
                 interval: TextQuery = None, model: TextQuery = None, last: LAST = None,
                 include_experiments: bool = False):
    """Drift of each series and model in the workspace over its ``last`` newest scored forecasts (`kronos
    ledger drift`): the state (ok, drifting, too few scored forecasts), first-bar coverage with its binomial
    p-value, the PIT's Kolmogorov-Smirnov p-value, CRPS skill against the random walk with its 95% interval."""
    filters = ledger_filters(symbol, source, interval, model, None)
    return {"workspace": who.workspace, **drift_body(ledger, filters, last, include_experiments)}


@router.post("/score", responses=answers(400))
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


@router.delete("/predictions/{prediction_id}", responses=answers(404))
def ledger_delete(prediction_id: FORECAST_ID, who: Who, ledger: WorkspaceLedger):
    """Remove one of the workspace's forecasts (its public id) with its paths and scores."""
    from kronos_studio.ledger import LedgerError

    try:
        ledger.delete(forecast_row(ledger, prediction_id))
    except LedgerError:
        raise ServiceError(404, f"no forecast '{prediction_id}' in workspace '{who.workspace}'") from None
    return {"deleted": prediction_id}


def public_records(frame, ledger) -> list[dict]:
    """A ledger table as JSON records, its forecast ids and adapters named as the workspace knows them."""
    records_ = records(forecast_frame(frame, ledger))
    if "adapter_id" in frame.columns:
        numbers = AdapterNumbers(ledger)
        records_ = [{**r, "adapter_id": numbers.number(r["adapter_id"])} for r in records_]
    return records_
