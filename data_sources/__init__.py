"""Market bars for Kronos Studio: sources, one schema, a quality gate, calendars, a cache.

Library code only (no Streamlit). Typical use::

    bars = load_bars("yfinance", "AAPL", "1d", lookback=400)
    findings = check_bars(bars, lookback=400)
    future = future_timestamps(bars.timestamps, horizon=20, interval=bars.interval, calendar=bars.calendar)
"""

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

__all__ = [
    "Bars", "COLUMNS", "BarCache", "default_cache_dir", "load_bars", "read_bars_file", "list_samples",
    "load_sample", "check_bars", "apply_fixes", "Finding", "future_timestamps", "expected_timestamps",
    "infer_interval", "DataSourceError", "DataFormatError", "MultipleSymbolsError", "SymbolNotFoundError", "EmptyDataError",
    "RateLimitError", "SourceUnavailableError",
]
