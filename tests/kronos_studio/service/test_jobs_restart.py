"""A server restarted on the same jobs folder answers for the jobs it had: a finished one with its
result, an unfinished one as failed with the reason, never an unknown id."""
import json
import threading

import pytest
from service_helpers import wait_for

from kronos_studio.desk import Limits
from kronos_studio.service.errors import ServiceError
from kronos_studio.service.jobs import STATE_FILE, JobRunner, JobsFolderInUse
from kronos_studio.service.keys import Identity

ALICE = Identity("key-a", "team-a")
BOB = Identity("key-b", "team-b")


def test_jobs_outlive_a_restart_on_the_same_folder(tmp_path):
    release = threading.Event()

    def finishes(folder, stop):
        out = folder / "results.parquet"
        out.write_bytes(b"rows")
        return out, {"series": 3, "forecast": 3}

    def blocks(folder, stop):
        release.wait(10)
        raise RuntimeError("never reached in the restarted server")

    first = JobRunner(Limits(jobs_per_key=5, job_threads=1), tmp_path)
    done = first.submit(ALICE, "batch", finishes)
    wait_for(first, ALICE, done.id, "done")
    running = first.submit(ALICE, "batch", blocks)
    wait_for(first, ALICE, running.id, "running")
    queued = first.submit(BOB, "batch", finishes)
    assert json.loads((queued.folder / STATE_FILE).read_text())["status"] == "queued"
    with pytest.raises(JobsFolderInUse, match="used by another running server: give each server its own jobs_dir"):
        JobRunner(Limits(), tmp_path)  # while the first server runs
    first.shutdown()  # the server stops; the running job's thread is cut off

    second = JobRunner(Limits(jobs_per_key=5, job_threads=1), tmp_path)
    try:
        again = second.get(ALICE, done.id)
        assert again.status == "done" and again.result.read_bytes() == b"rows"
        assert again.public() == done.public()  # the same status, times and summary as before
        lost = second.get(ALICE, running.id)
        assert lost.status == "failed" and lost.error == "the server stopped while this job was running: submit it again"
        assert lost.finished_at is not None
        assert second.get(BOB, queued.id).error == "the server stopped while this job was queued: submit it again"
        with pytest.raises(ServiceError, match="no job"):  # still one workspace's own
            second.get(BOB, done.id)
        # the failure is saved: a third start reads it as it is
        assert json.loads((running.folder / STATE_FILE).read_text())["status"] == "failed"
    finally:
        release.set()
        second.shutdown()
    assert tmp_path.is_dir()  # a folder given by the operator is never removed


def test_a_finished_job_without_its_result_file_and_an_unreadable_state(tmp_path, caplog):
    first = JobRunner(Limits(job_threads=1), tmp_path)

    def finishes(folder, stop):
        out = folder / "results.parquet"
        out.write_bytes(b"rows")
        return out, {}

    job = first.submit(ALICE, "batch", finishes)
    wait_for(first, ALICE, job.id, "done")
    first.shutdown()
    job.result.unlink()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / STATE_FILE).write_text("{not json")

    second = JobRunner(Limits(), tmp_path)
    gone = second.get(ALICE, job.id)
    assert gone.status == "failed" and "result file is no longer in the jobs folder" in gone.error
    assert list(second.jobs) == [job.id] and "junk" in caplog.text and (tmp_path / "junk").is_dir()
    second.shutdown()


def test_a_job_is_answered_done_only_once_its_state_says_so(tmp_path):
    """The job's end is shown once it is saved: a restart at the moment a client reads "done" finds it done (it
    was shown before its job.json said so, and a restart then failed it as stopped while running)."""
    import contextlib
    import time

    runner = JobRunner(Limits(job_threads=1), tmp_path)
    held = runner.threads.held

    @contextlib.contextmanager
    def slow_to_release(*args, **kwargs):  # the job's thread share is handed back slowly: the window a client saw
        with held(*args, **kwargs) as got:
            yield got
        time.sleep(0.5)

    runner.threads.held = slow_to_release
    try:
        job = runner.submit(ALICE, "batch", lambda folder, stop: (None, {"series": 1}))
        wait_for(runner, ALICE, job.id, "done")
        assert json.loads((job.folder / STATE_FILE).read_text())["status"] == "done"
    finally:
        runner.shutdown()
