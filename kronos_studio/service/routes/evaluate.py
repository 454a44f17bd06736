"""``POST /v1/evaluate``."""
from __future__ import annotations

from fastapi import APIRouter

from .. import compute
from ..deps import Shared, Who
from ..schemas import EVERY_ROUTE, EvaluateRequest, answers

router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/evaluate", responses=answers(400, 404))
def evaluate(body: EvaluateRequest, who: Who, service: Shared):
    """The walk-forward report `kronos evaluate` writes (its JSON, ``file`` null)."""
    return compute.evaluate_answer(service.desk, body, service.model(body.model),
                                   lambda needed: compute.bars_request(body, needed), workspace=who.workspace,
                                   ledger=service.ledger.scoped(who.workspace), covariates=compute.covariate_options(body))
