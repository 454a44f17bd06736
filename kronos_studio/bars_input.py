"""Bars as a user hands them over (a file path, or the bytes of an upload or a request), read by
``data_sources``' reader and passed through the data-quality gate. The command line, the HTTP service
and the MCP server all read bars here, so each gives the same problem for the same input, worded with its
own names for the settings that fix it (``kronos.errors``)."""
from __future__ import annotations

from pathlib import Path

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
              symbol: str | None = None):
    """A ``data_sources.Bars`` from ``source``: a path, or the bytes of a CSV/Parquet file called ``name``
    (the series is named after it unless ``symbol`` is given)."""
    from data_sources.files import read_bars_file

    if isinstance(source, (bytes, bytearray)):
        label = name or "bars"
        try:
            return read_bars_file(bytes(source), label, timezone=timezone, calendar=calendar, symbol=symbol)
        except Exception as e:
            raise _cannot_read(label, e) from None
    if not Path(source).is_file():
        raise BarsInputError(f"input file '{source}' does not exist")
    try:
        return read_bars_file(Path(source), timezone=timezone, calendar=calendar, symbol=symbol)
    except Exception as e:
        raise _cannot_read(source, e) from None


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
    return bars, notices
