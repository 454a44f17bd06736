"""A recalibrated risk model's state in the ledger (issue 66): kept per workspace, series, model and horizon, on
SQLite and PostgreSQL, replaced whole by each update; a ledger of the previous version gains the table and keeps
its rows, and going back down removes it."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import inspect
from test_migrations import alembic_config, upgrade

from kronos_studio.ledger import Ledger
from kronos_studio.ledger.engine import create_ledger_engine
from kronos_studio.ledger.registry import SeriesKey
from kronos_studio.ledger.risk_state import RiskStates
from kronos_studio.ledger.schema import HEAD
from kronos_studio.ledger.store import schema_revision

SERIES = SeriesKey("file", "SPX", "1d")


def test_a_state_is_kept_per_workspace_series_model_and_horizon_and_replaced_whole(ledger):
    states = RiskStates(ledger)
    when = datetime(2018, 12, 28, 21, tzinfo=timezone.utc)
    assert states.get(SERIES, "abc", 1) is None
    states.put(SERIES, "gjr_garch, recalibrated", "abc", 1, {"alphas": {"long_0.99": 0.008}, "outcomes": 3}, when)
    states.put(SERIES, "gjr_garch, recalibrated", "abc", 5, {"alphas": {}, "outcomes": 0}, None)
    got = states.get(SERIES, "abc", 1)
    assert got.state == {"alphas": {"long_0.99": 0.008}, "outcomes": 3} and got.through == when
    assert got.model == "gjr_garch, recalibrated" and got.horizon == 1
    states.put(SERIES, "gjr_garch, recalibrated", "abc", 1, {"alphas": {"long_0.99": 0.009}, "outcomes": 4}, when)
    assert states.get(SERIES, "abc", 1).state == {"alphas": {"long_0.99": 0.009}, "outcomes": 4}
    assert states.get(SERIES, "abc", 5).state["outcomes"] == 0
    assert states.get(SeriesKey("file", "NDX", "1d"), "abc", 1) is None
    other = RiskStates(ledger.scoped("desk-fx"))
    assert other.get(SERIES, "abc", 1) is None  # another workspace learns its own
    other.put(SERIES, "gjr_garch, recalibrated", "abc", 1, {"outcomes": 1}, when)
    assert states.get(SERIES, "abc", 1).state["outcomes"] == 4 and other.get(SERIES, "abc", 1).state["outcomes"] == 1
    assert [s.horizon for s in states.all(SERIES)] == [5, 1]  # oldest update first


def test_a_ledger_of_the_previous_version_gains_the_table_and_going_down_removes_it(ledger_url):
    from alembic import command

    upgrade(ledger_url, "0010_covariates")
    engine = create_ledger_engine(ledger_url)
    assert "risk_state" not in inspect(engine).get_table_names()
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:
        assert schema_revision(ledger) == HEAD
        RiskStates(ledger).put(SERIES, "m", "abc", 1, {"outcomes": 1}, None)
    engine = create_ledger_engine(ledger_url)
    with engine.connect() as conn, conn.begin():
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0010_covariates")
    assert "risk_state" not in inspect(engine).get_table_names()
    engine.dispose()
