"""Issue 56: the ledger keeps which covariates a forecast was conditioned on (``predictions.covariates``,
migration 0010), and two forecasts that differ only in their covariates are two rows, on SQLite and PostgreSQL."""
from __future__ import annotations

from ledger_helpers import cut, forecast, series
from sqlalchemy import inspect, select
from test_migrations import alembic_config, upgrade

from kronos_studio.ledger import Ledger
from kronos_studio.ledger.engine import create_ledger_engine
from kronos_studio.ledger.schema import HEAD, predictions
from kronos_studio.ledger.store import schema_revision

SPX = {"ref": "S&P 500 index daily 1999-2018 (arch)", "series": "^GSPC", "interval": "1d", "content_hash": "a" * 64}
NDX = {**SPX, "ref": "NASDAQ Composite daily 1999-2018 (arch)", "series": "^IXIC", "content_hash": "b" * 64}


def stored_covariates(ledger) -> list:
    with ledger.engine.connect() as conn:
        return [r.covariates for r in conn.execute(select(predictions.c.covariates).order_by(predictions.c.id))]


def test_the_covariates_are_recorded_and_only_covariates_apart_is_another_forecast(ledger):
    bars = series(300)
    plain = forecast(bars, 250)  # the same paths each time: only the covariates tell them apart
    with_spx = forecast(bars, 250, conditioned_on=[SPX], known_future=["fomc"])
    with_ndx = forecast(bars, 250, conditioned_on=[NDX], known_future=["fomc"])
    alone = forecast(bars, 250, conditioned_on=[], known_future=[])
    ids = [ledger.record(fc, cut(bars, 250)).id for fc in (plain, with_spx, with_ndx, alone)]
    assert len(set(ids)) == 4
    assert ledger.record(with_spx, cut(bars, 250)).id == ids[1]  # the same conditioned forecast again: one row
    assert stored_covariates(ledger) == [None, {"series": [SPX], "known_future": ["fomc"]},
                                         {"series": [NDX], "known_future": ["fomc"]},
                                         {"series": [], "known_future": []}]


def test_a_ledger_at_0009_gets_the_column_and_goes_back_keeping_its_rows(ledger_url):
    from alembic import command

    upgrade(ledger_url, "0009_adapter_events")
    engine = create_ledger_engine(ledger_url)
    assert "covariates" not in {c["name"] for c in inspect(engine).get_columns("predictions")}
    engine.dispose()
    bars = series(300)
    with Ledger.open(ledger_url) as ledger:  # opening upgrades it
        assert schema_revision(ledger) == HEAD
        pid = ledger.record(forecast(bars, 250, conditioned_on=[SPX]), cut(bars, 250)).id
        assert stored_covariates(ledger) == [{"series": [SPX], "known_future": []}]
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn, conn.begin():
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0009_adapter_events")
    assert "covariates" not in {c["name"] for c in inspect(engine).get_columns("predictions")}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT id FROM predictions").scalar_one() == pid
    engine.dispose()
