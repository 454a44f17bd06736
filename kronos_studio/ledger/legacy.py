"""The JSON track records of earlier versions (one file per model and series under the storage root's
``trust/`` folder), brought into the ledger once. The files are left in place: nothing is lost."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from kronos_studio.evaluation.trust import TrackRecord

from .schema import DEFAULT_WORKSPACE, legacy_imports, track_records

TRUST_FOLDER = "trust"  # under the storage root, where the JSON files were written


def _parse(data: bytes) -> tuple[tuple[str, str, str, str], dict]:
    """(series, record) of one file; raises ValueError (and friends) when it is not a track record."""
    payload = json.loads(data)
    series = tuple(payload["series"])
    if len(series) != 4 or not all(isinstance(s, str) for s in series):
        raise ValueError(f"series must be [source, symbol, interval, model key], got {payload['series']!r}")
    record = TrackRecord.from_dict(payload).to_dict()  # validates it, and keeps exactly what a record holds
    return series, record


def import_files(ledger, folder: Path) -> dict[str, int]:
    counts = {"imported": 0, "kept": 0, "unreadable": 0, "already": 0}
    if not folder.is_dir():
        return counts
    done = ledger.legacy_imported()
    for path in sorted(folder.glob("*.json")):
        try:
            data = path.read_bytes()
        except OSError:
            counts["unreadable"] += 1  # tried again next time: it may be readable then
            continue
        sha = hashlib.sha256(data).hexdigest()
        if (path.name, sha) in done:
            counts["already"] += 1
            continue
        try:
            series, record = _parse(data)
        except (ValueError, KeyError, TypeError):
            series, record = None, None
        when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)

        def work(conn, name=path.name, sha=sha, series=series, record=record, when=when) -> str:
            marker = (legacy_imports.c.name == name) & (legacy_imports.c.sha256 == sha)
            if conn.execute(select(legacy_imports.c.name).where(marker)).first() is not None:
                return "already"  # another process imported it a moment ago
            if series is None:
                outcome = "unreadable"
            else:
                t = track_records.c
                have = conn.execute(select(t.id).where(t.workspace == DEFAULT_WORKSPACE, t.source == series[0],
                                                       t.symbol == series[1],
                                                       t.interval == series[2], t.model_key == series[3])).first()
                outcome = "kept" if have is not None else "imported"
                if have is None:
                    conn.execute(track_records.insert().values(source=series[0], symbol=series[1], interval=series[2],
                                                               model_key=series[3], updated_at=when, record=record))
            conn.execute(legacy_imports.insert().values(name=name, sha256=sha, outcome=outcome,
                                                        imported_at=datetime.now(timezone.utc)))
            return outcome

        counts[ledger.write(work)] += 1
    return counts
