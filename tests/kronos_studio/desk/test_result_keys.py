"""A result kept by the desk or a model kept by the registry answers only for what it was made of: another
ledger's adapter of the same id, a promote, another workspace or other settings are other keys."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from testkit import random_bars

from data_sources import Bars
from kronos.settings import ForecastSettings
from kronos_studio.catalog.identity import model_identity
from kronos_studio.desk import ResultCache, result_key
from kronos_studio.ledger.registry import Entry

WHEN = datetime(2026, 3, 1, tzinfo=timezone.utc)


def entry(adapter_id: int, path: str, digest: str) -> Entry:
    return Entry(id=adapter_id, parent_id=None, kind="kronos", workspace="default", source="file", symbol="X",
                 interval="1h", base_model="studio-tiny", base_hash="b", first_bar_at=WHEN, last_bar_at=WHEN,
                 window_bars=100, window_hash="w", path=path, content_sha256=digest, settings={}, scores=None,
                 status="champion", reason=None, made_by="test", created_at=WHEN, decided_at=WHEN, replaced_by=None)


def test_two_ledgers_adapters_of_one_id_are_two_models():
    bars = Bars.from_frame(random_bars(200, seed=1), source="file", symbol="X", interval="1h", calendar="24/7")
    one, other = entry(1, "/a/adapter", "aa"), entry(1, "/b/adapter", "bb")
    assert model_identity("champion", bars, champion=one) != model_identity("champion", bars, champion=other)
    assert model_identity("champion", bars, champion=one) == model_identity("champion", bars, champion=entry(1, "/a/adapter", "aa"))
    assert one.served != other.served


def test_a_key_changes_with_the_workspace_the_settings_and_the_options():
    bars = Bars.from_frame(random_bars(200, seed=1), source="file", symbol="X", interval="1h", calendar="24/7")
    settings = ForecastSettings(horizon=5, paths=8)
    identity = model_identity(None, bars)
    key = result_key("forecast", bars, identity, settings, "a")
    assert key == result_key("forecast", bars, identity, settings, "a")
    assert key != result_key("forecast", bars, identity, settings, "b")
    assert key != result_key("forecast", bars, identity, dataclasses.replace(settings, seed=1), "a")
    assert key != result_key("evaluate", bars, identity, settings, "a")
    assert key != result_key("forecast", bars, identity, settings, "a", cutoffs=3)


def test_the_cache_computes_a_key_once_keeps_no_failure_and_drops_the_least_recent():
    cache = ResultCache(entries=2)
    calls = []

    def compute(value):
        calls.append(value)
        return value

    assert cache.get("a", lambda: compute(1)) == (1, False)
    assert cache.get("a", lambda: compute(2)) == (1, True)
    try:
        cache.get("b", lambda: 1 / 0)
    except ZeroDivisionError:
        pass
    assert cache.peek("b") is None and cache.get("b", lambda: compute(3)) == (3, False)  # a failure is not kept
    cache.get("c", lambda: compute(4))
    assert cache.peek("a") is None and cache.peek("c") == 4  # past two entries, the least recent went
    assert calls == [1, 3, 4] and cache.computed == 3


def test_a_caller_of_a_key_being_computed_waits_for_that_computation_and_says_so():
    import contextlib
    import threading

    cache = ResultCache()
    started, waiting, release = threading.Event(), threading.Event(), threading.Event()
    answers = {}

    def slow():
        started.set()
        release.wait()
        return "made once"

    @contextlib.contextmanager
    def says_it_waits():
        waiting.set()  # the face shows "being computed for another caller"
        release.set()
        yield

    first = threading.Thread(target=lambda: answers.setdefault("first", cache.get("k", slow)))
    first.start()
    started.wait()
    answers["second"] = cache.get("k", lambda: "computed again", says_it_waits)
    first.join()
    assert waiting.is_set() and answers == {"first": ("made once", False), "second": ("made once", True)}
    assert cache.computed == 1
