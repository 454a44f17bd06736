"""Gated retrains as jobs: ``POST /v1/retrain`` starts one (``kronos retrain``), followed like a batch job
with ``GET /v1/jobs/{id}`` and ``/result`` (one row per decision)."""
from __future__ import annotations

from fastapi import APIRouter

from ..deps import Shared, Who
from ..retrain_job import retrain_run
from ..schemas import EVERY_ROUTE, RetrainRequest, answers

router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/retrain", status_code=202, responses=answers(400, 404, 429))
def retrain(body: RetrainRequest, who: Who, service: Shared):
    """Train a LoRA challenger on the series' latest bars; it becomes the champion (``--model champion``) only
    if it beats the current one beyond noise on held-out cut-offs."""
    body = body.model_copy(update={"model": service.model(body.model)})  # a model not found: 404, as every refusal
    run = retrain_run(body, service.desk, service.ledger.scoped(who.workspace))
    return service.jobs.submit(who, "retrain", run).public()
