"""Issue 21: CryptoDataDownload exports (banner line, '09-AM' times, newest first), volumes named by a
currency, wide multi-instrument files, and one wording for a file that cannot be read, on every path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_sources import MultipleSymbolsError, check_bars, read_bars_file
from data_sources.errors import DataFormatError

FIXTURES = Path(__file__).parent / "fixtures"
COINBASE = FIXTURES / "cdd_coinbase_BTCUSD_1h.csv"
BITFINEX = FIXTURES / "cdd_bitfinex_BTCUSD_1h.csv"
# Issue 45: the quote volume in a column without a currency in its name
GEMINI_DAILY = FIXTURES / "cdd_gemini_BTCUSD_d.csv"  # Volume BTC,Volume (USD = BTC x close); last day cut short
BITSTAMP_DAILY = FIXTURES / "cdd_bitstamp_BTCUSD_d.csv"  # volume_btc,volume (USD = BTC x mean(OHLC))


def _raw(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, skiprows=1)


@pytest.mark.parametrize("path", [COINBASE, BITFINEX], ids=["coinbase", "bitfinex"])
def test_cryptodatadownload_exports_are_read(path):
    """Item 6: the banner line is skipped, '2019-10-17 09-AM' is 09:00, newest-first rows are put in order."""
    bars = read_bars_file(path)
    raw = _raw(path)
    assert len(bars) == len(raw) == 48 and bars.interval == "1h" and bars.symbol == "BTC/USD"
    ts = bars.frame["timestamp"].dt.tz_localize(None) if bars.frame["timestamp"].dt.tz else bars.frame["timestamp"]
    assert ts.iloc[-1] == pd.Timestamp("2019-10-17 09:00") and ts.iloc[0] == pd.Timestamp("2019-10-15 10:00")
    assert ts.is_monotonic_increasing
    np.testing.assert_array_equal(bars.frame["close"].to_numpy(), raw["close"].to_numpy()[::-1])
    notes = " | ".join(bars.notes)
    assert "skipped the first line ('https://www.CryptoDataDownload.com')" in notes and "newest first" in notes
    assert not {"unsorted", "duplicate_timestamps"} & {f.code for f in check_bars(bars)}


@pytest.mark.parametrize("path,base,quote", [(COINBASE, "Volume BTC", "Volume USD"), (BITFINEX, "VolumeFrom", "VolumeTo"),
                                             (GEMINI_DAILY, "Volume BTC", "Volume"),
                                             (BITSTAMP_DAILY, "volume_btc", "volume")],
                         ids=["coinbase", "bitfinex", "gemini-plain-volume", "bitstamp-plain-volume"])
def test_base_currency_volume_is_the_volume_and_quote_volume_the_amount(path, base, quote):
    """Item 4: BTC volume -> volume, USD volume -> amount (never estimated), and the notes say so. Issue 45,
    item 6: a plain volume column beside the base currency's is the quote volume when the numbers say so."""
    bars = read_bars_file(path)
    raw = _raw(path).iloc[::-1]
    np.testing.assert_allclose(bars.frame["volume"], raw[base])
    np.testing.assert_allclose(bars.frame["amount"], raw[quote])
    assert not bars.amount_filled
    notes = " | ".join(bars.notes)
    assert f"column {base!r} read as the volume (base currency)" in notes
    assert f"column {quote!r} read as the amount (quote-currency turnover)" in notes
    assert "Yahoo" not in " ".join(f.message for f in check_bars(bars))


def _table(header: str, symbol: str = "BTC/USD", rows: int = 6) -> bytes:
    times = pd.date_range("2024-03-01", periods=rows, freq="1h")
    body = "".join(f"{t:%Y-%m-%d %H:%M},{symbol},{100 + i},{102 + i},{99 + i},{101 + i},{2.5 + i},{250 + 100 * i}\n"
                   for i, t in enumerate(times))
    return (header + "\n" + body).encode()


@pytest.mark.parametrize("header", ["date,symbol,open,high,low,close,volume_btc,volume_usd",
                                    "date,symbol,open,high,low,close,Volume BTC,Volume USDT".replace("USDT", "USD"),
                                    "date,symbol,open,high,low,close,volume,Volume USD"])
