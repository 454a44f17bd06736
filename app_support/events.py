"""Event markers for the fan chart: (timestamp, label) pairs. Typed by the user for now; the event
calendar (issue 6) will supply the same pairs."""
from __future__ import annotations

import pandas as pd


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
