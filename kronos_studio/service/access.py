"""Who reaches the service, as ASGI middleware: ``LoopbackHosts`` (an ``--open`` server answers only requests
addressed to a loopback name, so a web page cannot reach it through a DNS name of its own: DNS rebinding)
and ``AccessLog`` (one line per request: time, key id, workspace, route, status, duration; never a token)."""
from __future__ import annotations

import ipaddress
import json
import logging
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

ACCESS_LOGGER = "kronos_studio.service.access"  # ``kronos serve`` writes it to stderr
LOOPBACK_NAMES = ("localhost",)
WHO = "who"  # where ``deps.identity`` leaves the request's ``Identity`` (``request.state``) for the log


def loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (where ``--open`` may serve without keys)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a Host header ('localhost:8000' -> 'localhost', '[::1]:8000' -> '::1'); '' if none."""
    try:
        return (urlsplit(f"//{header}").hostname or "").rstrip(".")
    except ValueError:  # a malformed header ('[::1', an invalid port)
        return ""


async def answer(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class LoopbackHosts:
    """ASGI middleware of an open server: a request whose Host header is not a loopback name is answered 421
    before it reaches a route (a DNS name that an attacker's page points at 127.0.0.1 is not one)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if not loopback(host_name(header)):
                shown = json.dumps(header)[1:-1][:100]
                return await answer(send, 421, f"this server serves without keys for this machine only, so it answers "
                                               f"requests to localhost, 127.0.0.1 or [::1], not to '{shown}'")
        return await self.app(scope, receive, send)


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request on the ``ACCESS_LOGGER`` logger: when it came (UTC), the
    key id and workspace it acted as (none before a key was checked), the method and route (its template:
    ``/v1/jobs/{job_id}``, else the path), the status and the seconds it took. Tokens and bodies never."""

    def __init__(self, app):
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, at = time.perf_counter(), datetime.now(timezone.utc)
        status = 500  # what the server answers when the application raises before starting a response

        async def tracked_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        finally:
            self.log.info(self.line(scope, status, at, time.perf_counter() - started))

    @staticmethod
    def line(scope, status: int, at: datetime, seconds: float) -> str:
        who = (scope.get("state") or {}).get(WHO)
        route = getattr(scope.get("route"), "path", None) or scope.get("path", "")
        return json.dumps({"time": at.isoformat(timespec="milliseconds"), "key_id": getattr(who, "key_id", None),
                           "workspace": getattr(who, "workspace", None), "method": scope.get("method"),
                           "route": route[:200], "status": status, "duration_s": round(seconds, 4)})
