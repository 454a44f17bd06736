"""Workspaces in the ledger (migration 0005): rows kept before it belong to the default workspace, and a
scoped ledger records into, reads, scores and deletes its own workspace's rows only."""
from __future__ import annotations

import pytest
from ledger_helpers import cut, forecast, series
from test_migrations import upgrade

from kronos_studio.ledger import Ledger, LedgerError
from kronos_studio.ledger.engine import create_ledger_engine
from kronos_studio.ledger.rows import prediction_row
from kronos_studio.ledger.schema import DEFAULT_WORKSPACE, prediction_paths, predictions

SERIES = ("file", "TEST", "1h", "folder:x")


def test_rows_kept_before_workspaces_belong_to_the_default_one(ledger_url):
    upgrade(ledger_url, "0004_history_fingerprint")
    bars = series(300)
    fc = forecast(bars, 250, horizon=6)
    row, paths = prediction_row(fc, cut(bars, 250))
    row.pop("workspace"), row.pop("adapter_id"), row.pop("covariates"), row.pop("replay")  # 0006, 0008, 0010, 0011
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn, conn.begin():
        pid = conn.execute(predictions.insert().values(**row).returning(predictions.c.id)).scalar_one()
        conn.execute(prediction_paths.insert().values(prediction_id=pid, **paths))
    engine.dispose()

    with Ledger.open(ledger_url) as ledger:
        mine, theirs = ledger.scoped(DEFAULT_WORKSPACE), ledger.scoped("research")
        assert list(mine.predictions_frame()["prediction_id"]) == [pid]
        assert theirs.predictions_frame().empty and theirs.counts()["predictions"] == 0
        assert mine.record(fc, cut(bars, 250)).id == pid  # the same forecast, the same key as before 0005
        assert theirs.score(bars).steps == 0 and mine.score(bars).steps == 6
        assert theirs.evaluations_frame().empty and len(mine.evaluations_frame()) == 6


def test_a_scoped_ledger_keeps_to_its_workspace(ledger):
    bars = series(300)
    fc = forecast(bars, 250, horizon=4)
    a, b = ledger.scoped("team-a"), ledger.scoped("team-b")
    in_a, in_b = a.record(fc, cut(bars, 250)), b.record(fc, cut(bars, 250))
    assert in_a.new and in_b.new and in_a.id != in_b.id  # each workspace keeps its own copy
    assert set(ledger.predictions_frame()["prediction_id"]) == {in_a.id, in_b.id}  # unscoped: every workspace
    assert list(a.predictions_frame()["prediction_id"]) == [in_a.id]
    assert a.series_frame()["predictions"].tolist() == [1] and a.pending_series()["predictions"].tolist() == [1]
    with pytest.raises(LedgerError):
        b.paths(in_a.id)
    with pytest.raises(LedgerError):
        b.delete(in_a.id)
    a.delete(in_a.id)
    assert a.predictions_frame().empty and list(b.predictions_frame()["prediction_id"]) == [in_b.id]

    a.put_track_record(SERIES, {"coverage": 0.8})
    b.put_track_record(SERIES, {"coverage": 0.6})
    assert a.track_record(SERIES) == {"coverage": 0.8} and b.track_record(SERIES) == {"coverage": 0.6}
    assert ledger.track_record(SERIES) is None  # the default workspace has none
