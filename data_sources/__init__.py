"""Market bars for Kronos Studio: sources, one schema, a quality gate, calendars, a cache.

Library code only (no Streamlit). Typical use::

    bars = load_bars("yfinance", "AAPL", "1d", lookback=400)
    findings = check_bars(bars, lookback=400)
    future = future_timestamps(bars.timestamps, horizon=20, interval=bars.interval, calendar=bars.calendar)

The names below are imported on first use (PEP 562): a process that only holds bars (``data_sources.schema``,
e.g. the forecast's process, which gets them read by another one) does not pay for exchange_calendars,
pyarrow and the sources (~0.1 s).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_HOMES = {
    "BarCache": "cache", "default_cache_dir": "cache", "load_bars": "cache",
    "expected_timestamps": "calendars", "future_timestamps": "calendars", "infer_interval": "calendars",
    "DataFormatError": "errors", "DataSourceError": "errors", "EmptyDataError": "errors",
    "MultipleSymbolsError": "errors", "RateLimitError": "errors", "SourceUnavailableError": "errors",
    "SymbolNotFoundError": "errors",
    "read_bars_file": "files",
    "Finding": "quality", "apply_fixes": "quality", "check_bars": "quality",
    "list_samples": "samples", "load_sample": "samples",
    "COLUMNS": "schema", "Bars": "schema",
}

__all__ = [
    "Bars", "COLUMNS", "BarCache", "default_cache_dir", "load_bars", "read_bars_file", "list_samples",
    "load_sample", "check_bars", "apply_fixes", "Finding", "future_timestamps", "expected_timestamps",
    "infer_interval", "DataSourceError", "DataFormatError", "MultipleSymbolsError", "SymbolNotFoundError", "EmptyDataError",
    "RateLimitError", "SourceUnavailableError",
]


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'data_sources' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__():
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from .cache import BarCache, default_cache_dir, load_bars
    from .calendars import expected_timestamps, future_timestamps, infer_interval
    from .errors import (
        DataFormatError,
        DataSourceError,
        EmptyDataError,
        MultipleSymbolsError,
        RateLimitError,
        SourceUnavailableError,
        SymbolNotFoundError,
    )
    from .files import read_bars_file
    from .quality import Finding, apply_fixes, check_bars
    from .samples import list_samples, load_sample
    from .schema import COLUMNS, Bars
