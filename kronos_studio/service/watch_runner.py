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
from kronos_studio.desk.watch import LIVE_DELAY, TicksRun
from kronos_studio.desk.watches import kept_watcher, live_schedule

from .jobs import checkpoint
from .keys import Identity
from .public_ids import WatchIds, watch_id

LOG = logging.getLogger("kronos_studio.service.watches")
MADE_BY = "POST /v1/watches"
POLL_S = 60.0  # at least this often the thread looks again (a watch added, paused, deleted; a tick finished)


def tick_identity(watch) -> Identity:
    """Whom a watch's tick job belongs to: its workspace, and a key of its own (one tick at a time per watch; the
    users' job quota untouched)."""
    return Identity(f"watch-{watch.id}", watch.workspace)


def tick_job(service, watch, at: pd.Timestamp) -> Callable:
    """The job of one tick of ``watch`` at ``at``: what it did, as JSON in the job's folder."""
    def run(folder: Path, stop):
        done = kept_watcher(service.desk, watch, service.ledger, made_by=MADE_BY).tick(at)
        out = folder / "tick.json"
        out.write_text(json.dumps(WatchIds(service.ledger.scoped(watch.workspace)).run_tick(done.to_json()),
                                  default=str))
        return out, {"watch": watch_id(watch), "tick_at": done.tick_at.isoformat(), "status": done.status}

    return run


def replay_job(ready) -> Callable:
    """The job of a replay (a ``Watcher`` made, and so checked, before it starts): every tick in time order,
    stopping between two ticks when cancelled; the result is every tick's summary."""
    def run(folder: Path, stop):
        ticks = ready.replay(progress=lambda i, n, tick: checkpoint(stop))
        out = folder / "ticks.json"
        ids = WatchIds(ready.ledger)
        out.write_text(json.dumps([ids.run_tick(t.to_json()) for t in ticks], default=str))
        return out, {"watch": watch_id(ready.watch), "replay": ready.label, "ticks": len(ticks),
                     "run": TicksRun.of(ticks).done}

    return run


class WatchRunner:
    """Ticks the service's live watches at their bar closes (the desk's ``live_schedule`` says which are due), one
    tick job at a time per watch; ``now``: the clock (a test's)."""

    def __init__(self, service, *, now: Callable[[], pd.Timestamp] | None = None, delay: pd.Timedelta = LIVE_DELAY):
        self.service = service
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self.schedule = live_schedule(service.desk, service.ledger, now=self.now, made_by=MADE_BY, delay=delay,
                                      on_error=lambda watch, e: LOG.warning(
                                          "watch %s: cannot tell its next bar close: %s", watch.id, e))
        self.stopping, self.woken = threading.Event(), threading.Event()
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

    def _busy(self, watch) -> bool:
        job = self.jobs.get(watch.id)
        return job is not None and job.status not in ("done", "failed", "cancelled")

    def _submit(self, watch, at: pd.Timestamp) -> None:
        self.jobs[watch.id] = self.service.jobs.submit(tick_identity(watch), "watch tick",
                                                       tick_job(self.service, watch, at))

    def step(self) -> pd.Timestamp | None:
        """Submit the tick of every live watch whose next bar close has come (and whose last tick job is done);
        the earliest close to come (None: none)."""
        return self.schedule.step(self._submit, self._busy)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                soonest = self.step()
            except Exception as e:  # noqa: BLE001 - the ledger unreachable a moment: try again later
                LOG.warning("watches: %s", e)
                soonest = None
            self.woken.wait(self.schedule.wait_s(soonest, POLL_S))
            self.woken.clear()
