"""The header names the reader knows: bar fields and their aliases, adjusted close, instrument columns."""

from __future__ import annotations

import re

# Normalised header (lower case, letters and digits only) -> schema column.
ALIASES = {
    "timestamp": ("timestamp", "timestamps", "datetime", "date", "time", "datetimeutc", "opentime",
                  "dt", "localtime", "gmttime", "day", "datum", "fecha"),
    "open": ("open", "o", "openprice", "opening"),
    "high": ("high", "h", "highprice", "max"),
    "low": ("low", "l", "lowprice", "min"),
    "close": ("close", "c", "closeprice", "price", "last", "closing"),
    "volume": ("volume", "vol", "v", "volumes", "qty", "basevolume"),
    "amount": ("amount", "turnover", "quotevolume", "quoteassetvolume", "value", "notional"),
    # MetaTrader's <TICKVOL>: price changes per bar, the volume used where real volume is empty.
    "tick_volume": ("tickvol", "tickvolume"),
}
ADJ_CLOSE = ("adjclose", "adjustedclose", "adjclosing")


def norm(name) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def known_names() -> set[str]:
    return {a for v in ALIASES.values() for a in v} | set(ADJ_CLOSE) | set(SYMBOL_COLUMNS) | set(VENUE_COLUMNS)


# Columns that name the instrument of each row in a long (stacked) export, as normalised headers (see
# norm: "Stock Code", "stock_code" and "<STOCK_CODE>" are all "stockcode"). The one list of them.
# "name" is the ticker column of Kaggle's S&P 500 files (date,open,high,low,close,volume,Name).
SYMBOL_COLUMNS = ("symbol", "ticker", "tscode", "tickersymbol", "instrument", "pair", "secid", "name",
                  "stock", "code", "stockcode", "security", "asset", "ric", "symbolname", "contract",
                  "underlying", "isin", "cusip", "sedol", "coin")

# Columns that name the venue (exchange) of each row's bars, as normalised headers: part of the series' name
# (``schema.series_symbol``). The one list of them.
VENUE_COLUMNS = ("exchange", "venue", "exch", "exchangecode", "exchangename", "mic")

# Bar fields a wide file's column names carry beside an instrument: BTC:open, open_BTC, ('Close', 'AAPL').
WIDE_FIELDS = {a: k for k in ("open", "high", "low", "close", "volume", "amount") for a in ALIASES[k] if len(a) > 1}
WIDE_FIELDS.update({a: "adj close" for a in ADJ_CLOSE})
