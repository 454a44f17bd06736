"""A request's series (``schemas.BatchSeries``: CSV text under a name, or a source's symbol) as a watchlist's
entries, checked before a job starts, and their CSV texts written into the job's folder when it runs: what a screen,
a rank evaluation and a watchlist retrain job share."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from kronos_studio.desk import Entry, Limits

from .errors import ServiceError

SERIES_NAME_CHARS = "A-Za-z0-9_.-"
INPUTS = "inputs"  # the job's folder of the request's CSV texts, one file per series


def series_entries(desk, series, limits: Limits) -> tuple[tuple[Entry, ...], dict[str, str]]:
    """A request's series (``schemas.BatchSeries``) checked now (a bad one is a 422, too many or too long a 413,
    before any job starts): (their watchlist entries, a CSV text's naming its file in the folder ``placed`` writes
    it to; the CSV texts by series name)."""
    limits.check_series(len(series))
    files, symbols = {}, []
    for i, s in enumerate(series, 1):
        if (s.bars_csv is None) == (s.source is None):
            raise ServiceError(422, f"series {i}: give either bars_csv or source + symbol + interval")
        if s.bars_csv is not None:
            name = s.name or f"series{i}"
            if not re.fullmatch(f"[{SERIES_NAME_CHARS}]{{1,100}}", name):
                raise ServiceError(422, f"series {i}: name '{name}' may use only letters, digits, '_', '.', '-'")
            if name in files:
                raise ServiceError(422, "two series share a name: give each a name of its own")
            limits.check_csv_lines(s.bars_csv, name)  # each series' bars, as one forecast's are bounded
            files[name] = s.bars_csv
        elif not s.symbol or not s.interval:
            raise ServiceError(422, f"series {i}: source '{s.source}' needs a symbol and an interval")
        else:
            symbols.append((s.source, s.symbol, s.interval, s.exchange))
    return tuple(Entry(series=name, file=f"{name}.csv") for name in files) + desk.watchlist(symbols), files


def placed(entries, texts: dict[str, str], folder: Path) -> tuple[Entry, ...]:
    """``entries`` with the request's CSV ``texts`` written into ``folder``'s inputs, each file entry naming its."""
    inputs = folder / INPUTS
    inputs.mkdir()
    for name, text in texts.items():
        (inputs / f"{name}.csv").write_text(text)
    return tuple(e if e.file is None else dataclasses.replace(e, file=str(inputs / e.file)) for e in entries)
