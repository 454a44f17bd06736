"""Slots shared fairly by owners (workspaces): a model's sampling (one slot) and the service's job threads.
A freed slot goes to the waiting owner served longest ago (first come first served within one owner), so one
owner's many or long requests never keep another's waiting longer than one turn.

And work that stops when its asker leaves: a face runs a request's work ``asked_by(stop)`` (a client that
disconnects, a server that shuts down, a job cancelled or past its time set ``stop``); the sampling loops check
it between steps (``stoppable``: the progress callback every decode step already calls) and a wait for a slot
gives up, both raising ``Cancelled``."""
from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager

# How often a waiter asks its ``abandon`` again while nobody wakes it (a client gone while its request waits).
ABANDON_POLL_S = 0.2


class Abandoned(Exception):
    """A waiter stopped waiting for its slot (``FairSlots.held``'s ``abandon`` was set)."""


class Cancelled(Exception):
    """The work's asker is gone (its client disconnected, the server stops, its job was cancelled or ran out of
    time): the work stops at its next step, and nothing is answered."""


_ASKER: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("kronos_studio_asker", default=None)


@contextmanager
def asked_by(stop: threading.Event):
    """Run the block's work for an asker who may leave: once ``stop`` is set, the next sampling step (and any wait
    for a slot) raises ``Cancelled``. Threads started inside copy it with their context (a service's workers do)."""
    token = _ASKER.set(stop)
    try:
        yield
    finally:
        _ASKER.reset(token)


def asker_gone() -> bool:
    """Whether the work running now was asked for by someone who left."""
    stop = _ASKER.get()
    return stop is not None and stop.is_set()


def check_asker(*_) -> None:
    """Raise ``Cancelled`` when the asker of the work running now left (a progress callback's signature)."""
    if asker_gone():
        raise Cancelled


def stoppable(progress: Callable | None = None) -> Callable:
    """``progress`` (a sampling loop's per-step callback, or None) that first stops the work whose asker left."""
    if progress is None:
        return check_asker

    def step(*args):
        check_asker()
        return progress(*args)

    return step


class _Ticket:
    __slots__ = ("owner", "granted")

    def __init__(self, owner):
        self.owner, self.granted = owner, False


class FairSlots:
    """``slots`` holders at once, each owner holding at most ``per_owner`` (None: all of them)."""

    def __init__(self, slots: int = 1, per_owner: int | None = None):
        self.slots, self.per_owner = slots, per_owner
        self.cond = threading.Condition()
        self.queues: dict[object, deque[_Ticket]] = {}  # each owner's waiters, first come first
        self.holding: dict[object, int] = {}
        self.served: dict[object, int] = {}  # each owner's last grant (``turn`` then)
        self.turn = 0

    @contextmanager
    def held(self, owner, abandon: Callable[[], bool] | None = None):
        """Hold a slot as ``owner`` for the block, waiting for its turn; raises ``Abandoned`` (holding
        nothing) when ``abandon()`` turns true while it waits (call ``wake`` when it may have)."""
        ticket = _Ticket(owner)
        with self.cond:
            self.queues.setdefault(owner, deque()).append(ticket)
            self._grant()
            while not ticket.granted:
                if abandon is not None and abandon():
                    self._leave(ticket)
                    raise Abandoned(owner)
                self.cond.wait(timeout=None if abandon is None else ABANDON_POLL_S)
        try:
            yield
        finally:
            with self.cond:
                self.holding[owner] -= 1
                if not self.holding[owner]:
                    del self.holding[owner]
                self._grant()

    def wake(self) -> None:
        """Have the waiters ask their ``abandon`` again."""
        with self.cond:
            self.cond.notify_all()

    def free(self) -> int:
        """Slots no one holds."""
        with self.cond:
            return self.slots - sum(self.holding.values())

    def waiting(self, owner=None) -> int:
        """Waiters (of ``owner``; None: of every owner)."""
        with self.cond:
            return sum(len(q) for o, q in self.queues.items() if owner is None or o == owner)

    def _leave(self, ticket: _Ticket) -> None:
        queue = self.queues[ticket.owner]
        queue.remove(ticket)
        if not queue:
            del self.queues[ticket.owner]

    def _grant(self) -> None:
        """Give free slots to the waiting owners, the one served longest ago (or never) first."""
        granted = False
        while sum(self.holding.values()) < self.slots:
            owners = [o for o in self.queues if self.per_owner is None or self.holding.get(o, 0) < self.per_owner]
            if not owners:  # nobody waiting, or every waiter's owner holds its share
                break
            owner = min(owners, key=lambda o: self.served.get(o, -1))  # ties: the first to queue
            queue = self.queues[owner]
            ticket = queue.popleft()
            if not queue:
                del self.queues[owner]
            self.turn += 1
            self.served[owner] = self.turn
            ticket.granted, granted = True, True
            self.holding[owner] = self.holding.get(owner, 0) + 1
        if granted:
            self.cond.notify_all()
