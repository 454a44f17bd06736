"""Which instrument a file's rows or columns belong to, and picking one of several."""

from __future__ import annotations

import io
import re
import warnings

from kronos.errors import Fix
from kronos.lazy import np, pd

from ..errors import CHOOSE_SYMBOL, DataFormatError, MultipleSymbolsError
from ..numbers import NA_SET
from .names import SYMBOL_COLUMNS, VENUE_COLUMNS, WIDE_FIELDS, norm
from .sniff import DATA_CELL

MAX_SYMBOLS_LISTED = 12


def symbol_column(df: pd.DataFrame):
    return next((c for c in df.columns if norm(c) in SYMBOL_COLUMNS), None)


def select_symbol(df: pd.DataFrame, symbol: str | None) -> tuple[pd.DataFrame, str | None, list[str]]:
    """Rows of one instrument from a file with a symbol/ticker column: (rows, the symbol, notes).
    Several instruments and none chosen: refused with the list, since a mixture of instruments is
    not a series (a duplicate-timestamp fix would silently merge them)."""
    col = symbol_column(df)
    if col is None:
        return df, None, []
    keep, chosen, notes = instrument_rows(df[col], symbol)
    df = df.drop(columns=col)
    return (df if keep is None else df.loc[keep].reset_index(drop=True)), chosen, notes


def venue_column(df: pd.DataFrame):
    return next((c for c in df.columns if norm(c) in VENUE_COLUMNS), None)


def select_venue(df: pd.DataFrame, ts: pd.Series, venue: str | None) -> tuple[np.ndarray | None, str | None, list[str]]:
    """(mask of the rows to keep, or None for all; the venue; notes) of a table with an exchange/venue column, its
    bar times ``ts``; a table without one: (None, ``venue``, []). ``venue`` picks the rows of one. Rows of several
    venues at the same times are two series interleaved: refused until one is picked. At distinct times (a listing
    that moved) they are one series whose venue is not one: none is named, and a note says so."""
    col = venue_column(df)
    if col is None:
        return None, venue, []
    names = df[col].astype("string").str.strip()
    found = list(dict.fromkeys(names.dropna()))
    if venue is not None:
        keep = (names.str.lower() == venue.strip().lower()).fillna(False).to_numpy(dtype=bool)
        if not keep.any():
            raise DataFormatError(f"no rows of the exchange {venue!r} in column {col!r}; the file's rows come from "
                                  f"{listing(found)}", {"exchange": venue, "exchanges": found},
                                  Fix("name one of them with {setting}", "exchange"))
        note = [f"kept the {int(keep.sum())} rows of exchange {venue} from column {col!r}"] if len(found) > 1 else []
        return keep, venue, note
    if len(found) <= 1:
        return None, (found[0] if found else None), []
    repeated = pd.DataFrame({"t": ts.to_numpy(), "v": names.to_numpy()}).dropna()
    if (repeated.groupby("t")["v"].nunique() > 1).any():
        raise DataFormatError(f"the rows come from {len(found)} exchanges in column {col!r} ({listing(found)}), each "
                              "with bars at the same times: one instrument's bars from two exchanges are two series",
                              {"exchanges": found}, Fix("choose one with {setting}", "exchange"))
    return None, None, [f"the rows name {len(found)} exchanges in column {col!r} ({listing(found)}), one after "
                        "another: no one of them is named as the series' exchange"]


def instrument_rows(column: pd.Series, symbol: str | None,
                    why: str = "") -> tuple[np.ndarray | None, str | None, list[str]]:
    """(mask of the chosen instrument's rows, or None for all rows; the instrument; notes) for a column
    naming each row's instrument. ``why``: what showed that the column names instruments, for messages."""
    col = str(column.name)
    names = column.astype("string").str.strip()
    found = list(dict.fromkeys(names.dropna()))
    if symbol is not None:
        keep = (names.str.upper() == symbol.strip().upper()).fillna(False).to_numpy(dtype=bool)
        if not keep.any():
            raise MultipleSymbolsError(f"no rows for {symbol!r} in column {col!r}; the file holds "
                                       f"{listing(found)}", found)
        chosen = names[keep].iloc[0]
        note = [f"kept the {int(keep.sum())} rows of {chosen} from column {col!r}{why and ', whose ' + why}"
                ] if len(found) > 1 else []
        return keep, chosen, note
    if len(found) > 1:
        raise MultipleSymbolsError(
            f"the file holds {len(found)} instruments in column {col!r} ({listing(found)})"
            f"{why and ': its ' + why + ', so the rows are several series'} (rows of different "
            "instruments are never forecast as one series)", found, CHOOSE_SYMBOL)
    return None, (found[0] if found else None), []


# A cell that holds words (a name, a ticker), not a number such as 1.5e3, 12.3M or 0.5%.
_WORD = re.compile(r"[^\W\d_]")
_NUMBER_LIKE = re.compile(r"^[-+]?[\d.,\s]*\d[\d.,\s]*(?:[eE][-+]?\d+)?\s*[KMBTkmbt%]?$")


