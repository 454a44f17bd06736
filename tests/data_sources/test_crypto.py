"""ccxt runs for real (markets, klines parsing, HTTP error mapping); `responses` stands in for the network."""

import json
import re
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import requests
import responses

import data_sources.crypto as crypto
from data_sources.errors import DataSourceError, RateLimitError, SourceUnavailableError, SymbolNotFoundError

NOW = pd.Timestamp("2026-08-20 12:30", tz="UTC")


@pytest.fixture
def binance(binance_payloads, monkeypatch):
    monkeypatch.setattr(crypto, "_clients", {})  # fresh client: markets load from the recording
    klines = binance_payloads["klines"]
    now_ms = int(NOW.timestamp() * 1000)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        rs.get(re.compile(r"https://api\.binance\.com/api/v3/exchangeInfo.*"), json=binance_payloads["exchangeInfo"])
        empty = {"timezone": "UTC", "serverTime": now_ms, "rateLimits": [], "exchangeFilters": [], "symbols": []}
        rs.get(re.compile(r"https://fapi\.binance\.com/fapi/v1/exchangeInfo.*"), json=empty)
        rs.get(re.compile(r"https://dapi\.binance\.com/dapi/v1/exchangeInfo.*"), json=empty)
        state = {"status": 200}

        def serve(request):
            if state["status"] != 200:
                return state["status"], {}, json.dumps({"code": -1003, "msg": "Too many requests."})
            q = parse_qs(urlparse(request.url).query)
            start, limit = int(q["startTime"][0]), int(q["limit"][0])
            # Like Binance: candles from startTime, never past the server clock, at most `limit`.
            rows = [k for k in klines if start <= k[0] <= now_ms][:limit]
            return 200, {}, json.dumps(rows)

        rs.add_callback(responses.GET, re.compile(r"https://api\.binance\.com/api/v3/klines.*"), callback=serve)
        yield rs, state


def kline_calls(rs):
    return [c.request.url for c in rs.calls if "/klines" in c.request.url]


def test_paginates_to_the_lookback_with_quote_volume(binance, binance_payloads):
    rs, _ = binance
    b = crypto.fetch_ccxt("binance", "BTC/USDT", "1h", lookback=1200, now=NOW)
    assert len(b) == 1200 and b.calendar == "24/7" and b.timezone == "UTC" and b.source == "ccxt"
    assert len(kline_calls(rs)) == 2  # 1000 + the rest
    ts = b.frame["timestamp"]
    assert (ts.diff().dropna() == pd.Timedelta(hours=1)).all()
    assert ts.iloc[-1] == pd.Timestamp("2026-08-20 11:00", tz="UTC")  # the open 12:00 candle is dropped
    raw = {k[0]: k for k in binance_payloads["klines"]}
    first = raw[int(ts.iloc[0].timestamp() * 1000)]
    assert not b.amount_filled and b.frame["amount"].iloc[0] == pytest.approx(float(first[7]))
    assert b.frame["close"].iloc[0] == pytest.approx(float(first[4]))


def test_since_fetches_only_newer_bars(binance):
    rs, _ = binance
    b = crypto.fetch_ccxt("binance", "BTC/USDT", "1h", since=pd.Timestamp("2026-08-20 00:00", tz="UTC"), now=NOW)
    assert len(b) == 12 and len(kline_calls(rs)) == 1


def test_unknown_pair(binance):
    with pytest.raises(SymbolNotFoundError, match="binance has no market 'DOGE/EUR'.*BASE/QUOTE"):
        crypto.fetch_ccxt("binance", "DOGE/EUR", "1h", lookback=10, now=NOW)


def test_rate_limit_maps_to_our_error(binance):
    _, state = binance
    state["status"] = 429
    with pytest.raises(RateLimitError, match="rate-limiting"):
        crypto.fetch_ccxt("binance", "BTC/USDT", "1h", lookback=10, now=NOW)


def test_network_down(monkeypatch):
    monkeypatch.setattr(crypto, "_clients", {})
    with responses.RequestsMock() as rs:
        rs.get(re.compile(r".*"), body=requests.exceptions.ConnectionError("Failed to resolve api.binance.com"))
        with pytest.raises(SourceUnavailableError, match="cannot reach binance"):
            crypto.fetch_ccxt("binance", "BTC/USDT", "1h", lookback=10, now=NOW)


def test_exchange_maintenance(monkeypatch):
    monkeypatch.setattr(crypto, "_clients", {})
    with responses.RequestsMock() as rs:
        rs.get(re.compile(r".*"), status=503, body="Service Unavailable")
        with pytest.raises(SourceUnavailableError, match="binance"):
            crypto.fetch_ccxt("binance", "BTC/USDT", "1h", lookback=10, now=NOW)


def test_unknown_exchange_and_timeframe(binance):
    with pytest.raises(DataSourceError, match="does not know the exchange 'notanexchange'"):
        crypto.fetch_ccxt("notanexchange", "BTC/USDT", "1h", lookback=10)
    with pytest.raises(DataSourceError, match="no '7h' candles"):
        crypto.fetch_ccxt("binance", "BTC/USDT", "7h", lookback=10, now=NOW)
