"""Long runs as jobs: a batch is submitted, runs in a background thread of the server (not of the
request, so a client that disconnects loses nothing), and its status and result are fetched later by
id, by the same workspace only."""
from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ServiceError
from .keys import Identity
from .limits import Limits

JOB_THREADS = 2  # batch jobs running at once (the others queue); each samples on all the cores


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


class JobRunner:
    """Jobs of every workspace, each in a folder of its own under ``root`` (a temporary one by default)."""

    def __init__(self, limits: Limits, root: str | Path | None = None, threads: int = JOB_THREADS):
        self.limits = limits
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="kronos-jobs-"))
        self.owns_root = root is None
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kronos-job")
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}

    def submit(self, who: Identity, kind: str, run: Callable[[Path], tuple[Path, dict]]) -> Job:
        """A new job of ``who`` running ``run(folder) -> (result file, summary)``; 429 past the key's limit."""
        with self.lock:
            active = sum(1 for j in self.jobs.values() if j.key_id == who.key_id and j.status in ("queued", "running"))
            if active >= self.limits.jobs_per_key:
                raise ServiceError(429, self.limits.too_many_jobs(active))
            job_id = secrets.token_hex(8)
            folder = self.root / job_id
            folder.mkdir(parents=True)
            job = self.jobs[job_id] = Job(job_id, who.workspace, who.key_id, kind, folder)
        self.pool.submit(self._run, job, run)
        return job

    def _run(self, job: Job, run) -> None:
        from .errors import as_service_error, one_line

        job.status = "running"
        try:
            job.result, job.summary = run(job.folder)
            job.status = "done"
        except Exception as e:  # the job's one line, as the request would have had it
            known = as_service_error(e)
            job.error = known.detail if known is not None else f"internal error: {type(e).__name__}: {one_line(e)}"
            job.status = "failed"
        finally:
            job.finished_at = time.time()

    def get(self, who: Identity, job_id: str) -> Job:
        """The job ``job_id`` of ``who``'s workspace (404 for another workspace's: its existence is not said)."""
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None or job.workspace != who.workspace:
            raise ServiceError(404, f"no job '{job_id}' in workspace '{who.workspace}'")
        return job

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
