"""Bars from Yahoo Finance through yfinance, asking for enough history for the lookback."""

from __future__ import annotations

import contextlib
import math
import threading
import warnings

from kronos.lazy import pd

from . import calendars
from .errors import DataSourceError, EmptyDataError, RateLimitError, SourceUnavailableError, SymbolNotFoundError
from .intervals import parse_interval
from .schema import Bars

INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo")
# How far back Yahoo serves each interval (its documented limits), and per request for 1m.
MAX_HISTORY = {
    "1m": pd.Timedelta(days=30),
    **{i: pd.Timedelta(days=60) for i in ("2m", "5m", "15m", "30m", "90m")},
    "60m": pd.Timedelta(days=730),
    "1h": pd.Timedelta(days=730),
}
MAX_PER_REQUEST = {"1m": pd.Timedelta(days=7)}
# Stay a day inside the limits: Yahoo rejects a start exactly at the boundary.
_MARGIN = pd.Timedelta(days=1)

# Yahoo symbol suffix -> exchange_calendars code.
_SUFFIX_CALENDAR = {
    "L": "XLON", "IL": "XLON", "DE": "XETR", "F": "XFRA", "PA": "XPAR", "AS": "XAMS", "BR": "XBRU",
    "MI": "XMIL", "MC": "XMAD", "SW": "XSWX", "ST": "XSTO", "CO": "XCSE", "HE": "XHEL", "OL": "XOSL",
    "LS": "XLIS", "VI": "XWBO", "IR": "XDUB", "WA": "XWAR", "T": "XTKS", "HK": "XHKG", "SS": "XSHG",
    "SZ": "XSHG", "KS": "XKRX", "KQ": "XKRX", "TW": "XTAI", "SI": "XSES", "AX": "XASX", "NZ": "XNZE",
    "TO": "XTSE", "V": "XTSE", "NS": "XBOM", "BO": "XBOM", "SA": "BVMF", "MX": "XMEX", "JO": "XJSE",
    "IS": "XIST", "TA": "XTAE", "BK": "XBKK", "KL": "XKLS", "JK": "XIDX",
}
# Yahoo "exchangeName" values of US venues.
_US_EXCHANGES = {"NMS", "NYQ", "NGM", "NCM", "ASE", "PCX", "BTS", "NAS", "NYS", "PNK", "OQB", "OQX", "CBO", "WCB", "DJI", "SNP", "NIM"}

_config_lock = threading.Lock()
_META_KEYS = ("exchangeTimezoneName", "exchangeName", "fullExchangeName", "instrumentType", "currency")


def infer_calendar(symbol: str, meta: dict | None = None) -> str | None:
    """Trading calendar for a Yahoo symbol: "24/7" crypto (-USD...), "FX" (=X), or an exchange code."""
    meta = meta or {}
    s = symbol.upper()
    itype = str(meta.get("instrumentType") or "").upper()
    if itype == "CRYPTOCURRENCY" or meta.get("exchangeName") == "CCC":
        return calendars.CRYPTO
    if itype == "CURRENCY" or s.endswith("=X") or meta.get("exchangeName") == "CCY":
        return calendars.FX
    if itype == "FUTURE" or s.endswith("=F"):
        return None  # futures trade near 24/5 with daily breaks: no exact calendar here
    if "." in s and not s.startswith("^"):
        code = _SUFFIX_CALENDAR.get(s.rsplit(".", 1)[1])
        if code:
            return code
    if meta.get("exchangeName") in _US_EXCHANGES or meta.get("exchangeTimezoneName") == "America/New_York":
        return "XNYS"
    if not meta:
        if any(s.endswith(q) for q in ("-USD", "-USDT", "-EUR", "-BTC")):
            return calendars.CRYPTO
        if "." not in s:
            return "XNYS"  # bare tickers are US listings on Yahoo
    return None


def _bars_per_day(interval: str, calendar: str | None) -> float:
    """Typical bars per calendar day, used only to size the download window."""
    step = parse_interval(interval)
    if step >= pd.Timedelta(days=1):
        per_day = pd.Timedelta(days=1) / step
        if calendar == calendars.CRYPTO:
            return per_day
        return per_day * (5 / 7 if step <= pd.Timedelta(days=1) else 1.0) * (0.96 if calendar else 1.0)
    if calendar == calendars.CRYPTO:
        return pd.Timedelta(days=1) / step
    if calendar == calendars.FX:
        return pd.Timedelta(days=1) / step * 5 / 7
    hours = 6.5  # a regular US session; other exchanges are close enough for sizing
    if calendars.is_exchange_calendar(calendar):
        try:
            cal = calendars.exchange_calendar(calendar, pd.Timestamp.now() - pd.Timedelta(days=400), pd.Timestamp.now())
            lengths = (cal.closes - cal.opens).iloc[-250:]
            hours = float(lengths.median() / pd.Timedelta(hours=1))
        except Exception:
            pass
    # Round bars up per session: a 6.5 h session holds 7 hourly bars, not 6.5.
    per_session = math.ceil(hours * 60 / (step / pd.Timedelta(minutes=1)) - 1e-9)
    return per_session * 0.96 * 5 / 7  # 0.96: about 10 holidays a year


