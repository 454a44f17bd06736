"""Kronos Studio as a team service: an HTTP API (``kronos serve``) and an MCP server (``kronos mcp``) over
the forecaster seam and the ledger, with API keys scoped to workspaces and per-request limits.

One module, one job: ``schemas`` (requests generated from ``ForecastSettings``), ``models`` (loaded once,
kept warm), ``compute`` (bars in, forecasts and reports out, identical requests computed once), ``keys``
(API keys, hashed at rest), ``limits``, ``jobs`` (batch runs in the background), ``app`` (the FastAPI
application) and ``mcp_server``."""
