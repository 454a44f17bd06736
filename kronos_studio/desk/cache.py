"""The desk's one result cache and its one key: results by what they depend on, each computed once per
process (a caller asking for a key being computed waits for that computation instead of starting its own)."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

from kronos_studio.fair import Cancelled, asker_gone

CACHE_ENTRIES = 256  # results kept (a forecast of 30 paths x 20 steps is ~30 kB)


def result_key(kind: str, bars, model_identity, settings, workspace: str | None = None, **extra) -> str:
    """What makes two results the same: the use case, the bars' content and series, what the model is now
    (``catalog.identity.model_identity``: its files, fits and champion), every setting, the workspace (a
    signed-in user's results are their own) and the use case's own options (``extra``)."""
    what = {"kind": kind, "data": bars.content_hash(),
            "series": [bars.source, bars.series_symbol, bars.interval, bars.calendar],
            "model": model_identity, "settings": dataclasses.asdict(settings), "workspace": workspace, **extra}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


class ResultCache:
    """Results by key, computed once: failures are not kept (the next identical request tries again); past
    ``entries``, the least recently used is dropped. ``computed`` counts the computations run."""

    def __init__(self, entries: int = CACHE_ENTRIES):
        self.entries = entries
        self.lock = threading.Lock()
        self.results: OrderedDict[str, Future] = OrderedDict()
        self.computed = 0

    def peek(self, key: str):
        """The finished result of ``key``, or None (none, or still being computed)."""
        with self.lock:
            future = self.results.get(key)
        if future is None or not future.done() or future.exception() is not None:
            return None
        return future.result()

    def get(self, key: str, compute: Callable[[], object],
            waiting: Callable[[], contextlib.AbstractContextManager] | None = None) -> tuple[object, bool]:
        """(result, came from the cache): ``compute()`` run unless ``key`` is kept or being computed;
        ``waiting()``: entered while another caller's computation of ``key`` is awaited (a face says so). A
        computation its own asker left (``fair.Cancelled``) is no answer for the others: a waiter computes it."""
        while True:
            try:
                return self._get(key, compute, waiting)
            except Cancelled:
                if asker_gone():  # this caller's own asker is gone: stop
                    raise

    def _get(self, key: str, compute, waiting) -> tuple[object, bool]:
        with self.lock:
            future = self.results.get(key)
            if future is not None:
                self.results.move_to_end(key)
                mine = False
            else:
                future = self.results[key] = Future()
                mine = True
                while len(self.results) > self.entries:
                    self.results.popitem(last=False)
        if not mine:
            if future.done() or waiting is None:
                return future.result(), True
            with waiting():
                return future.result(), True
        try:
            value = compute()
        except BaseException as e:
            with self.lock:
                if self.results.get(key) is future:
                    del self.results[key]
            future.set_exception(e)
            future.exception()  # retrieved: a failure nobody else waited for is not logged as unhandled
            raise
        with self.lock:
            self.computed += 1
        future.set_result(value)
        return value, False

    def __len__(self) -> int:
        with self.lock:
            return sum(f.done() and f.exception() is None for f in self.results.values())