def history_window(interval: str, lookback: int, calendar: str | None, now: pd.Timestamp) -> tuple[pd.Timestamp, list[str]]:
    """Start time (UTC) that should cover ``lookback`` bars, clamped to Yahoo's limits, plus notes."""
    notes: list[str] = []
    per_day = _bars_per_day(interval, calendar)
    days = lookback / per_day * 1.1 + 5  # margin for holidays, halts and a partial last bar
    start = now - pd.Timedelta(days=days)
    limit = MAX_HISTORY.get(interval)
    if limit is not None and now - start > limit - _MARGIN:
        start = now - limit + _MARGIN
        possible = int((limit - _MARGIN) / pd.Timedelta(days=1) * per_day)
        notes.append(
            f"Yahoo keeps only {limit.days} days of {interval} bars, about {possible} bars for this market, "
            f"fewer than the {lookback}-bar lookback: use a longer interval or a shorter lookback")
    return start, notes


@contextlib.contextmanager
def _yf_raises():
    """Make yfinance raise its errors instead of logging them and returning an empty frame."""
    import yfinance as yf

    with _config_lock, warnings.catch_warnings():
        # yfinance 1.7 uses pandas APIs deprecated in pandas 3.1: its problem, not the user's.
        warnings.filterwarnings("ignore", category=FutureWarning, module="yfinance")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="yfinance")
        for name in ("Pandas4Warning", "Pandas5Warning"):
            cat = getattr(pd.errors, name, None)
            if cat is not None:
                warnings.filterwarnings("ignore", category=cat)
        old = yf.config.debug.hide_exceptions
        yf.config.debug.hide_exceptions = False
        try:
            yield
        finally:
            yf.config.debug.hide_exceptions = old


def _translate(exc: Exception, symbol: str, interval: str) -> DataSourceError:
    from yfinance import exceptions as yfe

    if isinstance(exc, DataSourceError):
        return exc
    if isinstance(exc, yfe.YFRateLimitError):
        return RateLimitError(f"Yahoo Finance is rate-limiting requests for {symbol}: wait a few minutes and retry (cached bars are used meanwhile when available)")
    if isinstance(exc, yfe.YFTzMissingError):
        return SymbolNotFoundError(
            f"Yahoo Finance does not know the symbol {symbol!r} (it may be delisted or misspelt): check it on finance.yahoo.com; "
            "non-US listings need a suffix (e.g. 'VOD.L', '7203.T'), currencies '=X' (e.g. 'EURUSD=X'), crypto '-USD' (e.g. 'BTC-USD')")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status == 404:
        return _translate(yfe.YFTzMissingError(symbol), symbol, interval)
    if status == 429:
        return _translate(yfe.YFRateLimitError(), symbol, interval)
    if isinstance(status, int) and status >= 500:
        return SourceUnavailableError(f"Yahoo Finance answered HTTP {status} (a server problem): retry later (cached bars are used meanwhile when available)")
    if isinstance(exc, yfe.YFInvalidPeriodError):
        return EmptyDataError(f"Yahoo rejected the date range for {symbol}: {exc}; choose a shorter range")
    if isinstance(exc, yfe.YFPricesMissingError):
        reason = str(exc).split(": ", 1)[-1]
        return EmptyDataError(
            f"Yahoo Finance returned no {interval} bars for {symbol} ({reason}): the market may have been closed "
            "for the whole range, or this interval is not offered for the symbol; try a wider range or a daily interval")
    if isinstance(exc, yfe.YFDataException) and "DOWN" in str(exc).upper():
        return SourceUnavailableError("Yahoo Finance is currently down: retry later (cached bars are used meanwhile when available)")
    if _is_network_error(exc):
        return SourceUnavailableError(
            f"cannot reach Yahoo Finance ({type(exc).__name__}: {str(exc)[:120]}): check the internet connection "
            "or proxy, then retry (cached bars are used meanwhile when available)")
    return DataSourceError(f"Yahoo Finance request for {symbol} failed ({type(exc).__name__}: {str(exc)[:200]})")


def _is_network_error(exc: Exception) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return True
    try:
        from curl_cffi.requests.exceptions import RequestException as CurlError
        if isinstance(exc, CurlError):
            return True
    except ImportError:
        pass
    try:
        import requests
        if isinstance(exc, requests.exceptions.RequestException):
            return True
    except ImportError:
        pass
    return False


def _history(ticker, start: pd.Timestamp, end: pd.Timestamp, interval: str) -> pd.DataFrame:
    return ticker.history(
        start=int(start.timestamp()), end=int(end.timestamp()), interval=interval,
        auto_adjust=True, actions=False, prepost=False, timeout=20,
    )


