"""The workspace's adapter registry (``kronos adapters``): ``GET /v1/adapters`` lists its entries,
``GET /v1/adapters/{id}`` shows one with its events, and an admin key (or an ``--open`` server) promotes one
by hand (``POST .../promote``: it bypasses the gate, and is recorded so) or rolls a series' champion back
(``POST .../rollback``); each the desk's use case. Entries name their adapter folders by name, never by server
path, and themselves by their number in the workspace."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from kronos_studio.desk import AdaptersRequest
from kronos_studio.desk.ledger import LedgerError

from ..deps import Shared, Who, WorkspaceLedger, knob_request, with_query
from ..errors import ServiceError
from ..ledger_views import adapter_body, entry_request
from ..public_ids import AdapterNumbers
from ..schemas import EVERY_ROUTE, answers

router = APIRouter(prefix="/v1/adapters", responses=answers(*EVERY_ROUTE))
# An entry's number in its workspace's registry (public_ids.AdapterNumbers; a larger one than a database keeps is a 422)
AdapterId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the entry's number in this workspace's registry "
                                                               "(GET /v1/adapters)")]


@router.get("")
@with_query(AdaptersRequest)
def adapters_list(who: Who, ledger: WorkspaceLedger, service: Shared, **asked):
    """Every adapter the workspace's retrains trained (oldest first): lineage, window, scores, status."""
    done = service.desk.adapters(knob_request(AdaptersRequest, asked), ledger=ledger)
    numbers = AdapterNumbers(ledger)
    return {"workspace": who.workspace, "adapters": [adapter_body(e, numbers) for e in done.entries]}


@router.get("/{adapter_id}", responses=answers(404))
def adapters_show(adapter_id: AdapterId, who: Who, ledger: WorkspaceLedger, service: Shared):
    """One entry with its events (every move, in order: registered, promoted, rejected, retired, ...)."""
    request, numbers = entry_request(ledger, adapter_id, who.workspace)
    done = service.desk.adapter(request, ledger=ledger)
    return {**adapter_body(done.entry, numbers), "events": [numbers.event(e) for e in done.events]}


def admin_only(who, service, action: str) -> None:
    if not (who.admin or service.config.open_access):
        raise ServiceError(403, f"only an admin key may {action} (a plain key reads the registry): ask an admin "
                                "of this service")


@router.post("/{adapter_id}/promote", responses=answers(404))
def adapters_promote(adapter_id: AdapterId, who: Who, ledger: WorkspaceLedger, service: Shared):
    """Make the entry its series' champion by hand: it bypasses the gate (recorded as such); the champion it
    replaces is retired, and is what a rollback restores."""
    admin_only(who, service, "promote an adapter")
    request, numbers = entry_request(ledger, adapter_id, who.workspace)
    done = service.desk.promote(request, ledger=ledger)
    return {"promoted": adapter_body(done.entry, numbers), "bypassed_gate": True}


@router.post("/{adapter_id}/rollback", responses=answers(404, 409))
def adapters_rollback(adapter_id: AdapterId, who: Who, ledger: WorkspaceLedger, service: Shared):
    """Retire the champion of the entry's series; the one it replaced serves again (``restored``; null: the
    base model serves)."""
    admin_only(who, service, "roll a champion back")
    request, numbers = entry_request(ledger, adapter_id, who.workspace)
    try:
        done = service.desk.rollback(request, ledger=ledger)
    except LedgerError as e:  # the series has no champion (its base model serves)
        raise ServiceError(409, f"{e.problem}: GET /v1/adapters lists its entries") from None
    return {"retired": adapter_body(done.retired, numbers),
            "restored": None if done.restored is None else adapter_body(done.restored, numbers)}
