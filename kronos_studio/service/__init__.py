"""Kronos Studio as a team service: an HTTP API (``kronos serve``) and an MCP server (``kronos mcp``) over
the forecaster seam and the ledger, with API keys scoped to workspaces and per-request limits.

One module, one job: ``schemas`` (requests generated from ``ForecastSettings``), ``compute`` (bars in,
forecasts and reports out, identical requests computed once, on the models of
``kronos_studio.catalog.registry``, loaded once and kept warm), ``keys`` (API keys, hashed at rest),
``limits``, ``jobs`` (batch runs in the background) and ``batch_job`` (a batch request as a job), ``cancel`` (work
that stops when its client leaves or the server stops), ``public_ids`` (ids that say nothing of other workspaces),
``state``
(what the endpoints share), ``deps`` (the routes' dependencies: the service, the request's identity),
``routes`` (one ``APIRouter`` per area), ``app`` (their assembly into the FastAPI application) and
``mcp_server``."""
