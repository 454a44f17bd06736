"""kronos.lazy: a heavy library named at a module's top is imported on its first use, not before."""
from __future__ import annotations

import sys

from kronos.lazy import lazy


def test_a_lazy_module_is_imported_on_its_first_attribute_read(tmp_path, monkeypatch):
    (tmp_path / "slow_library.py").write_text("VALUE = 41\ndef plus_one(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_library", raising=False)
    library = lazy("slow_library")
    assert "slow_library" not in sys.modules  # named, not loaded: the start-up guards read sys.modules
    assert library.plus_one(library.VALUE) == 42
    assert "slow_library" in sys.modules


def test_a_lazy_module_reads_the_real_module_each_time(tmp_path, monkeypatch):
    (tmp_path / "patched_library.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "patched_library", raising=False)
    library = lazy("patched_library")
    assert library.VALUE == 1
    monkeypatch.setattr(sys.modules["patched_library"], "VALUE", 2)  # a test's patch of the real module is seen
    assert library.VALUE == 2
