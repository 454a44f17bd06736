"""The request-body limit as ASGI middleware: a body over ``Limits.body_bytes`` is answered 413 before it
is parsed, whether it says its length (Content-Length) or streams in chunks."""
from __future__ import annotations

import json

from starlette.exceptions import HTTPException

from .limits import Limits


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
            return await self.refuse(send)
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limits.body_bytes:
                    raise BodyTooLarge(413, self.limits.body_too_large())
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self.refuse(send)

    async def refuse(self, send):
        body = json.dumps({"detail": self.limits.body_too_large()}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(HTTPException):
    """Raised inside the application when a streamed body passes the limit: an HTTPException, so that
    FastAPI's body parsing passes it on as it is (413) instead of calling it a parse error."""
