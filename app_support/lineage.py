"""The Fine-tune page's registry section: the series' lineage (every adapter ``kronos retrain`` trained
for it, with its decision and scores) and "Retrain now" (the gated retrain, ``kronos_studio.training.retrain``)."""
from __future__ import annotations

import pandas as pd

from . import ledger as app_ledger
from .models import load_model

COLUMNS = ["id", "status", "parent", "trained on", "CRPS % challenger", "CRPS % champion", "CRPS % base",
           "decided", "reason"]


def lineage(bars) -> pd.DataFrame | None:
    """One row per registry entry of ``bars``' series in this session's workspace, newest first (None when
    the ledger is unavailable)."""
    from kronos_studio.ledger.registry import Registry, SeriesKey

    book = app_ledger.ledger()
    if book is None:
        return None
    rows = []
    for e in reversed(Registry(book).entries(SeriesKey.of(bars))):
        crps = (e.scores or {}).get("crps", {})
        rows.append([e.id, e.status, e.parent_id, f"{e.first_bar_at:%Y-%m-%d %H:%M} to {e.last_bar_at:%Y-%m-%d %H:%M}",
                     crps.get("challenger"), crps.get("champion"), crps.get("base"),
                     None if e.decided_at is None else f"{e.decided_at:%Y-%m-%d %H:%M}", e.reason])
    return pd.DataFrame(rows, columns=COLUMNS)


def retrain_now(choice, bars, horizon: int, progress=None):
    """The gated retrain of ``bars``' series at its last bar on ``choice``'s model: the decision (the JSON
    entry ``kronos retrain`` writes). Raises ``RetrainError`` / ``SeriesLocked`` / ``LedgerError`` with
    messages meant for the user."""
    from kronos_studio.ledger import LedgerError
    from kronos_studio.training.retrain import Retrainer, RetrainSettings

    book = app_ledger.ledger()
    if book is None:
        raise LedgerError(f"the forecast ledger is unavailable ({app_ledger.problem()}): it keeps the registry")
    retrainer = Retrainer(load_model(choice), bars, book, RetrainSettings(horizon=horizon))
    return retrainer.run(retrainer.points(), progress=progress).decisions[-1]
