"""Helpers of the service tests: a real uvicorn server in a thread, the command line (``testkit.run_cli``)."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager, suppress

import uvicorn
from testkit import run_cli  # noqa: F401 (the service tests import it from here)

from kronos_studio.desk import Limits
from kronos_studio.service.app import create_app
from kronos_studio.service.errors import ServiceError
from kronos_studio.service.jobs import FINISHED
from kronos_studio.service.keys import Identity

# Small limits, so the limit tests need small requests (one home: the fixtures and the tests read it).
TEST_LIMITS = Limits(body_bytes=400_000, bars=3_000, horizon=300, path_steps=400, quantiles=9, cutoffs=40,
                     evaluation_steps=2_000, risk_readings=2_000, series=25, job_steps=5_000, train_steps=50, decisions=3,
                     jobs_per_key=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(config):
    """(base URL, app) of ``create_app(config)`` served by uvicorn on loopback until the block ends."""
    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def wait_for(runner, who, job_id: str, status: str, within_s: float = 30.0):
    """The ``JobRunner``'s job once in ``status`` (the bound only turns a hang into a failure)."""
    deadline = time.monotonic() + within_s
    while (job := runner.get(who, job_id)).status != status:
        assert time.monotonic() < deadline, (job_id, job.status)
        time.sleep(0.01)
    return job


def stop_jobs(runner, within_s: float = 120.0) -> None:
    """Cancels every unfinished job of the ``JobRunner`` and waits until each has stopped computing. A job
    outlives its request by design, but never its test: one still sampling holds a lease of the cores
    (``kronos.threads``) and a slot of its key's ``jobs_per_key``, which a later test would see."""
    with runner.lock:
        jobs = [j for j in runner.jobs.values() if j.status not in FINISHED]
    for job in jobs:
        who = Identity(job.key_id, job.workspace)
        with suppress(ServiceError):  # it finished as we looked: nothing to cancel
            runner.cancel(who, job.id)
    deadline = time.monotonic() + within_s
    while unfinished := [j.id for j in jobs if j.status not in FINISHED]:
        assert time.monotonic() < deadline, f"jobs {unfinished} still not stopped {within_s} s after their cancel"
        time.sleep(0.02)


def finished_job(client, job_id: str, within_s: float, poll_s: float = 0.2) -> dict:
    """The job's status once it is no longer queued or running (fails the test after ``within_s``)."""
    deadline = time.monotonic() + within_s
    while (status := client.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {job_id} still {status['status']} after {within_s} s"
        time.sleep(poll_s)
    return status