def test_volume_column_variants(header):
    bars = read_bars_file(_table(header), "x.csv")
    assert bars.frame["volume"].iloc[0] == 2.5 and bars.frame["amount"].iloc[0] == 250


def test_a_currency_volume_the_symbol_does_not_place_is_refused():
    with pytest.raises(DataFormatError, match="neither the base .* nor the quote"):
        read_bars_file(_table("date,symbol,open,high,low,close,Volume ETH,Volume USD"), "x.csv")
    with pytest.raises(DataFormatError, match="names no instrument"):
        read_bars_file(_table("date,pair_name,open,high,low,close,Volume BTC,Volume USD").replace(b"BTC/USD", b"x"),
                       "x.csv")
    # The symbol given places the currencies of a file without a symbol column (BTCUSD, no separator).
    text = _table("date,note,open,high,low,close,Volume BTC,Volume USD").replace(b"BTC/USD", b"x")
    bars = read_bars_file(text, "x.csv", symbol="BTCUSD")
    assert bars.frame["volume"].iloc[0] == 2.5 and bars.frame["amount"].iloc[0] == 250


def test_a_ragged_file_names_the_line_and_the_fix_in_every_reader(tmp_path):
    """Item 6: one reader, one message: the line, its field count against the header's, and what to do."""
    text = COINBASE.read_text().splitlines()
    text.insert(10, text[10] + ",extra")  # line 11 of the file (banner = line 1, header = line 2)
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(DataFormatError) as err:
        read_bars_file(path)
    message = str(err.value)
    assert message.startswith("line 11 (") and "has 10 fields, the header (line 2) has 9" in message
    assert "fix or delete that line" in message and "Length of header" not in message
    from kronos_studio.batch.watchlist import Entry, load_entry

    loaded = load_entry(Entry(series="ragged", file=str(path)), 100)
    assert loaded.error == f"cannot load: {message}"


def _wide_frame(rows: int = 40) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    out = {}
    for sym, price in (("BTC", 60000.0), ("ETH", 3000.0)):
        close = price * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
        out[sym] = pd.DataFrame({"open": close * 0.999, "high": close * 1.004, "low": close * 0.995, "close": close,
                                 "volume": rng.uniform(10, 100, rows)})
    return out


