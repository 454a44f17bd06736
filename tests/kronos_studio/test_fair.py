"""``kronos_studio.fair.FairSlots``: a freed slot goes to the waiting owner served longest ago, an owner holds
at most its share, and a waiter can give up. Orders are checked by events, never by timing."""
from __future__ import annotations

import threading
import time

import pytest

from kronos_studio.fair import Abandoned, FairSlots


def until(condition, what: str, within_s: float = 30.0) -> None:
    """Wait for ``condition()`` (the bound only turns a hang into a failure)."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"still not {what}"
        time.sleep(0.005)


def queue_up(slots: FairSlots, owner, order: list, release: threading.Event | None = None) -> threading.Thread:
    """A thread that waits for a slot as ``owner``, notes its turn in ``order``, holds it until ``release``."""
    before = slots.waiting(owner)

    def take():
        with slots.held(owner):
            order.append(owner)
            if release is not None:
                release.wait(30)

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    until(lambda: slots.waiting(owner) > before or owner in order, f"{owner} queued")
    return thread


def test_a_freed_slot_goes_to_the_owner_served_longest_ago_not_the_first_in_line():
    slots, order, release = FairSlots(1), [], threading.Event()
    holder = queue_up(slots, "b", order, release)  # b holds the one slot
    until(lambda: order == ["b"], "b holding")
    waiters = [queue_up(slots, "b", order), queue_up(slots, "b", order), queue_up(slots, "a", order)]
    release.set()
    for t in (holder, *waiters):
        t.join(30)
    assert order == ["b", "a", "b", "b"]  # a, queued last, goes before b's second and third


def test_an_owner_holds_at_most_its_share_of_the_slots():
    slots, order, release = FairSlots(2, per_owner=1), [], threading.Event()
    first = queue_up(slots, "b", order, release)
    until(lambda: order == ["b"], "b's first holding")
    second = queue_up(slots, "b", order, release)  # a slot is free, but b holds its share
    third = queue_up(slots, "a", order, release)
    until(lambda: order == ["b", "a"], "a holding the other slot")
    assert slots.waiting("b") == 1
    release.set()
    for t in (first, second, third):
        t.join(30)
    assert order == ["b", "a", "b"]


def test_a_waiter_gives_up_when_abandoned_and_holds_nothing():
    slots, order, release, give_up = FairSlots(1), [], threading.Event(), threading.Event()
    holder = queue_up(slots, None, order, release)  # None is an owner like any other (the warm-up's)
    outcome = []

    def wait():
        try:
            with slots.held("a", abandon=give_up.is_set):
                outcome.append("held")
        except Abandoned:
            outcome.append("abandoned")

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    until(lambda: slots.waiting("a") == 1, "a queued")
    give_up.set()
    slots.wake()
    waiter.join(30)
    assert outcome == ["abandoned"] and slots.waiting() == 0
    release.set()
    holder.join(30)
    with slots.held("c"):  # the slot is free again
        assert slots.holding == {"c": 1}


@pytest.mark.parametrize("slots", [1, 3])
def test_every_waiter_is_served(slots):
    pool, order = FairSlots(slots, per_owner=max(1, slots - 1)), []
    lock = threading.Lock()

    def take(owner):
        with pool.held(owner):
            with lock:
                order.append(owner)

    threads = [threading.Thread(target=take, args=(f"w{i % 4}",)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(order) == 40 and pool.waiting() == 0 and pool.holding == {}
