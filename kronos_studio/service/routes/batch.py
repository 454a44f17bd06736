"""Batch screens as jobs: ``POST /v1/batch`` starts one, ``GET /v1/jobs/{id}`` and ``/result`` follow it,
``DELETE /v1/jobs/{id}`` cancels it. A job's status and result name no path of the server (``redact``): its
series by their names."""
from __future__ import annotations

import json
import typing
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from kronos.lazy import pd
from kronos_studio.desk.exports import parquet_bytes

from ..batch_job import batch_run
from ..deps import Shared, Who
from ..errors import ServiceError
from ..ledger_views import records
from ..public_ids import AdapterNumbers
from ..redact import frame_without_paths, without_paths
from ..schemas import EVERY_ROUTE, BatchRequest, answers, forecast_settings

PARQUET = "application/vnd.apache.parquet"
JobId = Annotated[str, Path(min_length=1, max_length=64, description="the job's id (POST /v1/batch, /v1/retrain)")]
router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/batch", status_code=202, responses=answers(400, 404, 429))
def batch(body: BatchRequest, who: Who, service: Shared):
    """A screen of many series (`kronos batch`) as a job: its id now, its status and result later."""
    settings = forecast_settings(body)
    body = body.model_copy(update={"model": service.model(body.model)})
    run = batch_run(body, settings, service.desk, service.ledger.scoped(who.workspace))
    return service.jobs.submit(who, "batch", run).public()


@router.get("/v1/jobs/{job_id}", responses=answers(404))
def job_status(job_id: JobId, who: Who, service: Shared):
    status = service.jobs.get(who, job_id).public()
    if status["error"]:  # an adapter it names, by its number in the workspace
        status["error"] = AdapterNumbers(service.ledger.scoped(who.workspace)).words(status["error"])
    return without_paths(status)


@router.delete("/v1/jobs/{job_id}", status_code=202, responses=answers(404, 409))
def job_cancel(job_id: JobId, who: Who, service: Shared):
    """Cancel a queued or running job: a queued one at once, a running one at its next checkpoint (its status
    ``cancelling`` until then); then ``cancelled``, its files removed. 409 for a finished job."""
    return without_paths(service.jobs.cancel(who, job_id).public())


@router.get("/v1/jobs/{job_id}/result", responses={**answers(404, 409), 200: {
    "description": "the rows as JSON (format json), or the Parquet file (format parquet)",
    "content": {"application/json": {}, PARQUET: {"schema": {"type": "string", "format": "binary"}}}}})
def job_result(job_id: JobId, who: Who, service: Shared, format: typing.Literal["json", "parquet"] = "json"):
    """The finished job's rows as JSON, or the Parquet file (``format=parquet``); for an evaluating batch, its
    report with the panel, or the panel as Parquet."""
    job = service.jobs.get(who, job_id)
    if job.status != "done":
        detail = f"job '{job_id}' is {job.status}" + (f": {job.error}" if job.error else
                                                     ": ask again when GET /v1/jobs/{id} says done")
        raise ServiceError(409, detail)
    ranked = job.result.suffix == ".json"  # an evaluating batch: the report, its panel beside it
    numbers = AdapterNumbers(service.ledger.scoped(who.workspace))  # a champion's adapter: its workspace's number
    if format == "parquet":
        table = job.result.with_name("panel.parquet") if ranked else job.result
        return Response(parquet_bytes(frame_without_paths(numbers.frame(pd.read_parquet(table)))),
                        media_type=PARQUET, headers={"Content-Disposition": f'attachment; filename="{table.name}"'})
    if ranked:
        return without_paths(numbers.body(json.loads(job.result.read_text())))
    return {"rows": without_paths(records(numbers.frame(pd.read_parquet(job.result))))}
