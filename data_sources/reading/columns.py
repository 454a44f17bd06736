"""Which file column is which bar field: aliases, adjusted close, volumes named by a currency, tick volume."""

from __future__ import annotations

import re

from kronos.errors import Fix
from kronos.lazy import np, pd

from ..errors import DataFormatError
from .instruments import symbol_column
from .names import ADJ_CLOSE, ALIASES, known_names, norm


def map_columns(df: pd.DataFrame) -> tuple[dict, list[str]]:
    """schema column -> file column, and notes."""
    notes: list[str] = []
    by_norm: dict[str, list] = {}
    for col in df.columns:
        by_norm.setdefault(norm(col), []).append(col)
    found: dict[str, object] = {}
    for target, aliases in ALIASES.items():
        hits = [c for a in aliases for c in by_norm.get(a, [])]
        if len(hits) > 1 and target == "timestamp":
            # "date" + "time" as two columns are combined below; otherwise take the first alias.
            names = {norm(h) for h in hits}
            if names == {"date", "time"}:
                found["timestamp"] = (by_norm["date"][0], by_norm["time"][0])
                continue
        if len(hits) > 1 and len({norm(h) for h in hits}) == 1:
            raise DataFormatError(f"columns {[str(h) for h in hits]} are all read as {target!r}: keep only one of them")
        if hits:
            found[target] = hits[0]
    adj = [c for a in ADJ_CLOSE for c in by_norm.get(a, [])]
    if "close" not in found and adj:
        found["close"] = adj[0]
        notes.append(f"no 'close' column: used {adj[0]!r} as the close (adjusted and unadjusted prices may be mixed)")
    elif adj:
        notes.append(f"column {adj[0]!r} ignored: the unadjusted 'close' is used with open/high/low")
    return found, notes


# ------------------------------------------------------------------ volume in two currencies
# CryptoDataDownload writes 'Volume BTC,Volume USD' (or volume_btc, volume_usd), CryptoCompare-style files
# 'VolumeFrom,VolumeTo': the base currency's volume is the bar volume, the quote currency's the amount.
_CURRENCY_VOLUME = re.compile(r"^(?:volume|vol)([a-z]{2,6})$|^([a-z]{2,6})(?:volume|vol)$")
_NOT_CURRENCIES = {"ma", "sma", "ema", "wma", "avg", "mean", "chg", "change", "pct", "ratio", "delta", "osc",
                   "base", "quote", "from", "to", "tick", "total", "buy", "sell", "taker", "real", "dollar", "trade",
                   "trades", "share", "shares", "spot", "asset", "median", "sum", "daily", "rel", "relative"}
_BASE_WORDS, _QUOTE_WORDS = "the volume (base currency)", "the amount (quote-currency turnover)"
# A plain volume column beside the base currency's is its quote volume when it is base volume x price within this
# share on the median bar (exports compute it so; a venue's own turnover stays within a few percent of it).
QUOTE_VOLUME_TOLERANCE = 0.05
_SYMBOL_PARTS = re.compile(r"^([A-Za-z0-9]+)[/\-_:. ]([A-Za-z0-9]+)$")


def currency_volumes(df: pd.DataFrame, cols: dict, symbol: str | None, notes: list[str]) -> tuple | None:
    """Map volume columns named by a currency (or 'from'/'to') to volume (base) and amount (quote), using
    the instrument (BTC/USD, BTC-USD, BTCUSD) to tell the base from the quote; say what became what. A
    currency the symbol does not place, or no symbol at all, is refused rather than guessed.

    A plain volume column beside the base currency's ('Volume BTC,Volume') is taken for the quote volume
    (the amount) until the numbers are read: the (plain, base) columns are returned for
    ``check_quote_volume`` to confirm or refuse."""
    by_code: dict[str, object] = {}
    for col in df.columns:
        code = volume_currency(norm(col))
        if code:
            by_code[code] = col
    if not by_code:
        return None
    if set(by_code) <= {"volumefrom", "volumeto"}:
        sides = {"base": by_code.get("volumefrom"), "quote": by_code.get("volumeto")}
        why = "CryptoCompare's VolumeFrom is in the base currency, VolumeTo in the quote currency"
    else:
        pair = _symbol_pair(df, symbol)
        listed = ", ".join(repr(str(c)) for c in by_code.values())
        if pair is None:
            what = f"columns {listed} hold volume in named currencies" if len(by_code) > 1 else \
                f"column {listed} holds volume in a named currency"
            raise DataFormatError(
                f"{what}, but the file names no instrument to tell the base currency (the bar volume) from the "
                "quote currency (the amount)", {"columns": list(by_code.values())},
                Fix("give the symbol as BASE/QUOTE ({setting}), or rename the columns to volume and amount", "symbol",
                    "BTC/USD"))
        base, quote = pair
        sides = {}
        for code, col in by_code.items():
            side = "base" if code == base else "quote" if code == quote else None
            if side is None or side in sides:
                raise DataFormatError(
                    f"column {str(col)!r} holds volume in {code.upper()}, which is neither the base ({base.upper()}) "
                    f"nor the quote ({quote.upper()}) currency of {base.upper()}/{quote.upper()}: rename the "
                    "column holding the base currency's volume to volume and the quote currency's to amount")
            sides[side] = col
        why = f"the instrument is {base.upper()}/{quote.upper()}"
    unconfirmed = None
    plain = cols.get("volume")
    if plain is not None and sides.get("base") not in (None, plain) and sides.get("quote") is None \
            and "amount" not in cols:
        unconfirmed = (plain, sides["base"])
        cols["amount"] = plain
        del cols["volume"]
    for side, target, words in (("base", "volume", _BASE_WORDS), ("quote", "amount", _QUOTE_WORDS)):
        col = sides.get(side)
        if col is None:
            continue
        if target in cols and cols[target] != col:
            raise DataFormatError(
                f"columns {str(cols[target])!r} and {str(col)!r} both look like {words}: keep one of them, or "
                f"rename the other (base-currency volume: volume; quote-currency volume: amount)")
        cols[target] = col
        notes.append(f"column {str(col)!r} read as {words}: {why}")
    return unconfirmed


