"""Bars as a user hands them over (a file path, or the bytes of an upload or a request), read by
``data_sources``' reader and passed through the data-quality gate. The command line, the HTTP service
and the MCP server all read bars here, so each gives the same problem for the same input, worded with its
own names for the settings that fix it (``kronos.errors``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from data_sources.files import read_bars_file
from kronos.errors import Fix, Notice, UserError


class BarsInputError(UserError, ValueError):
    """Bars that cannot be read or that the quality gate blocks; the problem, its values and the fixes."""


def _cannot_read(label, e: Exception) -> BarsInputError:
    if isinstance(e, UserError):  # the reader's own fixes (e.g. choose the symbol) travel on
        return BarsInputError(f"cannot read '{label}': {e.problem}", e.values, e.fix)
    return BarsInputError(f"cannot read '{label}': {e}")


def accept(fix_code: str) -> Fix:
    """The remedy of a finding that a gate fix clears: accept it."""
    return Fix("accept with {setting}", "fix", fix_code)


def finding_notice(f, kind: str = "warning") -> Notice:
    """A quality finding as a notice: its code and message, its remedies, the gate fix that clears it."""
    return Notice(f"{f.code}: {f.problem}", f.remedy + ((accept(f.fix),) if f.fix else ()), kind)


def read_bars(source, name: str | None = None, *, timezone: str | None = None, calendar: str | None = None,
              symbol: str | None = None, exchange: str | None = None):
    """A ``data_sources.Bars`` from ``source``: a path, or the bytes of a CSV/Parquet file called ``name``. The
    series is ``symbol`` (or the file's symbol column's), else named after the file (``Bars.naming`` says so);
    ``exchange``: where its bars come from, when known (a file's exchange column says it too)."""
    if isinstance(source, (bytes, bytearray)):
        label = name or "bars"
        try:
            return read_bars_file(bytes(source), label, timezone=timezone, calendar=calendar, symbol=symbol,
                                  exchange=exchange)
        except Exception as e:
            raise _cannot_read(label, e) from None
    if not Path(source).is_file():
        raise BarsInputError(f"input file '{source}' does not exist")
    try:
        return read_bars_file(Path(source), timezone=timezone, calendar=calendar, symbol=symbol, exchange=exchange)
    except Exception as e:
        raise _cannot_read(source, e) from None


DEFAULT_TEXT_SERIES = "bars"  # the series of CSV text sent without a symbol (and without a symbol column)


def read_csv_text(text: str, *, symbol: str | None = None, exchange: str | None = None, timezone: str | None = None,
                  calendar: str | None = None):
    """Bars from CSV text as a request sends it: no file name, so its series is the ``symbol`` it is sent with, its
    symbol column's, or ``DEFAULT_TEXT_SERIES`` (``Bars.naming`` says so)."""
    bars = read_bars(text.encode(), f"{symbol or DEFAULT_TEXT_SERIES}.csv", timezone=timezone, calendar=calendar,
                     symbol=symbol, exchange=exchange)
    if bars.naming is not None:
        bars = dataclasses.replace(bars, naming="by default: the CSV text came without a symbol")
    return bars


def naming_notice(bars) -> Notice | None:
    """What the user should know of a series no one named (``Bars.naming``): the name the ledger and the registry
    keep it under, and how to give it one. None when the series was named."""
    if bars.naming is None:
        return None
    return Notice(f"the series is named {bars.series_symbol!r} {bars.naming} (its forecasts, scores and champion are "
                  "kept under this name)", (Fix("name it yourself with {setting}", "symbol"),), "note")


def quality_gate(bars, fixes: list[str] | tuple[str, ...] = ()):
    """The data-quality gate before a forecast: (bars with the accepted fixes, notes and warnings as
    ``kronos.errors.Notice``). Error-level findings block, in one error naming them and the fix that would
    clear each; the reader's notes (what it did with the file: which column became what) and the warnings
    are for the caller to word and show once the forecast succeeded, so that a failure stays one line."""
    from data_sources import apply_fixes, check_bars

    fixes = list(fixes)
    if fixes:
        try:
            bars = apply_fixes(bars, fixes)
        except ValueError as e:
            raise BarsInputError(f"cannot apply the fixes {','.join(fixes)}: {e}", {"fixes": fixes}) from None
    found = check_bars(bars)
    blocking = [f for f in found if f.severity == "error"]
    if blocking:
        # One error: the blocking findings with their remedies, in the order found.
        fix = tuple(x for f in blocking for x in finding_notice(f).fix)
        raise BarsInputError("the data-quality gate blocks the forecast: " + "; ".join(
            f"{f.code}: {f.problem}" for f in blocking), {"findings": [f.code for f in blocking]}, fix)
    notices = [Notice(f.message, kind="note") for f in found if f.code == "source_note"]
    notices += [finding_notice(f) for f in found if f.severity == "warning"]
    if bars.calendar_inferred:  # said, never silent: the calendar decides the future bar times
        notices.insert(0, Notice(bars.calendar_inference.headline(),
                                 (Fix("pass {setting} to choose another", "calendar"),), "note"))
    named = naming_notice(bars)
    if named is not None:  # said, never silent: the name decides which forecasts these bars score
        notices.insert(0, named)
    return bars, notices
