"""Every place bars come from, in one registry: what the sidebar offers, which sources a watchlist can
name, which the cache fetches through, which get new bars later (so their forecasts can be scored), and
what they say about the asset class. A new source is one module with a ``fetch`` function and one entry
here.

A module's ``fetch(symbol, interval, *, lookback=None, since=None, exchange=None, now=None, session=None,
client=None) -> Bars`` returns the last ``lookback`` bars, or the bars from ``since`` on.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import DataSourceError

YFINANCE, CCXT, FILE, SAMPLE = "yfinance", "ccxt", "file", "sample"


@dataclass(frozen=True)
class Source:
    key: str  # what code and stored rows use
    label: str  # what the sidebar shows
    module: str | None = None  # the module whose ``fetch`` serves it (None: bars come as a file)
    intervals: tuple[str, ...] = ()  # bar intervals it serves, the usual first (empty: the file's own)
    symbols: str = ""  # what a symbol looks like, for help texts and watchlists
    by_symbol: bool = False  # can be fetched again by symbol (watchlists, `kronos ledger score`)
    cached: bool = False  # fetched bars are kept in the bar cache
    needs_exchange: bool = False
    asset_class: str | None = None  # what every series of it is; None: told by its calendar
    frozen: str | None = None  # why it never gets new bars (its forecasts are never scored), else None

    def fetch(self, symbol: str, interval: str, **kwargs):
        if self.module is None:
            raise DataSourceError(f"{self.label} bars are read with data_sources.read_bars_file(path_or_upload)")
        return importlib.import_module(self.module).fetch(symbol, interval, **kwargs)


SOURCES: dict[str, Source] = {s.key: s for s in (
    Source(SAMPLE, "Bundled sample", "data_sources.samples", ("1d", "1h", "1m"), "a sample name", by_symbol=True,
           frozen="a bundled sample gets no new bars: never scored (use Evaluate's walk-forward)"),
    Source(YFINANCE, "Ticker (Yahoo Finance)", "data_sources.yahoo", ("1d", "1wk", "1h", "30m", "15m", "5m", "1m"),
           "stocks (AAPL), ETFs (SPY), indices (^GSPC), FX (EURUSD=X)", by_symbol=True, cached=True),
    Source(CCXT, "Crypto (exchange)", "data_sources.crypto", ("1h", "4h", "1d", "15m", "5m", "1m"),
           "BASE/QUOTE as the exchange lists it (BTC/USDT)", by_symbol=True, cached=True, needs_exchange=True,
           asset_class="crypto"),
    Source(FILE, "Upload CSV / Parquet"),
)}


def source(key: str) -> Source:
    """The registered source ``key``, or a message naming the known ones."""
    try:
        return SOURCES[key]
    except KeyError:
        raise DataSourceError(f"unknown source {key!r}: use one of {', '.join(SOURCES)}") from None


def by_symbol() -> tuple[str, ...]:
    """The sources a watchlist row (source, symbol, interval) can name."""
    return tuple(k for k, s in SOURCES.items() if s.by_symbol)
