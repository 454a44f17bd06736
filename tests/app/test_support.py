"""UI-side helpers without a running app: download progress, the forecast store, the lookback rule."""
from __future__ import annotations

from app_support.forecasts import LRUStore
from app_support.models import ModelChoice, progress_tqdm
from app_support.sidebar import Inputs


class Slot:
    def __init__(self):
        self.calls = []

    def progress(self, value, text=""):
        self.calls.append((value, text))


def test_download_progress_reaches_the_placeholder():
    slot = Slot()
    cls = progress_tqdm(slot, "Downloading Kronos-small")
    bar = cls(total=2_000_000, unit="B", name="huggingface_hub.snapshot_download", desc="x")
    bar.update(500_000)
    bar.update(1_500_000)
    bar.close()
    assert slot.calls[-1][0] == 1.0 and "2.0 of 2.0 MB" in slot.calls[-1][1]
    files = cls(total=2)  # the files-fetched bar
    files.update(1)
    assert slot.calls[-1] == (0.5, "Downloading Kronos-small: file 1 of 2")


def test_store_is_lru():
    store = LRUStore(size=2)
    store.put("a", 1)
    store.put("b", 2)
    assert store.get("a") == 1  # a is now the most recent
    store.put("c", 3)
    assert store.get("b") is None and store.get("a") == 1 and len(store) == 2


def inputs(lookback, horizon):
    return Inputs("sample", "x", "", "", "1d", None, None, None, lookback, horizon, None, [], 30, 0, 1.0, 0.9, 0)


def test_lookback_fits_context_with_horizon():
    m = ModelChoice("k", "m", "m", "bundled", context=256)
    assert inputs(256, 60).lookback_for(m) == 196  # lookback + horizon = context: KV cache all the way
    assert inputs(100, 60).lookback_for(m) == 100
    assert inputs(512, 200).lookback_for(m) == 128  # never below half the context
    assert inputs(512, 60).lookback_for(None) == 512
