"""Shared fixtures: no network at all, and recorded Yahoo / Binance servers at the HTTP boundary."""

from __future__ import annotations

import copy
import json
import socket
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path_factory):
    """Any real connection attempt fails the test loudly (python sockets and libcurl)."""

    def refuse(*args, **kwargs):
        raise NetworkBlocked(f"test tried to open a network connection: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from curl_cffi import requests as curl_requests

    monkeypatch.setattr(curl_requests.Session, "request", refuse)
    # yfinance keeps a timezone/cookie cache on disk: keep it out of the user's cache directory.
    import yfinance as yf

    yf.set_tz_cache_location(str(tmp_path_factory.getbasetemp() / "yf-cache"))
    yield


def _load(name):
    return json.loads((FIXTURES / name).read_text())


def _slice_chart(payload: dict, params: dict) -> dict:
    """What Yahoo answers for one request: the recorded series cut to period1/period2 (or range)."""
    out = copy.deepcopy(payload)
    res = out["chart"]["result"][0]
    ts = res["timestamp"]
    if "period1" in params:
        lo, hi = int(params["period1"]), int(params["period2"])
    else:  # range=1d style requests (yfinance's timezone probe): the last bar
        lo, hi = ts[-1], ts[-1] + 1
    keep = [i for i, t in enumerate(ts) if lo <= t < hi]
    res["timestamp"] = [ts[i] for i in keep]
    for block in res["indicators"].values():
        for series in block:
            for k, v in series.items():
                series[k] = [v[i] for i in keep]
    if "tradingPeriods" in res["meta"]:
        res["meta"]["tradingPeriods"] = [p for p in res["meta"]["tradingPeriods"] if p[0]["end"] > lo and p[0]["start"] < hi]
    if not keep:
        res.pop("timestamp")
        res["indicators"] = {"quote": [{}]}
    return out


class YahooServer:
    """Answers yfinance's HTTP calls from recorded payloads (cookie, crumb, v8 chart)."""

    def __init__(self, charts: dict[str, dict], status: int | None = None, error: Exception | None = None):
        self.charts = charts
        self.status = status
        self.error = error
        self.requests: list[tuple[str, dict]] = []

    def session(self):
        from curl_cffi.requests import Response, Session

        server = self

        class RecordedSession(Session):
            def request(self, method, url, params=None, **kwargs):  # noqa: D401 - HTTP boundary
                server.requests.append((url, dict(params or {})))
                if server.error is not None:
                    raise server.error
                r = Response()
                r.url = url
                path = urlparse(url).path
                if "fc.yahoo.com" in url:
                    r.status_code, r.content = 404, b"<html>Not Found</html>"
                elif path.endswith("/getcrumb"):
                    r.status_code, r.content = (429, b"Too Many Requests") if server.status == 429 else (200, b"Xq1UbN2vK9z")
                elif "guce.yahoo.com" in url or "consent.yahoo.com" in url:
                    r.status_code, r.content = 200, b"<html><body>no consent form</body></html>"
                elif path.startswith("/v8/finance/chart/"):
                    symbol = path.rsplit("/", 1)[1]
                    if server.status is not None:
                        r.status_code, r.content = server.status, b"Too Many Requests"
                    elif symbol in server.charts:
                        r.status_code = 200
                        r.content = json.dumps(_slice_chart(server.charts[symbol], dict(params or {}))).encode()
                    else:
                        r.status_code = 404
                        r.content = json.dumps(_load("yahoo_chart_not_found.json")).encode()
                elif path.startswith("/v10/finance/quoteSummary/"):
                    symbol = path.rsplit("/", 1)[1]
                    r.status_code = 404
                    r.content = json.dumps({"quoteSummary": {"result": None, "error": {
                        "code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}}}).encode()
                else:
                    r.status_code, r.content = 404, b"unexpected url in test"
                r.ok = r.status_code < 400
                r.reason = "OK" if r.ok else "Error"
                return r

        return RecordedSession()


@pytest.fixture
def yahoo():
    """Factory: yahoo({"AAPL": "yahoo_chart_AAPL_1h.json"}) -> YahooServer."""
    from yfinance.data import YfData

    YfData.cache_get.cache_clear()  # yfinance memoises chart GETs across calls

    def make(charts=None, **kw):
        loaded = {sym: _load(name) for sym, name in (charts or {}).items()}
        return YahooServer(loaded, **kw)

    yield make
    YfData.cache_get.cache_clear()


@pytest.fixture
def binance_payloads():
    return {"exchangeInfo": _load("binance_exchangeInfo.json"), "klines": _load("binance_klines_BTCUSDT_1h.json")}


def ts(s: str, tz: str = "America/New_York") -> pd.Timestamp:
    return pd.Timestamp(s, tz=tz)
