"""Event markers for the fan chart: (timestamp, label) pairs. Typed by the user for now; the event
calendar (issue 6) will supply the same pairs."""
from __future__ import annotations

from kronos.lazy import pd


def parse_events(text: str) -> tuple[list[tuple[pd.Timestamp, str]], list[str]]:
    """Lines like ``2013-04-23, Earnings`` or ``2024-07-03 14:00; FOMC``: (events, unreadable lines)."""
    events, bad = [], []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for sep in (",", ";", "\t"):
            if sep in line:
                when, label = line.split(sep, 1)
                break
        else:
            when, label = line, ""
        try:
            events.append((pd.Timestamp(when.strip()), label.strip() or when.strip()))
        except (ValueError, TypeError):
            bad.append(line)
    return events, bad


def in_window(events: list[tuple[pd.Timestamp, str]], start, end) -> list[tuple[pd.Timestamp, str]]:
    """The events from ``start`` to ``end`` (a forecast's first history bar to its last forecast bar): what
    its provenance lists, not a whole calendar (220 macro events of 2022-2026 for a 2013 forecast). Naive
    event times are read in the bounds' zone."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)

    def comparable(t: pd.Timestamp) -> pd.Timestamp:
        t = pd.Timestamp(t)
        if t.tzinfo is None and start.tzinfo is not None:
            return t.tz_localize(start.tzinfo)
        if t.tzinfo is not None and start.tzinfo is None:
            return t.tz_localize(None)
        return t

    return [(t, label) for t, label in events if start <= comparable(t) <= end]
