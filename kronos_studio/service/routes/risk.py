"""``POST /v1/risk``."""
from __future__ import annotations

from fastapi import APIRouter

from .. import compute
from ..deps import Shared, Who
from ..schemas import EVERY_ROUTE, RiskRequest, answers

router = APIRouter(responses=answers(*EVERY_ROUTE))


@router.post("/v1/risk", responses=answers(400, 404))
def risk(body: RiskRequest, who: Who, service: Shared):
    """VaR/ES, the volatility forecast and the stylized-facts check of a forecast's paths, or (``backtest``) their
    walk-forward backtest: the JSON `kronos risk --json` writes."""
    return compute.risk_answer(service.desk, body, service.model(body.model),
                               lambda needed: compute.bars_request(body, needed), backtest=body.backtest,
                               workspace=who.workspace, ledger=service.ledger.scoped(who.workspace))
