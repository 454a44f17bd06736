"""Issues 53 and 63: the HTTP API fuzzed from its own OpenAPI document. Schemathesis generates requests for every
operation, valid ones (positive) and ones that break the schema (negative), and a real server on loopback answers
them under every check schemathesis has (its ``--checks all``): no 5xx; every status and body one the document
declares (the errors' ``ErrorBody``, 422 among them); a request the schema calls invalid refused; one it calls valid
accepted unless the server refuses its content (bars it cannot read, a limit the schema cannot state: 400/413/422,
each a refusal with its problem, never a schema-level "invalid request"); a request without its key refused. Then
the server is alive and forecasting.

The budget is fixed and the run derandomized, so the same requests are sent on every run (a failure reproduces,
nothing flakes): ``FUZZ_REQUESTS`` requests, about a minute on a 2-core machine (docs/service.md, Security)."""
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

# A request the schema calls valid may still be refused for its content, which no JSON schema states: bars the
# reader cannot read (422), a data source that cannot deliver them (400: none is reachable here), a product of
# fields past a limit (413: paths x horizon, cut-offs x paths x horizon). Each such refusal carries its problem.
CONTENT_REFUSALS = (400, 413, 422)
CONFIG = {"checks": {
    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "429",
                                                       *map(str, CONTENT_REFUSALS)]},
    # a request past a limit is "too large" before it is invalid (a list over the server's count)
    "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415",
                                                      "422", "428", "429"]},
}}

@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """(base URL, headers of an admin key of workspace 'fuzz', the OpenAPI schema) of a fresh server."""
    from schemathesis.config import SchemathesisConfig

    folder = tmp_path_factory.mktemp("fuzz")
    config = ServiceConfig(ledger_url=f"sqlite:///{folder / 'ledger.sqlite'}", limits=TEST_LIMITS,
                           jobs_dir=str(folder / "jobs"))
    with running_server(config) as (base, app):
        _, token = create_key(app.state.service.ledger, "fuzz", admin=True)
        document = httpx.get(f"{base}/openapi.json").json()
        schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(CONFIG))
        yield base, bearer(token), schema


def every_check() -> list:
    """Every check schemathesis has (the command line's ``--checks all``)."""
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    return list(CHECKS.get_all())


def schema_level_refusal(case, response) -> str | None:
    """A request the schema calls valid that the server refuses as invalid (its request model stricter than the
    document, so a client generated from it would send it): what is wrong, None when it is not that."""
    if not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return None if "problem" in body else f"valid by the schema, refused as invalid: {body.get('detail')!r}"


TRUE_WORDS, FALSE_WORDS = {"1", "true", "t", "yes", "y", "on"}, {"0", "false", "f", "no", "n", "off"}


def wire_forms(text: str) -> list:
    """What a query value sent as ``text`` may stand for: the string, and the number or the boolean it reads as
    (a query string has no types; FastAPI reads each by its declared one)."""
    forms: list = [text]
    for parse in (int, float):
        try:
            forms.append(parse(text))
        except ValueError:
            pass
    if text.lower() in TRUE_WORDS | FALSE_WORDS:
        forms.append(text.lower() in TRUE_WORDS)
    return forms