@pytest.mark.parametrize("style", ["colon", "suffix"])
def test_wide_files_offer_the_instrument_choice(style):
    """Item 7: BTC:open ... ETH:open ... (or open_BTC): the instruments are listed, ETH can be forecast."""
    frames = _wide_frame()
    dates = pd.date_range("2024-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    cols = {"date": dates}
    for sym, f in frames.items():
        for field, values in f.items():
            cols[f"{sym}:{field}" if style == "colon" else f"{field}_{sym}"] = values
    data = pd.DataFrame(cols).to_csv(index=False).encode()
    with pytest.raises(MultipleSymbolsError, match="2 instruments side by side") as err:
        read_bars_file(data, "wide.csv")
    assert err.value.symbols == ["BTC", "ETH"]
    bars = read_bars_file(data, "wide.csv", symbol="eth")
    assert bars.symbol == "ETH" and len(bars) == 40
    np.testing.assert_allclose(bars.frame["close"], frames["ETH"]["close"])
    np.testing.assert_allclose(bars.frame["volume"], frames["ETH"]["volume"])
    assert any("read the columns of ETH" in n for n in bars.notes)


def test_yfinance_multi_ticker_csv_and_parquet(tmp_path):
    """Item 7: pandas/yfinance multi-ticker downloads: two header rows (Price/Ticker) and a Date row, or
    a Parquet frame with (field, ticker) columns; AAPL has no bars before its listing (rows left out)."""
    frames = _wide_frame()
    frames["BTC"].iloc[:5] = np.nan
    index = pd.DatetimeIndex(pd.date_range("2024-01-01", periods=40, freq="D"), name="Date")
    wide = pd.concat({"AAPL": frames["BTC"], "MSFT": frames["ETH"]}, axis=1).set_axis(index)
    wide = wide.swaplevel(axis=1).sort_index(axis=1)
    wide.columns = wide.columns.set_names(["Price", "Ticker"])
    wide.columns = pd.MultiIndex.from_tuples([(f.capitalize(), t) for f, t in wide.columns], names=["Price", "Ticker"])
    csv = tmp_path / "yf.csv"
    wide.to_csv(csv)
    assert csv.read_text().splitlines()[0].startswith("Price,Close,Close")
    pq = tmp_path / "yf.parquet"
    wide.to_parquet(pq)
    for path in (csv, pq):
        with pytest.raises(MultipleSymbolsError) as err:
            read_bars_file(path)
        assert err.value.symbols == ["AAPL", "MSFT"]
        msft = read_bars_file(path, symbol="MSFT")
        np.testing.assert_allclose(msft.frame["close"], frames["ETH"]["close"])
        aapl = read_bars_file(path, symbol="AAPL")
        assert len(aapl) == 35 and any("5 rows without AAPL prices left out" in n for n in aapl.notes)


def test_a_first_row_of_missing_values_is_data_not_a_second_header_row():
    text = b"date,open,high,low,close\n2024-01-01,NA,NA,NA,NA\n2024-01-02,1,2,0.5,1.5\n2024-01-03,1.5,2,1,1.8\n"
    bars = read_bars_file(text, "x.csv")
    assert not any("header of" in n for n in bars.notes) and bars.frame["close"].iloc[-1] == 1.8


# ------------------------------------------------ issue 45: a plain volume column beside the base currency's
@pytest.mark.parametrize("path,base,plain,price", [(GEMINI_DAILY, "Volume BTC", "Volume", "close"),
                                                   (BITSTAMP_DAILY, "volume_btc", "volume", "mean(open, high, low, close)")],
                         ids=["gemini", "bitstamp"])
def test_the_note_says_which_price_makes_the_plain_volume_the_quote_volume(path, base, plain, price):
    bars = read_bars_file(path)
    assert len(bars) == 40 and bars.interval == "1d" and bars.symbol == "BTC/USD"
    assert f"column {plain!r} read as the amount (quote-currency turnover): it is {base!r} x the {price}" in " | ".join(bars.notes)


def test_a_plain_volume_that_is_not_the_base_volume_times_the_price_is_refused():
    raw = _raw(GEMINI_DAILY)
    raw["Volume"] = raw["Volume BTC"] * 3  # not BTC x a price of ~40,000: a count of trades, another currency...
    text = ("https://www.CryptoDataDownload.com\n" + raw.to_csv(index=False)).encode()
    with pytest.raises(DataFormatError, match=r"columns 'Volume' and 'Volume BTC' both look like the volume .*"
                                              r"is not 'Volume BTC' x the price .*rename the other"):
        read_bars_file(text, "x.csv")


def test_a_cut_last_day_is_flagged_in_the_cli_gate_and_the_batch():
    """Item 4, at the entry points: the command line's gate warns and offers --fix, which drops the day; a
    watchlist row carries the warning."""
    from kronos_studio.bars_input import read_bars
    from kronos_studio.batch.watchlist import Entry, load_entry
    from kronos_studio.cli.common import quality_gate  # the command line's lines (the library returns notices)

    bars = read_bars(GEMINI_DAILY)
    kept, lines = quality_gate(bars)
    line = next(x for x in lines if "partial_last_bar" in x)
    assert "cut short" in line and line.endswith(": accept with --fix drop_partial_last_bar")
    assert kept.frame["timestamp"].iloc[-1].date() == pd.Timestamp("2024-03-11").date()
    fixed, lines = quality_gate(bars, ["drop_partial_last_bar"])
    assert fixed.frame["timestamp"].iloc[-1].date() == pd.Timestamp("2024-03-10").date()
    assert not any("warning: partial_last_bar" in x for x in lines)
    assert any("note: applied fix 'drop_partial_last_bar'" in x for x in lines)  # said, never silent
    loaded = load_entry(Entry("btc", file=str(GEMINI_DAILY)), history=30)
    assert loaded.error is None and "partial_last_bar" in loaded.warnings
