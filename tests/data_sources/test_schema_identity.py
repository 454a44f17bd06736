"""Bars.identity: what the quality gate's findings depend on; and the name a series is kept under."""
from __future__ import annotations

import pandas as pd
import pytest

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
    # the venue and how the name was made travel with a copy the app keeps by identity (its fixed bars)
    assert a.identity() != a.replace(venue="bitstamp").identity() != a.replace(naming="after x.csv").identity()


def test_a_series_is_what_the_user_names_it_with_its_venue_where_known_never_its_files_name(tmp_path):
    """Issue 62 item 1 (reverting issue 51 item 2's file-name prefix): a series is named by ``symbol``, its symbol
    column or its source; the venue its bars come from is part of the name only where known (an exchange given,
    an exchange column, a source's exchange). Two exchanges' files of BTC are one series without their venues and
    two with them."""
    from testkit import BITFINEX, BITSTAMP, exchange_files, random_bars

    from data_sources import read_bars_file

    files = exchange_files(tmp_path)
    named = {n: read_bars_file(files[n], symbol="BTC") for n in (BITFINEX, BITSTAMP)}
    assert {b.symbol for b in named.values()} == {b.series_symbol for b in named.values()} == {"BTC"}
    assert {b.naming for b in named.values()} == {None}  # named by the user: nothing to say
    venues = {n: read_bars_file(files[n], symbol="BTC", exchange=n.split("_")[0].title()) for n in named}
    assert [b.series_symbol for b in venues.values()] == ["bitfinex:BTC", "bitstamp:BTC"]  # lower case, as ccxt's
    assert venues[BITSTAMP].tail(5).series_symbol == "bitstamp:BTC"  # kept by every copy
    random_bars(30).to_csv(tmp_path / "AAPL.csv", index=False)
    assert read_bars_file(tmp_path / "AAPL.csv", symbol="GOOG").series_symbol == "GOOG"
    assert read_bars_file(files[BITSTAMP].read_bytes(), symbol="LTC").series_symbol == "LTC"  # bytes with no name
    assert Bars.from_frame(frame(), source="yfinance", symbol="AAPL", interval="1d").series_symbol == "AAPL"
    ccxt = Bars.from_frame(frame(), source="ccxt", symbol="BTC/USDT", interval="1d", venue=" Binance ")
    assert ccxt.series_symbol == "binance:BTC/USDT"


@pytest.mark.parametrize(("name", "series", "dated"), [
    ("AAPL.csv", "AAPL", False), ("AAPL_2026-11-25.csv", "AAPL", True), ("AAPL-20261126.csv", "AAPL", True),
    ("AAPL 2026-11-25 1530.csv", "AAPL", True), ("AAPL_2020-01-01_2026-11-25.csv", "AAPL", True),
    ("GOOGL_20261125T093000.csv", "GOOGL", True), ("2026-11-25.csv", "2026-11-25", False),
    ("BTC_12345678.csv", "BTC_12345678", False), ("X_day1.csv", "X_day1", False)])
def test_a_file_no_one_named_is_named_by_its_file_name_without_a_date_that_ends_it_and_says_so(tmp_path, name,
                                                                                             series, dated):
    """Issue 62 item 1: every day's download of one series (AAPL_2026-11-25.csv, AAPL_2026-11-26.csv) is that
    series; a date ends the name only where it is a calendar date, and never the whole name. The bars say how the
    name was made (``Bars.naming``), and the gate's notes say it with the setting that names it instead."""
    from testkit import random_bars

    from data_sources import read_bars_file
    from kronos_studio.bars_input import quality_gate

    random_bars(30).to_csv(tmp_path / "bars.csv", index=False)
    data = (tmp_path / "bars.csv").read_bytes()
    bars = read_bars_file(data, name)
    assert bars.series_symbol == bars.symbol == series
    assert bars.naming == f"after the file's name {name}" + (", the date ending it left out" if dated else "")
    _, notices = quality_gate(bars)
    [said] = [n for n in notices if n.problem.startswith("the series is named")]
    assert said.problem.startswith(f"the series is named {series!r} after the file's name {name}")
    assert [f.setting for f in said.fix] == ["symbol"] and said.kind == "note"
    assert read_bars_file(data, name, symbol="AAPL").naming is None
