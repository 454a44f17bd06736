"""The desk's risk record (``Desk.risk_record`` delegates here): the forecasts a ledger keeps, judged as VaR/ES
forecasts once their horizon's bar has arrived (``kronos_studio.risk.record``), as a result with its notices and
as the one JSON body every face answers with (``record_body``): ``kronos ledger exceptions --json``, the
``exceptions`` of ``GET /v1/ledger/track-record`` and of the MCP tool ``track_record``."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Notice
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.record import RiskRecord, reading_columns
from kronos_studio.risk.record import risk_record as judged

from .risk import plain

# The per-forecast columns the body carries (besides each position's and level's readings).
FORECAST_COLUMNS = ("prediction_id", "workspace", "source", "symbol", "interval", "model", "last_bar_at", "horizon_bar_at",
                    "horizon", "paths", "last_close", "realized_return", "used")


@dataclass
class RiskRecorded:
    """A ledger's risk record (``RiskRecord``) and what its reader should know."""

    record: RiskRecord
    notices: list[Notice] = field(default_factory=list)


def risk_record(ledger, risk: RiskSettings, *, experiments: bool = False, **filters) -> RiskRecorded:
    """``kronos_studio.risk.record.risk_record`` of ``ledger`` (scoped to the caller's workspace by the face)
    at ``risk``'s levels and positions; ``filters``: the ledger's (source, symbol, interval, models, replay, since:
    a ``LedgerQuery``'s)."""
    from kronos_studio.ledger.store import replay_notices

    record = judged(ledger, risk, experiments=experiments, **filters)
    said = [Notice(f"{record.experiments_left_out} forecasts at non-default sampling settings are left out",
                   kind="note", values={"experiments_left_out": record.experiments_left_out})
            ] if record.experiments_left_out else []
    replayed = replay_notices(filters.get("replay", getattr(ledger, "replay", "")))  # a replay in the training period
    return RiskRecorded(record, replayed + said + record.notices)


def record_body(done: RiskRecorded) -> dict:
    """The one JSON answer of a risk record: the levels and positions asked, per workspace, series and model each
    position's and level's exceptions against the expected count with the tests (``tests``), and per scored
    forecast its realized horizon return, VaR, ES and exceptions (``forecasts``). The notices are each face's to
    word."""
    r = done.record
    f = r.forecasts
    forecasts = f[[*FORECAST_COLUMNS, *reading_columns(r.settings)]].astype(object).to_dict("records")
    return plain({"levels": list(r.settings.levels), "positions": list(r.settings.positions),
                  "experiments_left_out": r.experiments_left_out, "tests": r.tests.astype(object).to_dict("records"),
                  "forecasts": forecasts})
