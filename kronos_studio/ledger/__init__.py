"""The forecast ledger: every forecast kept in a database, scored when the bars it forecast arrive;
the realized track record the app's Track record page, the badge and the ensemble's meta-learner read.

``Ledger.open()`` opens ``$KRONOS_STUDIO_DB`` (any SQLAlchemy URL, e.g. PostgreSQL for a team) or a
SQLite file under the storage root; ``evaluations_frame()`` is the scored track record as a table.
"""
from .engine import DB_FILE, ENV_DB, LedgerError, ledger_url, shown_url
from .store import Ledger, Recorded, ScoreReport

__all__ = ["DB_FILE", "ENV_DB", "Ledger", "LedgerError", "Recorded", "ScoreReport", "evaluations_frame",
           "ledger_url", "shown_url"]


def evaluations_frame(url: str | None = None, **filters):
    """The scored (prediction, step) rows of the ledger at ``url`` (default: ``ledger_url()``), one per
    row, with each prediction's series, model and settings (``Ledger.evaluations_frame``)."""
    with Ledger.open(url) as ledger:
        return ledger.evaluations_frame(**filters)
