import pandas as pd
import pytest

from data_sources import cache as cache_mod
from data_sources.cache import BarCache, default_cache_dir, load_bars
from data_sources.errors import SourceUnavailableError

NOW = pd.Timestamp("2026-08-06 18:00", tz="UTC")


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "bars"
    monkeypatch.delenv("KRONOS_STUDIO_CACHE")
    assert "kronos-studio" in str(default_cache_dir())


def test_first_load_then_incremental_then_stale(yahoo, tmp_path):
    store = BarCache(tmp_path)
    srv = yahoo({"AAPL": "yahoo_chart_AAPL_1d.json"})
    earlier = NOW - pd.Timedelta(days=14)
    first = load_bars("yfinance", "AAPL", "1d", lookback=200, cache=store, session=srv.session(), now=earlier)
    assert len(first) == 200 and store.path("yfinance", "AAPL", "1d").is_file()
    n_before = len(srv.requests)

    second = load_bars("yfinance", "AAPL", "1d", lookback=200, cache=store, session=srv.session(), now=NOW)
    chart = [p for u, p in srv.requests[n_before:] if "/chart/AAPL" in u and "period1" in p]
    # Only from the last cached bar onwards.
    assert len(chart) == 1 and chart[0]["period1"] >= int(first.frame["timestamp"].iloc[-1].timestamp())
    assert second.frame["timestamp"].iloc[-1] > first.frame["timestamp"].iloc[-1] and len(second) == 200
    assert second.frame["timestamp"].is_unique and not second.stale
    assert len(store.read("yfinance", "AAPL", "1d")) > 200  # history kept, extended

    from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
    down = yahoo({"AAPL": "yahoo_chart_AAPL_1d.json"}, error=CurlConnectionError("no route to host"))
    later = NOW + pd.Timedelta(hours=30)
    stale = load_bars("yfinance", "AAPL", "1d", lookback=200, cache=store, session=down.session(), now=later)
    assert stale.stale and stale.age == pd.Timedelta(hours=30) and len(stale) == 200
    assert stale.content_hash() == second.content_hash()
    assert any("cached bars" in n for n in stale.notes)


def test_no_cache_and_no_network_raises(yahoo, tmp_path):
    from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
    down = yahoo({}, error=CurlConnectionError("no route to host"))
    with pytest.raises(SourceUnavailableError):
        load_bars("yfinance", "AAPL", "1d", lookback=20, cache=tmp_path, session=down.session(), now=NOW)


def test_readjusted_history_is_refetched(tmp_path, monkeypatch):
    from data_sources.schema import Bars

    def bars(ts, close):
        df = pd.DataFrame({"timestamp": ts, "open": close, "high": close, "low": close, "close": close, "volume": 1.0})
        return Bars.from_frame(df, source="ccxt", symbol="X/USDT", interval="1d", timezone="UTC", calendar="24/7", fetched_at=NOW)

    days = pd.date_range("2026-07-01", periods=30, freq="D", tz="UTC")
    store = BarCache(tmp_path)
    store.write(bars(days[:20], [100.0] * 20), exchange="binance")
    calls = []

    def fake_fetch(source, symbol, interval, lookback, exchange, since, now, session, client):
        calls.append(since)
        return bars(days[19:] if since is not None else days, [50.0] * (11 if since is not None else 30))

    monkeypatch.setattr(cache_mod, "_fetch", fake_fetch)
    out = load_bars("ccxt", "X/USDT", "1d", lookback=20, exchange="binance", cache=store, now=NOW)
    assert calls[0] is not None and calls[1] is None  # incremental, then full refetch
    assert (out.frame["close"] == 50.0).all() and any("re-adjusted" in n for n in out.notes)


def test_clear(tmp_path, monkeypatch):
    store = BarCache(tmp_path)
    from data_sources.samples import load_sample
    b = load_sample("IBM daily 2000-2013 (bundled)").tail(5)
    store.write(b)
    assert store.read("sample", "IBM", "1d").content_hash() == b.content_hash()
    assert store.clear() == 1 and store.read("sample", "IBM", "1d") is None


def test_corrupt_file_is_ignored(tmp_path):
    store = BarCache(tmp_path)
    p = store.path("yfinance", "AAPL", "1d")
    p.parent.mkdir(parents=True)
    p.write_bytes(b"not parquet")
    assert store.read("yfinance", "AAPL", "1d") is None
