"""Every ledger test runs on SQLite and on PostgreSQL. ``scripts/test.sh`` starts a throwaway PostgreSQL
server (Debian's package) and exports KRONOS_STUDIO_TEST_PG; without it the PostgreSQL cases skip on a
developer's machine and fail in CI, where they must run."""
from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ledger_helpers, beside this file

PG_ENV = "KRONOS_STUDIO_TEST_PG"
NO_PG = f"no PostgreSQL server for the ledger tests: {PG_ENV} is not set (bash scripts/test.sh starts one)"


def postgres_database():
    """A new, empty database on the test server (dropped afterwards): its URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    server = os.environ.get(PG_ENV)
    if not server:
        if os.environ.get("CI"):
            pytest.fail(NO_PG)
        pytest.skip(NO_PG)
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    """The URL of an empty ledger database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        yield from postgres_database()


@pytest.fixture
def ledger(ledger_url):
    from kronos_studio.ledger import Ledger

    with Ledger.open(ledger_url) as opened:
        yield opened
