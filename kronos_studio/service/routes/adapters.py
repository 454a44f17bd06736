"""The workspace's adapter registry (``kronos adapters``): ``GET /v1/adapters`` lists its entries,
``GET /v1/adapters/{id}`` shows one with its events, and an admin key (or an ``--open`` server) promotes one
by hand (``POST .../promote``: it bypasses the gate, and is recorded so) or rolls a series' champion back
(``POST .../rollback``). Entries name their adapter folders by name, never by server path."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..deps import Shared, TextQuery, Who, WorkspaceLedger
from ..errors import ServiceError
from ..ledger_views import adapter_body, ledger_filters, registry_entry
from ..public_ids import AdapterNumbers
from ..schemas import EVERY_ROUTE, answers

router = APIRouter(prefix="/v1/adapters", responses=answers(*EVERY_ROUTE))
# An entry's number in its workspace's registry (public_ids.AdapterNumbers; a larger one than a database keeps is a 422)
AdapterId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the entry's number in this workspace's registry "
                                                               "(GET /v1/adapters)")]


@router.get("")
def adapters_list(who: Who, ledger: WorkspaceLedger, symbol: TextQuery = None, source: TextQuery = None,
                  interval: TextQuery = None):
    """Every adapter the workspace's retrains trained (oldest first): lineage, window, scores, status."""
    from kronos_studio.ledger.registry import Registry

    wanted = ledger_filters(symbol, source, interval)
    numbers = AdapterNumbers(ledger)
    entries = [e for e in Registry(ledger).entries() if all(getattr(e, k) == v for k, v in wanted.items())]
    return {"workspace": who.workspace, "adapters": [adapter_body(e, numbers) for e in entries]}


@router.get("/{adapter_id}", responses=answers(404))
def adapters_show(adapter_id: AdapterId, who: Who, ledger: WorkspaceLedger):
    """One entry with its events (every move, in order: registered, promoted, rejected, retired, ...)."""
    registry, entry, numbers = registry_entry(ledger, adapter_id, who.workspace)
    return {**adapter_body(entry, numbers), "events": [numbers.event(e) for e in registry.history(entry_id=entry.id)]}


def admin_only(who, service, action: str) -> None:
    if not (who.admin or service.config.open_access):
        raise ServiceError(403, f"only an admin key may {action} (a plain key reads the registry): ask an admin "
                                "of this service")


@router.post("/{adapter_id}/promote", responses=answers(404))
def adapters_promote(adapter_id: AdapterId, who: Who, ledger: WorkspaceLedger, service: Shared):
    """Make the entry its series' champion by hand: it bypasses the gate (recorded as such); the champion it
    replaces is retired, and is what a rollback restores."""
    from kronos_studio.ledger.registry import MANUAL

    admin_only(who, service, "promote an adapter")
    registry, entry, numbers = registry_entry(ledger, adapter_id, who.workspace)
    return {"promoted": adapter_body(registry.promote(entry.id, reason=MANUAL), numbers), "bypassed_gate": True}


@router.post("/{adapter_id}/rollback", responses=answers(404, 409))
def adapters_rollback(adapter_id: AdapterId, who: Who, ledger: WorkspaceLedger, service: Shared):
    """Retire the champion of the entry's series; the one it replaced serves again (``restored``; null: the
    base model serves)."""
    from kronos_studio.ledger import LedgerError

    admin_only(who, service, "roll a champion back")
    registry, entry, numbers = registry_entry(ledger, adapter_id, who.workspace)
    try:
        retired, restored = registry.rollback(entry.series, entry.kind)
    except LedgerError:
        raise ServiceError(409, f"{entry.series} has no champion to roll back in workspace '{who.workspace}' (the "
                                "base model serves): GET /v1/adapters lists its entries") from None
    return {"retired": adapter_body(retired, numbers),
            "restored": None if restored is None else adapter_body(restored, numbers)}
