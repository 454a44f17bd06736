"""``POST /v1/risk``."""
from __future__ import annotations

from fastapi import APIRouter

from .. import compute
from ..deps import Shared, Who
from ..schemas import (
    EVERY_ROUTE,
    SETTINGS_NAMES,
    RiskRequest,
    answers,
    backtest_plan,
    risk_forecast_settings,
    risk_settings,
)

router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/risk", responses=answers(400, 404))
def risk(body: RiskRequest, who: Who, service: Shared):
    """VaR/ES, the volatility forecast and the stylized-facts check of a forecast's paths, or (``backtest``) their
    walk-forward backtest: the JSON `kronos risk --json` writes."""
    options = risk_settings(body)
    settings = risk_forecast_settings({k: getattr(body, k) for k in SETTINGS_NAMES}, options)
    plan = backtest_plan(body)
    bars = compute.bars_request(body, compute.risk_bars(body.backtest, plan, settings))
    return compute.risk_answer(service.desk, service.model(body.model), bars, settings, options,
                               backtest=body.backtest, plan=plan, workspace=who.workspace,
                               ledger=service.ledger.scoped(who.workspace))
