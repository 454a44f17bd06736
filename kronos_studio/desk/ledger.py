"""The ledger as the faces reach it, through the desk: the one way to open it (``open_ledger``), where it is
(``ledger_place``) and what it holds (``ledger_info``), the track records an earlier version kept in files
(``import_old_track_records``), and the names a face must know of it: its error (``LedgerError``), the default
workspace, and how its messages count (``counted``); the watches' book (``WatchBook``, ``live_watches``, a watch's
status ``ACTIVE``/``PAUSED``), the replays it keeps (``replays``) and what a replay's view says first
(``replay_notices``); the tables and the registry's class the service reads its keys and public ids from
(``api_keys``, ``predictions``, ``Registry``). The use cases over an open ledger are the desk's
(``Desk.record``, ``score``, ``track_record``, ``predictions``, ``steps``, ``drift``, ``adapters``, ...).

Importing this module imports the ledger package (SQLAlchemy, pandas): a face imports it where it opens or words the
ledger, never to draw its options (the requests are in the desk's light modules)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from data_sources.storage import storage_path
from kronos.errors import Notice
from kronos_studio.ledger import Ledger, LedgerError, ledger_url, shown_url
from kronos_studio.ledger.frames import replays
from kronos_studio.ledger.legacy import TRUST_FOLDER
from kronos_studio.ledger.registry import Registry
from kronos_studio.ledger.schema import ACTIVE, DEFAULT_WORKSPACE, PAUSED, api_keys, predictions
from kronos_studio.ledger.store import replay_notices, schema_revision
from kronos_studio.ledger.watches import WatchBook, live_watches

from .cells import counted

__all__ = ["ACTIVE", "DEFAULT_WORKSPACE", "PAUSED", "LedgerError", "LedgerInfo", "Place", "Registry", "WatchBook",
           "api_keys", "counted", "import_old_track_records", "ledger_info", "ledger_place", "live_watches",
           "open_ledger", "predictions", "replay_notices", "replays"]


def open_ledger(url: str | None = None, workspace: str | None = None) -> Ledger:
    """The ledger at ``url`` (None: ``$KRONOS_STUDIO_DB``, else the SQLite file under the storage root), made or
    migrated to the current schema; ``workspace``: only that workspace's rows (None: every workspace's, the
    command line's reading of a whole ledger). A ``LedgerError`` naming the fix when it cannot be opened."""
    return Ledger.open(url, workspace)


@dataclass(frozen=True)
class Place:
    """Where a ledger is: the URL it opens (``url``) and as a message may show it (``shown``: a password hidden)."""

    url: str
    shown: str

    def unmade(self) -> bool:
        """Whether it is a SQLite file not made yet, with no old track record waiting to come in: it holds no
        forecast to score, so making it (its migrations) can wait for the first forecast it records."""
        try:
            parsed = make_url(self.url)
        except ArgumentError:  # opening it says why
            return False
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
            return False
        old = storage_path(TRUST_FOLDER)
        return not Path(parsed.database).expanduser().exists() and not (old.is_dir() and any(old.iterdir()))


def ledger_place(url: str | None = None) -> Place:
    """Where the ledger at ``url`` (None: ``$KRONOS_STUDIO_DB``, else the SQLite file) is, read now."""
    url = url or ledger_url()
    return Place(url, shown_url(url))


def import_old_track_records(ledger: Ledger) -> dict[str, int]:
    """Bring the walk-forward track records earlier versions kept as JSON files under the storage root into
    ``ledger``, once (the files stay): counts by outcome."""
    return ledger.import_track_record_files(storage_path(TRUST_FOLDER))


@dataclass
class LedgerInfo:
    """Where a ledger is (``where``: its URL as shown), its schema revision, how many forecasts, scored steps and
    walk-forward track records it holds (``counts``), and its series (one row each: source, symbol, interval,
    predictions, models, latest)."""

    where: str
    schema: str | None
    counts: dict
    series: object
    notices: list[Notice] = field(default_factory=list)


def ledger_info(desk, *, ledger: Ledger) -> LedgerInfo:
    """What ``ledger`` is and holds (its workspace's, when scoped)."""
    return LedgerInfo(shown_url(ledger.url), schema_revision(ledger), ledger.counts(), ledger.series_frame())
