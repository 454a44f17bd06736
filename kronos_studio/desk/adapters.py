"""The adapter registry as the desk serves it: its entries and their moves (``Desk.adapters``, ``Desk.adapter``), and
the moves a person makes by hand (``Desk.promote``: it bypasses the gate and is recorded so; ``Desk.rollback``:
the champion it replaced serves again), in the ledger's workspace (``kronos_studio.ledger.registry``).

The registry (SQLAlchemy) is imported when it is read: this module stays light, so the requests are options and
fields before any database is touched."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Notice
from kronos.settings import bounded, check_bounds

from .track_record import SeriesQuery


@dataclass(frozen=True)
class AdaptersRequest(SeriesQuery):
    """The registry's entries of the series a query names (each None: every one), oldest first."""


@dataclass
class Adapters:
    """The entries (``kronos_studio.ledger.registry.Entry``) a request names, oldest first, and every move of them
    (``events``: ``Event``s, oldest first)."""

    entries: list
    events: list
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class EntryRequest:
    """One registry entry, by its id in the ledger's registry."""

    entry: int = bounded(ge=1)

    def __post_init__(self):
        check_bounds(self)


@dataclass
class AdapterShown:
    """One entry with its moves, oldest first."""

    entry: object
    events: list
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Promoted:
    """The entry made its series' champion by hand: it bypassed the gate, and is recorded so."""

    entry: object
    notices: list[Notice] = field(default_factory=list)


@dataclass
class RolledBack:
    """The champion retired (``retired``) and the one that serves again (``restored``; None: the base model)."""

    retired: object
    restored: object | None
    notices: list[Notice] = field(default_factory=list)


def adapters(desk, request: AdaptersRequest, *, ledger) -> Adapters:
    """The entries of ``ledger``'s registry (its workspace's) of the series ``request`` names, with their moves."""
    from kronos_studio.ledger.registry import Registry, SeriesKey

    registry = Registry(ledger)
    wanted = request.series()
    if len(wanted) == 3:  # one series: read as the registry keys it
        series = SeriesKey(**wanted)
        return Adapters(registry.entries(series), registry.history(series))
    entries = [e for e in registry.entries() if all(getattr(e, k) == v for k, v in wanted.items())]
    ids = {e.id for e in entries}
    return Adapters(entries, [e for e in registry.history() if e.adapter_id in ids])


def adapter(desk, request: EntryRequest, *, ledger) -> AdapterShown:
    """One entry of ``ledger``'s registry with its moves (a ``LedgerError`` naming the fix when it has none)."""
    from kronos_studio.ledger.registry import Registry

    registry = Registry(ledger)
    entry = registry.get(request.entry)
    return AdapterShown(entry, registry.history(entry_id=entry.id))


def promote(desk, request: EntryRequest, *, ledger) -> Promoted:
    """Make the entry its series' champion by hand (the champion it replaces retires, and is what a rollback
    restores): it bypasses the gate, recorded as such."""
    from kronos_studio.ledger.registry import MANUAL, Registry

    registry = Registry(ledger)
    return Promoted(registry.promote(registry.get(request.entry).id, reason=MANUAL))


def rollback(desk, request: EntryRequest, *, ledger) -> RolledBack:
    """Retire the champion of the entry's series; the one it replaced serves again (a ``LedgerError`` when the
    series has no champion: its base model serves)."""
    from kronos_studio.ledger.registry import Registry

    registry = Registry(ledger)
    entry = registry.get(request.entry)
    return RolledBack(*registry.rollback(entry.series, entry.kind))
