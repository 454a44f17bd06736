"""What one request may ask of the service, configurable with ``kronos serve`` options. A request past a
limit is answered 413 (too large) or 429 (too many jobs) with the limit named and how to stay inside it."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ServiceError


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 16 * 2**20  # a request body: ~300k CSV bars of OHLCV text
    bars: int = 100_000  # bars of one series in a request
    path_steps: int = 100_000  # paths x horizon of one request: what sampling time and the response grow with
    jobs_per_key: int = 2  # batch jobs of one API key queued or running at once

    def check_bars(self, n: int) -> None:
        if n > self.bars:
            raise ServiceError(413, f"{n} bars is over the limit of {self.bars} bars per request "
                                    "(max_bars): send fewer bars, or start the server with a higher --max-bars")

    def check_path_steps(self, paths: int, horizon: int) -> None:
        if paths * horizon > self.path_steps:
            raise ServiceError(413, f"paths x horizon = {paths} x {horizon} = {paths * horizon} is over the limit of "
                                    f"{self.path_steps} per request (max_path_steps): ask for fewer paths or a shorter "
                                    "horizon, or start the server with a higher --max-path-steps")

    def body_too_large(self) -> str:
        return (f"the request body is over the limit of {self.body_bytes} bytes (max_body_bytes): send fewer bars, "
                "or start the server with a higher --max-body-bytes")

    def too_many_jobs(self, running: int) -> str:
        return (f"this key has {running} batch jobs queued or running, the limit of {self.jobs_per_key} per key "
                "(max_jobs_per_key): wait for one to finish (GET /v1/jobs/{id})")
