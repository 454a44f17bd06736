"""Long runs as jobs: a batch is submitted, runs in a background thread of the server (not of the
request, so a client that disconnects loses nothing), and its status and result are fetched later by
id, by the same workspace only. Each job's state is kept in its folder (``job.json``), so a server
restarted on the same ``--jobs-dir`` still answers for the jobs it had: finished ones with their result,
unfinished ones as failed, saying why."""
from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from data_sources.storage import atomic_write_text
from kronos.errors import Fix, UserError

from .errors import ServiceError
from .keys import Identity
from .limits import Limits

JOB_THREADS = 2  # batch jobs running at once (the others queue); each samples on all the cores
STATE_FILE = "job.json"  # a job's state, in its folder
UNFINISHED = ("queued", "running")
LOG = logging.getLogger(__name__)


class JobsFolderInUse(UserError):
    """Another running server keeps its jobs in the folder: two would fail each other's unfinished jobs."""


@dataclass
class Job:
    id: str
    workspace: str
    key_id: str
    kind: str
    folder: Path
    status: str = "queued"  # queued, running, done, failed
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    error: str | None = None
    summary: dict = field(default_factory=dict)
    result: Path | None = None  # the result file once done

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
        if job.status in UNFINISHED:
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

    def __init__(self, limits: Limits, root: str | Path | None = None, threads: int = JOB_THREADS):
        self.limits = limits
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="kronos-jobs-"))
        self.owns_root = root is None
        self.folder_lock = FileLock(self.root / ".server.lock")  # one server per jobs folder
        try:
            self.folder_lock.acquire(timeout=0)
        except Timeout:
            raise JobsFolderInUse(f"the jobs folder {self.root} is used by another running server",
                                  {"jobs_dir": str(self.root)}, Fix("give each server its own {setting}", "jobs_dir")) from None
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kronos-job")
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        for state in sorted(self.root.glob(f"*/{STATE_FILE}")):
            try:
                job = Job.load(state.parent)
            except (OSError, ValueError, TypeError, KeyError) as e:  # unreadable: leave the folder as it is
                LOG.warning("jobs folder %s: not a job's state (%s); left alone", state.parent, e)
                continue
            self.jobs[job.id] = job

    def submit(self, who: Identity, kind: str, run: Callable[[Path], tuple[Path, dict]]) -> Job:
        """A new job of ``who`` running ``run(folder) -> (result file, summary)``; 429 past the key's limit."""
        with self.lock:
            active = sum(1 for j in self.jobs.values() if j.key_id == who.key_id and j.status in UNFINISHED)
            if active >= self.limits.jobs_per_key:
                raise ServiceError(429, self.limits.too_many_jobs(active))
            job_id = secrets.token_hex(8)
            folder = self.root / job_id
            folder.mkdir(parents=True)
            job = self.jobs[job_id] = Job(job_id, who.workspace, who.key_id, kind, folder)
            job.save()
        self.pool.submit(self._run, job, run)
        return job

    def _run(self, job: Job, run) -> None:
        from .errors import as_service_error, one_line

        job.status = "running"
        job.save()
        try:
            job.result, job.summary = run(job.folder)
            job.status = "done"
        except Exception as e:  # the job's one line, as the request would have had it
            known = as_service_error(e)
            job.error = known.detail if known is not None else f"internal error: {type(e).__name__}: {one_line(e)}"
            job.status = "failed"
        finally:
            job.finished_at = time.time()
            job.save()

    def get(self, who: Identity, job_id: str) -> Job:
        """The job ``job_id`` of ``who``'s workspace (404 for another workspace's: its existence is not said)."""
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None or job.workspace != who.workspace:
            raise ServiceError(404, f"no job '{job_id}' in workspace '{who.workspace}'")
        return job

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.folder_lock.release()
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
