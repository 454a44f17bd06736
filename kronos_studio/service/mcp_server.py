"""``kronos mcp``: the studio's forecast, evaluate, screen, retrain and track-record as MCP tools (the official
``mcp`` SDK's ``MCPServer``, stdio by default), with typed schemas whose sampling settings are
generated from ``ForecastSettings``. Bars come from files under the directories the server was allowed
to read (``--allow-dir``), or from a data source; forecasts are recorded in one workspace's ledger."""
from __future__ import annotations

import difflib
import inspect
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional

from pydantic import ValidationError

from data_sources.requests import MCP_KNOBS, SOURCE_BARS, BarsRequest
from kronos.errors import Fix
from kronos.quantiles import BAND_NAME, DEFAULT_QUANTILES
from kronos.settings import knob_values, knobs
from kronos_studio.desk import (
    READING,
    RISK_KNOBS,
    BatchSettings,
    CovariateOptions,
    Desk,
    Entry,
    Limits,
    ModelRegistry,
    ResultCache,
    RetrainRequest,
    RetrainSettings,
    RiskBacktestPlan,
    RiskSettings,
    ScreenRequest,
    SeriesLocked,
    TrackRecordRequest,
    TrustPlan,
)
from kronos_studio.desk.ledger import DEFAULT_WORKSPACE, open_ledger
from kronos_studio.desk.retrain_watchlist import check_size
from kronos_studio.desk.watchlists import symbol_entries_of

from . import compute
from .errors import ServiceError, known_errors, library_refusal, notice_line, refused, validation_line
from .ledger_views import records, track_record_body
from .public_ids import AdapterNumbers
from .schemas import (
    QUANTILES,
    TOUCH,
    batch_settings,
    forecast_settings,
    knob_fields,
    knob_options,
    knob_parameters,
    risk_settings_fields,
    settings_parameters,
)

WAYS = "file (a path under an allowed directory) or source + symbol + interval"
MADE_BY = "MCP retrain"  # what the registry records as the maker of the adapters the tool trains
# the exceptions' levels and positions: RiskSettings' own fields, with their bounds (as GET /v1/ledger/track-record's)
LEVEL_TYPE, POSITION_TYPE = (hint for hint, _ in knob_fields(RiskSettings, ("levels", "positions")).values())


class AllowedFiles:
    """The directories the server may read bar files from; any other path is refused by name."""

    def __init__(self, folders):
        self.folders = [Path(f).expanduser().resolve() for f in folders]

    def check(self, path: str) -> Path:
        p = Path(path).expanduser().resolve()
        if not self.folders:
            raise ServiceError(403, problem=f"this MCP server reads no files (refused '{path}')", values={"path": path},
                               fix=(Fix("name a folder in {setting}, or give source + symbol + interval",
                                        "allow_dir"),))
        if not any(p.is_relative_to(f) for f in self.folders):
            allowed = ", ".join(str(f) for f in self.folders)
            raise ServiceError(403, problem=f"'{path}' is outside the directories this server may read ({allowed})",
                               values={"path": path, "allowed": [str(f) for f in self.folders]},
                               fix=(Fix("move the file there, or add its folder to {setting}", "allow_dir"),))
        return p


def with_parameters(parameters: list):
    """``tool`` (taking ``**options``) with ``parameters`` in its signature, so that the SDK builds its schema
    (names, types, defaults) from the options' one home."""
    def add(tool):
        sig = inspect.signature(tool, eval_str=True)  # the annotations as types: the SDK reads them elsewhere
        fixed = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        tool.__signature__ = sig.replace(parameters=fixed + parameters)
        return tool
    return add


def with_settings(tool):
    """``tool`` (taking ``**settings``) with every ``ForecastSettings`` field in its signature."""
    return with_parameters(settings_parameters())(tool)


def with_bars(tool):
    """``tool`` (taking ``**given``) with a ``BarsRequest``'s fields as its arguments: those ``MCP_KNOBS`` names (a
    file under the allowed folders, or a source's symbol), generated from their knobs."""
    return with_parameters(knob_parameters(BarsRequest, MCP_KNOBS))(tool)


def with_covariates(tool):
    """``tool`` (taking ``**settings``) with the covariate options' fields too (``CovariateOptions``' knobs,
    as the HTTP requests have them)."""
    sig = inspect.signature(tool)
    given = [p.replace(annotation=Optional[p.annotation], default=None)  # noqa: UP045 (None: not given)
             for p in knob_parameters(CovariateOptions)]
    tool.__signature__ = sig.replace(parameters=list(sig.parameters.values()) + given)
    return tool


def tool_errors(tool):
    """Bad input comes back as the tool's error, one line (the SDK's ``ToolError``)."""
    from mcp.server.mcpserver.exceptions import ToolError

    return known_errors(tool, lambda known: ToolError(known.detail))


