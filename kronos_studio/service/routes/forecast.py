"""``POST /v1/forecast``."""
from __future__ import annotations

from fastapi import APIRouter

from .. import compute
from ..deps import Shared, Who
from ..schemas import EVERY_ROUTE, ForecastRequest, answers, forecast_settings

router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/forecast", responses=answers(400, 404))
def forecast(body: ForecastRequest, who: Who, service: Shared):
    """A forecast: per-step quantiles of every field, equal to `kronos forecast` of the same bars,
    model and settings; the sampled paths with ``return_paths``."""
    settings = forecast_settings(body)
    levels = compute.check_quantile_levels(body.quantiles, service.limits, settings.horizon)
    model = service.model(body.model)
    return compute.forecast_answer(service.desk, model, compute.bars_request(body), settings, levels,
                                   workspace=who.workspace, ledger=service.ledger.scoped(who.workspace),
                                   record=body.record, return_paths=body.return_paths,
                                   covariates=compute.covariate_options(body))
