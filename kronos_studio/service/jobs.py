"""Long runs as jobs: a batch is submitted, runs in a background thread of the server (not of the
request, so a client that disconnects loses nothing), and its status and result are fetched later by
id, by the same workspace only. The job threads (``Limits.job_threads``) are shared by the workspaces in
turn (``kronos_studio.fair``): a queued job of one workspace starts before a second one of another that
already runs one, and no workspace holds every thread. ``cancel`` stops a queued job at once and a running
one at its next checkpoint (``checkpoint``), its files removed. Each job's state is kept in its folder
(``job.json``), so a server restarted on the same ``--jobs-dir`` still answers for the jobs it had:
finished ones with their result, unfinished ones as failed, saying why."""
from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from data_sources.storage import atomic_write_text
from kronos.errors import Fix, UserError, worded
from kronos_studio.desk import Abandoned, Cancelled, Desk, FairSlots, Limits

from .errors import ServiceError, as_service_error, bug_line, field_name
from .keys import Identity

STATE_FILE = "job.json"  # a job's state, in its folder
CANCELLED, OVERTIME, SHUTDOWN = "cancelled", "overtime", "shutdown"  # why a job's work was stopped
UNFINISHED = ("queued", "running", "cancelling")
FINISHED = ("done", "failed", "cancelled")
LOG = logging.getLogger(__name__)


def checkpoint(stop: threading.Event) -> None:
    """Where a running job may stop: raises ``Cancelled`` once its job was cancelled, ran past its time
    (``Limits.job_seconds``) or the server stops (its sampling also stops between steps: it runs ``asked_by`` it)."""
    if stop.is_set():
        raise Cancelled


def too_many_jobs(limits: Limits, running: int) -> str:
    """Why a key may not submit another job (429), and how to go on."""
    return (f"this key has {running} jobs queued or running, the limit of {limits.jobs_per_key} per key "
            f"({limits.setting('jobs_per_key')}): wait for one to finish (GET /v1/jobs/{{id}}) or cancel one "
            "(DELETE /v1/jobs/{id})")


def job_overtime(limits: Limits) -> str:
    """Why a job that ran past ``job_seconds`` failed, and how to stay inside it."""
    return worded(f"the job ran past the limit of {limits.job_seconds} seconds and was stopped",
                  (Limits.raise_fix("split it into smaller jobs (fewer series, cut-offs, paths or training steps)",
                             "job_seconds"),), field_name)


class JobsFolderInUse(UserError):
    """Another running server keeps its jobs in the folder: two would fail each other's unfinished jobs."""


@dataclass
class Job:
    id: str
    workspace: str
    key_id: str
    kind: str
    folder: Path
    status: str = "queued"  # queued, running, cancelling, then done, failed or cancelled
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    summary: dict = field(default_factory=dict)
    result: Path | None = None  # the result file once done
    stop: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)  # cancelled
    why: str | None = field(default=None, repr=False, compare=False)  # why it was stopped: CANCELLED, OVERTIME, ...

    def public(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "created_at": self.created_at,
                "finished_at": self.finished_at, "error": self.error, "summary": self.summary}

    def save(self) -> None:
        """The state in the folder, written whole or not at all."""
        state = {**self.public(), "workspace": self.workspace, "key_id": self.key_id,
                 "result": self.result.name if self.result else None}
        atomic_write_text(self.folder / STATE_FILE, json.dumps(state, default=str))

    @classmethod
    def load(cls, folder: Path) -> Job:
        """The job saved in ``folder``. One the server did not finish (it stopped while the job was queued
        or running) is failed, with the reason, and saved so; a finished one whose result file is gone too."""
        state = json.loads((folder / STATE_FILE).read_text())
        result = state.pop("result")
        job = cls(folder=folder, result=folder / result if result else None, **state)
        if job.status == "cancelling":  # cancelled, and stopped by the restart
            job.status = "cancelled"
        elif job.status in UNFINISHED:
            job.error = f"the server stopped while this job was {job.status}: submit it again"
        elif job.status == "done" and not (job.result and job.result.is_file()):
            job.error = "its result file is no longer in the jobs folder: submit it again"
        else:
            return job
        job.status, job.finished_at = "failed", job.finished_at or time.time()
        job.save()
        return job


