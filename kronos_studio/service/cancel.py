"""Work that stops when its asker does: each HTTP request runs ``Desk.asked_by`` a stop of its own,
set when its client disconnects (``Disconnects``, ASGI middleware) or when the server begins to shut down
(``Askers.stop_all``, from the signal handler of ``serve``), so that its sampling stops at its next step
(``fair.Cancelled``) instead of running on for nobody, and a SIGTERM or Ctrl-C ends the server within seconds."""
from __future__ import annotations

import asyncio
import threading

from kronos_studio.desk import Desk

CLIENT_GONE = 499  # what the access log records for a request whose client left before its answer (nginx's code)
GRACE_S = 3  # seconds a shutdown waits for the requests it stopped to answer before it cancels what is left


class Askers:
    """The stops of the requests in flight, and whether the server is stopping (a request that arrives then is
    stopped at once)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.live: set[threading.Event] = set()
        self.stopping = threading.Event()

    def new(self) -> threading.Event:
        stop = threading.Event()
        with self.lock:
            self.live.add(stop)
            if self.stopping.is_set():
                stop.set()
        return stop

    def done(self, stop: threading.Event) -> None:
        with self.lock:
            self.live.discard(stop)

    def stop_all(self) -> None:
        """Stop every request's work at its next step, and any that comes after (the server is shutting down)."""
        with self.lock:
            self.stopping.set()
            for stop in self.live:
                stop.set()


class Disconnects:
    """ASGI middleware: an HTTP request's work runs asked by a stop (``Askers``) that its client's disconnect sets.
    The request's messages are read by one pump, which hands the body on as the application asks for it and then
    waits for the ``http.disconnect`` the server sends when the client leaves (or once the answer is sent)."""

    def __init__(self, app, askers: Askers):
        self.app, self.askers = app, askers

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        stop = self.askers.new()
        messages: asyncio.Queue = asyncio.Queue(maxsize=1)  # the body as the application reads it, no further ahead

        async def pump():
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    stop.set()
                    await messages.put(message)
                    return
                await messages.put(message)

        reader = asyncio.create_task(pump())
        try:
            with Desk.asked_by(stop):  # the route's thread copies this context: its sampling sees the stop
                await self.app(scope, messages.get, send)
        finally:
            reader.cancel()
            self.askers.done(stop)
