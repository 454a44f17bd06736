"""The workspace's forecast ledger: ``/v1/ledger/...`` (its forecasts, scores, track record, drift; scoring
new bars; deleting a forecast), each the desk's use case on the workspace's ledger, its query parameters drawn from
the desk request's knobs (``deps.with_query``)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from data_sources.requests import BarsRequest
from kronos.settings import from_knobs
from kronos_studio.desk import DriftRequest, LedgerQuery, RiskSettings, StepsRequest, TrackRecordRequest
from kronos_studio.desk import ScoreRequest as Scoring
from kronos_studio.desk.ledger import LedgerError

from ..deps import Shared, Who, WorkspaceLedger, knob_request, with_query
from ..errors import ServiceError, notice_line
from ..ledger_views import records, track_record_body
from ..public_ids import FORECAST_ID_CHARS, AdapterNumbers, forecast_frame, forecast_row
from ..schemas import EVERY_ROUTE, ScoreRequest, answers, knob_fields

router = APIRouter(prefix="/v1/ledger", responses=answers(*EVERY_ROUTE))
LEVELS = "VaR/ES levels of the exceptions (repeatable; default 0.95 and 0.99)"
POSITIONS = "positions of the exceptions: long and/or short (repeatable; default both)"
# the exceptions' levels and positions: RiskSettings' own fields, with their bounds (sets, a bounded count)
LEVEL_TYPE, POSITION_TYPE = (hint for hint, _ in knob_fields(RiskSettings, ("levels", "positions")).values())
Levels = Annotated[LEVEL_TYPE, Query(description=LEVELS)]  # optional (None: the defaults), never JSON's null
Positions = Annotated[POSITION_TYPE, Query(description=POSITIONS)]
FORECAST_ID = Annotated[str, Path(pattern=f"^[0-9a-f]{{{FORECAST_ID_CHARS}}}$",
                                  description="a forecast's public id (its ledger 'id', GET /v1/ledger/predictions)")]


@router.get("/predictions")
@with_query(LedgerQuery)
def ledger_predictions(who: Who, ledger: WorkspaceLedger, service: Shared, **asked):
    """The workspace's forecasts with their realized scores so far, newest first."""
    done = service.desk.predictions(knob_request(LedgerQuery, asked), ledger=ledger)
    return {"workspace": who.workspace, "predictions": public_records(done.predictions, ledger)}


@router.get("/evaluations")
@with_query(LedgerQuery)
def ledger_evaluations(who: Who, ledger: WorkspaceLedger, service: Shared, **asked):
    """The workspace's scored (forecast, step) rows."""
    done = service.desk.steps(knob_request(StepsRequest, asked, scored_only=True), ledger=ledger)
    return {"workspace": who.workspace, "evaluations": public_records(done.steps, ledger)}


@router.get("/track-record")
@with_query(TrackRecordRequest)
def ledger_track_record(who: Who, ledger: WorkspaceLedger, service: Shared, levels: Levels = None,
                        positions: Positions = None,
                        exceptions: Annotated[bool, Query(description="also the VaR exceptions (reads every scored "
                                                                      "forecast's paths)")] = True, **asked):
    """The realized track record of each model in the workspace (coverage, CRPS %, direction hits), of
    the forecasts at the default sampling settings unless ``include_experiments``; and ``exceptions``: each
    scored forecast's VaR/ES at ``levels`` for ``positions`` read from its paths, its exception, and per series
    and model the exceptions against the expected count with Kupiec and Christoffersen on non-overlapping
    forecasts (`kronos ledger exceptions`)."""
    request = knob_request(TrackRecordRequest, asked)
    return {"workspace": who.workspace, **track_record_body(service.desk, ledger, request, levels, positions,
                                                            exceptions)}


@router.get("/drift")
@with_query(DriftRequest)
def ledger_drift(who: Who, ledger: WorkspaceLedger, service: Shared, **asked):
    """Drift of each series and model in the workspace over its ``last`` newest scored forecasts (`kronos
    ledger drift`): the state (ok, drifting, too few scored forecasts), first-bar coverage with its binomial
    p-value, the PIT's Kolmogorov-Smirnov p-value, CRPS skill against the random walk with its 95% interval."""
    done = service.desk.drift(knob_request(DriftRequest, asked), ledger=ledger)
    return {"workspace": who.workspace, "last": done.thresholds.last, "drift": [d.to_dict() for d in done.drifts]}


@router.post("/score", responses=answers(400))
def ledger_score(body: ScoreRequest, ledger: WorkspaceLedger, service: Shared):
    """Score the workspace's forecasts of a series on newer bars of it (`kronos ledger score FILE`), read through
    the data-quality gate as a forecast's bars are (``fix``: its fixes accepted)."""
    done = service.desk.score(Scoring(from_knobs(BarsRequest, body)), ledger=ledger)
    [series] = done.series
    return {"predictions": series.predictions, "steps": series.steps, "completed": series.completed,
            "skipped": series.waiting, "warnings": [notice_line(n) for n in done.notices]}


@router.delete("/predictions/{prediction_id}", responses=answers(404))
def ledger_delete(prediction_id: FORECAST_ID, who: Who, ledger: WorkspaceLedger):
    """Remove one of the workspace's forecasts (its public id) with its paths and scores."""
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
