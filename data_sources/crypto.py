"""Bars from crypto exchanges through ccxt (public market data only, no API keys)."""

from __future__ import annotations

import threading

from kronos.lazy import pd

from . import calendars
from .errors import DataSourceError, EmptyDataError, RateLimitError, SourceUnavailableError, SymbolNotFoundError
from .schema import Bars

# Raw kline field holding quote-asset volume (turnover), per exchange.
QUOTE_VOLUME_INDEX = {"binance": 7, "binanceus": 7, "binanceusdm": 7, "binancecoinm": 7, "mexc": 7, "okx": 7, "bybit": 6}
PAGE_LIMIT = 1000
MAX_PAGES = 500

_clients: dict[str, object] = {}
_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def get_exchange(exchange_id: str):
    """A shared ccxt client (rate limited, no credentials) so markets load once per exchange."""
    import ccxt

    exchange_id = exchange_id.strip().lower()
    with _registry_lock:
        if exchange_id not in _clients:
            cls = getattr(ccxt, exchange_id, None)
            if exchange_id not in ccxt.exchanges or cls is None:
                raise DataSourceError(
                    f"ccxt does not know the exchange {exchange_id!r}: use an id such as 'binance', 'kraken', "
                    "'coinbase', 'okx' or 'bybit' (see ccxt.exchanges)")
            _clients[exchange_id] = cls({"enableRateLimit": True})
            _locks[exchange_id] = threading.Lock()
        return _clients[exchange_id]


def _translate(exc: Exception, exchange_id: str, symbol: str) -> DataSourceError:
    import ccxt

    if isinstance(exc, DataSourceError):
        return exc
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return RateLimitError(f"{exchange_id} is rate-limiting requests: wait a minute and retry (cached bars are used meanwhile when available)")
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        return SourceUnavailableError(f"{exchange_id} is not available right now ({str(exc)[:120]}): retry later or pick another exchange")
    if isinstance(exc, ccxt.NetworkError):
        return SourceUnavailableError(
            f"cannot reach {exchange_id} ({type(exc).__name__}): check the internet connection or proxy, then retry "
            "(cached bars are used meanwhile when available)")
    if isinstance(exc, ccxt.BadSymbol):
        return SymbolNotFoundError(
            f"{exchange_id} has no market {symbol!r}: write symbols as BASE/QUOTE, e.g. 'BTC/USDT' or 'ETH/USD', "
            "and check the pair is listed on that exchange")
    if isinstance(exc, ccxt.AuthenticationError):
        return DataSourceError(f"{exchange_id} asked for credentials for public candles: pick another exchange")
    if isinstance(exc, ccxt.BaseError):
        return DataSourceError(f"{exchange_id} refused the request for {symbol} ({type(exc).__name__}: {str(exc)[:200]})")
    return DataSourceError(f"{exchange_id} request for {symbol} failed ({type(exc).__name__}: {str(exc)[:200]})")


