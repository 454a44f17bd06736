"""The watch book's use cases as every face calls them (``desk.watches``): the workspace's watches listed with their
last tick and counts, one shown with its ticks and alerts, paused, resumed and deleted by name or id, one refusal for
a watch not given or unknown; the live schedule's decision (which watch is due now, which is not yet, which is busy);
a run of ticks counted and a tick as JSON."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pandas as pd
import pytest
from watch_kit import request, synthetic_folder

from kronos.errors import UserError
from kronos_studio.desk.watch import AlertChannels, LiveSchedule, SeriesTick, TickResult, TicksRun
from kronos_studio.desk.watches import (
    delete_watch,
    list_watches,
    set_paused,
    show_watch,
    toggle_paused,
)
from kronos_studio.ledger import Ledger, LedgerError
from kronos_studio.ledger.watches import WatchBook

TOKEN = "T7/B7/kept-secret"
T1, T2 = datetime(2026, 6, 29, 20, tzinfo=timezone.utc), datetime(2026, 6, 30, 20, tzinfo=timezone.utc)


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as opened:
        yield opened.scoped("desk")


@pytest.fixture
def kept(ledger, tmp_path):
    """Two watches of the workspace (one named with digits only), one in another workspace; the first with a tick
    done, a tick failed, an alert sent and one failed."""
    folder = synthetic_folder(tmp_path / "watchlist", end="2026-06-29", names=("AAA",))
    channels = AlertChannels(webhooks=(f"https://hooks.example.com/services/{TOKEN}",))
    book = WatchBook(ledger)
    made = [request(folder, name=name, channels=channels) for name in ("fx", "7")]
    first, digits = (book.ensure(r.name, r.to_json(), r.key()) for r in made)
    WatchBook(ledger.scoped("other")).ensure("elsewhere", made[0].to_json(), made[0].key())
    done = book.claim(first.id, T1)
    book.finish(done, "done", {"series": {}})
    failed = book.claim(first.id, T2)
    book.finish(failed, "failed", error="boom")
    for sent, event in ((True, "e1"), (False, "e2")):
        book.keep_alert(first.id, done.tick_id, rule="drift", event=event, series="AAA", message="m",
                        channel="webhook", target="https://hooks.example.com/…", sent=sent, attempts=1,
                        last_error=None if sent else "down")
    return first, digits


def test_the_book_lists_shows_pauses_resumes_and_deletes_by_name_or_id(ledger, kept):
    first, digits = kept
    listed = list_watches(ledger)
    assert [w.watch.name for w in listed] == ["fx", "7"]  # the other workspace's is not listed
    fx = listed[0]
    assert (fx.tick_count, fx.ticks_done, fx.alerts_sent, fx.alerts_failed) == (2, 1, 1, 1)
    assert fx.last.tick_at == T2 and fx.last.status == "failed" and fx.series == ["AAA"] and fx.horizon == 3
    assert listed[1].last is None and listed[1].tick_count == 0

    shown = show_watch(ledger, str(first.id), ticks=1)  # by its id, as the command line gives it
    assert shown.watch.name == "fx" and [t.tick_at for t in shown.ticks] == [T2]
    assert [a.status for a in shown.alerts] == ["sent", "failed"]
    assert all(shown.alert_ticks[a.tick_id] == T1 for a in shown.alerts)
    assert TOKEN not in str(shown.request())
    assert show_watch(ledger, "7").watch.id == digits.id  # a name of digits is its name, not an id

    assert set_paused(ledger, "fx", True).status == "paused"
    assert toggle_paused(ledger, first.id).status == "active"
    assert set_paused(ledger, "7", True).status == "paused"
    assert delete_watch(ledger, "fx").id == first.id
    assert [w.watch.name for w in list_watches(ledger)] == ["7"]
    assert [w.watch.name for w in list_watches(ledger, workspace="other")] == ["elsewhere"]


@pytest.mark.parametrize("which", [None, "", "nope", "999"])
def test_a_watch_not_given_or_unknown_is_refused_for_every_use(ledger, kept, which):
    for use in (lambda: show_watch(ledger, which), lambda: set_paused(ledger, which, True),
                lambda: delete_watch(ledger, which)):
        with pytest.raises(UserError) as refused:
            use()
        said = refused.value.worded()
        assert ("give its name or id" in said) if not which else isinstance(refused.value, LedgerError)
    assert len(list_watches(ledger)) == 2  # nothing deleted


def schedule(closes: dict, now: list, *, on_error=None):
    """A schedule of watches whose next close after a time is the first of ``closes[id]`` after it."""
    watches = [SimpleNamespace(id=i) for i in closes]

    def next_close(watch, after):
        if closes[watch.id] is None:
            raise OSError("its bars cannot be read")
        later = [c for c in closes[watch.id] if c > after]
        return later[0] if later else None

    return LiveSchedule(lambda: watches, next_close, now=lambda: now[0], delay=pd.Timedelta(minutes=1),
                        on_error=on_error)


def test_the_schedule_runs_the_watch_due_not_the_one_not_yet_due_nor_the_busy_one():
    at = [pd.Timestamp(f"2026-06-{d} 20:00", tz="UTC") for d in (29, 30)]
    later = pd.Timestamp("2026-06-29 21:00", tz="UTC")
    now = [pd.Timestamp("2026-06-29 19:00", tz="UTC")]
    errors, ran = [], []
    live = schedule({1: at, 2: [later], 3: at, 4: None}, now, on_error=lambda w, e: errors.append(w.id))

    def run(watch, close):
        ran.append((watch.id, close))

    assert live.step(run) == at[0] and ran == [] and errors == [4]  # before the close: none due, each's next close
    assert live.wait_s(at[0]) == pd.Timedelta(minutes=61).total_seconds()  # to the close, and its bar's delay
    now[0] = pd.Timestamp("2026-06-29 20:05", tz="UTC")
    soonest = live.step(run, busy=lambda watch: watch.id == 3)
    assert ran == [(1, at[0])]  # 2 closes later; 3's last tick still runs; 4's bars cannot tell
    assert soonest == later and live.due == {1: at[1], 2: later, 3: at[0]}
    assert live.wait_s(soonest, 60.0) == 60.0 and live.wait_s(None, 60.0) == 60.0
    ran.clear()
    assert live.step(run) == later and ran == [(3, at[0])]  # its last tick done: due now


def test_a_schedule_without_an_error_handler_raises_what_its_watch_could_not_tell():
    with pytest.raises(OSError):
        schedule({1: None}, [pd.Timestamp("2026-06-29 20:05", tz="UTC")]).step(lambda watch, close: None)


def test_a_run_of_ticks_is_counted_and_each_tick_written_as_json():
    at = pd.Timestamp("2026-06-29 20:00", tz="UTC")
    ticks = [TickResult("w", at, "done", series=[SeriesTick("AAA", "forecast", scored_steps=2),
                                                 SeriesTick("BBB", "kept", scored_steps=1)],
                        alerts=[{"rule": "drift"}]),
             TickResult("w", at, "failed", series=[SeriesTick("AAA", "forecast")], error="boom"),
             TickResult("w", at, "already"), TickResult("w", at, "busy")]
    run = TicksRun.of(ticks)
    assert (run.ticks, run.ran, run.skipped, run.done, run.failed, run.busy) == (4, 2, 2, 1, 1, 1)
    assert (run.forecasts, run.scored, run.alerts) == (2, 3, 1)
    body = ticks[1].to_json()
    assert body["tick_at"] == at.isoformat() and body["status"] == "failed" and body["error"] == "boom"
    assert body["series"]["AAA"]["status"] == "forecast" and set(body) >= {"notices", "timings", "alerts"}