def fetch_yahoo(symbol: str, interval: str = "1d", lookback: int | None = None,
                start=None, end=None, *, session=None, now: pd.Timestamp | None = None) -> Bars:
    """Bars for a Yahoo symbol: the last ``lookback`` bars' worth of history, or [start, end).

    Prices are split- and dividend-adjusted (yfinance auto_adjust). ``session``: a curl_cffi or
    requests Session for yfinance (tests pass a recorded one). Notes say when Yahoo's history
    limits leave fewer bars than asked for.
    """
    import yfinance as yf

    symbol = symbol.strip().upper()
    if not symbol:
        raise SymbolNotFoundError("no symbol given: type a Yahoo symbol such as 'AAPL', 'EURUSD=X' or 'BTC-USD'")
    if interval not in INTERVALS:
        raise DataSourceError(f"Yahoo Finance has no {interval!r} interval; choose one of {', '.join(INTERVALS)}")
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    guess_calendar = infer_calendar(symbol)
    notes: list[str] = []
    if start is not None:
        start_ts = pd.Timestamp(start)
        start_ts = start_ts.tz_localize("UTC") if start_ts.tz is None else start_ts.tz_convert("UTC")
        limit = MAX_HISTORY.get(interval)
        if limit is not None and now - start_ts > limit - _MARGIN:
            notes.append(f"Yahoo keeps only {limit.days} days of {interval} bars: the start was moved to {(now - limit + _MARGIN).date()}")
            start_ts = now - limit + _MARGIN
    elif lookback is not None:
        if lookback <= 0:
            raise ValueError("lookback must be a positive number of bars")
        start_ts, notes = history_window(interval, lookback, guess_calendar, now)
    else:
        raise ValueError("give lookback (a number of bars) or start")
    end_ts = now if end is None else pd.Timestamp(end)
    end_ts = end_ts.tz_localize("UTC") if end_ts.tz is None else end_ts.tz_convert("UTC")
    if end_ts <= start_ts:
        raise DataSourceError(f"the end ({end_ts}) is not after the start ({start_ts}): swap or widen the dates")

    chunk = MAX_PER_REQUEST.get(interval)
    windows = [(start_ts, end_ts)]
    if chunk is not None:
        edges = list(pd.date_range(start_ts, end_ts, freq=chunk)) + [end_ts]
        windows = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    frames = []
    meta: dict = {}
    try:
        with _yf_raises():
            ticker = yf.Ticker(symbol, session=session)
            for a, b in windows:
                try:
                    frames.append(_history(ticker, a, b, interval))
                except Exception as exc:
                    from yfinance import exceptions as yfe
                    # A quiet 7-day window of 1m bars (a holiday week) is not a failure.
                    if isinstance(exc, yfe.YFPricesMissingError) and len(windows) > 1:
                        continue
                    raise
                # Read single keys: iterating the metadata would trigger an extra intraday request.
                md = ticker.history_metadata or {}
                meta = {k: md.get(k) for k in _META_KEYS if k in md} or meta
    except Exception as exc:
        raise _translate(exc, symbol, interval) from exc

    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise EmptyDataError(
            f"Yahoo Finance returned no {interval} bars for {symbol} between {start_ts.date()} and {end_ts.date()}: "
            "widen the range, or check the symbol trades at this interval")
    df = pd.concat(frames)
    df = df[~df.index.duplicated(keep="last")].sort_index()
    tz = meta.get("exchangeTimezoneName") or str(df.index.tz or "UTC")
    df.index = df.index.tz_convert(tz) if df.index.tz is not None else df.index.tz_localize(tz)
    frame = pd.DataFrame({
        "timestamp": df.index,
        "open": df["Open"].to_numpy(), "high": df["High"].to_numpy(), "low": df["Low"].to_numpy(),
        "close": df["Close"].to_numpy(), "volume": df["Volume"].to_numpy(),
    })
    if lookback is not None and start is None:
        if len(frame) < lookback and not any("keeps only" in n for n in notes):
            notes.append(f"Yahoo returned {len(frame)} {interval} bars, fewer than the {lookback}-bar lookback: "
                         "the symbol may be young, or lower the lookback")
        frame = frame.iloc[max(0, len(frame) - lookback):]
    calendar = infer_calendar(symbol, meta)
    venue = meta.get("fullExchangeName") or meta.get("exchangeName") or "?"
    return Bars.from_frame(
        frame.reset_index(drop=True), source="yfinance", symbol=symbol, interval=interval, timezone=tz,
        calendar=calendar, fetched_at=now,
        origin=f"Yahoo Finance via yfinance ({venue}, {meta.get('currency', '?')}); split/dividend-adjusted; "
               "Yahoo's terms: personal use",
        notes=notes,
    )


def fetch(symbol: str, interval: str, *, lookback: int | None = None, since=None, now=None, session=None, **_) -> Bars:
    """The ``data_sources.sources`` entry point: the last ``lookback`` bars, or the bars from ``since`` on."""
    if since is not None:
        return fetch_yahoo(symbol, interval, start=since, session=session, now=now)
    return fetch_yahoo(symbol, interval, lookback=lookback, session=session, now=now)
