"""Numbers written as text in bar files: '1,234.5', '1.234,5', '12.3M', '4,5K', '-'.

The decimal mark follows the file's locale convention (';'-separated files write 1.234,5; others
1,234.5); where that convention decides a value, or a column contradicts it, a note says so instead
of a silent change.
"""
from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from kronos.lazy import np, pd

from .errors import DataFormatError

# Cells pandas reads as missing (its default na_values): the fast readers treat them the same way.
NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
              "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
NA_SET = frozenset(NA_STRINGS)

_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
# Digit grouping with a thousands separator: "45,994", "-1,234,567" (or the same with '.').
_GROUPED = {sep: re.compile(r"^[+-]?\d{1,3}(?:" + re.escape(sep) + r"\d{3})+$") for sep in ",."}
_SEP_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_NUMBER_COLUMNS = ("open", "high", "low", "close", "volume", "amount", "tick_volume")
# Python's \s (Unicode white space, incl. the no-break spaces of '1 234,5') in RE2 syntax, plus currency and '%'.
_DECORATION = r"[\t\n\v\f\r\x{1c}-\x{1f}\x{85}\pZ$€£%]"


def _decimal_mark(sep: str | None) -> str:
    """The file's decimal mark by the usual locale convention: ';'-separated files come from locales
    that write 1.234,5 (',' decimal, '.' thousands); ',' (and tab, '|', text in Parquet) means 1,234.5."""
    return "," if sep == ";" else "."


def _other_mark(mark: str) -> str:
    return "," if mark == "." else "."


def _mask(m: pd.Series) -> pd.Series:
    return m.fillna(False).astype(bool)


