"""The forecast ledger: every forecast kept in a database, scored when the bars it forecast arrive;
the realized track record the app's Track record page, the badge and the ensemble's meta-learner read.

``Ledger.open()`` opens ``$KRONOS_STUDIO_DB`` (any SQLAlchemy URL, e.g. PostgreSQL for a team) or a
SQLite file under the storage root; ``evaluations_frame()`` is the scored track record as a table.

``import kronos_studio.ledger`` imports no database layer (SQLAlchemy, ~0.6 s): its names are loaded when first
named (PEP 562), so a light module of the package (``drift_window``: the drift tests' window) bounds a face's
option for free."""
from __future__ import annotations

import importlib

# name -> the module of this package it lives in (its one home)
_HOMES = {**dict.fromkeys(("DB_FILE", "ENV_DB", "LedgerError", "ledger_url", "shown_url"), "engine"),
          **dict.fromkeys(("Ledger", "Recorded", "ScoreReport"), "store")}

__all__ = ["DB_FILE", "ENV_DB", "Ledger", "LedgerError", "Recorded", "ScoreReport", "evaluations_frame",
           "ledger_url", "shown_url"]


def evaluations_frame(url: str | None = None, **filters):
    """The scored (prediction, step) rows of the ledger at ``url`` (default: ``ledger_url()``), one per
    row, with each prediction's series, model and settings (``Ledger.evaluations_frame``)."""
    from .store import Ledger

    with Ledger.open(url) as ledger:
        return ledger.evaluations_frame(**filters)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value  # read once
    return value