def _holds_words(values: pd.Series) -> bool:
    """Whether some present value of a text column has letters and is neither a date nor a number written with
    a suffix."""
    # A plain loop: for the few hundred cells of a file's head it is several times faster than .str methods.
    words = []
    for value in values.dropna():
        cell = str(value).strip()
        if cell in NA_SET:
            continue
        if _WORD.search(cell) and not DATA_CELL.match(cell):  # not 2024-01-02T09:30 either
            words.append(cell)
    return bool(words) and not all(_NUMBER_LIKE.fullmatch(cell) for cell in words)


def text_columns(head: str, complete: bool, sep: str, names: list[str]) -> list[str]:
    """Columns whose first rows (the decoded head) hold words: read along with the bar columns, so that a
    column naming each row's instrument is never dropped unseen (see varying_text_column)."""
    body = head if complete else head[:max(head.rfind("\n"), head.rfind("\r"), 0)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ragged rows: the reader proper words that problem
            sample = pd.read_csv(io.StringIO(body), sep=sep, dtype=str, header=0, names=names, index_col=False,
                                 skipinitialspace=True, on_bad_lines="skip", engine="python" if sep == "|" else "c")
    except Exception:  # the head cannot be sampled: read every column, the check decides on the whole file
        return list(names)
    return [c for c in names if c in sample.columns and _holds_words(sample[c])]


def varying_text_column(df: pd.DataFrame, ts: pd.Series, used: set) -> tuple[object, str] | None:
    """(column, evidence) for a column the reader does not use whose words differ between rows that share
    a timestamp: the file holds several series, told apart only by that column. None when the times do
    not repeat (a comment column) or repeat with the same words (a file joined twice: the gate's
    duplicate check decides)."""
    dup = (ts.duplicated(keep=False) & ts.notna()).to_numpy()
    if not dup.any():
        return None
    times = ts[dup].reset_index(drop=True)
    for col in df.columns:
        if col in used or pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_datetime64_any_dtype(df[col]):
            continue
        values = df[col][dup].astype("string").str.strip().reset_index(drop=True)
        if not _holds_words(values):
            continue
        pairs = pd.DataFrame({"t": times, "v": values}).dropna()
        versions = pairs.groupby("t", sort=False)["v"].nunique()
        if not (versions > 1).any():
            continue
        t = pd.Timestamp(versions.index[versions > 1][0])
        shown = list(dict.fromkeys(pairs.loc[pairs["t"] == t, "v"]))[:2]
        when = t.date() if t == t.normalize() else t
        return col, f"values differ between rows that share a timestamp (e.g. {when}: {shown[0]!r} and {shown[1]!r})"
    return None


def listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_SYMBOLS_LISTED])
    return shown + (f" and {len(names) - MAX_SYMBOLS_LISTED} more" if len(names) > MAX_SYMBOLS_LISTED else "")


_WIDE_SEPARATORS = (":", "|", "_", ".", " ", "-", "/")


def wide_columns(names: list[str]) -> dict[str, tuple[str, str]]:
    """column -> (instrument, file's field name) when the file holds instruments side by side (each with
    its own open, high, low and close columns, no plain ones); {} otherwise."""
    if {norm(c) for c in names} & {"open", "high", "low", "close"}:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for col in names[1:]:
        for sep in _WIDE_SEPARATORS:
            if sep not in col:
                continue
            head, tail = col.rsplit(sep, 1)
            first, rest = col.split(sep, 1)
            if norm(tail) in WIDE_FIELDS and head.strip():
                found[col] = (head.strip(), tail.strip())
                break
            if norm(first) in WIDE_FIELDS and rest.strip():
                found[col] = (rest.strip(), first.strip())
                break
    complete = {sym for sym in {s for s, _ in found.values()}
                if {"open", "high", "low", "close"} <= {WIDE_FIELDS[norm(f)] for s, f in found.values() if s == sym}}
    return {c: v for c, v in found.items() if v[0] in complete}


def pick_wide(df: pd.DataFrame, wide: dict, symbol: str | None, notes: list[str]) -> tuple[pd.DataFrame, str]:
    """The columns of one instrument of a wide file, renamed to plain field names, and the instrument;
    several instruments and none chosen: MultipleSymbolsError, as for a long file."""
    found = list(dict.fromkeys(s for s, _ in wide.values()))
    example = ", ".join(repr(c) for c in list(wide)[:3])
    if symbol is None and len(found) > 1:
        raise MultipleSymbolsError(
            f"the file holds {len(found)} instruments side by side ({listing(found)}; columns like {example})",
            found, CHOOSE_SYMBOL)
    want = found[0] if symbol is None else next((s for s in found if s.upper() == symbol.strip().upper()), None)
    if want is None:
        raise MultipleSymbolsError(f"no columns for {symbol!r}; the file holds {listing(found)} side by side "
                                   f"(columns like {example})", found)
    mine = {c: f for c, (s, f) in wide.items() if s == want}
    keep = [c for c in df.columns if c not in wide or c in mine]
    out = df[keep].rename(columns=mine)
    fields = [c for c in mine.values() if norm(c) in ("open", "high", "low", "close")]
    present = out[fields].notna().any(axis=1)
    dropped = int((~present).sum())
    out = out.loc[present].reset_index(drop=True)
    notes.append(f"a wide file of {len(found)} instrument{'s' * (len(found) > 1)} side by side ({listing(found)}): "
                 f"read the columns of {want} ({', '.join(repr(c) for c in mine)})"
                 + (f"; {dropped} rows without {want} prices left out" if dropped else ""))
    return out, want
