"""Alembic environment of the ledger. The ledger runs it itself on open (``kronos_studio.ledger.store``),
handing over a connection already inside a locked transaction; run from the ``alembic`` command line
(e.g. ``alembic revision --autogenerate`` while writing a new migration) it opens the ledger's URL."""
from alembic import context

from kronos_studio.ledger.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:
    # Batch mode: SQLite alters a table by copying it, which later migrations will need.
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    from kronos_studio.ledger.engine import create_ledger_engine, ledger_url

    engine = create_ledger_engine(config.get_main_option("sqlalchemy.url") or ledger_url())
    with engine.connect() as conn, conn.begin():
        run(conn)
    engine.dispose()
