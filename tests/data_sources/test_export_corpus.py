"""The common export formats, written by code from one bundled sample, must all read back as the same bars.

The corpus is generated into a temporary folder (no data files are committed): MSFT daily 2000-2013
(unadjusted, as bundled) in the layouts of Yahoo, stooq, MetaTrader 4 and 5, TradingView, Binance,
Investing.com, Excel (German locale), long and wide multi-ticker files (yfinance's two header rows too),
CryptoDataDownload, Kaggle and Parquet. Where a layout holds
the same content (the same times in the same timezone, the same values), the content hash must be equal;
where a layout itself changes something (Investing.com rounds volume to 'K'/'M', TradingView stamps
daily bars at the session open), the test compares what the layout keeps and says why.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources import MultipleSymbolsError, check_bars, load_sample, read_bars_file

NY = "America/New_York"
SAMPLE = "MSFT daily 2000-2013 (bundled)"


def _num(v: float, decimal: str = ".") -> str:
    """Shortest round-trip text of a float, with the given decimal mark."""
    text = repr(float(v))
    text = text[:-2] if text.endswith(".0") else text
    return text.replace(".", decimal)


def _investing_volume(v: float) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= div:
            return f"{v / div:.2f}{suffix}"
    return f"{v:.0f}"


@pytest.fixture(scope="module")
def reference():
    return load_sample(SAMPLE, adjusted=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, reference):
    """{format name: path} of the corpus files."""
    folder = tmp_path_factory.mktemp("export_corpus")
    f = reference.frame
    day = f["timestamp"].dt.tz_localize(None)
    o, h, lo, c, v, amount = (f[k].to_numpy() for k in ("open", "high", "low", "close", "volume", "amount"))
    n = len(f)
    rows = range(n)
    files: dict[str, object] = {}

    def write(name: str, text: str, *, newline: str = "\n", bom: bool = False, file_name: str | None = None) -> None:
        path = folder / name / file_name if file_name else folder / name
        path.parent.mkdir(exist_ok=True)
        data = text.replace("\n", newline).encode("utf-8")
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
        files[name] = path

    iso = day.dt.strftime("%Y-%m-%d")
    write("yahoo.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n" + "".join(
        f"{iso[i]},{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{_num(c[i] * 0.31)},{int(v[i])}\n" for i in rows))
    write("stooq.csv", "Date,Open,High,Low,Close,Volume\n" + "".join(
        f"{iso[i]},{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{int(v[i])}\n" for i in rows))
    write("stooq_lower.csv", "date,open,high,low,close,volume\n" + "".join(
        f"{iso[i]},{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{int(v[i])}\n" for i in rows))
    ymd = day.dt.strftime("%Y%m%d")
    write("stooq_ascii.txt", "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n" + "".join(
        f"MSFT.US,D,{ymd[i]},000000,{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{int(v[i])},0\n" for i in rows))
    mt = day.dt.strftime("%Y.%m.%d")
    # MetaTrader 5 "Export bars": tab separated; a stock has real volume in <VOL> (the tick count differs).
    header5 = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
    write("mt5_stock.csv", header5 + "".join(
        f"{mt[i]}\t00:00:00\t{_num(o[i])}\t{_num(h[i])}\t{_num(lo[i])}\t{_num(c[i])}\t{1000 + i}\t{int(v[i])}\t2\n"
        for i in rows))
    # A CFD/FX symbol: <VOL> is all zeros and the tick volume is the only volume.
    write("mt5_cfd.csv", header5 + "".join(
        f"{mt[i]}\t00:00:00\t{_num(o[i])}\t{_num(h[i])}\t{_num(lo[i])}\t{_num(c[i])}\t{int(v[i])}\t0\t2\n" for i in rows),
        newline="\r\n")
    # MetaTrader 4 History Center export: no header; date, time, OHLC, tick volume.
    write("mt4.csv", "".join(
        f"{mt[i]},00:00,{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{int(v[i])}\n" for i in rows))
    # TradingView chart export: epoch seconds of the daily bar's session open (09:30 New York).
    opens = (f["timestamp"] + pd.Timedelta(hours=9, minutes=30)).dt.tz_convert("UTC")
    epoch = (opens - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    write("tradingview.csv", "time,open,high,low,close,Volume,Volume MA\n" + "".join(
        f"{epoch.iloc[i]},{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{int(v[i])},NaN\n" for i in rows))
    # Binance klines (no header): open time = the date at 00:00 UTC, quote asset volume = the sample's amount.
    start_ms = (day - pd.Timestamp("1970-01-01")) // pd.Timedelta(milliseconds=1)
    for unit, scale in (("ms", 1), ("us", 1000)):
        write(f"binance_{unit}", "".join(
            f"{start_ms.iloc[i] * scale},{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{_num(v[i])},"
            f"{(start_ms.iloc[i] + 86_400_000) * scale - 1},{_num(amount[i])},{1000 + i},{_num(v[i] / 2)},"
            f"{_num(amount[i] / 2)},0\n" for i in rows), file_name="MSFTUSDT-1d-2013-03.csv")  # Binance's naming
    # Investing.com: newest first, quoted, US month-first dates, 'K'/'M' volumes, a 'Change %' column.
    us = day.dt.strftime("%m/%d/%Y")
    change = np.r_[0.0, c[1:] / c[:-1] - 1] * 100
    write("investing.csv", '"Date","Price","Open","High","Low","Vol.","Change %"\n' + "".join(
        f'"{us[i]}","{c[i]:,}","{o[i]:,}","{h[i]:,}","{lo[i]:,}","{_investing_volume(v[i])}","{change[i]:.2f}%"\n'
        for i in reversed(rows)))
    # Excel in a German locale: UTF-8 BOM, CRLF, ';' separated, decimal commas, day-first dotted dates.
    de = day.dt.strftime("%d.%m.%Y")
    write("excel_de.csv", "Date;Open;High;Low;Close;Volume\n" + "".join(
        f"{de[i]};{_num(o[i], ',')};{_num(h[i], ',')};{_num(lo[i], ',')};{_num(c[i], ',')};{int(v[i])}\n" for i in rows),
        newline="\r\n", bom=True)
    # Long files with several tickers: MSFT's rows among AAPL's and IBM's, ordered by date then ticker.
    others = {s: load_sample(f"{s} daily 2000-2013 (bundled)", adjusted=False).frame for s in ("AAPL", "IBM")}
    long_rows, kaggle_rows = [], []
    for i in rows:
        for sym, frame in (("AAPL", others["AAPL"]), ("IBM", others["IBM"]), ("MSFT", f)):
            r = frame.iloc[i]
            values = f"{_num(r['open'])},{_num(r['high'])},{_num(r['low'])},{_num(r['close'])},{int(r['volume'])}"
            long_rows.append(f"{iso[i]},{sym},{values}\n")
            kaggle_rows.append(f"{iso[i]},{values},{sym}\n")
    write("long.csv", "Date,Symbol,Open,High,Low,Close,Volume\n" + "".join(long_rows))
    # The same rows under a ticker header other than Symbol, and under one the reader knows by no name.
    write("long_stock_code.csv", "Date,Stock Code,Open,High,Low,Close,Volume\n" + "".join(long_rows))
    write("long_company.csv", "Date,Company,Open,High,Low,Close,Volume\n" + "".join(long_rows))
    write("kaggle_all_stocks.csv", "date,open,high,low,close,volume,Name\n" + "".join(kaggle_rows))
    write("kaggle_single.csv", "Date,Symbol,Open,High,Low,Close,Volume\n" + "".join(
        f"{iso[i]},MSFT,{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{int(v[i])}\n" for i in rows))
    # CryptoDataDownload: a banner line, epoch seconds and '2000-03-01 12-AM' times, newest first, the base and
    # quote currency volumes under their currencies (the pair written as MSFT/USD).
    ampm = day.dt.strftime("%Y-%m-%d %I-%p")
    unix = (day - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1)
    write("cryptodatadownload.csv", "https://www.CryptoDataDownload.com\n"
          "unix,date,symbol,open,high,low,close,Volume MSFT,Volume USD\n" + "".join(
              f"{unix.iloc[i]},{ampm[i]},MSFT/USD,{_num(o[i])},{_num(h[i])},{_num(lo[i])},{_num(c[i])},{_num(v[i])},"
              f"{_num(amount[i])}\n" for i in reversed(rows)))
    # Wide files: every ticker's columns side by side, as 'TICKER:Field' and as pandas/yfinance writes a
    # multi-ticker download (two header rows, Price/Ticker, and a Date row).
    wide = pd.concat({(field, sym): frame[col].set_axis(day.to_numpy())
                      for sym, frame in (("AAPL", others["AAPL"]), ("MSFT", f))
                      for field, col in (("Close", "close"), ("High", "high"), ("Low", "low"), ("Open", "open"),
                                         ("Volume", "volume"))}, axis=1)
    wide.index.name = "Date"
    wide.columns = wide.columns.set_names(["Price", "Ticker"])
    wide.to_csv(folder / "yfinance_multi.csv", float_format="%.17g")
    files["yfinance_multi.csv"] = folder / "yfinance_multi.csv"
    flat = wide.copy()
    flat.columns = [f"{t}:{p}" for p, t in flat.columns]
    flat.to_csv(folder / "wide_colon.csv", float_format="%.17g")
    files["wide_colon.csv"] = folder / "wide_colon.csv"
    pq = folder / "bars.parquet"
    pd.DataFrame({"Open": o, "High": h, "Low": lo, "Close": c, "Volume": v},
                 index=pd.DatetimeIndex(day, name="Date")).to_parquet(pq)
    files["bars.parquet"] = pq
    return files


# Formats whose content is the sample's own: the same New York dates and the same values.
SAME_CONTENT = [
    ("yahoo.csv", {}), ("stooq.csv", {}), ("stooq_lower.csv", {}), ("stooq_ascii.txt", {}), ("mt5_stock.csv", {}),
    ("mt5_cfd.csv", {}), ("mt4.csv", {}), ("excel_de.csv", {}), ("long.csv", {"symbol": "MSFT"}),
    ("long_stock_code.csv", {"symbol": "MSFT"}), ("long_company.csv", {"symbol": "msft"}),
    ("kaggle_all_stocks.csv", {"symbol": "msft"}), ("kaggle_single.csv", {}), ("bars.parquet", {}),
    ("cryptodatadownload.csv", {}), ("yfinance_multi.csv", {"symbol": "MSFT"}), ("wide_colon.csv", {"symbol": "msft"}),
]


@pytest.mark.parametrize("name,options", SAME_CONTENT, ids=[n for n, _ in SAME_CONTENT])
def test_formats_with_the_same_content_give_the_same_bars(corpus, reference, name, options):
    bars = read_bars_file(corpus[name], timezone=NY, **options)
    assert len(bars) == len(reference)
    assert bars.content_hash() == reference.content_hash()
    assert bars.interval == "1d" and not bars.timezone_assumed
    assert not {"unsorted", "duplicate_timestamps", "nan_values"} & {f.code for f in check_bars(bars)}


def test_what_each_layout_says_it_did(corpus):
    notes = {name: " | ".join(read_bars_file(corpus[name], timezone=NY, **opts).notes) for name, opts in SAME_CONTENT}
    assert "'<VOL>' is zero on every bar" in notes["mt5_cfd.csv"] and "'<TICKVOL>'" in notes["mt5_cfd.csv"]
    assert "tick volume" not in notes["mt5_stock.csv"]  # real volume present: <VOL> is used as it is
    assert "MetaTrader 4 history export" in notes["mt4.csv"]
    assert "'Adj Close' ignored" in notes["yahoo.csv"]
    assert "kept the 3270 rows of MSFT" in notes["kaggle_all_stocks.csv"]
    cdd = notes["cryptodatadownload.csv"]
    assert "skipped the first line" in cdd and "newest first" in cdd
    assert "column 'Volume MSFT' read as the volume (base currency)" in cdd
    assert "column 'Volume USD' read as the amount" in cdd
    assert "read the columns of MSFT" in notes["yfinance_multi.csv"] and "a header of 3 rows" in notes["yfinance_multi.csv"]
    assert "read the columns of MSFT ('MSFT:Close'" in notes["wide_colon.csv"]


@pytest.mark.parametrize("name,column", [("long.csv", "Symbol"), ("kaggle_all_stocks.csv", "Name"),
                                         ("long_stock_code.csv", "Stock Code"), ("long_company.csv", "Company")])
def test_long_files_need_a_ticker_choice(corpus, name, column):
    with pytest.raises(MultipleSymbolsError, match=f"column '{column}'") as err:
        read_bars_file(corpus[name])
    assert sorted(err.value.symbols) == ["AAPL", "IBM", "MSFT"]


@pytest.mark.parametrize("name", ["yfinance_multi.csv", "wide_colon.csv"])
def test_wide_files_need_a_ticker_choice(corpus, name):
    with pytest.raises(MultipleSymbolsError, match="2 instruments side by side") as err:
        read_bars_file(corpus[name])
    assert sorted(err.value.symbols) == ["AAPL", "MSFT"]


def test_binance_klines_match_the_sample_in_utc(corpus, reference):
    """Binance stamps bars in UTC (00:00 of the day here) and carries the quote volume as amount, so its
    content equals the Yahoo file read in UTC, whose amount is estimated from the same prices and volume."""
    yahoo_utc = read_bars_file(corpus["yahoo.csv"], timezone="UTC")
    for name in ("binance_ms", "binance_us"):
        bars = read_bars_file(corpus[name])
        assert bars.content_hash() == yahoo_utc.content_hash()
        assert bars.symbol == "MSFTUSDT" and bars.calendar == "24/7" and bars.interval == "1d"
        assert not bars.amount_filled and yahoo_utc.amount_filled  # the amount is the file's own quote volume
        assert bars.frame["timestamp"].iloc[0] == pd.Timestamp("2000-03-01", tz="UTC")
        assert any("Binance kline" in n for n in bars.notes)


def test_tradingview_keeps_everything_but_the_time_of_day(corpus, reference):
    """TradingView stamps a daily bar at its session open (09:30 New York), the sample at midnight: the
    same bars once both are put at the start of their day."""
    bars = read_bars_file(corpus["tradingview.csv"], timezone=NY)
    assert (bars.frame["timestamp"].dt.strftime("%H:%M") == "09:30").all()
    at_midnight = bars.replace(frame=bars.frame.assign(timestamp=bars.frame["timestamp"].dt.normalize()))
    assert at_midnight.content_hash() == reference.content_hash()
    assert any("epoch seconds" in n for n in bars.notes)


def test_investing_com_keeps_prices_and_dates_and_rounds_volume(corpus, reference):
    """Investing.com writes newest first and volume as '53.44M': the reader puts the rows in time order
    and the prices and dates are exact, but volume (and the amount estimated from it) is only as precise
    as the two decimals of its K/M/B suffix."""
    bars = read_bars_file(corpus["investing.csv"], timezone=NY)
    got, ref = bars.frame, reference.frame
    assert got["timestamp"].equals(ref["timestamp"])
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(got[col].to_numpy(), ref[col].to_numpy())
    np.testing.assert_allclose(got["volume"], ref["volume"], rtol=5e-3)
    assert not np.array_equal(got["volume"].to_numpy(), ref["volume"].to_numpy())  # rounded, as said above
    assert any("newest first" in n and "2000-03-01 -> 2013-03-01" in n for n in bars.notes)
    assert "unsorted" not in {f.code for f in check_bars(bars)}
