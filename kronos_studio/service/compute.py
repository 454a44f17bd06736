"""The service's translation of the desk's answers (``kronos_studio.desk``): a request's bars as a
``BarsRequest``, a model named from the catalog only, and a forecast or a walk-forward report as the JSON the
HTTP API and the MCP tools return (the numbers ``kronos forecast`` and ``kronos evaluate`` write)."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

from data_sources.requests import HTTP_KNOBS, SOURCE_BARS, BarsRequest
from kronos.errors import Fix
from kronos.lazy import np
from kronos.quantiles import LEVEL_BOUNDS
from kronos.settings import ForecastSettings, check_value, from_knobs, knob_values, knobs
from kronos_studio import desk as front  # the desk's requests (the service's own bodies share their names)
from kronos_studio.desk import CovariateOptions, RecordRequest, RiskBacktestPlan, RiskSettings, TrustPlan, UnknownModel
from kronos_studio.desk.reading import ForecastReading
from kronos_studio.desk.risk import backtest_body, risk_body

from .errors import ServiceError, notice_line, refused
from .public_ids import adapters_named, forecast_ids
from .redact import without_paths
from .schemas import forecast_settings, knob_options, risk_forecast_settings

HTTP_WAYS = "bars_csv (CSV text) or source + symbol + interval"


def catalog_model(desk, ref: str | None) -> str | None:
    """``ref`` as the catalog names it (``Desk.offered``): a request names a model of the catalog and nothing else
    (no folder or Hub id of its own choosing); anything else is one 404 whose words are the same whether or not
    such a path exists."""
    try:
        return desk.offered(ref)
    except UnknownModel as e:
        raise refused(404, e) from None


def bars_request(given, needed: int = SOURCE_BARS, only=HTTP_KNOBS, file=None) -> BarsRequest:
    """The ``BarsRequest`` of a request body (or an MCP tool's arguments) with the fields ``only`` of its knobs
    (``schemas.bars_fields``); ``file``: the path of a bar file the MCP server has allowed."""
    return BarsRequest(**{**knob_options(given, BarsRequest, only), "file": None if file is None else str(file)},
                       bars=needed)


def covariate_options(given, check_file=None, asked: bool | None = None):
    """The ``CovariateOptions`` of a request (``given``: its body, or the MCP tool's arguments, with the knobs'
    fields): None when it gives none of their fields (``asked``; None: read from a body's fields set), empty when it
    gives them empty (``"covariates": []``: the desk serves the model alone, Chronos-2 conditioned on nothing). A
    covariate named as a file is refused without looking (the HTTP service reads no files of its own) unless
    ``check_file(path)`` (the MCP server's allowed folders) passes it."""
    options = CovariateOptions(**knob_values(given, CovariateOptions))
    if asked is None:
        fields = {knob.name(name) for name, (_, knob) in knobs(CovariateOptions).items()}
        asked = bool(fields & set(getattr(given, "model_fields_set", ())))
    if not options:
        return options if asked else None
    named = []
    files = set(options.file_references())
    for text in options.covariates:
        if text in files:
            if check_file is None:
                raise ServiceError(422, problem=f"the covariate {text!r} names no bundled sample or source's ticker, "
                                                "and this service reads no files of its own",
                                   values={"covariate": text},
                                   fix=(Fix("name a sample or a source:ticker (yfinance:^GSPC) in {setting}",
                                            "covariates"),))
            text = str(check_file(text))
        named.append(text)
    options = dataclasses.replace(options, covariates=tuple(named))
    options.references()  # each parsed now: a malformed source ('yfinance:') refused before any bars are read
    return options


def forecast_answer(desk, model: str | None, bars: BarsRequest, settings: ForecastSettings, levels: list[float], *,
                    workspace: str, ledger, record: bool = True, return_paths: bool = False, ways: str = HTTP_WAYS,
                    covariates=None) -> dict:
    """What the service and the MCP server answer to a forecast request: ``forecast_body`` of the desk's forecast
    (with ``workspace``'s fits and, for ``champion``, its champions in ``ledger``, the workspace's), recorded in
    ``ledger`` when ``record`` as ``kronos forecast`` does; ``warnings``: the bars' notices, then the forecast's."""
    with adapters_named(ledger) as numbers:  # a champion's adapter named by its number in the workspace
        done = desk.forecast(front.ForecastRequest(bars, model, settings, workspace, covariates=covariates),
                             ledger=ledger, ways=ways)
    out = forecast_body(done.forecast, levels, return_paths)
    out["provenance"] = numbers.body(out["provenance"])
    out["warnings"] = [numbers.words(notice_line(n)) for n in done.notices]
    check_answerable(done.forecast.paths, out["provenance"])  # before the ledger: a request not answered leaves no row
    if record:
        kept = desk.record(RecordRequest(done.forecast, done.bars), ledger=ledger)
        out["ledger"] = {"id": forecast_ids(ledger, [kept.id])[kept.id], "new": kept.new, "workspace": workspace}
    return out


def evaluate_answer(desk, given, model: str | None, bars: Callable[[int], BarsRequest], *, workspace: str, ledger,
                    ways: str = HTTP_WAYS, covariates=None) -> dict:
    """What the service and the MCP server answer to an evaluate request (``given``: its body, or the MCP tool's
    arguments): the ``kronos evaluate`` JSON (models named, never by a server path) and its warnings. ``bars(n)``:
    the request's bars, ``n`` of them from a source (``evaluation_bars``)."""
    settings, plan = forecast_settings(given), from_knobs(TrustPlan, given)
    bars = bars(evaluation_bars(plan, settings))
    with adapters_named(ledger) as numbers:
        done = desk.evaluate(front.EvaluateRequest(bars, model, settings, plan, workspace, covariates), ledger=ledger,
                             ways=ways)
    return numbers.body({**without_paths(done.report.out), "warnings": [notice_line(n) for n in done.notices]})


def risk_answer(desk, given, model: str | None, bars: Callable[[int], BarsRequest], *, backtest: bool,
                workspace: str, ledger, ways: str = HTTP_WAYS) -> dict:
    """What the service and the MCP server answer to a risk request (``given``: its body, or the MCP tool's
    arguments: its ``RiskSettings``, its sampling, its ``RiskBacktestPlan``): ``desk.risk.risk_body`` of
    ``Desk.risk`` (or ``backtest_body`` of ``Desk.risk_backtest`` over the plan: the catalog's models ``beside`` the
    asked one), the numbers ``kronos risk --json`` writes, and its warnings (the desk checks its limits before any
    bars are read). ``bars(n)``: the request's bars, ``n`` of them from a source (``risk_bars``)."""
    risk = from_knobs(RiskSettings, given)
    settings, plan = risk_forecast_settings(given, risk), from_knobs(RiskBacktestPlan, given)
    bars = bars(risk_bars(backtest, plan, settings))
    with adapters_named(ledger) as numbers:
        if backtest:
            plan = dataclasses.replace(plan, beside=tuple(catalog_model(desk, ref) for ref in plan.beside))
            done = desk.risk_backtest(front.RiskBacktestRequest(bars, model, settings, risk, plan, workspace),
                                      ledger=ledger, ways=ways)
            body = backtest_body(done)
        else:
            done = desk.risk(front.RiskRequest(bars, model, settings, risk, workspace), ledger=ledger, ways=ways)
            body = risk_body(done)
    return numbers.body({**body, "warnings": [notice_line(n) for n in done.notices]})


def check_answerable(paths, provenance: dict) -> None:
    """Refuse a forecast JSON cannot carry (a non-finite number; its quantiles come from the paths): an error
    before anything is recorded, never a failure after."""
    try:
        json.dumps(provenance, allow_nan=False)
        finite = bool(np.isfinite(paths).all())
    except ValueError:
        finite = False
    if not finite:
        raise ServiceError(422, "the forecast holds non-finite numbers (an overflow of these bars' prices or "
                                "settings), so it cannot be answered: check the bars' scale and the settings")


def evaluation_bars(plan, settings: ForecastSettings) -> int:
    """Bars to fetch from a source for a walk-forward over ``plan``'s cut-offs (a ``TrustPlan``)."""
    return SOURCE_BARS + plan.n_cutoffs * (plan.spacing or settings.horizon)


def risk_bars(backtest: bool, plan, settings: ForecastSettings) -> int:
    """Bars to fetch from a source for a risk request: a forecast's, or a backtest's walk-forward's over ``plan``'s
    cut-offs (a ``RiskBacktestPlan``)."""
    return SOURCE_BARS + plan.cutoffs * (plan.step or settings.horizon) if backtest else SOURCE_BARS


def forecast_body(fc, levels, return_paths: bool) -> dict:
    """The response of a forecast: per-step quantiles of every field and the share of paths whose volume was floored
    at 0 (``ForecastReading.quantiles``, the table ``kronos forecast`` writes), the provenance (models named by their names and hashes, never by a server
    path: ``service.redact.without_paths``), and the paths when asked for."""
    table = ForecastReading(fc).quantiles(levels)
    columns = list(table.columns)
    values = table.to_numpy()
    rows = [{"timestamp": ts.isoformat(), **{c: float(v) for c, v in zip(columns, row)}}
            for ts, row in zip(table.index, values)]
    body = {"quantiles": rows, "provenance": without_paths(json.loads(json.dumps(fc.provenance, default=str)))}
    if return_paths:
        body["paths"] = {"columns": list(fc.columns), "timestamps": [ts.isoformat() for ts in fc.timestamps],
                         "values": fc.paths.tolist()}  # [paths][horizon][columns], float32 as float
    return body


def check_quantile_levels(levels, limits, horizon: int) -> list[float]:
    """The quantile levels of a forecast request, no more than the limits let an answer hold (413), each strictly
    between 0 and 1 and named once (``kronos.quantiles.LEVEL_BOUNDS``: the request's schema checked them already)."""
    limits.check_quantiles(len(levels), horizon)
    return [float(q) for q in check_value("quantiles", LEVEL_BOUNDS, list(levels))]
