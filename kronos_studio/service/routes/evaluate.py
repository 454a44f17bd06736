"""``POST /v1/evaluate``."""
from __future__ import annotations

from fastapi import APIRouter

from .. import compute
from ..deps import Shared, Who
from ..schemas import EVERY_ROUTE, EvaluateRequest, answers, forecast_settings, trust_plan

router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/evaluate", responses=answers(400, 404))
def evaluate(body: EvaluateRequest, who: Who, service: Shared):
    """The walk-forward report `kronos evaluate` writes (its JSON, ``file`` null)."""
    settings = forecast_settings(body)
    model = service.model(body.model)
    plan = trust_plan(body)
    bars = compute.bars_request(body, compute.evaluation_bars(plan, settings))
    return compute.evaluate_answer(service.desk, model, bars, settings, plan, workspace=who.workspace,
                                   ledger=service.ledger.scoped(who.workspace),
                                   covariates=compute.covariate_options(body))
