"""The request-body limit as ASGI middleware: a body over ``Limits.body_bytes`` is answered 413 before it
is parsed, whether it says its length (Content-Length) or streams in chunks; so is a body whose CSV text
holds more lines than its endpoint's series may have bars (``body_lines``), counted as it streams."""
from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException

from kronos.errors import worded
from kronos_studio.desk import Limits

from .errors import field_name

ONE_SERIES_PATHS = ("/v1/forecast", "/v1/evaluate", "/v1/ledger/score")  # a body of one series' CSV text
MANY_SERIES_PATHS = ("/v1/batch", "/v1/retrain")  # up to ``series`` of them


def body_lines(limits: Limits, path: str) -> int | None:
    """Line breaks of CSV text a request body to ``path`` may hold (its series' bars, a header and a last line break
    each), counted as the body streams in; None: not counted."""
    if path in ONE_SERIES_PATHS:
        return limits.bars + 1
    if path in MANY_SERIES_PATHS:
        return limits.series * (limits.bars + 1)
    return None


def too_many_lines(limits: Limits, most: int) -> str:
    return worded(f"the request's CSV text holds more than {most} lines, more bars than the limit of "
                  f"{limits.bars} per series", (Limits.raise_fix("send fewer bars", "bars"),), field_name)


def body_too_large(limits: Limits) -> str:
    return worded(f"the request body is over the limit of {limits.body_bytes} bytes",
                  (Limits.raise_fix("send fewer bars", "body_bytes"),), field_name)


class BodyLimit:
    """ASGI middleware: a request body over ``limits.body_bytes`` is answered 413 before it is parsed,
    whether it says its length (Content-Length) or streams in chunks."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.body_bytes:
            return await self.refuse(send, body_too_large(self.limits))
        seen = 0
        started = False
        lines = LineCount(body_lines(self.limits, scope.get("path", "")))

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > self.limits.body_bytes:
                    raise BodyTooLarge(413, body_too_large(self.limits))
                if lines.add(chunk):
                    raise BodyTooLarge(413, too_many_lines(self.limits, lines.most))
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as e:
            if not started:
                await self.refuse(send, e.detail)

    async def refuse(self, send, detail: str):
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised inside the application when a streamed body passes the limit: an HTTPException, so that
    FastAPI's body parsing passes it on as it is (413) instead of calling it a parse error."""


class LineCount:
    """The line breaks of CSV texts in a JSON body as it streams in: JSON writes one as the escape ``\\n``,
    and a backslash always starts an escape (``\\\\`` a backslash), so pairs of backslashes are dropped before
    counting; an escape cut by a chunk's end is carried to the next chunk. ``most``: None counts nothing."""

    def __init__(self, most: int | None):
        self.most, self.seen, self.carry = most, 0, b""

    def add(self, chunk: bytes) -> bool:
        """Count ``chunk``; whether the body now holds more than ``most`` line breaks."""
        if self.most is None or not chunk:
            return False
        text = self.carry + chunk
        odd = (len(text) - len(text.rstrip(b"\\"))) % 2  # a last backslash whose escape goes on in the next chunk
        self.carry = b"\\" if odd else b""
        self.seen += ESCAPED_PAIRS.sub(b"", text[:len(text) - odd]).count(b"\\n")
        return self.seen > self.most


ESCAPED_PAIRS = re.compile(rb"\\\\")  # an escaped backslash
