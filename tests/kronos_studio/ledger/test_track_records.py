"""Track records (the badge beside the fan) in the ledger, and the JSON files earlier versions kept
under the storage root imported once: every record kept, none imported twice, a newer one never
overwritten by an old file, the files left in place."""
from __future__ import annotations

import json

import numpy as np

from kronos_studio.evaluation.calibration import FanCalibration
from kronos_studio.evaluation.trust import TrackRecord

SERIES = [("sample", "AAPL daily", "1d", "bundled:studio-tiny"), ("yfinance", "MSFT", "1h", "official:small"),
          ("file", "mine", "1d", "folder:/models/x")]


def record(coverage: float, calibrated: bool = True) -> TrackRecord:
    cal = FanCalibration("close", np.array([0.1, 0.5, 0.9]), np.array([[-0.01, -0.02], [0.0, 0.001], [0.01, 0.02]]),
                         12) if calibrated else None
    return TrackRecord({"coverage": coverage, "nominal": 0.8, "cutoffs": 12}, {"horizon": 2, "temperature": 1.0},
                       cal, ["a note"])


def write_legacy(folder, series, rec: TrackRecord, name: str) -> None:
    """What app_support.trust.Reports wrote before the ledger: one JSON file per model and series."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({"series": list(series), **rec.to_dict()}, default=float))


def test_latest_track_record_per_series_and_model(ledger):
    key = SERIES[0]
    assert ledger.track_record(key) is None
    ledger.put_track_record(key, record(0.6).to_dict())
    ledger.put_track_record(key, record(0.7).to_dict())  # the latest replaces the previous
    ledger.put_track_record(SERIES[1], record(0.9, calibrated=False).to_dict())
    back = TrackRecord.from_dict(ledger.track_record(key))
    assert back.numbers["coverage"] == 0.7 and back.notes == ["a note"]
    np.testing.assert_array_equal(back.calibration.shifts, record(0.7).calibration.shifts)
    assert ledger.counts()["track_records"] == 2


def test_old_json_track_records_are_imported_once_and_nothing_is_lost(ledger, tmp_path):
    folder = tmp_path / "trust"
    for i, key in enumerate(SERIES):
        write_legacy(folder, key, record(0.5 + i / 10), f"{i}.json")
    (folder / "broken.json").write_text("{not json")
    ledger.put_track_record(SERIES[2], record(0.95).to_dict())  # the ledger's own, newer than the file

    counts = ledger.import_track_record_files(folder)
    assert counts == {"imported": 2, "kept": 1, "unreadable": 1, "already": 0}
    for i, key in enumerate(SERIES[:2]):
        back = TrackRecord.from_dict(ledger.track_record(key))
        assert back.numbers["coverage"] == 0.5 + i / 10 and back.settings == {"horizon": 2, "temperature": 1.0}
        np.testing.assert_array_equal(back.calibration.levels, [0.1, 0.5, 0.9])
    assert TrackRecord.from_dict(ledger.track_record(SERIES[2])).numbers["coverage"] == 0.95

    assert ledger.import_track_record_files(folder) == {"imported": 0, "kept": 0, "unreadable": 0, "already": 4}
    ledger.put_track_record(SERIES[0], record(0.3).to_dict())  # a newer evaluation after the import
    assert ledger.import_track_record_files(folder)["already"] == 4  # the old file does not come back over it
    assert TrackRecord.from_dict(ledger.track_record(SERIES[0])).numbers["coverage"] == 0.3
    assert sorted(p.name for p in folder.iterdir()) == ["0.json", "1.json", "2.json", "broken.json"]  # left in place
    assert ledger.import_track_record_files(tmp_path / "no such folder") == {"imported": 0, "kept": 0,
                                                                             "unreadable": 0, "already": 0}
