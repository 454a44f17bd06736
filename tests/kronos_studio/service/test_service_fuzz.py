"""Issue 53: the HTTP API fuzzed from its own OpenAPI document. Schemathesis generates requests for every
operation, valid ones (positive) and ones that break the schema (negative), and a real server on loopback
answers them: never a 5xx, every error a one-line JSON body (``{"detail": ...}``), and the server alive and
forecasting afterwards.

The budget is fixed and the run derandomized, so the same requests are sent on every run (a failure
reproduces, nothing flakes): ``FUZZ_REQUESTS`` requests, under a minute on a 2-core machine
(docs/service.md, Security)."""
from __future__ import annotations

import collections
import json
import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from service_helpers import TEST_LIMITS, bearer, running_server
from testkit import random_bars

from kronos_studio.service.app import ServiceConfig
from kronos_studio.service.keys import create_key

# Generated requests in all, across every operation (docs/service.md, Security); a longer search, as deterministic,
# with KRONOS_FUZZ_REQUESTS=1500.
FUZZ_REQUESTS = int(os.environ.get("KRONOS_FUZZ_REQUESTS", 300))
TIMEOUT_S = 60  # one request's limit: a generated request the server cannot answer in this long is a failure

# Known 5xx answers a pending change mends: (method, route template, what the 500's detail starts with); a 5xx
# not listed here fails the test. None now: ids past the database's integer are a 422 (issue 53 item 4).
KNOWN_5XX: tuple[tuple[str, str, str], ...] = ()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """(base URL, headers of an admin key of workspace 'fuzz', the OpenAPI schema) of a fresh server."""
    folder = tmp_path_factory.mktemp("fuzz")
    config = ServiceConfig(ledger_url=f"sqlite:///{folder / 'ledger.sqlite'}", limits=TEST_LIMITS,
                           jobs_dir=str(folder / "jobs"))
    with running_server(config) as (base, app):
        _, token = create_key(app.state.service.ledger, "fuzz", admin=True)
        document = httpx.get(f"{base}/openapi.json").json()
        schema = schemathesis.openapi.from_dict(document)
        yield base, bearer(token), schema


def known_5xx(method: str, route: str, detail: str) -> bool:
    return any(method == m and route == r and detail.startswith(d) for m, r, d in KNOWN_5XX)


def detail_of(response) -> str:
    try:
        return str(response.json().get("detail", ""))
    except (ValueError, AttributeError):
        return ""


def one_line_error(response) -> str | None:
    """What is wrong with an error answer's body, None when it is one line of JSON ``{"detail": ...}``."""
    try:
        body = response.json()
    except ValueError:
        return f"not JSON: {response.text[:200]!r}"
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        return f"no one-line detail: {json.dumps(body)[:200]}"
    if "\n" in body["detail"] or "Traceback" in body["detail"]:
        return f"more than one line: {body['detail'][:200]!r}"
    return None


@pytest.mark.slow
def test_the_api_answers_generated_requests_without_a_server_error(fuzzed):
    from schemathesis.generation import GenerationMode

    base, headers, schema = fuzzed
    cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    seen: collections.Counter = collections.Counter()
    problems: list[str] = []

    @settings(max_examples=FUZZ_REQUESTS, derandomize=True, database=None, deadline=None, print_blob=True,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def answer(case):
        route = case.operation.path
        response = case.call(base_url=base, headers=headers, timeout=TIMEOUT_S)
        seen[(case.method, route, response.status_code)] += 1
        where = f"{case.method} {route} -> {response.status_code}"
        if response.status_code >= 500:
            if not known_5xx(case.method, route, detail_of(response)):
                problems.append(f"{where}: {response.text[:300]} (request: {case.as_curl_command()[:600]})")
        elif response.status_code >= 400 and (wrong := one_line_error(response)) is not None:
            problems.append(f"{where}: {wrong}")

    answer()
    assert sum(seen.values()) >= FUZZ_REQUESTS // 2, seen  # the budget was spent on requests, not rejected draws
    assert len({route for _, route, _ in seen}) >= 10, seen  # every area of the API was reached
    assert not problems, "\n".join(problems[:20])

    health = httpx.get(f"{base}/health", timeout=TIMEOUT_S)  # alive afterwards, and still forecasting
    made = httpx.post(f"{base}/v1/forecast", headers=headers, timeout=300, json={
        "bars_csv": random_bars(120, freq="1h").to_csv(index=False), "model": "random_walk", "horizon": 3,
        "paths": 5, "record": False})
    assert health.status_code == 200 and made.status_code == 200, made.text
