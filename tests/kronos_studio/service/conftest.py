"""A real ``kronos serve`` application on a free loopback port (uvicorn in a background thread), its own
ledger, API keys of two workspaces and an admin, and a tiny random model the CLI and the service share."""
from __future__ import annotations

import json

import pytest
from service_helpers import TEST_LIMITS, running_server, stop_jobs
from testkit import random_bars, random_model_folder

from kronos_studio.service.app import ServiceConfig
from kronos_studio.service.keys import create_key

# Small enough that each limit is easy to pass in a test, large enough for every other test.


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny random model of the service's own: the session's shared ``random_model`` folders have their
    bundle.json rewritten by other tests (``ModelFolder.ours``), which would change this one's name and context
    under a service that loaded it before."""
    folder = random_model_folder(tmp_path_factory.mktemp("service-tiny"), "tiny").folder
    (folder / "bundle.json").write_text(json.dumps({"context": 64, "name": "tiny"}))
    return str(folder)


@pytest.fixture(scope="session")
def hourly_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("service") / "hourly.csv"
    random_bars(120, freq="1h").to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def service(tmp_path_factory, tiny_model):
    """(base URL, the Service behind it, tokens by name: 'a', 'b' (workspaces A and B), 'admin', 'jobs'); its
    catalog offers the tiny model (``--models-dir``)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('service-ledger') / 'ledger.sqlite'}"
    config = ServiceConfig(ledger_url=url, limits=TEST_LIMITS, jobs_dir=str(tmp_path_factory.mktemp("jobs")),
                           models_dirs=(tiny_model,))
    with running_server(config) as (base, app):
        svc = app.state.service
        tokens = {"a": create_key(svc.ledger, "team-a")[1], "b": create_key(svc.ledger, "team-b")[1],
                  "admin": create_key(svc.ledger, "ops", admin=True)[1], "jobs": create_key(svc.ledger, "team-a")[1]}
        yield base, svc, tokens


@pytest.fixture(autouse=True)
def no_job_left_running(request):
    """After each test of the session's ``service``, its jobs still queued or running are cancelled and waited
    for: a batch a test submitted and left sampling took a share of the cores from the next tests (their
    forecasts counted one computation more) and kept its key at ``jobs_per_key`` (a later job of it: 429)."""
    yield
    if "service" in request.fixturenames:
        stop_jobs(request.getfixturevalue("service")[1].jobs)
