"""Limits: a request past one is answered 413 (too large) or 429 (too many jobs), the limit named."""
from __future__ import annotations

import httpx
from service_helpers import TEST_LIMITS, bearer
from testkit import random_bars


def test_a_body_over_the_limit_is_413_whether_its_length_is_said_or_streamed(service):
    base, _, tokens = service
    big = b'{"horizon": 3, "bars_csv": "' + b"x" * (TEST_LIMITS.body_bytes + 10) + b'"}'
    with httpx.Client(base_url=base, headers={**bearer(tokens["a"]), "content-type": "application/json"}) as c:
        said = c.post("/v1/forecast", content=big)
        streamed = c.post("/v1/forecast", content=(big[i:i + 65536] for i in range(0, len(big), 65536)))
    for r in (said, streamed):
        assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]


def test_too_many_bars_is_413(service):
    base, _, tokens = service
    csv = random_bars(TEST_LIMITS.bars + 1, freq="1min").to_csv(index=False)
    r = httpx.post(f"{base}/v1/forecast", json={"bars_csv": csv, "horizon": 3}, headers=bearer(tokens["a"]))
    assert r.status_code == 413 and "max_bars" in r.json()["detail"]


def test_paths_times_horizon_over_the_limit_is_413(service, hourly_csv):
    base, _, tokens = service
    for path in ("/v1/forecast", "/v1/evaluate"):
        r = httpx.post(f"{base}{path}", json={"bars_csv": hourly_csv.read_text(), "horizon": 50, "paths": 9},
                       headers=bearer(tokens["a"]))
        assert r.status_code == 413 and "max_path_steps" in r.json()["detail"]
    r = httpx.post(f"{base}/v1/batch", json={"series": [{"bars_csv": "x"}], "horizon": 50, "paths": 9},
                   headers=bearer(tokens["a"]))
    assert r.status_code == 413


def test_jobs_past_the_per_key_limit_are_429(service, tiny_model):
    base, _, tokens = service
    series = [{"name": f"q{i}", "bars_csv": random_bars(100, seed=i, freq="1h").to_csv(index=False)}
              for i in range(20)]
    body = {"series": series, "model": tiny_model, "horizon": 4, "paths": 5}
    with httpx.Client(base_url=base, headers=bearer(tokens["jobs"]), timeout=60) as c:
        first = c.post("/v1/batch", json=body)
        second = c.post("/v1/batch", json=body)
    assert first.status_code == 202
    assert second.status_code == 429 and "max_jobs_per_key" in second.json()["detail"]
    other = httpx.post(f"{base}/v1/batch", json=body, headers=bearer(tokens["b"]))  # another key's own limit
    assert other.status_code == 202
