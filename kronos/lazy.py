"""The heavy libraries, imported on first use: the one list of what costs start-up time and why it is deferred.

A module of the project imports a heavy library from here (``from kronos.lazy import pd``) at its top, as it
imports anything else, and uses it as usual (``pd.DataFrame(...)``, ``torch.nn.Module``): the library is
imported the first time one of its attributes is read. ``kronos --help``, a subcommand's ``--help``, the app's
first page and the service's start load only what they use (tests/test_startup_imports.py holds each to its
allow-list; bench/bench_startup.py times them).

Why not ``importlib.util.LazyLoader``: it puts the module into ``sys.modules`` before it runs, so code that asks
``"pandas" in sys.modules`` (pyarrow, the start-up guards) sees a library that is not loaded. ``LazyModule``
runs the ordinary import (``importlib.import_module``) on first attribute access and hands the attributes on.

What forces the import: reading an attribute (``pd.DataFrame``, ``isinstance(x, np.ndarray)``), also at a
module's top (a base class ``torch.nn.Module``, a decorator ``@torch.no_grad()``, a default ``np.float32``):
modules that do so load the library when they are imported and stay off the start-up paths. ``from pandas
import DataFrame`` at a module's top imports pandas there; name it as ``pd.DataFrame`` instead.

Imports only the standard library (every package may use it: the data layer too)."""
from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    """A stand-in for the module ``name``, imported on the first attribute read and then handed on."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def _load(self) -> types.ModuleType:
        target = self.__dict__["_lazy_target"]
        if target is None:
            target = importlib.import_module(self.__name__)
            self.__dict__["_lazy_target"] = target
        return target

    def __getattr__(self, attribute: str):
        return getattr(self._load(), attribute)

    def __dir__(self):
        return dir(self._load())

    def __repr__(self) -> str:
        loaded = "loaded" if self.__dict__["_lazy_target"] is not None else "not loaded yet"
        return f"<lazy module {self.__name__!r} ({loaded})>"


def lazy(name: str) -> LazyModule:
    """``name`` (a dotted module path), imported when first used."""
    return LazyModule(name)


# Import costs: cold, on the project's 2-core machine (docs/speed.md, "Start-up budgets").
np = lazy("numpy")  # ~0.1 s; `kronos --help` loads none of numpy, pandas, pyarrow
pd = lazy("pandas")  # ~0.4 s with numpy and pyarrow; the bars, every table and result
torch = lazy("torch")  # 1-2 s; the model, sampling and training: only a forecast, an evaluation or a train loads it
nn = lazy("torch.nn")  # torch's layers (loads torch)
F = lazy("torch.nn.functional")  # torch's functional layers (loads torch)
xcals = lazy("exchange_calendars")  # ~0.5 s with its calendars; future bar times and the calendar note