def sent_as_valid(case, response, failure) -> bool:
    """Whether ``failure`` is a negative case whose breach did not survive the wire: a query value is sent as
    text, so a number drawn for a string (``model=5.16e+69``) or a string drawn for a boolean
    (``include_experiments=false``) arrives as a valid value, and the server is right to answer it. Judged on the
    request as sent (its query, no body): each value valid in one of its forms; anything else stays a failure."""
    from urllib.parse import parse_qs, urlsplit

    import jsonschema

    sent = response.request
    if failure.title != "Schema-violating request accepted" or sent.body:
        return False
    declared = {p["name"]: p["schema"] for p in case.operation.definition.raw.get("parameters", [])
                if p.get("in") == "query"}

    def valid(value, rule) -> bool:
        return any(jsonschema.Draft202012Validator(rule).is_valid(form) for form in wire_forms(value))

    for name, values in parse_qs(urlsplit(sent.url).query, keep_blank_values=True).items():
        rule = declared.get(name)
        if rule is None:
            return False
        if rule.get("type") == "array":
            items = rule.get("items", {})
            if not all(valid(v, items) for v in values) or (rule.get("uniqueItems") and len(set(values)) < len(values)):
                return False
            if len(values) > rule.get("maxItems", len(values)) or len(values) < rule.get("minItems", 0):
                return False
        elif not valid(values[-1], rule) or len(values) > 1:
            return False
    return True


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
def test_the_api_answers_generated_requests_under_every_check(fuzzed):
    from schemathesis.core.failures import FailureGroup
    from schemathesis.generation import GenerationMode

    base, headers, schema = fuzzed
    checks = every_check()
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
        try:
            case.validate_response(response, checks=checks, headers=headers,
                                   transport_kwargs={"base_url": base, "headers": headers, "timeout": TIMEOUT_S})
        except FailureGroup as e:
            found = [f for f in e.exceptions if not sent_as_valid(case, response, f)]
            titles = "; ".join(sorted({f.title for f in found}))
            if found:
                problems.append(f"{where}: {titles}: {response.text[:300]} (request: {case.as_curl_command()[:600]})")
        wrong = schema_level_refusal(case, response) or (one_line_error(response) if response.status_code >= 400
                                                         else None)
        if wrong is not None:
            problems.append(f"{where}: {wrong} (request: {case.as_curl_command()[:600]})")

    answer()
    assert sum(seen.values()) >= FUZZ_REQUESTS // 2, seen  # the budget was spent on requests, not rejected draws
    assert len({route for _, route, _ in seen}) >= 10, seen  # every area of the API was reached
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:20])

    health = httpx.get(f"{base}/health", timeout=TIMEOUT_S)  # alive afterwards, and still forecasting
    made = httpx.post(f"{base}/v1/forecast", headers=headers, timeout=300, json={
        "bars_csv": random_bars(120, freq="1h").to_csv(index=False), "model": "random_walk", "horizon": 3,
        "paths": 5, "record": False})
    assert health.status_code == 200 and made.status_code == 200, made.text


def test_the_document_states_the_bounds_and_the_error_bodies_the_server_enforces(fuzzed):
    """Issue 63 item 8: what a client generated from the document needs to send requests the server takes."""
    base, _, _ = fuzzed
    document = httpx.get(f"{base}/openapi.json").json()
    props = document["components"]["schemas"]["RiskRequest"]["properties"]
    assert props["horizon"]["minimum"] == 1
    assert props["seed"] == {**props["seed"], "minimum": 0, "maximum": 2**53 - 1}
    levels = props["levels"]
    assert levels["uniqueItems"] and levels["maxItems"] == 20 and levels["minItems"] == 1
    assert levels["items"]["exclusiveMinimum"] == 0.5 and levels["items"]["exclusiveMaximum"] == 0.9999
    assert props["positions"]["items"]["enum"] == ["long", "short"] and props["positions"]["uniqueItems"]
    known = document["components"]["schemas"]["ForecastRequest"]["properties"]["known_future"]
    assert known["maxItems"] == 5 and known["uniqueItems"]
    track = {p["name"]: p for p in document["paths"]["/v1/ledger/track-record"]["get"]["parameters"]}
    assert track["positions"]["schema"]["uniqueItems"] and track["levels"]["schema"]["maxItems"] == 20
    assert "pattern" in document["components"]["schemas"]["ForecastRequest"]["properties"]["symbol"]["anyOf"][0]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            errors = {code for code in operation["responses"] if code.startswith("4")}
            if path.startswith("/v1/"):
                assert {"401", "403", "413", "422"} <= errors, (method, path)
            for code in errors:  # the errors' one body, never FastAPI's validation-error array
                body = operation["responses"][code]["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, method, code in [("/v1/jobs/{job_id}/result", "get", "409"), ("/v1/batch", "post", "429"),
                               ("/v1/forecast", "post", "404"), ("/v1/adapters/{adapter_id}/rollback", "post", "409")]:
        assert code in document["paths"][path][method]["responses"], (path, code)
