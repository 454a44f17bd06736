"""The model registry on SQLite and PostgreSQL: entries round-trip, a promote retires the champion it
replaces, a rollback restores it, the database refuses a second champion, the same window is registered
once, a forecast row keeps the adapter id its provenance names, and every move is kept as an event."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from ledger_helpers import forecast, series
from sqlalchemy.exc import IntegrityError

from kronos_studio.ledger import LedgerError
from kronos_studio.ledger.registry import MANUAL, Candidate, Registry, SeriesKey
from kronos_studio.ledger.schema import adapters

KEY = SeriesKey("file", "TEST", "1h")
T0 = datetime(2024, 6, 3, tzinfo=timezone.utc)


def candidate(window: str, parent=None, series_key=KEY, **kw) -> Candidate:
    return Candidate(series_key, "studio-tiny", "local:abc", T0, T0 + timedelta(hours=99), 100, window,
                     f"/adapters/{window}", {"steps": 4, "window": 100}, "test", parent_id=parent, **kw)


def test_entries_round_trip_with_their_window_settings_and_scores(ledger):
    registry = Registry(ledger)
    entry = registry.register(candidate("w1", content_sha256="d" * 16))
    assert entry.status == "challenger" and entry.series == KEY and entry.first_bar_at == T0
    assert entry.settings == {"steps": 4, "window": 100} and entry.content_sha256 == "d" * 16
    assert registry.register(candidate("w1")).id == entry.id  # the same window: the same entry
    assert len(registry.entries(KEY)) == 1
    promoted = registry.promote(entry.id, {"crps": {"challenger": 1.0}}, "beat the base")
    assert promoted.status == "champion" and promoted.scores == {"crps": {"challenger": 1.0}}
    assert registry.champion(KEY).id == entry.id
    assert registry.champion(SeriesKey("file", "OTHER", "1h")) is None


def test_a_promote_retires_the_champion_and_a_rollback_restores_it(ledger):
    registry = Registry(ledger)
    first = registry.promote(registry.register(candidate("w1")).id, None, "gate")
    second = registry.register(candidate("w2", parent=first.id))
    registry.promote(second.id, {"crps": {}}, "gate")
    assert registry.get(first.id).status == "retired" and registry.get(first.id).replaced_by == second.id
    retired, restored = registry.rollback(KEY)
    assert (retired.id, retired.status, retired.reason) == (second.id, "retired", "rolled back")
    assert restored.id == first.id and registry.champion(KEY).id == first.id
    retired, restored = registry.rollback(KEY)  # nothing before the first: the base model serves
    assert retired.id == first.id and restored is None and registry.champion(KEY) is None
    with pytest.raises(LedgerError, match="no champion to roll back"):
        registry.rollback(KEY)


def test_a_rejected_entry_keeps_its_scores_and_reason_and_a_manual_promote_says_so(ledger):
    registry = Registry(ledger)
    entry = registry.reject(registry.register(candidate("w1")).id, {"diff_ci95": [0.1, 0.3]}, "worse than base")
    assert (entry.status, entry.scores, entry.reason) == ("rejected", {"diff_ci95": [0.1, 0.3]}, "worse than base")
    assert registry.promote(entry.id).reason == MANUAL


def test_the_database_refuses_a_second_champion_of_one_series(ledger):
    registry = Registry(ledger)
    registry.promote(registry.register(candidate("w1")).id, None, "gate")
    other = registry.register(candidate("w2"))
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(adapters.update().where(adapters.c.id == other.id).values(status="champion"))
    elsewhere = registry.register(candidate("w3", series_key=SeriesKey("file", "OTHER", "1h")))
    registry.promote(elsewhere.id, None, "gate")  # another series has a champion of its own
    assert len([e for e in registry.entries() if e.status == "champion"]) == 2


def test_workspaces_keep_registries_apart(ledger):
    mine, theirs = Registry(ledger.scoped("a")), Registry(ledger.scoped("b"))
    entry = mine.promote(mine.register(candidate("w1")).id, None, "gate")
    assert theirs.champion(KEY) is None and theirs.entries() == []
    with pytest.raises(LedgerError, match="no adapter"):
        theirs.get(entry.id)


def test_a_forecast_row_records_the_adapter_its_provenance_names(ledger):
    entry = Registry(ledger).register(candidate("w1"))
    bars = series(200)
    ledger.record(forecast(bars, 150, adapter_id=entry.id), bars)
    ledger.record(forecast(bars, 160), bars)
    frame = ledger.read(lambda conn: conn.exec_driver_sql(
        "SELECT last_close, adapter_id FROM predictions ORDER BY id").all())
    assert [r.adapter_id for r in frame] == [entry.id, None]


def test_the_history_keeps_every_move_with_what_made_it_its_reason_and_scores(ledger):
    registry = Registry(ledger)
    gate_a, gate_b = {"crps": {"challenger": 1.0, "base": 1.2}}, {"crps": {"challenger": 0.9, "champion": 1.0}}
    a = registry.register(candidate("w1"))
    registry.promote(a.id, gate_a, "beat the base")
    b = registry.register(candidate("w2", parent=a.id))
    registry.promote(b.id, gate_b, "beat adapter A")
    c = registry.register(candidate("w3", parent=b.id))
    registry.reject(c.id, {"crps": {"challenger": 1.5}}, "worse than B")
    registry.promote(c.id)  # by hand
    registry.rollback(KEY)  # C retired, B serves again

    history = [(e.adapter_id, e.event, e.by, e.reason, e.scores) for e in registry.history(KEY)]
    assert history == [
        (a.id, "registered", "test", None, None),
        (a.id, "promoted", "gate", "beat the base", gate_a),
        (b.id, "registered", "test", None, None),
        (a.id, "retired", "gate", f"replaced by adapter {b.id}", None),
        (b.id, "promoted", "gate", "beat adapter A", gate_b),
        (c.id, "registered", "test", None, None),
        (c.id, "rejected", "gate", "worse than B", {"crps": {"challenger": 1.5}}),
        (b.id, "retired", "manual", f"replaced by adapter {c.id}", None),
        (c.id, "promoted", "manual", MANUAL, None),
        (c.id, "rolled_back", "rollback", "rolled back", None),
        (b.id, "restored", "rollback", f"restored by rolling back adapter {c.id}", None),
    ]
    # The rows keep their latest state; the gate's reason of A survives its retirement in the history.
    assert registry.get(a.id).reason == f"replaced by adapter {b.id}"
    assert [e.reason for e in registry.history(entry_id=a.id)] == [None, "beat the base", f"replaced by adapter {b.id}"]
    times = [e.at for e in registry.history(KEY)]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    assert registry.history(SeriesKey("file", "OTHER", "1h")) == []
    assert Registry(ledger.scoped("elsewhere")).history(KEY) == []


def test_a_move_that_fails_writes_no_event(ledger):
    registry = Registry(ledger)
    entry = registry.promote(registry.register(candidate("w1")).id, None, "gate")
    with pytest.raises(LedgerError, match="roll it back"):
        registry.reject(entry.id, None, "worse")
    with pytest.raises(LedgerError, match="made by 'gate' or 'manual'"):
        registry.promote(registry.register(candidate("w2")).id, None, "gate", by="cron")
    assert [e.event for e in registry.history(KEY)] == ["registered", "promoted", "registered"]