def fetch_ccxt(exchange_id: str, symbol: str, timeframe: str = "1h", lookback: int | None = None,
               since=None, until=None, *, client=None, now: pd.Timestamp | None = None) -> Bars:
    """Bars for an exchange pair, paginating fetch_ohlcv from ``since`` (or now - lookback bars).

    Turnover (amount) is the exchange's quote volume when its klines carry it, else estimated.
    The still-open last candle is dropped: its volume would be partial.
    """
    exchange_id = exchange_id.strip().lower()
    ex = client if client is not None else get_exchange(exchange_id)
    lock = _locks.get(exchange_id) or threading.Lock()
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    now_ms = int(now.timestamp() * 1000)
    with lock:
        try:
            ex.load_markets()
            if not ex.has.get("fetchOHLCV"):
                raise DataSourceError(f"{exchange_id} does not offer candles (fetchOHLCV) through ccxt: pick another exchange")
            if ex.timeframes and timeframe not in ex.timeframes:
                raise DataSourceError(f"{exchange_id} has no {timeframe!r} candles; choose one of {', '.join(ex.timeframes)}")
            ex.market(symbol)  # BadSymbol before any candle request
            step_ms = int(ex.parse_timeframe(timeframe) * 1000)
            if since is not None:
                cursor = int(pd.Timestamp(since).tz_localize("UTC").timestamp() * 1000) if pd.Timestamp(since).tz is None \
                    else int(pd.Timestamp(since).timestamp() * 1000)
            elif lookback is not None:
                if lookback <= 0:
                    raise ValueError("lookback must be a positive number of bars")
                # One extra bar: the newest one is still open and gets dropped.
                cursor = (now_ms // step_ms - lookback - 1) * step_ms
            else:
                raise ValueError("give lookback (a number of bars) or since")
            end_ms = now_ms if until is None else int(pd.Timestamp(until).timestamp() * 1000)
            rows, quote = _paginate(ex, exchange_id, symbol, timeframe, cursor, end_ms, step_ms)
        except Exception as exc:
            raise _translate(exc, exchange_id, symbol) from exc

    if not rows:
        raise EmptyDataError(f"{exchange_id} returned no {timeframe} candles for {symbol} in the requested range: "
                             "the pair may be newer than that; pick a later start or a shorter lookback")
    df = pd.DataFrame(rows, columns=["ms", "open", "high", "low", "close", "volume"])
    df = df.drop_duplicates("ms", keep="last").sort_values("ms")
    notes: list[str] = []
    # A candle is complete once its interval has passed; the still-open one has partial volume.
    df = df[(df["ms"] + step_ms <= now_ms) & (df["ms"] < end_ms)]
    if lookback is not None and since is None:
        if len(df) < lookback:
            notes.append(f"{exchange_id} returned {len(df)} {timeframe} candles for {symbol}, fewer than the "
                         f"{lookback}-bar lookback: the pair may be young on this exchange; lower the lookback")
        df = df.iloc[max(0, len(df) - lookback):]
    amount = df["ms"].map(quote) if quote else None
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(df["ms"].to_numpy(), unit="ms", utc=True),
        **{c: df[c].astype("float64").to_numpy() for c in ("open", "high", "low", "close", "volume")},
    })
    if amount is not None and amount.notna().all():
        frame["amount"] = amount.astype("float64").to_numpy()
    return Bars.from_frame(
        frame, source="ccxt", symbol=symbol, interval=timeframe, timezone="UTC", calendar=calendars.CRYPTO,
        fetched_at=now, notes=notes, venue=exchange_id,
        origin=f"{exchange_id} public market data via ccxt; exchange terms apply"
               + ("; amount = quote volume" if "amount" in frame else ""),
    )


def _paginate(ex, exchange_id, symbol, timeframe, cursor, end_ms, step_ms):
    qidx = QUOTE_VOLUME_INDEX.get(exchange_id)
    quote: dict[int, float] = {}
    original = ex.parse_ohlcv

    def capture(ohlcv, market=None):
        row = original(ohlcv, market)
        # ccxt keeps 6 fields; the raw kline's quote volume is read here, before it is dropped.
        if qidx is not None and isinstance(ohlcv, list) and len(ohlcv) > qidx and row and row[0] is not None:
            try:
                quote[int(row[0])] = float(ohlcv[qidx])
            except (TypeError, ValueError):
                pass
        return row

    ex.parse_ohlcv = capture
    rows: list[list] = []
    try:
        for _ in range(MAX_PAGES):
            if cursor >= end_ms:
                break
            batch = ex.fetch_ohlcv(symbol, timeframe, since=cursor, limit=PAGE_LIMIT)
            batch = [b for b in batch if b[0] is not None and b[0] >= cursor]
            if not batch:
                break
            rows.extend(batch)
            nxt = int(batch[-1][0]) + step_ms
            if nxt <= cursor:
                break
            cursor = nxt
    finally:
        del ex.parse_ohlcv  # back to the class method
    return rows, quote


def fetch(symbol: str, interval: str, *, lookback: int | None = None, since=None, exchange: str | None = None,
          now=None, client=None, **_) -> Bars:
    """The ``data_sources.sources`` entry point: ``symbol`` on ``exchange``, the last ``lookback`` bars or
    the bars from ``since`` on."""
    if not exchange:
        raise DataSourceError("crypto bars need an exchange: pass exchange='binance' (or kraken, coinbase, ...)")
    if since is not None:
        return fetch_ccxt(exchange, symbol, interval, since=since, client=client, now=now)
    return fetch_ccxt(exchange, symbol, interval, lookback=lookback, client=client, now=now)
