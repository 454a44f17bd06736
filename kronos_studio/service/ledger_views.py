"""The ledger's use cases as the service and the MCP server answer them: tables as JSON records, the realized track
record per model with its VaR exceptions, a registry entry named by its number in the workspace."""
from __future__ import annotations

import json

from kronos_studio.desk import Desk, EntryRequest, RiskSettings
from kronos_studio.desk.risk_record import record_body

from .errors import ServiceError, notice_line
from .public_ids import AdapterNumbers, forecast_records
from .redact import without_paths


def records(frame) -> list[dict]:
    """A DataFrame as JSON records (times ISO 8601, NaN as null)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def track_record_body(desk, ledger, request, levels=None, positions=None, exceptions: bool = True) -> dict:
    """The realized track record of each model and the series (``Desk.track_record`` of a scoped ledger's forecasts
    a ``TrackRecordRequest`` reads), with how many experiments were left out; and their VaR exceptions at ``levels``
    for ``positions`` (None: the risk settings' defaults) per series and model (``exceptions_body``; None unless
    ``exceptions``: it reads every scored forecast's paths)."""
    done = desk.track_record(request, ledger=ledger)
    return {"models": records(done.models), "series": records(done.series),
            "experiments_left_out": done.experiments_left_out,
            "exceptions": exceptions_body(ledger, request.filters(), request.include_experiments, levels, positions)
            if exceptions else None}


def exceptions_body(ledger, filters: dict, include_experiments: bool = False, levels=None, positions=None) -> dict:
    """``Desk.risk_record`` of a (scoped) ledger's forecasts matching ``filters`` as its one JSON body
    (``desk.risk_record.record_body``, what `kronos ledger exceptions --json` writes) and its warnings."""
    asked = {k: tuple(v) for k, v in (("levels", levels), ("positions", positions)) if v is not None}
    done = Desk.risk_record(ledger, RiskSettings(**asked), experiments=include_experiments, **filters)
    body = record_body(done)
    body["forecasts"] = forecast_records(body["forecasts"], ledger)  # public ids: nothing of other workspaces
    return {**body, "warnings": [notice_line(n) for n in done.notices]}


def adapter_body(entry, numbers) -> dict:
    """A registry entry (``kronos_studio.ledger.registry.Entry``) as the service answers it: numbered in its
    workspace (``numbers``: its ``public_ids.AdapterNumbers``), its folder and base model named by their names, not by
    server paths."""
    return without_paths(numbers.entry(entry))


def entry_request(ledger, number: int, workspace: str):
    """(the desk's ``EntryRequest`` of the entry numbered ``number`` in the workspace's registry of ``ledger``, a
    scoped one; the workspace's ``AdapterNumbers``); 404 when it has none."""
    numbers = AdapterNumbers(ledger)
    entry_id = numbers.entry_id(number)
    if entry_id is None:
        raise ServiceError(404, f"no adapter {number} in workspace '{workspace}': GET /v1/adapters lists them")
    return EntryRequest(entry_id), numbers
