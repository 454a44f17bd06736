"""Weights loaded once per process and kept warm, whatever their kind (a Kronos pair, a Chronos-2 pipeline, a
neural kind's module): a thread-safe store keyed by name, whose concurrent first callers wait on one load, the
least recently used dropped past ``most``. The catalog's ``ModelRegistry`` keeps its models in one; a member
built below the catalog (the ensemble's Chronos-2, the covariates' Chronos-2) takes the process's
(``process_weights``) unless handed a registry's."""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable

# how a kind asks for warm weights: ``warm(key, load)``, ``load()`` called on the key's first use only
Warm = Callable[[str, Callable[[], object]], object]


class Recent(OrderedDict):
    """A dict of at most ``most`` entries (None: any number), the least recently used dropped first; ``used``
    reads an entry as a use."""

    def __init__(self, most: int | None = None):
        super().__init__()
        self.most = most

    def used(self, key):
        self.move_to_end(key)
        return self[key]

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        while self.most is not None and len(self) > self.most:
            self.popitem(last=False)


class WarmWeights:
    """Loaded weights by key (``loaded``: a ``Recent`` of at most ``most``), each loaded once."""

    def __init__(self, most: int | None = None):
        self.loaded: Recent = Recent(most)
        self.lock = threading.Lock()  # guards the dicts, never held while loading
        self.loading: dict[str, threading.Lock] = {}

    def __contains__(self, key) -> bool:
        with self.lock:
            return key in self.loaded

    def get(self, key: str, load: Callable[[], object]):
        """The weights kept under ``key``, loaded by ``load()`` on its first use."""
        with self.lock:
            if key in self.loaded:
                return self.loaded.used(key)
            one_load = self.loading.setdefault(key, threading.Lock())
        with one_load:  # concurrent first callers: one loads, the others then find it loaded
            with self.lock:
                if key in self.loaded:
                    return self.loaded[key]
            weights = load()
            with self.lock:
                self.loaded[key] = weights
                self.loading.pop(key, None)  # kept while loading only: weights dropped since load anew
            return weights

    def keys(self) -> list[str]:
        with self.lock:
            return list(self.loaded)


@functools.lru_cache(maxsize=1)
def process_weights() -> WarmWeights:
    """This process's store: the shared ``ModelRegistry``'s (``catalog.registry.shared_registry``), so that a
    Chronos-2 loaded by the ensemble and by the covariates is one copy, held where the Kronos models are."""
    return WarmWeights()
