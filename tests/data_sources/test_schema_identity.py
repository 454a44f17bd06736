"""Bars.identity: what the quality gate's findings depend on."""
from __future__ import annotations

import pandas as pd

from data_sources import Bars


def frame(n=5):
    ts = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame({"timestamp": ts, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0})


def test_same_values_other_notes_are_other_identities():
    a = Bars.from_frame(frame(), source="file", symbol="x", interval="1d")
    b = a.replace(notes=["column 'Adj Close' ignored"])
    assert a.content_hash() == b.content_hash()
    assert a.identity() != b.identity()
    assert a.identity() == Bars.from_frame(frame(), source="file", symbol="x", interval="1d").identity()
    assert a.identity() != a.replace(symbol="y").identity()


def test_a_files_series_carries_the_files_name_unless_the_file_is_named_by_it(tmp_path):
    """Issue 51 item 2: where a file's bars come from is part of its series' name (``series_symbol``)."""
    from testkit import BITFINEX, BITSTAMP, exchange_files, random_bars

    from data_sources import read_bars_file

    files = exchange_files(tmp_path)
    named = {n: read_bars_file(files[n], symbol="BTC") for n in (BITFINEX, BITSTAMP)}
    assert {b.symbol for b in named.values()} == {"BTC"}  # the instrument, as charts and currencies read it
    assert [b.series_symbol for b in named.values()] == ["bitfinex_(BTC,ETH)USD_d:BTC", "bitstamp_(BTC,ETH,LTC)USD_d:BTC"]
    random_bars(30).to_csv(tmp_path / "AAPL.csv", index=False)
    aapl = read_bars_file(tmp_path / "AAPL.csv")
    assert aapl.series_symbol == "AAPL"  # a file named by its series: the name it always had
    assert read_bars_file(tmp_path / "AAPL.csv", symbol="GOOG").series_symbol == "AAPL:GOOG"
    assert read_bars_file(files[BITSTAMP].read_bytes(), symbol="LTC").series_symbol == "LTC"  # bytes with no name
    assert named[BITSTAMP].tail(5).series_symbol == named[BITSTAMP].series_symbol  # kept by every copy
    assert Bars.from_frame(frame(), source="yfinance", symbol="AAPL", interval="1d").series_symbol == "AAPL"