def check_quote_volume(numbers: pd.DataFrame, unconfirmed: tuple | None, notes: list[str]) -> None:
    """Confirm that the plain volume column taken for the quote volume (see ``currency_volumes``) is the
    base volume x price (the close, or the mean of open, high, low and close) within
    QUOTE_VOLUME_TOLERANCE on the median bar, and say so; refuse, naming both columns, when it is not."""
    if unconfirmed is None:
        return
    plain, base = (str(c) for c in unconfirmed)
    volume, amount = numbers["volume"], numbers["amount"]
    traded = (volume > 0) & (amount > 0)
    prices = {"close": numbers["close"], "mean(open, high, low, close)": numbers[["open", "high", "low", "close"]].mean(axis=1)}
    misfit = {name: float((amount / (volume * price) - 1)[traded].abs().median()) for name, price in prices.items()}
    name = min(misfit, key=lambda k: misfit[k] if np.isfinite(misfit[k]) else np.inf)
    if not misfit[name] <= QUOTE_VOLUME_TOLERANCE:
        raise DataFormatError(
            f"columns {plain!r} and {base!r} both look like {_BASE_WORDS}, and {plain!r} is not {base!r} x the price "
            f"(the quote-currency volume) either: keep one of them, or rename the other (base-currency volume: "
            "volume; quote-currency volume: amount)")
    notes.append(f"column {plain!r} read as {_QUOTE_WORDS}: it is {base!r} x the {name} (within {misfit[name]:.1%} on "
                 "the median bar), the volume in the quote currency")


def volume_currency(norm: str) -> str | None:
    """'btc' for a normalised 'volumebtc' or 'btcvolume', the name itself for 'volumefrom'/'volumeto'."""
    if norm in ("volumefrom", "volumeto"):
        return norm
    m = _CURRENCY_VOLUME.match(norm)
    code = m and (m.group(1) or m.group(2))
    return code if code and code not in _NOT_CURRENCIES and norm not in known_names() else None


def _symbol_pair(df: pd.DataFrame, symbol: str | None) -> tuple[str, str] | None:
    """(base, quote) in lower case from the file's symbol column or the symbol given, e.g. BTC/USD."""
    col = symbol_column(df)
    names = [symbol] if symbol else []
    if col is not None:
        names = [str(v) for v in df[col].dropna().head(1)] + names
    codes = {norm(c) for c in df.columns}
    for name in names:
        m = _SYMBOL_PARTS.match(name.strip())
        if m:
            return m.group(1).lower(), m.group(2).lower()
        flat = norm(name)
        for code in codes:  # BTCUSD: the currencies the column names carry, at either end
            cur = volume_currency(code)
            if cur and len(flat) > len(cur):
                if flat.startswith(cur):
                    return cur, flat[len(cur):]
                if flat.endswith(cur):
                    return flat[:-len(cur)], cur
    return None


def use_tick_volume(out: pd.DataFrame, numbers: pd.DataFrame, cols: dict, notes: list[str]) -> None:
    """MetaTrader's tick volume as the volume where the file has no real volume (FX and CFDs: <VOL> is 0)."""
    if "tick_volume" not in numbers or not (numbers["tick_volume"].fillna(0) > 0).any():
        return
    tick = str(cols["tick_volume"])
    if "volume" not in out:
        out["volume"] = numbers["tick_volume"].to_numpy()
        notes.append(f"no volume column: the tick volume {tick!r} (price changes per bar) is used as the volume")
    elif (out["volume"].fillna(0) == 0).all():
        out["volume"] = numbers["tick_volume"].to_numpy()
        notes.append(f"{str(cols['volume'])!r} is zero on every bar (MetaTrader has no real volume for FX and CFDs): "
                     f"the tick volume {tick!r} (price changes per bar) is used as the volume")
