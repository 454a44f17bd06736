"""Every place bars come from, in one registry: what the sidebar offers, which sources a watchlist can
name, which the cache fetches through, which get new bars later (so their forecasts can be scored), and
what they say about the asset class, and how the app asks for a series of it (``input``: the sidebar and the
Screener render each kind, so a new source of a known kind needs no app code). A new source is one module with a
``fetch`` function and one entry here.

A module's ``fetch(symbol, interval, *, lookback=None, since=None, exchange=None, now=None, session=None,
client=None) -> Bars`` returns the last ``lookback`` bars, or the bars from ``since`` on.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import DataSourceError

YFINANCE, CCXT, FILE, SAMPLE = "yfinance", "ccxt", "file", "sample"
# How the app asks for a series (app_support renders each kind; a source of any other kind is refused here, never
# drawn as some other kind's inputs): a bundled sample picked from a list, a symbol typed (with an interval of
# ``intervals``, and an exchange of ``exchanges`` where it needs one), or a bar file uploaded. The values are the
# Screener's watchlist kinds.
SAMPLE_PICKER, SYMBOL_TEXT, FILE_UPLOAD = "samples", "tickers", "upload"
INPUT_KINDS = (SAMPLE_PICKER, SYMBOL_TEXT, FILE_UPLOAD)


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
    input: str = ""  # how the app asks for a series of it: one of INPUT_KINDS
    symbol_label: str = ""  # SYMBOL_TEXT: what its symbol box is called ("Ticker")
    examples: tuple[str, ...] = ()  # SYMBOL_TEXT: symbols a box starts with, the sidebar's first
    list_label: str = ""  # SYMBOL_TEXT: what a Screener list of its symbols is called
    exchanges: tuple[str, ...] = ()  # needs_exchange: the exchanges offered (others can be typed)
    upper_case: bool = False  # its symbols are upper case whatever was typed (a Screener list of them is)

    def __post_init__(self):
        if self.input not in INPUT_KINDS:
            raise DataSourceError(f"source {self.key!r}: input {self.input!r} is not a kind the app can ask for; "
                                  f"give one of {', '.join(INPUT_KINDS)}")
        if self.input == SYMBOL_TEXT and not (self.module and self.intervals and self.symbol_label and self.examples
                                              and self.list_label):
            raise DataSourceError(f"source {self.key!r}: a typed symbol needs a module, intervals, symbol_label, "
                                  "examples and list_label")
        if self.needs_exchange and not self.exchanges:
            raise DataSourceError(f"source {self.key!r} needs an exchange: list the ones offered in exchanges")

    def fetch(self, symbol: str, interval: str, **kwargs):
        if self.module is None:
            raise DataSourceError(f"{self.label} bars are read with data_sources.read_bars_file(path_or_upload)")
        return importlib.import_module(self.module).fetch(symbol, interval, **kwargs)


SOURCES: dict[str, Source] = {s.key: s for s in (
    Source(SAMPLE, "Bundled sample", "data_sources.samples", ("1d", "1h", "1m"), "a sample name", by_symbol=True,
           frozen="a bundled sample gets no new bars: never scored (use Evaluate's walk-forward)",
           input=SAMPLE_PICKER),
    Source(YFINANCE, "Ticker (Yahoo Finance)", "data_sources.yahoo", ("1d", "1wk", "1h", "30m", "15m", "5m", "1m"),
           "stocks (AAPL), ETFs (SPY), indices (^GSPC), FX (EURUSD=X)", by_symbol=True, cached=True,
           input=SYMBOL_TEXT, symbol_label="Ticker", examples=("AAPL", "MSFT", "SPY"),
           list_label="Yahoo Finance tickers", upper_case=True),
    Source(CCXT, "Crypto (exchange)", "data_sources.crypto", ("1h", "4h", "1d", "15m", "5m", "1m"),
           "BASE/QUOTE as the exchange lists it (BTC/USDT)", by_symbol=True, cached=True, needs_exchange=True,
           asset_class="crypto", input=SYMBOL_TEXT, symbol_label="Pair", examples=("BTC/USDT", "ETH/USDT"),
           list_label="Crypto pairs (exchange)", exchanges=("binance", "kraken", "coinbase", "okx", "bybit", "bitstamp")),
    Source(FILE, "Upload CSV / Parquet", input=FILE_UPLOAD),
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


def with_input(kind: str) -> tuple[str, ...]:
    """The sources the app asks for with inputs of ``kind`` (one of INPUT_KINDS), in registry order."""
    return tuple(k for k, s in SOURCES.items() if s.input == kind)