def unknown_arguments(tool: str, given, accepted) -> str | None:
    """The one line refusing the arguments of ``given`` that ``tool`` does not take (None: it takes them all),
    with the nearest name it does take: as an HTTP request refuses an unknown field (422), never ignored."""
    unknown = sorted(set(given) - set(accepted))
    if not unknown:
        return None
    guesses = [f"'{name}' (did you mean '{close[0]}'?)" if (close := difflib.get_close_matches(name, accepted, 1))
               else f"'{name}'" for name in unknown]
    return (f"Error executing tool {tool}: unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(guesses)}: "
            f"it takes {', '.join(sorted(accepted))}")


def studio_server(name: str, instructions: str):
    """An ``MCPServer`` whose tools refuse arguments they do not take (the SDK drops them silently) and word an
    argument of the wrong type in one line (``errors.validation_line``), as the HTTP API does."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    class StudioServer(MCPServer):
        accepted: dict[str, tuple[str, ...]] = {}  # tool -> the arguments it takes (its signature's)

        def tool(self, *args, **kwargs):
            register = super().tool(*args, **kwargs)

            def decorator(fn):
                self.accepted = {**self.accepted, kwargs.get("name") or fn.__name__: tuple(inspect.signature(fn).parameters)}
                return register(fn)

            return decorator

        async def call_tool(self, name, arguments, context=None):
            unknown = unknown_arguments(name, arguments or {}, self.accepted.get(name, arguments or {}))
            if unknown:
                raise ToolError(unknown)
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as e:
                if isinstance(e.__cause__, ValidationError):  # a value its setting's bounds refuse: the library's line
                    own = library_refusal(e.__cause__)
                    said = refused(422, own).detail if own is not None else validation_line(e.__cause__)
                    raise ToolError(f"Error executing tool {name}: {said}") from e.__cause__
                raise

    return StudioServer(name, instructions=instructions)


def create_server(allow_dirs=(), *, workspace: str = DEFAULT_WORKSPACE, ledger_url: str | None = None,
                  registry: ModelRegistry | None = None, limits: Limits | None = None, models_dirs=(), desk=None):
    """The MCP server: tools ``forecast``, ``evaluate``, ``risk``, ``screen``, ``retrain`` and ``track_record``; ``models_dirs``: the
    local models a tool may name beside the catalog's others (``Desk.offered``). ``desk``: the one to serve from
    (the HTTP service's, ``Service.desk``, when both run in one process: one registry, one cache, one set of
    limits); None: one of its own, built here."""
    allowed = AllowedFiles(allow_dirs)
    if desk is None:
        limits = limits or Limits()
        desk = Desk(registry or ModelRegistry(max_models=limits.models), cache=ResultCache(), limits=limits,
                    models_dirs=models_dirs)
    limits = desk.limits or Limits()
    ledger = open_ledger(ledger_url, workspace)
    server = studio_server("kronos-studio", instructions="Probabilistic OHLCV forecasts (Kronos and baselines): "
                       "forecast a series, evaluate a model walk-forward, screen many series, read the realized "
                       "track record. Bars: a CSV/Parquet file under an allowed directory, or a source's symbol.")

    def bars_of(given: dict, needed: int = SOURCE_BARS) -> BarsRequest:
        """The tool's bars arguments (``bars_parameters``) as a ``BarsRequest``, a file only under the allowed folders."""
        file = given.get("file")
        return compute.bars_request(given, needed, MCP_KNOBS, file=None if file is None else allowed.check(file))

    def covariates_of(given: dict):
        names = {knob.name(n): default for n, (default, knob) in knobs(CovariateOptions).items()}
        asked = any(given.get(name) is not None for name in names)  # given, if empty: Chronos-2 alone
        named = {name: default if given.get(name) is None else given[name] for name, default in names.items()}
        return compute.covariate_options(SimpleNamespace(**named), allowed.check, asked=asked)

    @server.tool(description="Forecast a series: per-step quantiles of open, high, low, close, volume, amount "
                             "(the numbers `kronos forecast` writes) and the provenance; covariates: other series to "
                             "condition on (model chronos2-small).")
    @tool_errors
    @with_covariates
    @with_settings
    @with_bars
    def forecast(model: str | None = None, quantiles: QUANTILES = DEFAULT_QUANTILES, record: bool = True,
                 **settings) -> dict[str, Any]:
        s = forecast_settings(settings)
        levels = compute.check_quantile_levels(quantiles, limits, s.horizon)
        model = compute.catalog_model(desk, model)
        bars = bars_of(settings)
        return compute.forecast_answer(desk, model, bars, s, levels, workspace=workspace, ledger=ledger,
                                       record=record, ways=WAYS, covariates=covariates_of(settings))

    @server.tool(description="Walk a model and the naive baselines forward over the latest cut-offs of a series: "
                             "CRPS, MAE, coverage, skill against the random walk (the `kronos evaluate` JSON); "
                             "covariates: other series to condition on (model chronos2-small).")
    @tool_errors
    @with_covariates
    @with_parameters(knob_parameters(TrustPlan))
    @with_settings
    @with_bars
    def evaluate(model: str | None = None, **settings) -> dict[str, Any]:
        return compute.evaluate_answer(desk, settings, compute.catalog_model(desk, model),
                                       lambda needed: bars_of(settings, needed), workspace=workspace, ledger=ledger,
                                       ways=WAYS, covariates=covariates_of(settings))

    @server.tool(description="Value-at-risk and expected shortfall of a long and a short position, the volatility "
                             "forecast and the stylized-facts check of a forecast's paths; with backtest, their "
                             "walk-forward backtest beside the risk desk's standard models (the `kronos risk` JSON).")
    @tool_errors
    @with_parameters(settings_parameters(risk_settings_fields()) + knob_parameters(RiskSettings) +
                     knob_parameters(RiskBacktestPlan))
    @with_bars
    def risk(model: str | None = None, backtest: bool = False, **settings) -> dict[str, Any]:
        return compute.risk_answer(desk, settings, compute.catalog_model(desk, model),
                                   lambda needed: bars_of(settings, needed), backtest=backtest, workspace=workspace,
                                   ledger=ledger, ways=WAYS)

    @server.tool(description="Screen many series with one model (`kronos batch`): per series P(up), expected "
                             "return, close quantiles at the horizon, band width, drawdown, touch probabilities, "
                             "VaR and ES of the horizon return with their errors, the paths' realized volatility; "
                             "covariates: other series every one is conditioned on (model chronos2-small).")
    @tool_errors
    @with_covariates
    @with_parameters(settings_parameters() + knob_parameters(BatchSettings, TOUCH) +
                     knob_parameters(RiskSettings, RISK_KNOBS) + knob_parameters(ScreenRequest, READING))
    def screen(files: list[str] | None = None, symbols: list[str] | None = None, source: str | None = None,
               interval: str | None = None, model: str | None = None, **settings) -> dict[str, Any]:
        s = forecast_settings(settings)
        model = compute.catalog_model(desk, model)
        entries = tuple(Entry(series=path.stem, file=str(path)) for path in map(allowed.check, files or []))
        if symbols:
            if not source or not interval:
                raise ServiceError(422, "symbols need a source and an interval (e.g. source yfinance, interval 1d)")
            entries += tuple(symbol_entries_of(source, symbols, interval))
        if not entries:
            raise ServiceError(422, "nothing to screen: give files (under an allowed directory) or symbols")
        done = desk.screen(ScreenRequest(entries, batch_settings(settings, s), model=model,
                                         covariates=covariates_of(settings),
                                         **knob_options(settings, ScreenRequest, READING)),
                           workspace=workspace, ledger=ledger)
        return {"rows": records(AdapterNumbers(ledger).frame(done.rows)), "forecast": done.forecast,
                "failed": done.failed,
                "warnings": [notice_line(n) for n in done.notices]}

    @server.tool(description="Retrain a series' Kronos adapter (`kronos retrain`): a LoRA challenger trained on the "
                             "latest bars becomes the series' champion (model 'champion') only if it beats the current "
                             "one beyond noise on held-out cut-offs; answers each decision with its scores and reason.")
    @tool_errors
    @with_parameters(knob_parameters(RetrainSettings))
    @with_bars
    def retrain(horizon: int, model: str | None = None, every: int | None = None,
                include_training_period: bool = False, **options) -> dict[str, Any]:
        settings = RetrainSettings(horizon=horizon, include_training_period=include_training_period,
                                   **knob_values(SimpleNamespace(**options), RetrainSettings))
        check_size(desk.limits, settings)  # the server's limits first, then the settings' own checks
        settings.check()  # before the bars are read (the base model's context is checked once it is loaded)
        retraining = desk.retrain(RetrainRequest(bars_of(options), compute.catalog_model(desk, model), settings, every,
                                                 made_by=MADE_BY), ledger=ledger, ways=WAYS)
        try:
            report = retraining.run()
        except SeriesLocked as e:  # another retrain of the series runs now: try again later
            raise ServiceError(409, str(e)) from None
        numbers = AdapterNumbers(ledger)  # the workspace's adapters by number, as the HTTP API names them
        return json.loads(json.dumps({"decisions": [numbers.decision(d) for d in report.decisions],
                                      "champion": numbers.number(report.champion)}, default=str))

    @server.tool(description="The realized track record of each model in this workspace's ledger: forecasts, "
                             f"scored steps, {BAND_NAME} coverage, CRPS in % of the last close, direction hit rate; "
                             "forecasts at non-default sampling settings are left out (counted) unless "
                             "include_experiments. 'exceptions': each scored forecast's VaR/ES at levels for "
                             "positions read from its recorded paths and whether its horizon return was an "
                             "exception, and per series and model the exceptions against the expected count with "
                             "Kupiec and Christoffersen p-values on non-overlapping forecasts.")
    @tool_errors
    @with_parameters(knob_parameters(TrackRecordRequest))
    def track_record(levels: Optional[LEVEL_TYPE] = None, positions: Optional[POSITION_TYPE] = None,  # noqa: UP045
                     exceptions: bool = True, **asked) -> dict[str, Any]:
        request = TrackRecordRequest(**knob_options(asked, TrackRecordRequest))
        return {"workspace": workspace, **track_record_body(desk, ledger, request, levels, positions, exceptions)}

    return server
