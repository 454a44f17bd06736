"""Bars as a user hands them over (a file path, or the bytes of an upload or a request), read by
``data_sources``' reader and passed through the data-quality gate. The command line, the HTTP service
and the MCP server all read bars here, so each gives the same one-line message for the same input."""
from __future__ import annotations

from pathlib import Path


class BarsInputError(ValueError):
    """Bars that cannot be read or that the quality gate blocks; one line naming the problem and the fix."""


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
            raise BarsInputError(f"cannot read '{label}': {e}") from None
    if not Path(source).is_file():
        raise BarsInputError(f"input file '{source}' does not exist")
    try:
        return read_bars_file(Path(source), timezone=timezone, calendar=calendar, symbol=symbol)
    except Exception as e:
        raise BarsInputError(f"cannot read '{source}': {e}") from None


def quality_gate(bars, fixes: list[str] | tuple[str, ...] = ()):
    """The data-quality gate before a forecast: (bars with the accepted fixes, note and warning lines).
    Error-level findings block, in one line naming them and the fix that would clear each; the
    reader's notes (what it did with the file: which column became what) and the warnings are for the
    caller to show once the forecast succeeded, so that a failure stays one line."""
    from data_sources import apply_fixes, check_bars

    fixes = list(fixes)
    if fixes:
        try:
            bars = apply_fixes(bars, fixes)
        except ValueError as e:
            raise BarsInputError(f"cannot apply --fix {','.join(fixes)}: {e}") from None
    found = check_bars(bars)
    blocking = [f for f in found if f.severity == "error"]
    if blocking:
        parts = [f"{f.code}: {f.message}" + (f" (accept with --fix {f.fix})" if f.fix else "") for f in blocking]
        raise BarsInputError("the data-quality gate blocks the forecast: " + "; ".join(parts))
    notes = [f"kronos: note: {f.message}" for f in found if f.code == "source_note"]
    lines = notes + [f"kronos: warning: {f.code}: {f.message}" + (f" (accept with --fix {f.fix})" if f.fix else "")
                     for f in found if f.severity == "warning"]
    if bars.calendar_inferred:  # said, never silent: the calendar decides the future bar times
        lines.insert(0, f"kronos: note: {bars.calendar_inference.headline()} (pass --calendar to choose another)")
    return bars, lines
