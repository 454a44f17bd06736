"""What one request may ask of the service, configurable with ``kronos serve`` options. A request past a
limit is answered 413 (too large) or 429 (too many jobs) with the limit named and how to stay inside it."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.errors import Fix, worded

from .errors import ServiceError, field_name


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 16 * 2**20  # a request body: ~300k CSV bars of OHLCV text
    bars: int = 100_000  # bars of one series in a request
    path_steps: int = 100_000  # paths x horizon of one request: what sampling time and the response grow with
    jobs_per_key: int = 2  # batch jobs of one API key queued or running at once

    def check_bars(self, n: int) -> None:
        if n > self.bars:
            raise ServiceError(413, problem=f"{n} bars is over the limit of {self.bars} bars per request",
                               values={"bars": n, "max_bars": self.bars}, fix=(self._raise("send fewer bars", "max_bars"),))

    def check_path_steps(self, paths: int, horizon: int) -> None:
        if paths * horizon > self.path_steps:
            raise ServiceError(413, problem=f"paths x horizon = {paths} x {horizon} = {paths * horizon} is over the "
                                            f"limit of {self.path_steps} per request",
                               values={"paths": paths, "horizon": horizon, "max_path_steps": self.path_steps},
                               fix=(self._raise("ask for fewer paths or a shorter horizon", "max_path_steps"),))

    def body_too_large(self) -> str:
        return worded(f"the request body is over the limit of {self.body_bytes} bytes",
                      (self._raise("send fewer bars", "max_body_bytes"),), field_name)

    @staticmethod
    def _raise(instead: str, setting: str) -> Fix:
        """Stay inside the limit, or have it raised (a ``kronos serve`` option: the command names its flag)."""
        return Fix(f"{instead}, or raise {{setting}}", setting)

    def too_many_jobs(self, running: int) -> str:
        return (f"this key has {running} batch jobs queued or running, the limit of {self.jobs_per_key} per key "
                "(max_jobs_per_key): wait for one to finish (GET /v1/jobs/{id})")
