"""A watchlist's entries from what a person gives (``desk.watchlists``): bundled samples, typed symbols, uploaded
files (a watchlist CSV alone, bar files, a file of several instruments one entry per instrument)."""
import io

import numpy as np
import pandas as pd
import pytest

from data_sources import list_samples
from kronos_studio.desk import WatchlistError
from kronos_studio.desk.watchlists import (
    UPLOADS,
    parse_symbols,
    sample_entries,
    symbol_entries_of,
    upload_entries,
    upload_names,
)


@pytest.fixture(autouse=True)
def storage(tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def bars_csv(n: int = 120, tickers: tuple[str, ...] = ()) -> bytes:
    """Daily bars; with ``tickers``, one after the other in a ticker column, each its own prices."""
    rng = np.random.default_rng(0)
    parts = []
    for i, t in enumerate(tickers or (None,)):
        close = (100 + 50 * i) * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
        frame = pd.DataFrame({"date": pd.bdate_range("2023-01-02", periods=n).strftime("%Y-%m-%d"),
                              "open": close * 0.999, "high": close * 1.01, "low": close * 0.99, "close": close,
                              "volume": rng.integers(1000, 5000, n)})
        parts.append(frame if t is None else frame.assign(ticker=t))
    buf = io.StringIO()
    pd.concat(parts).to_csv(buf, index=False)
    return buf.getvalue().encode()


def test_typed_symbols_and_samples():
    assert parse_symbols("AAPL, msft;\nBTC/USDT  AAPL") == ["AAPL", "msft", "BTC/USDT"]
    assert [e.series for e in symbol_entries_of("yfinance", "aapl msft", "1d")] == ["AAPL", "MSFT"]
    assert [e.symbol for e in symbol_entries_of("yfinance", ["spy", "SPY", "qqq"], "1d")] == ["SPY", "QQQ"]
    with pytest.raises(WatchlistError, match="exchange"):
        symbol_entries_of("ccxt", "BTC/USDT", "1h", "")
    with pytest.raises(WatchlistError, match="unknown source .nope."):
        symbol_entries_of("nope", "AAPL", "1d")
    with pytest.raises(WatchlistError, match="no ticker or pair given"):
        symbol_entries_of("yfinance", " , ", "1d")
    names = [s.name for s in list_samples()][:2]
    assert [(e.symbol, e.interval) for e in sample_entries(names)] == [(s.name, s.interval) for s in list_samples()[:2]]
    with pytest.raises(WatchlistError, match="unknown samples"):
        sample_entries(["NOPE"])
    with pytest.raises(WatchlistError, match="no sample chosen"):
        sample_entries([])


def test_uploaded_watchlists_and_bar_files(storage):
    listed = upload_entries([("list.csv", b"source,symbol,interval\nsample,AAPL daily 2000-2013 (bundled),1d\n"
                                          b"yfinance,SPY,1d\n")])
    assert [(e.source, e.symbol) for e in listed] == [("sample", "AAPL daily 2000-2013 (bundled)"), ("yfinance", "SPY")]
    with pytest.raises(WatchlistError, match="upload it alone"):
        upload_entries([("list.csv", b"source,symbol,interval\nyfinance,SPY,1d\n"), ("a.csv", bars_csv())])
    with pytest.raises(WatchlistError, match="CSV or Parquet"):
        upload_entries([("notes.xlsx", b"x")])
    with pytest.raises(WatchlistError, match="no file uploaded"):
        upload_entries([])
    [one] = upload_entries([("good.csv", bars_csv())])
    assert one.series == "good" and one.symbol is None and one.file.startswith(str(storage / UPLOADS))
    assert upload_names(f"cannot read {one.file}") == "cannot read good.csv" and upload_names(3) == 3


def test_a_file_of_several_instruments_is_one_entry_per_chosen_instrument():
    files = [("daily.csv", bars_csv(tickers=("AAA", "BBB", "CCC"))), ("other.csv", bars_csv(tickers=("AAA", "DDD")))]
    entries = upload_entries(files, {"daily": ["AAA", "CCC"]})
    # named by the instrument, or file:instrument where another file holds it too
    assert [(e.series, e.symbol) for e in entries] == [("daily:AAA", "AAA"), ("CCC", "CCC"), ("other:AAA", "AAA"),
                                                       ("DDD", "DDD")]
    with pytest.raises(WatchlistError, match="no instrument of daily.csv is chosen: pick at least one of AAA, BBB, CCC"):
        upload_entries(files, {"daily": []})