def _number_text(col: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(text without spaces, currency, '%' and a K/M/B/T suffix; the suffix multiplier; blank cells)."""
    s = _strip_decoration(col.astype("string"))
    blank = s.isna() | s.isin(["", "-", "nan", "NaN", "null", "None", "NA"])
    mult = pd.Series(1.0, index=s.index)
    suf = s.str[-1:].str.upper()
    has_suf = _mask(suf.isin(list(_SUFFIX)) & s.str[:-1].str.contains(r"\d", regex=True))
    mult[has_suf] = suf[has_suf].map(_SUFFIX)
    return s.where(~has_suf, s.str[:-1]), mult, blank


def _strip_decoration(s: pd.Series) -> pd.Series:
    """s without white space, currency signs and '%' (pyarrow's RE2: a million cells in well under a second)."""
    out = pc.replace_substring_regex(pa.array(s, from_pandas=True), _DECORATION, "")
    return pd.Series(pd.StringDtype("pyarrow").__from_arrow__(out), index=s.index)


def _to_float(s: pd.Series) -> pd.Series:
    """Floats from number text, unreadable cells missing: pyarrow's cast where every cell is a number
    (both round correctly, so the values are the same), pandas otherwise."""
    try:
        arr = pa.array(s, from_pandas=True)
        if pc.any(pc.match_substring_regex(arr, "(?i)nan")).as_py():  # pyarrow reads '-nan' as NaN, pandas not
            raise pa.ArrowInvalid("NaN text")
        values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        values = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
    return pd.Series(values + 0.0, index=s.index, dtype="float64")  # + 0.0: one zero ('-0' is 0, on both roads)


def _plain_numbers(col: pd.Series, decimal: str) -> pd.Series | None:
    """The column's values when every cell is a plain number ('123.45', '-1e5', 'nan'; '123,45' where ','
    is the decimal mark) or missing; None when any cell needs the careful reading below. Plain cells
    mean exactly the same there, so this is only a faster road to the same values."""
    try:
        arr = pa.array(col, from_pandas=True)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return None
        if decimal == ",":
            if pc.any(pc.invert(pc.match_substring_regex(arr, r"^[+-]?\d+(,\d+)?$"))).as_py():
                return None
            arr = pc.replace_substring(arr, ",", ".")
        elif pc.any(pc.match_substring_regex(arr, "(?i)nan")).as_py():
            return None  # 'nan' is a blank and 'nAn' unreadable to the careful reading, NaN to pyarrow
        values = pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return pd.Series(values.to_numpy(zero_copy_only=False) + 0.0, index=col.index, dtype="float64")


def _marks(s: pd.Series, decimal: str) -> dict:
    """Where the decimal mark and the thousands separator (the other of ',' / '.') occur in s.

    The slower per-value string work runs only on the few rows that need it.
    """
    thousands = _other_mark(decimal)
    has_t = _mask(s.str.contains(thousands, regex=False))
    has_d = _mask(s.str.contains(decimal, regex=False))
    both = has_t & has_d
    only_t = has_t & ~has_d
    t_last = pd.Series(False, index=s.index)
    if both.any():
        sub = s[both]
        # The thousands mark comes last: one of them has no decimal mark after it (a regex, not rfind per value).
        t_last[both] = _mask(sub.str.contains(re.escape(thousands) + "[^" + re.escape(decimal) + "]*$", regex=True))
    grouped = pd.Series(False, index=s.index)
    if only_t.any():
        grouped[only_t] = _mask(s[only_t].str.match(_GROUPED[thousands]))
    several = pd.Series(False, index=s.index)  # '1,234,567': more than one group
    if grouped.any():
        several[grouped] = _mask(s[grouped].str.count(re.escape(thousands)) > 1)
    return {"both": both, "t_last": t_last, "only_t": only_t, "only_d": has_d & ~has_t,
            "grouped": grouped, "several": several}


def _separator_evidence(s: pd.Series, decimal: str) -> tuple[int | None, bool]:
    """What number text says about the decimal mark ``decimal``: (row of a value that writes decimals
    with the other character instead, e.g. '100.13' when decimal is ',', or None; whether some value
    confirms ``decimal``, e.g. '100,13', '1.234,5' or '1.234.567' when decimal is ',')."""
    m = _marks(s, decimal)
    against = (m["only_t"] & ~m["grouped"]) | m["t_last"]
    confirm = ((m["both"] & ~m["t_last"]).any() or m["several"].any()
               or any(v.count(decimal) == 1 for v in s[m["only_d"]]))
    return (int(against.idxmax()) if against.any() else None), bool(confirm)


def _to_number(s: pd.Series, mult: pd.Series, blank: pd.Series, decimal: str) -> tuple[pd.Series, int, tuple | None]:
    """Numbers from text like '1,234.5', '1.234,5', '12.3M', '4,5K', '-' (split by _number_text).

    ``decimal`` is the decimal mark (see _decimal_mark); the other of ',' / '.' is the thousands
    separator. A value with both marks is unambiguous: the last one is the decimal mark. A value with
    only the thousands separator is digit grouping ('45,994' -> 45994) when every such value in the
    column is a valid grouping; when one is not ('1,5' with decimal '.', '100.13' with decimal ',') the
    column evidently writes decimals with that character, and all of them are read as decimals.
    Returns (values, count unreadable, usage). usage is None, or (kind, example text, example value)
    when the reading rests on the convention and a note should say so: kind "thousands" (every
    grouped value has a single group, like '45,994', which would be 45.994 under the other
    convention) or "decimal" (the column writes decimals against ``decimal``).
    """
    thousands = _other_mark(decimal)
    original = s
    s = s.copy()
    m = _marks(s, decimal)

    def edit(rows: pd.Series, func) -> None:
        if rows.any():
            s[rows] = func(s[rows].str)

    # Both marks ('1.234,5', '1,234.5'): the last one is the decimal mark, the other one is grouping.
    edit(m["both"] & ~m["t_last"], lambda t: t.replace(thousands, "", regex=False).str.replace(decimal, ".", regex=False))
    edit(m["t_last"], lambda t: t.replace(decimal, "", regex=False).str.replace(thousands, ".", regex=False))
    usage = None
    only_t, grouped = m["only_t"], m["grouped"]
    if (only_t & ~grouped).any():
        first = (only_t & ~grouped).idxmax()
        edit(only_t, lambda t: t.replace(thousands, ".", regex=False))  # '1,2,3' stays unreadable
        usage = ("decimal", first)
    elif grouped.any():
        # Single groups ('45,994') are the ambiguous form; other values in the column can settle it.
        if not (m["several"].any() or m["both"].any() or m["only_d"].any()):
            usage = ("thousands", grouped.idxmax())
        edit(grouped, lambda t: t.replace(thousands, "", regex=False))
    if decimal == ",":
        edit(m["only_d"], lambda t: t.replace(",", ".", regex=False))  # '100,13' -> 100.13
    out = _to_float(s.mask(blank)) * mult
    bad = int((out.isna() & ~blank).sum())
    if usage is not None:
        usage = (usage[0], str(original[usage[1]]), float(out[usage[1]]))
    return out, bad, usage


def read_numbers(df: pd.DataFrame, cols: dict, sep: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The price/volume/amount columns as floats, read with the file's decimal convention, and notes.

    The convention follows the separator (_decimal_mark). If some column writes decimals with the
    other character ('100.13' in a ';'-file) and no value anywhere confirms the convention, the whole
    file uses the other decimal mark (so its '45.994' volumes are 45.994 too). When the columns
    disagree, each column is read by its own evidence; every reading that rests on the convention
    or contradicts it gets a note instead of a silent change.
    """
    convention = decimal = _decimal_mark(sep)
    raw = {t: df[cols[t]].reset_index(drop=True) for t in _NUMBER_COLUMNS if t in cols}
    plain = _all_plain(raw, cols, decimal, len(df))
    if plain is not None:
        return plain, []
    texts = {t: _number_text(c) for t, c in raw.items() if not pd.api.types.is_numeric_dtype(c)}
    evidence = {t: _separator_evidence(x[0], decimal) for t, x in texts.items()}
    against = [(t, row) for t, (row, _) in evidence.items() if row is not None]
    flipped = None
    if against and not any(ok for _, ok in evidence.values()):
        flipped = against[0]
        decimal = _other_mark(decimal)
    out = pd.DataFrame(index=range(len(df)))
    notes: list[str] = []
    usages: dict = {}
    for target, col in raw.items():
        if target in texts:
            values, bad, usage = _to_number(*texts[target], decimal)
        else:
            values, bad, usage = col.astype("float64"), 0, None
        if len(values) and values.isna().all():
            _no_numbers(cols[target], target, col)
        if bad:
            notes.append(f"{bad} values in {str(cols[target])!r} were not numbers and are now missing")
        if usage is not None:
            usages[cols[target]] = usage
        out[target] = values
    where = f"{_SEP_NAMES.get(sep, repr(sep))}-separated files" if sep else "numbers written as text"
    conv = f"{where} usually write {'1.234,5' if convention == ',' else '1,234.5'}"
    if flipped is not None:
        target, row = flipped
        shown = f"e.g. {str(raw[target].iloc[row]).strip()!r} -> {_plain(out[target].iloc[row])}"
        notes.append(f"the numbers in this file write decimals with '{decimal}' ({shown}), although {conv}: "
                     f"'{decimal}' was read as the decimal mark throughout")
    for kind in ("thousands", "decimal"):
        hits = [(c, u) for c, u in usages.items() if u[0] == kind]
        if not hits:
            continue
        names = ", ".join(repr(str(c)) for c, _ in hits)
        _, text, value = hits[0][1]
        shown = f"e.g. {text!r} -> {_plain(value)}"
        mark = _other_mark(decimal)
        if kind == "thousands":
            notes.append(f"'{mark}' was read as the thousands separator in {names} ({shown}), as {conv}: "
                         f"if '{mark}' is the decimal mark there, these values are 1000x too large; "
                         "re-export plain numbers")
        else:
            notes.append(f"{names} write decimals with '{mark}' ({shown}) unlike the other columns, although "
                         f"{conv}: read as decimals; check these values")
    return out, notes


def _all_plain(raw: dict, cols: dict, decimal: str, n: int) -> pd.DataFrame | None:
    """Every column at C speed when all hold plain numbers in the file's convention (then the careful
    reading would change nothing and note nothing); None otherwise."""
    out = pd.DataFrame(index=range(n))
    for target, col in raw.items():
        values = col.astype("float64") if pd.api.types.is_numeric_dtype(col) else _plain_numbers(col, decimal)
        if values is None:
            return None
        if len(values) and values.isna().all():
            _no_numbers(cols[target], target, col)
        out[target] = values.to_numpy()
    return out


def _no_numbers(name, target: str, col: pd.Series):
    raise DataFormatError(
        f"column {str(name)!r} (used as {target!r}) has no numbers (e.g. {str(col.iloc[0])[:30]!r}): "
        "prices must be plain numbers like 123.45")


def _plain(value: float) -> str:
    return np.format_float_positional(value, trim="-") if np.isfinite(value) else str(value)


MIN_PRICE_DECIMALS = 2  # prices are shown with at least cents
MAX_PRICE_DECIMALS = 8
QUOTED_DIGITS = 7  # the most significant digits a quoted price carries (BTC 43250.12, AAPL 189.9843)
_PRECISION_SAMPLE = 500  # the latest prices decide: a series' tick can change over the years


def price_decimals(prices) -> int:
    """The decimals a series' prices are written with (1.2050, 1.2051 -> 4; 101.5, 99.25 -> 2; at least
    MIN_PRICE_DECIMALS), the one rule every page shows prices by. Prices that carry float noise (e.g.
    split-adjusted), or more significant digits than any quote has (``QUOTED_DIGITS``: a vendor's adjusted
    closes written to six decimals, 1298.217163), are shown with five significant digits instead."""
    values = np.asarray(prices, dtype="float64")
    values = np.abs(values[np.isfinite(values) & (values != 0)])[-_PRECISION_SAMPLE:]
    if not len(values):
        return MIN_PRICE_DECIMALS
    needed = np.full(len(values), MAX_PRICE_DECIMALS + 1)
    for d in range(MAX_PRICE_DECIMALS, -1, -1):  # the fewest decimals that write each value exactly
        exact = np.abs(np.round(values, d) - values) <= 4 * np.spacing(values)  # the same double, up to rounding
        needed[exact] = d
    decimals = int(np.quantile(needed, 0.95, method="higher"))  # a few odd values (an adjusted bar) do not decide
    magnitude = int(np.floor(np.log10(np.median(values))))
    if decimals > MAX_PRICE_DECIMALS or decimals > QUOTED_DIGITS - 1 - magnitude:
        decimals = 4 - magnitude
    return int(min(MAX_PRICE_DECIMALS, max(MIN_PRICE_DECIMALS, decimals)))
