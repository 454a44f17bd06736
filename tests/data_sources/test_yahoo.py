"""yfinance runs for real; only its curl_cffi session is replaced by recorded Yahoo payloads."""

import pandas as pd
import pytest

from data_sources.errors import EmptyDataError, RateLimitError, SourceUnavailableError, SymbolNotFoundError
from data_sources.yahoo import fetch_yahoo, history_window, infer_calendar

NOW = pd.Timestamp("2026-08-06 18:00", tz="UTC")  # the recorded series ends 2026-08-06


def test_hourly_lookback_through_real_yfinance(yahoo):
    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1h.json"})
    b = fetch_yahoo("aapl", "1h", lookback=300, session=srv.session(), now=NOW)
    assert len(b) == 300 and b.source == "yfinance" and b.symbol == "AAPL"
    assert b.timezone == "America/New_York" and b.calendar == "XNYS"
    assert b.frame["timestamp"].iloc[-1] == pd.Timestamp("2026-08-06 09:30", tz="America/New_York")
    assert set(b.frame["timestamp"].dt.minute) == {30}  # 9:30-based hourly bars
    assert b.frame["timestamp"].is_monotonic_increasing and b.amount_filled and not b.notes
    chart = [(u, p) for u, p in srv.requests if "/v8/finance/chart/AAPL" in u and "period1" in p]
    # One request, wide enough for 300 bars at ~7 bars a session, inside the 730-day limit.
    assert len(chart) == 1 and chart[0][1]["interval"] == "1h"
    span_days = (chart[0][1]["period2"] - chart[0][1]["period1"]) / 86400
    assert 300 / 7 * 7 / 5 < span_days < 120


def test_daily_lookback_counts_trading_days_not_calendar_days(yahoo):
    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1d.json"})
    b = fetch_yahoo("AAPL", "1d", lookback=400, session=srv.session(), now=NOW)
    assert len(b) == 400  # not the ~275 a 400-calendar-day window would give
    assert (b.frame["timestamp"].dt.hour == 0).all() and b.calendar == "XNYS"


def test_minute_bars_are_fetched_in_seven_day_chunks_and_limit_is_reported(yahoo):
    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1m.json"})
    b = fetch_yahoo("AAPL", "1m", lookback=20000, session=srv.session(), now=NOW)
    chart = [p for u, p in srv.requests if "/v8/finance/chart/AAPL" in u and "period1" in p]
    assert len(chart) >= 4 and all(p["period2"] - p["period1"] <= 7 * 86400 for p in chart)
    assert min(p["period1"] for p in chart) >= (NOW - pd.Timedelta(days=30)).timestamp()
    assert len(b) == 2382 and any("only 30 days of 1m" in n for n in b.notes)


def test_window_limits():
    start, notes = history_window("5m", 10000, "XNYS", NOW)
    assert NOW - start <= pd.Timedelta(days=60) and "60 days" in notes[0]
    start, notes = history_window("1d", 400, "XNYS", NOW)
    assert pd.Timedelta(days=560) < NOW - start < pd.Timedelta(days=660) and not notes
    start, _ = history_window("1h", 240, "24/7", NOW)
    assert pd.Timedelta(days=10) < NOW - start < pd.Timedelta(days=17)


def test_unknown_symbol(yahoo):
    srv = yahoo({})
    # yfinance answers the first misses via quoteSummary (HTTP 404), later ones via a missing timezone.
    for _ in range(3):
        with pytest.raises(SymbolNotFoundError, match="does not know the symbol 'NOSUCH'.*suffix"):
            fetch_yahoo("NOSUCH", "1d", lookback=10, session=srv.session(), now=NOW)


def test_rate_limited(yahoo):
    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1d.json"}, status=429)
    with pytest.raises(RateLimitError, match="rate-limiting"):
        fetch_yahoo("AAPL", "1d", lookback=10, session=srv.session(), now=NOW)


def test_no_network(yahoo):
    from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError

    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1d.json"}, error=CurlConnectionError("Failed to resolve host"))
    with pytest.raises(SourceUnavailableError, match="cannot reach Yahoo Finance"):
        fetch_yahoo("AAPL", "1d", lookback=10, session=srv.session(), now=NOW)


def test_empty_range(yahoo):
    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1d.json"})
    with pytest.raises(EmptyDataError, match="no 1d bars"):
        fetch_yahoo("AAPL", "1d", start="2020-01-01", end="2020-02-01", session=srv.session(), now=NOW)


def test_bad_interval_is_explained():
    with pytest.raises(Exception, match="no '7m' interval"):
        fetch_yahoo("AAPL", "7m", lookback=10)


@pytest.mark.parametrize("symbol,meta,expected", [
    ("AAPL", None, "XNYS"), ("EURUSD=X", None, "FX"), ("BTC-USD", None, "24/7"), ("VOD.L", None, "XLON"),
    ("7203.T", None, "XTKS"), ("XYZ", {"exchangeName": "CCY", "instrumentType": "CURRENCY"}, "FX"),
    ("ETH-USD", {"instrumentType": "CRYPTOCURRENCY", "exchangeName": "CCC"}, "24/7"),
    ("^GSPC", {"exchangeName": "SNP", "exchangeTimezoneName": "America/New_York"}, "XNYS"), ("CL=F", None, None),
])
def test_infer_calendar(symbol, meta, expected):
    assert infer_calendar(symbol, meta) == expected
