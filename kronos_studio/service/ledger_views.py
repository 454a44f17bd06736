"""The ledger as the service and the MCP server answer it: query filters from request parameters, tables
as JSON records, the realized track record per model, drift."""
from __future__ import annotations

import json

from .errors import ServiceError, notice_line
from .public_ids import AdapterNumbers, forecast_records


def ledger_filters(symbol=None, source=None, interval=None, model=None, since=None) -> dict:
    """``Ledger`` reading filters from request parameters (None: not filtered)."""
    from .schemas import checked_text

    for name, value in (("symbol", symbol), ("source", source), ("interval", interval), ("model", model)):
        try:
            checked_text(value)
        except ValueError as e:
            raise ServiceError(422, f"{name} {e}: give it as printable text") from None
    filters = {k: v for k, v in (("symbol", symbol), ("source", source), ("interval", interval)) if v is not None}
    if model is not None:
        filters["models"] = [model]
    if since is not None:
        import pandas as pd

        try:
            filters["since"] = pd.Timestamp(since)
        except (ValueError, TypeError):
            filters["since"] = pd.NaT
        if pd.isna(filters["since"]):  # '' reads as NaT: no time at all
            raise ServiceError(422, f"since must be a date or time like 2024-06-01, got '{since}'") from None
    return filters


def records(frame) -> list[dict]:
    """A DataFrame as JSON records (times ISO 8601, NaN as null)."""
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def track_record_body(ledger, filters: dict, include_experiments: bool = False, levels=None, positions=None,
                      exceptions: bool = True) -> dict:
    """The realized track record of each model (``frames.realized_by_model``) and the series, of a
    (scoped) ledger's forecasts matching ``filters``: those at the default sampling settings unless
    ``include_experiments`` (as the Track record page pools them), with how many were left out; and their
    VaR exceptions at ``levels`` for ``positions`` (None: the risk settings' defaults) per series and model
    (``exceptions_body``; None unless ``exceptions``: it reads every scored forecast's paths)."""
    from kronos_studio.ledger.frames import default_settings_only, realized_by_model

    table = ledger.predictions_frame(**filters)
    left_out = 0
    if not include_experiments:
        table, left_out = default_settings_only(table)
    return {"models": records(realized_by_model(table)), "series": records(ledger.series_frame()),
            "experiments_left_out": left_out,
            "exceptions": exceptions_body(ledger, filters, include_experiments, levels, positions) if exceptions
            else None}


def exceptions_body(ledger, filters: dict, include_experiments: bool = False, levels=None, positions=None) -> dict:
    """``Desk.risk_record`` of a (scoped) ledger's forecasts matching ``filters`` as its one JSON body
    (``desk.risk_record.record_body``, what `kronos ledger exceptions --json` writes) and its warnings."""
    from kronos_studio.desk import Desk
    from kronos_studio.desk.risk_record import record_body
    from kronos_studio.risk.measures import RiskSettings

    asked = {k: tuple(v) for k, v in (("levels", levels), ("positions", positions)) if v is not None}
    done = Desk.risk_record(ledger, RiskSettings(**asked), experiments=include_experiments, **filters)
    body = record_body(done)
    body["forecasts"] = forecast_records(body["forecasts"], ledger)  # public ids: nothing of other workspaces
    return {**body, "warnings": [notice_line(n) for n in done.notices]}


def drift_body(ledger, filters: dict, last: int | None = None, include_experiments: bool = False) -> dict:
    """Drift of each series and model of a (scoped) ledger's forecasts matching ``filters``
    (``kronos_studio.ledger.drift``): the window judged and one entry per series and model."""
    from kronos_studio.ledger.drift import DRIFT_LAST, MIN_SCORED, drift_report

    last = DRIFT_LAST if last is None else last
    if last < MIN_SCORED:
        raise ServiceError(422, f"last={last} is below the {MIN_SCORED} scored forecasts a drift test needs: "
                                f"use last={MIN_SCORED} or more")
    report = drift_report(ledger, last, experiments=include_experiments, **filters)
    return {"last": last, "drift": [d.to_dict() for d in report]}


def adapter_body(entry, numbers) -> dict:
    """A registry entry (``kronos_studio.ledger.registry.Entry``) as the service answers it: numbered in its
    workspace (``numbers``: its ``public_ids.AdapterNumbers``), its folder and base model named by their names, not by
    server paths."""
    from kronos_studio.redact import without_paths

    return without_paths(numbers.entry(entry))


def registry_entry(ledger, number: int, workspace: str):
    """(the registry of ``ledger``, a scoped one, its entry numbered ``number`` in the workspace, and the
    workspace's ``AdapterNumbers``); 404 when it has none."""
    from kronos_studio.ledger import LedgerError
    from kronos_studio.ledger.registry import Registry

    registry, numbers = Registry(ledger), AdapterNumbers(ledger)
    entry_id = numbers.entry_id(number)
    try:
        if entry_id is None:
            raise LedgerError("no such entry")
        return registry, registry.get(entry_id), numbers
    except LedgerError:
        raise ServiceError(404, f"no adapter {number} in workspace '{workspace}': GET /v1/adapters lists "
                                "them") from None
