"""The watch book's use cases, written once for ``kronos watches``, ``/v1/watches`` and the Watch page: a workspace's
watches listed with what every face shows of each (``list_watches``), one shown with its last ticks and its alerts
(``show_watch``; as a list shows it: ``shown_watch``), paused, resumed or deleted by name or id (``set_paused``,
``delete_watch``), one refusal for a watch not given (``find_watch``; an unknown one: the ledger's ``LedgerError``);
and the live watches of every workspace on one schedule (``live_schedule``: which is due now, when each ticks next),
which the service's runner steps. A face only words or draws the result (the service names a watch by its public id,
``service.public_ids``).

The watches' book is the ledger's (``kronos_studio.ledger.watches``, SQLAlchemy): a face imports this module where it
opens the ledger, as it imports ``desk.ledger``."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from kronos.errors import Fix
from kronos_studio.ledger.schema import ACTIVE, PAUSED
from kronos_studio.ledger.watches import Alert, Tick, Watch, WatchBook, live_watches

from .watch import LIVE_DELAY, MADE_BY, LiveSchedule, Watcher, WatchError, WatchRequest


@dataclass(frozen=True)
class WatchShown:
    """One watch as the faces show it: the kept watch, its newest ticks (newest first), how many ticks it kept and
    how many of them are done, how many of its alerts were sent and failed; shown alone (``show_watch``), its alerts
    too, oldest first, and each one's tick time (``alert_ticks``: tick row id -> its time; a replay's: its simulated
    clock)."""

    watch: Watch
    ticks: list[Tick]
    tick_count: int
    ticks_done: int
    alerts_sent: int
    alerts_failed: int
    alerts: list[Alert] = field(default_factory=list)
    alert_ticks: dict[int, datetime] = field(default_factory=dict)

    @property
    def last(self) -> Tick | None:
        """Its newest tick (None: none yet)."""
        return self.ticks[0] if self.ticks else None

    @property
    def series(self) -> list[str]:
        """The names of the series it watches."""
        return [e.get("series", "?") for e in self.watch.request.get("entries", [])]

    @property
    def model(self) -> str | None:
        """The model it asked for (None: the bundled one)."""
        return self.watch.request.get("model")

    @property
    def horizon(self) -> int | None:
        return (self.watch.request.get("settings") or {}).get("horizon")

    def request(self) -> dict:
        """Its request as a face may show it (no webhook token: ``WatchRequest.shown``)."""
        return WatchRequest.from_json(self.watch.request).shown()


def watch_book(ledger, workspace: str | None = None) -> WatchBook:
    """The watches of ``ledger``'s workspace, or of ``workspace`` (the command line's ``--workspace``)."""
    return WatchBook(ledger.scoped(workspace) if workspace else ledger)


def find_watch(book: WatchBook, which, action: str = "show") -> Watch:
    """The watch ``which`` names: its name, or its id (an int, or a string of digits no watch is named); refused
    when none is given (``action``: what was asked of it), and by the book when the workspace has none such."""
    if which is None or not str(which).strip():
        raise WatchError(f"which watch to {action}? give its name or id", {"action": action},
                         Fix("{setting} lists them", "watches"))
    if isinstance(which, str) and which.isdigit() and all(w.name != which for w in book.list()):
        which = int(which)
    return book.get(which)


def _shown(book: WatchBook, watch: Watch, ticks: int) -> WatchShown:
    return WatchShown(watch, book.ticks(watch.id, ticks), *book.counts(watch.id))


def list_watches(ledger, *, workspace: str | None = None, ticks: int = 1) -> list[WatchShown]:
    """The workspace's watches, oldest first, each with its newest ``ticks`` ticks and its counts."""
    book = watch_book(ledger, workspace)
    return [_shown(book, w, ticks) for w in book.list()]


def shown_watch(ledger, which, *, ticks: int = 1, workspace: str | None = None) -> WatchShown:
    """One watch (``find_watch``) as a list shows it: its newest ``ticks`` ticks and its counts (no alerts read)."""
    book = watch_book(ledger, workspace)
    return _shown(book, find_watch(book, which, "show"), ticks)


def show_watch(ledger, which, *, ticks: int = 10, workspace: str | None = None) -> WatchShown:
    """One watch (``find_watch``) with its newest ``ticks`` ticks and every alert it raised."""
    shown = shown_watch(ledger, which, ticks=ticks, workspace=workspace)
    book, watch = watch_book(ledger, workspace), shown.watch
    return dataclasses.replace(shown, alerts=book.alerts(watch.id),
                               alert_ticks={t.id: t.tick_at for t in book.ticks(watch.id)})


def set_paused(ledger, which, paused: bool, *, workspace: str | None = None) -> Watch:
    """The watch paused (it ticks no more; a tick running now finishes) or resumed (from its next bar close)."""
    book = watch_book(ledger, workspace)
    watch = find_watch(book, which, "pause" if paused else "resume")
    return book.set_status(watch.id, PAUSED if paused else ACTIVE)


def toggle_paused(ledger, which) -> Watch:
    """The watch paused, or resumed when paused."""
    return set_paused(ledger, which, find_watch(watch_book(ledger), which).status != PAUSED)


def delete_watch(ledger, which, *, workspace: str | None = None) -> Watch:
    """The watch removed with its ticks and alerts (the forecasts it recorded stay in the ledger); the watch it
    was."""
    book = watch_book(ledger, workspace)
    watch = find_watch(book, which, "delete")
    book.delete(watch.id)
    return watch


def kept_watcher(desk, watch: Watch, ledger, *, made_by: str = MADE_BY, **options) -> Watcher:
    """The desk's ``Watcher`` of a kept watch, in its own workspace of ``ledger`` (``Watcher``'s ``options``)."""
    return Watcher(desk, WatchRequest.from_json(watch.request), ledger.scoped(watch.workspace), made_by=made_by,
                   **options)


def live_schedule(desk, ledger, *, now: Callable, made_by: str = MADE_BY, delay=LIVE_DELAY,
                  on_error: Callable | None = None) -> LiveSchedule:
    """The schedule of every active live watch of every workspace of ``ledger`` (``live_watches``, read again at
    each step), each at its series' next bar close (``Watcher.next_tick``)."""
    return LiveSchedule(lambda: live_watches(ledger),
                        lambda watch, after: kept_watcher(desk, watch, ledger, made_by=made_by).next_tick(after),
                        now=now, delay=delay, on_error=on_error)
