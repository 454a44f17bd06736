"""The service's live watches (``POST /v1/watches``): one thread that, for every active live watch of every
workspace, submits the tick of each bar close as a job on the service's job threads (``jobs.JobRunner``, one tick
at a time per watch), and a replay's ticks as one job. The watch itself is ``kronos_studio.desk.watch``: a tick
runs once by the ledger's claim, so a restarted service, or two services on one ledger, tick each close once."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from kronos.lazy import pd
from kronos_studio.desk import Watcher, WatchRequest
from kronos_studio.desk.ledger import live_watches

from .jobs import checkpoint
from .keys import Identity
from .public_ids import WatchIds, watch_id

LOG = logging.getLogger("kronos_studio.service.watches")
MADE_BY = "POST /v1/watches"
POLL_S = 60.0  # at least this often the thread looks again (a watch added, paused, deleted; a tick finished)
DELAY = pd.Timedelta(minutes=1)  # after a bar's close, for the bar to reach its source


def tick_identity(watch) -> Identity:
    """Whom a watch's tick job belongs to: its workspace, and a key of its own (one tick at a time per watch; the
    users' job quota untouched)."""
    return Identity(f"watch-{watch.id}", watch.workspace)


def watcher(service, watch, **options):
    """The desk's ``Watcher`` of a kept watch in its workspace."""
    return Watcher(service.desk, WatchRequest.from_json(watch.request), service.ledger.scoped(watch.workspace),
                   made_by=MADE_BY, **options)


def tick_job(service, watch, at: pd.Timestamp) -> Callable:
    """The job of one tick of ``watch`` at ``at``: what it did, as JSON in the job's folder."""
    def run(folder: Path, stop):
        done = watcher(service, watch).tick(at)
        out = folder / "tick.json"
        ids = WatchIds(service.ledger.scoped(watch.workspace))
        out.write_text(json.dumps({"tick_at": done.tick_at.isoformat(), "status": done.status,
                                   "error": ids.words(done.error, {}), **ids.summary(done.summary())}, default=str))
        return out, {"watch": watch_id(watch), "tick_at": done.tick_at.isoformat(), "status": done.status}

    return run


def replay_job(ready) -> Callable:
    """The job of a replay (a ``Watcher`` made, and so checked, before it starts): every tick in time order,
    stopping between two ticks when cancelled; the result is every tick's summary."""
    def run(folder: Path, stop):
        ticks = ready.replay(progress=lambda i, n, tick: checkpoint(stop))
        out = folder / "ticks.json"
        ids = WatchIds(ready.ledger)
        out.write_text(json.dumps([{"tick_at": t.tick_at.isoformat(), "status": t.status,
                                    "error": ids.words(t.error, {}), **ids.summary(t.summary())} for t in ticks],
                                  default=str))
        return out, {"watch": watch_id(ready.watch), "replay": ready.label, "ticks": len(ticks),
                     "run": sum(t.status == "done" for t in ticks)}

    return run


class WatchRunner:
    """Ticks the service's live watches at their bar closes; ``now``: the clock (a test's), ``wait(seconds)``."""

    def __init__(self, service, *, now: Callable[[], pd.Timestamp] | None = None, delay: pd.Timedelta = DELAY):
        self.service, self.delay = service, delay
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self.stopping, self.woken = threading.Event(), threading.Event()
        self.due: dict[int, pd.Timestamp] = {}  # watch id -> the bar close it ticks next
        self.jobs: dict[int, object] = {}  # watch id -> its tick job now
        self.thread: threading.Thread | None = None

    def start(self) -> WatchRunner:
        self.thread = threading.Thread(target=self._loop, name="kronos-watches", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.woken.set()

    def kick(self) -> None:
        """Look again now (a watch was added, resumed, paused or deleted)."""
        self.woken.set()

    def step(self) -> pd.Timestamp | None:
        """Submit the tick of every live watch whose next bar close has come (and whose last tick job is done);
        the earliest close to come (None: none)."""
        now, soonest = self.now(), None
        for watch in live_watches(self.service.ledger):
            job = self.jobs.get(watch.id)
            if job is not None and job.status not in ("done", "failed", "cancelled"):
                continue
            try:
                at = self.due.get(watch.id) or watcher(self.service, watch).next_tick(now - self.delay)
            except Exception as e:  # noqa: BLE001 - one watch's bars cannot stop the others
                LOG.warning("watch %s: cannot tell its next bar close: %s", watch.id, e)
                continue
            if at is None:
                continue
            if at + self.delay <= now:
                self.jobs[watch.id] = self.service.jobs.submit(tick_identity(watch), "watch tick",
                                                               tick_job(self.service, watch, at))
                try:
                    at = watcher(self.service, watch).next_tick(max(at, now - self.delay))
                except Exception:  # noqa: BLE001 - asked again at the next step
                    continue
            self.due[watch.id] = at
            soonest = at if soonest is None or at < soonest else soonest
        return soonest

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                soonest = self.step()
            except Exception as e:  # noqa: BLE001 - the ledger unreachable a moment: try again later
                LOG.warning("watches: %s", e)
                soonest = None
            wait = POLL_S if soonest is None else min(POLL_S, max(0.0, (soonest + self.delay - self.now())
                                                                  .total_seconds()))
            self.woken.wait(wait)
            self.woken.clear()
