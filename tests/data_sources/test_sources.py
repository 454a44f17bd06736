"""The source registry: a new source is one module with ``fetch`` plus one entry, and the cache, the
watchlist and the asset class pick it up without another edit."""
from __future__ import annotations

import sys
import textwrap

import pytest

from data_sources import load_bars
from data_sources.errors import DataSourceError
from data_sources.sources import INPUT_KINDS, SOURCES, SYMBOL_TEXT, Source, by_symbol, source, with_input


@pytest.fixture
def toy_source(tmp_path, monkeypatch):
    """A made-up hourly source 'toy' in a module of its own, registered for the test."""
    (tmp_path / "toy_source.py").write_text(textwrap.dedent('''
        import pandas as pd
        from data_sources import Bars

        CALLS = []

        def fetch(symbol, interval, *, lookback=None, since=None, **_):
            CALLS.append((symbol, lookback, since))
            times = pd.date_range("2024-01-01", periods=200, freq="1h", tz="UTC")
            if since is not None:
                times = times[times >= since]
            elif lookback:
                times = times[-lookback:]
            frame = pd.DataFrame({"timestamp": times, "open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0,
                                  "volume": 5.0})
            return Bars.from_frame(frame, source="toy", symbol=symbol, interval=interval, timezone="UTC",
                                   calendar="24/7")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SOURCES, "toy", Source("toy", "Toy bars", "toy_source", ("1h",), "TOY1",
                                                by_symbol=True, cached=True, asset_class="crypto", input=SYMBOL_TEXT,
                                                symbol_label="Toy", examples=("TOY1",), list_label="Toy symbols"))
    yield sys.modules.get("toy_source")
    sys.modules.pop("toy_source", None)


def test_a_registered_source_is_fetched_through_the_cache(toy_source, tmp_path):
    bars = load_bars("toy", "TOY1", "1h", lookback=50, cache=tmp_path / "cache")
    assert len(bars) == 50 and bars.source == "toy"
    again = load_bars("toy", "TOY1", "1h", lookback=50, cache=tmp_path / "cache")
    calls = sys.modules["toy_source"].CALLS
    assert len(again) == 50 and calls[0][2] is None and calls[1][2] is not None  # then only newer bars


def test_a_registered_source_is_named_by_watchlists_and_the_asset_class(toy_source, tmp_path):
    from kronos_studio.batch.watchlist import read_watchlist
    from kronos_studio.ensemble.features import asset_class

    assert "toy" in by_symbol()
    path = tmp_path / "list.csv"
    path.write_text("source,symbol,interval\ntoy,TOY1,1h\n")
    assert [e.origin for e in read_watchlist(path)] == ["toy:TOY1:1h"]
    assert asset_class(None, "toy") == "crypto"


def test_an_unknown_source_names_the_known_ones():
    from data_sources import DataSourceError

    with pytest.raises(DataSourceError, match="unknown source 'nope': use one of sample, yfinance, ccxt, file"):
        source("nope")
    with pytest.raises(DataSourceError, match="read_bars_file"):
        load_bars("file", "x.csv", "1d", lookback=10)


def test_every_source_says_how_the_app_asks_for_it():
    """A source without a kind of input the app can draw is refused when it is declared, never shown as the
    file uploader (the kind an `else` used to fall through to)."""
    assert {s.input for s in SOURCES.values()} <= set(INPUT_KINDS)
    assert sorted(k for kind in INPUT_KINDS for k in with_input(kind)) == sorted(SOURCES)
    with pytest.raises(DataSourceError, match="not a kind the app can ask for"):
        Source("toy", "Toy bars", "toy_source", ("1h",), "TOY1")
    with pytest.raises(DataSourceError, match="symbol_label"):
        Source("toy", "Toy bars", "toy_source", ("1h",), "TOY1", input=SYMBOL_TEXT)
    with pytest.raises(DataSourceError, match="exchanges"):
        Source("toy", "Toy bars", "toy_source", ("1h",), "TOY1", needs_exchange=True, input=SYMBOL_TEXT,
               symbol_label="Toy", examples=("TOY1",), list_label="Toy symbols")
