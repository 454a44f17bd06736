"""Issue 53 item 7: the job threads are shared by the workspaces in turn, and a job can be cancelled
(``DELETE /v1/jobs/{id}``), its files removed. Before, two jobs of one key held both threads and another
workspace's batch stayed queued until they ended, with no way to stop them."""
from __future__ import annotations

import json
import threading

import httpx
import pytest
from service_helpers import bearer, wait_for

from kronos_studio.desk import Limits
from kronos_studio.service.errors import ServiceError
from kronos_studio.service.jobs import STATE_FILE, JobRunner, checkpoint
from kronos_studio.service.keys import Identity

B1, B2, A = Identity("key-b1", "team-b"), Identity("key-b2", "team-b"), Identity("key-a", "team-a")


def held_until(release: threading.Event):
    """A job that writes a partial file, then runs until ``release``, stopping at its checkpoints."""
    def run(folder, stop):
        (folder / "partial.parquet").write_bytes(b"half")
        while not release.wait(0.01):
            checkpoint(stop)
        out = folder / "results.parquet"
        out.write_bytes(b"rows")
        return out, {}
    return run


def test_another_workspace_s_job_runs_while_one_workspace_has_more_queued(tmp_path):
    runner = JobRunner(Limits(jobs_per_key=5, job_threads=2), tmp_path)
    release = threading.Event()
    try:
        first = runner.submit(B1, "batch", held_until(release))
        wait_for(runner, B1, first.id, "running")
        second = runner.submit(B2, "batch", held_until(release))  # the same workspace, another key
        mine = runner.submit(A, "batch", held_until(release))
        wait_for(runner, A, mine.id, "running")  # a thread was left for another workspace
        assert runner.get(B2, second.id).status == "queued"
    finally:
        release.set()
        runner.shutdown()


def test_a_queued_and_a_running_job_are_cancelled_and_their_files_removed(tmp_path):
    runner = JobRunner(Limits(jobs_per_key=5, job_threads=1), tmp_path)
    release = threading.Event()
    try:
        running = runner.submit(B1, "batch", held_until(release))
        wait_for(runner, B1, running.id, "running")
        queued = runner.submit(B1, "batch", held_until(release))
        cancelled = runner.cancel(B1, queued.id)
        # finished, cleaned and saved when cancel answers: its woken thread writes nothing more (it saved the state
        # again, a temporary file beside job.json for a moment)
        assert cancelled.status == "cancelled" and cancelled.finished_at is not None
        assert json.loads((queued.folder / STATE_FILE).read_text())["finished_at"] == cancelled.finished_at
        assert [p.name for p in queued.folder.iterdir()] == [STATE_FILE]
        assert runner.cancel(B1, running.id).status in ("cancelling", "cancelled")
        stopped = wait_for(runner, B1, running.id, "cancelled")  # at its next checkpoint, never released
        assert stopped.result is None and [p.name for p in running.folder.iterdir()] == [STATE_FILE]
        with pytest.raises(ServiceError, match="already cancelled"):
            runner.cancel(B1, running.id)
        with pytest.raises(ServiceError, match="no job"):  # another workspace's is not said to exist
            runner.cancel(A, queued.id)
        after = runner.submit(B1, "batch", held_until(release))  # the thread and the key's share are free
        wait_for(runner, B1, after.id, "running")
    finally:
        release.set()
        runner.shutdown()


def test_delete_cancels_a_job_over_http(service):
    base, svc, tokens = service
    release = threading.Event()
    who = Identity("http-cancel", "team-b")  # a key of its own: the per-key limit of the shared fixture is 1
    job = svc.jobs.submit(who, "batch", held_until(release))
    try:
        wait_for(svc.jobs, who, job.id, "running")
        other = httpx.delete(f"{base}/v1/jobs/{job.id}", headers=bearer(tokens["a"]))
        assert other.status_code == 404  # team-a's key
        r = httpx.delete(f"{base}/v1/jobs/{job.id}", headers=bearer(tokens["b"]))
        assert r.status_code == 202 and r.json()["status"] in ("cancelling", "cancelled")
        wait_for(svc.jobs, who, job.id, "cancelled")
        status = httpx.get(f"{base}/v1/jobs/{job.id}", headers=bearer(tokens["b"])).json()
        assert status["status"] == "cancelled"
        again = httpx.delete(f"{base}/v1/jobs/{job.id}", headers=bearer(tokens["b"]))
        assert again.status_code == 409
    finally:
        release.set()
