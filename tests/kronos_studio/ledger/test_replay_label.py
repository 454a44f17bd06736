"""A replay's rows (``kronos watch --replay-from``) carry its label and stay apart from the live ones in every view:
the track record, scoring, drift, the risk record, the registry's champions and lineage; the export writes every
row with its label. A registry of 0011 keeps its entries, ids and events when the label arrives (and goes back)."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pytest
from ledger_helpers import cut, forecast, series
from test_migrations import upgrade

from kronos_studio.ledger import Ledger
from kronos_studio.ledger.engine import LedgerError, create_ledger_engine
from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey
from kronos_studio.ledger.schema import EVERY_REPLAY, LIVE

REPLAY = "watchlist 2018-05-01 to 2018-07-31"


def test_a_replayed_forecast_is_kept_apart_from_the_live_one_of_the_same_bars(ledger, tmp_path):
    bars = series(300)
    fc = forecast(bars, 250, horizon=6)
    past = ledger.replaying(REPLAY)
    live, replayed = ledger.record(fc, cut(bars, 250)), past.record(fc, cut(bars, 250))
    assert live.new and replayed.new and live.id != replayed.id  # the label is part of the forecast's key
    assert not past.record(fc, cut(bars, 250)).new  # and a replay keeps its own forecast once
    assert list(ledger.predictions_frame()["prediction_id"]) == [live.id]
    assert list(past.predictions_frame()["prediction_id"]) == [replayed.id]
    assert ledger.counts()["predictions"] == past.counts()["predictions"] == 1
    assert ledger.score(bars).steps == 6 and past.score(bars).steps == 6  # each scores its own
    assert set(ledger.evaluations_frame()["prediction_id"]) == {live.id}
    assert set(ledger.scoped("default").evaluations_frame()["prediction_id"]) == {live.id}  # scoped: still live
    with pytest.raises(LedgerError):
        past.paths(live.id)  # another label's row is not found from here
    # the export writes every row, each with its label
    n = ledger.export(tmp_path / "all.parquet")
    table = pd.read_parquet(tmp_path / "all.parquet")
    assert n == 12 and dict(table.groupby("replay")["prediction_id"].first()) == {LIVE: live.id, REPLAY: replayed.id}
    assert ledger.export(tmp_path / "live.parquet", replay=LIVE) == 6


def test_drift_and_the_risk_record_read_one_label(ledger):
    from kronos_studio.ledger.drift import drift_report
    from kronos_studio.risk.measures import RiskSettings
    from kronos_studio.risk.record import risk_record

    bars = series(300)
    past = ledger.replaying(REPLAY)
    for at in range(200, 230):
        past.record(forecast(bars, at, horizon=3, seed=at), cut(bars, at))
    past.score(bars)
    assert drift_report(ledger) == []  # nothing live
    judged = drift_report(past)
    assert [(d.symbol, d.scored) for d in judged] == [("TEST", 30)]
    assert risk_record(ledger, RiskSettings()).forecasts.empty
    assert len(risk_record(past, RiskSettings()).forecasts) == 30


def _candidate(window: str, made_by: str = "test") -> Candidate:
    t = datetime(2024, 6, 3, tzinfo=timezone.utc)
    return Candidate(SeriesKey("file", "TEST", "1h"), "tiny", "local:abc", t, t, 10, window, "/a", {}, made_by)


def test_a_replays_champions_and_lineage_never_serve_live(ledger):
    live, past = Registry(ledger), Registry(ledger.replaying(REPLAY))
    mine = past.register(_candidate("w1"))
    past.promote(mine.id, {"crps": 1.0}, "beat the base")
    same_window = live.register(_candidate("w1"))  # the same window trained live: an entry of its own
    assert same_window.id != mine.id and same_window.replay == LIVE and mine.replay == REPLAY
    assert live.champion(SeriesKey("file", "TEST", "1h")) is None  # the replay's champion does not serve live
    assert past.champion(SeriesKey("file", "TEST", "1h")).id == mine.id
    live.promote(same_window.id, {"crps": 2.0}, "beat the base")  # one champion per series and label
    assert [e.id for e in live.entries()] == [same_window.id] and [e.id for e in past.entries()] == [mine.id]
    assert {e.adapter_id for e in live.history()} == {same_window.id}
    assert {e.adapter_id for e in past.history()} == {mine.id}
    with pytest.raises(LedgerError):
        live.get(mine.id)


def test_a_replay_label_is_a_name(ledger):
    for bad in (EVERY_REPLAY, "x" * 65):
        with pytest.raises(LedgerError, match="replay's label"):
            ledger.replaying(bad)


def test_a_registry_of_0011_keeps_its_entries_ids_and_events_under_the_label_and_going_back(ledger_url):
    from alembic import command
    from sqlalchemy import select
    from test_migrations import alembic_config

    from kronos_studio.ledger.schema import adapters

    upgrade(ledger_url, "0011_series_names")
    engine = create_ledger_engine(ledger_url)
    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    common = {"kind": "lora", "workspace": "default", "source": "file", "symbol": "TEST", "interval": "1h",
              "base_model": "tiny", "base_hash": "local:abc", "first_bar_at": t0, "last_bar_at": t0,
              "window_bars": 10, "path": "/a", "settings": {}, "made_by": "kronos retrain", "created_at": t0}
    columns = [c for c in adapters.c if c.name != "replay"]  # the table as 0011 has it
    with engine.connect() as conn, conn.begin():
        for i, status in ((1, "retired"), (2, "champion")):
            conn.execute(adapters.insert().values(id=i, window_hash=f"w{i}", status=status, **common))
        conn.execute(adapters.update().where(adapters.c.id == 1).values(replaced_by=2))
        conn.execute(adapters.update().where(adapters.c.id == 2).values(parent_id=1))
        conn.exec_driver_sql("INSERT INTO adapter_events (adapter_id, workspace, at, event, by) VALUES "
                             "(1, 'default', '2024-06-03 01:00:00', 'registered', 'kronos retrain'), "
                             "(2, 'default', '2024-06-03 02:00:00', 'promoted', 'gate')")
        before = [tuple(r) for r in conn.execute(select(*columns).order_by(adapters.c.id))]
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # opening upgrades it
        registry = Registry(ledger)
        assert [(e.id, e.status, e.parent_id, e.replaced_by, e.replay) for e in registry.entries()] == [
            (1, "retired", None, 2, LIVE), (2, "champion", 1, None, LIVE)]
        assert registry.champion(SeriesKey("file", "TEST", "1h")).id == 2
        assert [(e.adapter_id, e.event) for e in registry.history()] == [(1, "registered"), (2, "promoted")]
        past = Registry(ledger.replaying(REPLAY))
        past.promote(past.register(_candidate("w2")).id, None, "replayed")  # a replay's own champion beside
        with ledger.engine.connect() as conn:
            after = [tuple(r) for r in conn.execute(select(*columns).where(adapters.c.replay == LIVE)
                                                    .order_by(adapters.c.id))]
        assert after == before
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn, conn.begin():  # down again: the replay's entry leaves with its label
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0011_series_names")
        assert [tuple(r) for r in conn.execute(select(*columns).order_by(adapters.c.id))] == before
        assert conn.exec_driver_sql("SELECT count(*) FROM adapter_events").scalar() == 2
    engine.dispose()
