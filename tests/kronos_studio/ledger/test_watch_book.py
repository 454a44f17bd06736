"""The watches' book: a tick runs once by the database's keys (its unique row and the claim's token), never by
timing; a stale claim (a holder that is gone, a lease passed) is taken over by one process only."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from kronos_studio.ledger.schema import DONE, FAILED, PAUSED
from kronos_studio.ledger.watches import BUSY, WatchBook, WatchConflict, this_holder

T = datetime(2018, 5, 1, 20, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


def test_a_tick_is_claimed_once_and_done_once(ledger):
    book = WatchBook(ledger)
    watch = book.ensure("desk", {"horizon": 5}, "k1")
    assert book.ensure("desk", {"horizon": 5}, "k1").id == watch.id  # the same request: the same watch
    with pytest.raises(WatchConflict, match="other settings"):
        book.ensure("desk", {"horizon": 10}, "k2")
    first = book.claim(watch.id, T, now=NOW)
    assert first.attempts == 1
    assert book.claim(watch.id, T, now=NOW) == BUSY  # held by a live process (this one)
    assert book.finish(first, DONE, {"series": {}})
    assert book.claim(watch.id, T, now=NOW) == DONE  # run twice: it ran once
    assert [t.status for t in book.ticks(watch.id)] == [DONE]


def test_a_claim_whose_holder_is_gone_or_whose_lease_passed_is_taken_over_by_one(ledger):
    book = WatchBook(ledger)
    watch = book.ensure("desk", {}, "k")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = f"{this_holder().rpartition(':')[0]}:{dead.stdout.strip()}"  # a process of this machine that ended
    held = book.claim(watch.id, T, now=NOW, holder=gone)
    taken = book.claim(watch.id, T, now=NOW)
    assert taken.tick_id == held.tick_id and taken.attempts == 2
    assert book.claim(watch.id, T, now=NOW) == BUSY  # now this live process holds it
    assert not book.finish(held, DONE)  # the old holder's writes name a token no longer held
    assert not book.renew(held, now=NOW)
    # a holder on another machine: only its lease tells; renewed, it holds
    elsewhere = book.claim(watch.id, T + timedelta(days=1), now=NOW, holder="other-host:1")
    assert book.renew(elsewhere, now=NOW + timedelta(minutes=20))
    assert book.claim(watch.id, T + timedelta(days=1), now=NOW + timedelta(minutes=40)) == BUSY
    after = book.claim(watch.id, T + timedelta(days=1), now=NOW + timedelta(hours=2))
    assert after.attempts == 2


def test_a_failed_tick_runs_again_and_its_alerts_count_their_attempts(ledger):
    book = WatchBook(ledger)
    watch = book.ensure("desk", {}, "k")
    claim = book.claim(watch.id, T, now=NOW)
    alert = book.keep_alert(watch.id, claim.tick_id, rule="tick_failed", event="tick_failed:2018-05-01", series=None,
                            message="m", channel="webhook", target="https://hooks.example/…", sent=False, attempts=3,
                            last_error="connection refused")
    book.finish(claim, FAILED, error="boom")
    again = book.claim(watch.id, T, now=NOW)
    assert again.attempts == 2
    resent = book.keep_alert(watch.id, again.tick_id, rule="tick_failed", event="tick_failed:2018-05-01",
                             series=None, message="m", channel="webhook", target="https://hooks.example/…",
                             sent=True, attempts=1, last_error=None)
    assert resent.id == alert.id and resent.attempts == 4 and resent.status == "sent"
    assert [a.id for a in book.alerts(watch.id)] == [alert.id]


def test_watches_belong_to_their_workspace_and_pause_resume_delete(ledger):
    mine, theirs = WatchBook(ledger.scoped("a")), WatchBook(ledger.scoped("b"))
    watch = mine.ensure("desk", {}, "k")
    theirs.ensure("desk", {}, "other")  # the same name in another workspace: another watch
    assert [w.name for w in mine.list()] == ["desk"] and len(theirs.list()) == 1
    assert mine.set_status("desk", PAUSED).status == PAUSED
    claim = mine.claim(watch.id, T, now=NOW)
    mine.keep_alert(watch.id, claim.tick_id, rule="r", event="e", series=None, message="m", channel="email",
                    target="a@example.com", sent=True, attempts=1, last_error=None)
    mine.delete("desk")
    assert mine.list() == [] and len(theirs.list()) == 1
