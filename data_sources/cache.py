"""On-disk Parquet cache of bars, extended incrementally; serves stale bars when offline.

``load_bars`` is the one entry point the app calls for every source.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kronos.lazy import pd

from . import sources
from .errors import TRANSIENT_ERRORS, EmptyDataError
from .schema import COLUMNS, Bars
from .storage import atomic_write, storage_path

_META_KEY = b"kronos_studio_bars"
# If a re-fetched overlapping bar differs by more than this, history was re-adjusted upstream
# (a new split or dividend): the cached part no longer matches and is fetched again in full.
_REFETCH_TOLERANCE = 0.005


def default_cache_dir() -> Path:
    """$KRONOS_STUDIO_CACHE, else the platform user cache dir of "kronos-studio", plus /bars."""
    return storage_path("bars")


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", part).strip("._") or "_"


class BarCache:
    """Parquet files under ``root``/<source>[/<exchange>]/<symbol>__<interval>.parquet."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def path(self, source: str, symbol: str, interval: str, exchange: str | None = None) -> Path:
        folder = self.root / _safe(source)
        if exchange:
            folder = folder / _safe(exchange)
        return folder / f"{_safe(symbol)}__{_safe(interval)}.parquet"

    def read(self, source: str, symbol: str, interval: str, exchange: str | None = None) -> Bars | None:
        p = self.path(source, symbol, interval, exchange)
        if not p.is_file():
            return None
        try:
            table = pq.read_table(p)
            meta = json.loads(table.schema.metadata[_META_KEY])
            frame = table.to_pandas()
            frame = frame[list(COLUMNS)].reset_index(drop=True)
            frame["timestamp"] = frame["timestamp"].dt.tz_convert(meta["timezone"]).dt.as_unit("ns")
            return Bars(
                frame=frame, source=meta["source"], symbol=meta["symbol"], interval=meta["interval"],
                calendar=meta.get("calendar"), timezone=meta["timezone"],
                fetched_at=pd.Timestamp(meta["fetched_at"]) if meta.get("fetched_at") else None,
                origin=meta.get("origin", ""), amount_filled=bool(meta.get("amount_filled")),
                venue=meta.get("venue", exchange),  # where they came from: part of the series' name
            )
        except Exception:
            # A corrupt or foreign file is not worth failing a forecast over: refetch instead.
            return None

    def write(self, bars: Bars, exchange: str | None = None) -> Path:
        p = self.path(bars.source, bars.symbol, bars.interval, exchange)
        p.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(bars.frame, preserve_index=False)
        meta = {
            "source": bars.source, "symbol": bars.symbol, "interval": bars.interval, "calendar": bars.calendar,
            "timezone": bars.timezone, "origin": bars.origin, "amount_filled": bars.amount_filled, "venue": bars.venue,
            "fetched_at": bars.fetched_at.isoformat() if bars.fetched_at is not None else None,
        }
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
        return atomic_write(p, lambda tmp: pq.write_table(table, tmp))

    def clear(self, source: str | None = None) -> int:
        """Delete cached files (all, or one source's); returns how many were removed."""
        base = self.root / _safe(source) if source else self.root
        n = 0
        if base.is_dir():
            for f in base.rglob("*.parquet"):
                f.unlink()
                n += 1
        return n


def _fetch(source, symbol, interval, lookback, exchange, since, now, session, client) -> Bars:
    return sources.source(source).fetch(symbol, interval, lookback=lookback, since=since, exchange=exchange, now=now,
                                        session=session, client=client)


def _merge(old: Bars, new: Bars) -> Bars:
    frame = pd.concat([old.frame, new.frame], ignore_index=True)
    frame = frame.drop_duplicates("timestamp", keep="last").sort_values("timestamp").reset_index(drop=True)
    return new.replace(frame=frame, amount_filled=old.amount_filled or new.amount_filled)


def _consistent(old: Bars, new: Bars) -> bool:
    """Does the re-fetched overlap agree with the cache (no re-adjustment upstream)?"""
    both = old.frame.merge(new.frame, on="timestamp", suffixes=("_old", "_new"))
    if both.empty:
        return True
    row = both.iloc[0]
    return abs(row["close_new"] / row["close_old"] - 1) <= _REFETCH_TOLERANCE


def load_bars(source: str, symbol: str, interval: str, lookback: int | None = None, exchange: str | None = None,
              cache: BarCache | str | os.PathLike | bool | None = None, *, now: pd.Timestamp | None = None,
              session=None, client=None) -> Bars:
    """Bars for ``symbol`` from a source of ``data_sources.sources`` ("yfinance", "ccxt" with ``exchange``,
    "sample"), through the cache.

    Returns the last ``lookback`` bars (all cached bars when None; ``lookback`` is required for a
    first download). Only bars newer than the cached last bar are fetched. If the source cannot be
    reached or rate-limits, cached bars come back with ``stale=True`` and their ``age``.
    ``cache``: a BarCache, a directory, False for no cache, None/True for the default directory.
    """
    origin = sources.source(source)
    if not origin.cached:  # bundled samples are read as they are; files are not fetched at all
        return origin.fetch(symbol, interval, lookback=lookback)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    if cache is False:
        if lookback is None:
            raise ValueError("lookback is required without a cache")
        return _fetch(source, symbol, interval, lookback, exchange, None, now, session, client)
    store = cache if isinstance(cache, BarCache) else BarCache(None if cache in (None, True) else cache)
    key_symbol = symbol.strip().upper() if source == sources.YFINANCE else symbol  # Yahoo's tickers ignore case
    cached = store.read(source, key_symbol, interval, exchange)

    try:
        if cached is None or len(cached) == 0 or (lookback is not None and len(cached) < lookback):
            if lookback is None and cached is None:
                raise ValueError("lookback is required for a first download")
            fresh = _fetch(source, symbol, interval, lookback or len(cached), exchange, None, now, session, client)
            merged = _merge(cached, fresh) if cached is not None and len(cached) else fresh
        else:
            last = cached.frame["timestamp"].iloc[-1]
            try:
                # Re-fetch from the last cached bar: it may have been incomplete when cached.
                fresh = _fetch(source, symbol, interval, None, exchange, last, now, session, client)
            except EmptyDataError:
                fresh = None
            if fresh is None:
                merged = cached.replace(fetched_at=now)
            elif _consistent(cached, fresh):
                merged = _merge(cached, fresh)
            else:
                full = _fetch(source, symbol, interval, max(lookback or 0, len(cached)), exchange, None, now, session, client)
                merged = full
                merged.notes.append("prices were re-adjusted upstream (split or dividend): cached history replaced")
    except TRANSIENT_ERRORS as exc:
        if cached is None or len(cached) == 0:
            raise
        age = now - cached.fetched_at if cached.fetched_at is not None else None
        stale = cached.replace(stale=True, age=age.to_pytimedelta() if age is not None else None)
        stale.notes.append(f"{exc} -- showing cached bars fetched {cached.fetched_at} ({age} ago)")
        return stale.tail(lookback) if lookback else stale
    merged = merged.replace(fetched_at=now, stale=False, age=None)
    store.write(merged, exchange)
    return merged.tail(lookback) if lookback else merged