class JobRunner:
    """Jobs of every workspace, each in a folder of its own under ``root`` (a temporary one by default);
    those a given ``root`` already holds are answered for again."""

    def __init__(self, limits: Limits, root: str | Path | None = None):
        self.limits = limits
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="kronos-jobs-"))
        self.owns_root = root is None
        self.folder_lock = FileLock(self.root / ".server.lock")  # one server per jobs folder
        try:
            self.folder_lock.acquire(timeout=0)
        except Timeout:
            raise JobsFolderInUse(f"the jobs folder {self.root} is used by another running server",
                                  {"jobs_dir": str(self.root)}, Fix("give each server its own {setting}", "jobs_dir")) from None
        threads = limits.job_threads  # a workspace runs on all but one: one is left for the others' jobs
        self.threads = FairSlots(threads, per_owner=max(1, threads - 1))
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        for state in sorted(self.root.glob(f"*/{STATE_FILE}")):
            try:
                job = Job.load(state.parent)
            except (OSError, ValueError, TypeError, KeyError) as e:  # unreadable: leave the folder as it is
                LOG.warning("jobs folder %s: not a job's state (%s); left alone", state.parent, e)
                continue
            self.jobs[job.id] = job

    def submit(self, who: Identity, kind: str, run: Callable[[Path, threading.Event], tuple[Path, dict]]) -> Job:
        """A new job of ``who`` running ``run(folder, stop) -> (result file, summary)`` (``stop``: set when the
        job is cancelled, for ``checkpoint``); 429 past the key's limit."""
        with self.lock:
            active = sum(1 for j in self.jobs.values() if j.key_id == who.key_id and j.status in UNFINISHED)
            if active >= self.limits.jobs_per_key:
                raise ServiceError(429, too_many_jobs(self.limits, active))
            job_id = secrets.token_hex(8)
            folder = self.root / job_id
            folder.mkdir(parents=True)
            job = self.jobs[job_id] = Job(job_id, who.workspace, who.key_id, kind, folder)
            job.save()
        threading.Thread(target=self._run, args=(job, run), name=f"kronos-job-{job_id}", daemon=True).start()
        return job

    def _run(self, job: Job, run) -> None:
        status = None  # how it ended, shown once it is saved (a GET never sees an end a restart would not)
        try:
            with self.threads.held(job.workspace, abandon=lambda: job.stop.is_set() or self.stopping.is_set()):
                with self.lock:
                    if job.stop.is_set():  # cancelled as its turn came
                        raise Abandoned(job.workspace)
                    job.status = "running"
                    job.save()
                # past its time it stops at its next checkpoint or sampling step, and frees its thread
                timer = threading.Timer(self.limits.job_seconds, self._stop, (job, OVERTIME))
                timer.daemon = True
                timer.start()
                try:
                    with Desk.asked_by(job.stop):
                        job.result, job.summary = run(job.folder, job.stop)
                    status = "done"
                except Cancelled:
                    if job.why == OVERTIME:
                        job.error, status = job_overtime(self.limits), "failed"
                except Exception as e:  # the job's one line, as the request would have had it
                    known = as_service_error(e)
                    job.error = known.detail if known is not None else bug_line(e)
                    status = "failed"
                finally:
                    timer.cancel()
        except Abandoned:  # cancelled while queued (``cancel`` finished it, cleaned and saved) or the server stops
            return  # (job.json still says queued, and a restart says why): nothing more to write either way
        if job.why == SHUTDOWN or (self.stopping.is_set() and self.owns_root):
            return  # the server stopped it: job.json still says running, and a restart says why (or the folder is gone)
        with self.lock:
            if status is not None:
                job.status = status
            if job.why == CANCELLED:  # cancelled: whatever it made is removed
                self._clean(job)
            job.finished_at = time.time()
            job.save()

    def _stop(self, job: Job, why: str) -> None:
        """Stop ``job``'s work at its next checkpoint or sampling step, for ``why`` (the first reason stands)."""
        with self.lock:
            if job.status in FINISHED or job.stop.is_set():
                return
            job.why = why
            job.stop.set()
        self.threads.wake()

    def stop_running(self) -> None:
        """The server stops: every running job stops at its next step (and stays unfinished in its job.json, so a
        restart fails it saying why); the queued ones stop waiting."""
        self.stopping.set()
        with self.lock:
            jobs = [j for j in self.jobs.values() if j.status in UNFINISHED]
        for job in jobs:
            self._stop(job, SHUTDOWN)

    def cancel(self, who: Identity, job_id: str) -> Job:
        """Cancel ``who``'s job: a queued one is cancelled at once, a running one stops at its next checkpoint
        (``cancelling`` until then); its files are removed. 409 for a finished job."""
        job = self.get(who, job_id)
        with self.lock:
            if job.status in FINISHED:
                raise ServiceError(409, f"job '{job_id}' is already {job.status}: there is nothing to cancel")
            job.why = job.why or CANCELLED
            job.stop.set()
            if job.status == "queued":  # finished here, whole: its thread, woken, writes nothing more
                self._clean(job)
                job.finished_at = time.time()
            else:
                job.status = "cancelling"
            job.save()
        self.threads.wake()
        return job

    @staticmethod
    def _clean(job: Job) -> None:
        """A cancelled job: its inputs and partial results removed, its state kept (GET still answers)."""
        for path in job.folder.iterdir():
            if path.name != STATE_FILE:
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        job.status, job.result, job.summary = "cancelled", None, {}

    def get(self, who: Identity, job_id: str) -> Job:
        """The job ``job_id`` of ``who``'s workspace (404 for another workspace's: its existence is not said)."""
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None or job.workspace != who.workspace:
            raise ServiceError(404, f"no job '{job_id}' in workspace '{who.workspace}'")
        return job

    def shutdown(self) -> None:
        self.stopping.set()  # queued jobs stay queued in their job.json (a restart fails them, saying why)
        self.threads.wake()
        self.folder_lock.release()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
