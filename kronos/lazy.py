"""The heavy libraries, imported on first use: the one list of what costs start-up time and why it is deferred.

A module of the project imports a heavy library from here (``from kronos.lazy import pd``) at its top, as it
imports anything else, and uses it as usual (``pd.DataFrame(...)``, ``torch.nn.Module``): the library is
imported the first time one of its attributes is read. ``kronos --help``, a subcommand's ``--help``, the app's
first page and the service's start load only what they use (tests/test_startup_imports.py holds each to its
allow-list; bench/bench_startup.py times them).

Why not ``importlib.util.LazyLoader``: it puts the module into ``sys.modules`` before it runs, so code that asks
``"pandas" in sys.modules`` (pyarrow, the start-up guards) sees a library that is not loaded, and it imports a
submodule's parent at once (``scipy.stats``: scipy). ``lazy`` runs the ordinary import
(``importlib.import_module``) on the first attribute read.

What forces the import: reading an attribute (``pd.DataFrame``, ``isinstance(x, np.ndarray)``), also at a
module's top (a base class ``torch.nn.Module``, a decorator ``@torch.no_grad()``, a default ``np.float32``):
modules that do so load the library when they are imported and stay off the start-up paths. ``from pandas
import DataFrame`` at a module's top imports pandas there; name it as ``pd.DataFrame`` instead.

The model core (``kronos.model``, ``layers``, ``tokenizer``, ``generate``, ``sampling``, ``pipeline``, ``accel``) and the
core's table modules import numpy, pandas and torch plainly: they always need them, nothing on a start-up path
imports them, and ``torch.compile`` traces the model's code (a stand-in module there would be one more thing to
trace through).

Imports only the standard library (every package may use it: the data layer too)."""
from __future__ import annotations

import importlib
import types


def lazy(name: str) -> types.ModuleType:
    """A stand-in for the module ``name`` (a dotted path): a module whose ``__getattr__`` (PEP 562, as the project's
    packages defer their exports) imports ``name`` on the first attribute read and reads the attribute there, each
    time (so a test's patch of the real module is seen)."""
    stand_in = types.ModuleType(name, f"{name}, imported on first use (kronos.lazy)")
    loaded: list[types.ModuleType] = []

    def __getattr__(attribute: str):
        if not loaded:
            loaded.append(importlib.import_module(name))
        return getattr(loaded[0], attribute)

    stand_in.__getattr__ = __getattr__
    return stand_in


# Import costs: cold, on the project's 2-core machine (docs/speed.md, "Start-up budgets").
np = lazy("numpy")  # ~0.1 s; `kronos --help` loads none of numpy, pandas, pyarrow
pd = lazy("pandas")  # ~0.4 s with numpy and pyarrow; the bars, every table and result
torch = lazy("torch")  # 1-2 s; the model, sampling and training: only a forecast, an evaluation or a train loads it
nn = lazy("torch.nn")  # torch's layers (loads torch)
F = lazy("torch.nn.functional")  # torch's functional layers (loads torch)
xcals = lazy("exchange_calendars")  # ~0.5 s with its calendars; future bar times and the calendar note
