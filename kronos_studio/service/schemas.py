"""The service's request bodies. The sampling settings are generated from the one
``kronos.settings.ForecastSettings`` (its field names, types and defaults), never typed out again, so a
new setting or a changed default reaches the API, its OpenAPI schema and the MCP tools by itself."""
from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat, create_model, field_validator

from data_sources.requests import FILE_KNOBS, HTTP_KNOBS, BarsRequest
from data_sources.schema import text_problem
from kronos.quantiles import DEFAULT_QUANTILES, LEVEL_BOUNDS
from kronos.settings import ForecastSettings, bounds, check_value, from_knobs, knobs
from kronos_studio.desk import (
    READING,
    RISK_KNOBS,
    BatchSettings,
    CovariateOptions,
    RankPlan,
    RetrainSettings,
    RetrainWatchlistRequest,
    RiskBacktestPlan,
    RiskSettings,
    ScreenRequest,
    TrustPlan,
)
from kronos_studio.desk.risk import risk_paths


def finite(hint):
    """``hint`` with ``float`` as ``FiniteFloat``: infinity and NaN (``1e309``, ``Infinity`` in JSON) are an
    invalid request, never a setting that fails after the work is done."""
    if hint is float:
        return FiniteFloat
    if typing.get_origin(hint) is tuple:  # tuple[float, ...]: each value finite
        return tuple[tuple(finite(a) if a is not Ellipsis else a for a in typing.get_args(hint))]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.Union[tuple(finite(a) for a in typing.get_args(hint))]  # noqa: UP007 (built at run time)
    return hint


def rule_schema(rule):
    """The JSON schema of ``rule`` (a ``kronos.settings.Bounds``) as pydantic's ``json_schema_extra``: the bounds
    of a number (of each item of a list), a list's lengths and whether it is a set, on the branch of the field's
    schema they apply to (a list's or a number's, beside a null)."""
    numbers = {key: value for key, value in (("minimum", rule.ge), ("exclusiveMinimum", rule.gt), ("maximum", rule.le),
                                             ("exclusiveMaximum", rule.lt)) if value is not None}
    if rule.choices is not None:
        numbers["enum"] = list(rule.choices)
    lengths = {key: value for key, value in (("minItems", rule.min_items), ("maxItems", rule.max_items))
               if value is not None}
    if rule.unique:
        lengths["uniqueItems"] = True

    def patch(schema: dict) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "array":
                branch.update(lengths)
                branch.setdefault("items", {}).update(numbers)
            elif branch.get("type") in ("integer", "number", "string"):
                branch.update(numbers)

    return patch


def bounded_type(hint, setting: str, rule=None, description: str | None = None):
    """``hint`` (floats finite) as a request field's type: with ``rule``'s JSON schema (``rule_schema``) and its
    one check (``kronos.settings.check_value``, the options class's own: the same refusal in the same words as
    the command line's; a ``UserError`` the 422 answers with its problem and fix), and ``description``."""
    hint = finite(hint)
    if rule is None:
        return Annotated[hint, Field(description=description)] if description else hint

    def check(value):
        return check_value(setting, rule, value)

    return Annotated[hint, AfterValidator(check), Field(description=description, json_schema_extra=rule_schema(rule))]


def settings_fields() -> dict[str, tuple]:
    """``create_model`` field definitions of every ``ForecastSettings`` field, with its default and its bounds
    (floats finite: the HTTP requests' and the MCP tools' schemas both read these)."""
    hints, rules = typing.get_type_hints(ForecastSettings), bounds(ForecastSettings)
    return {f.name: (bounded_type(hints[f.name], f.name, rules.get(f.name, (None, None))[1]),
                     ... if f.default is dataclasses.MISSING else f.default)
            for f in dataclasses.fields(ForecastSettings)}


SETTINGS_NAMES = tuple(f.name for f in dataclasses.fields(ForecastSettings))


def checked_text(value):
    """``value`` when each text in it (a string, or strings in a list) can be kept and answered: no NUL, no
    unpaired surrogate (``data_sources.schema.text_problem``); a ValueError saying what is wrong otherwise."""
    for text in value if isinstance(value, (list, tuple)) else [value]:
        problem = text_problem(text) if isinstance(text, str) else None
        if problem is not None:
            raise ValueError(problem)
    return value


# Text a request may hold, as a JSON schema pattern: no NUL (no database keeps it), what ``checked_text`` refuses
# besides an unpaired surrogate, which is no Unicode text to begin with (the escape is the regex's, ECMA's and
# Python's alike)
TEXT_PATTERN = r"^[^\u0000]*$"


def with_text_pattern(schema: dict) -> None:
    """A model's JSON schema with ``TEXT_PATTERN`` on each of its text fields (and text items of its lists)."""
    def text(branch: dict) -> None:
        for option in branch.get("anyOf", [branch]):
            if option.get("type") == "string" and "enum" not in option:
                option.setdefault("pattern", TEXT_PATTERN)
            elif option.get("type") == "array" and isinstance(option.get("items"), dict):
                text(option["items"])

    for prop in schema.get("properties", {}).values():
        text(prop)


class Strict(BaseModel):
    # a misspelt setting is an error, never silently the default; a number is finite (JSON's 1e309 is inf); text as
    # ``checked_text`` takes it, said by the schema too
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, json_schema_extra=with_text_pattern)

    @field_validator("*")
    @classmethod
    def _text(cls, value):
        return checked_text(value)


def bars_fields() -> dict[str, tuple]:
    """A request's bars as fields (``BarsInput``): the ``data_sources.requests.BarsRequest`` fields the HTTP API
    takes (``HTTP_KNOBS``: CSV text or a source's symbol; it reads no file of its own), generated from their knobs,
    and the model."""
    return {**knob_fields(BarsRequest, HTTP_KNOBS),
            "model": (str | None, Field(None, description="a model reference, as the command line's model option "
                                                          "takes (GET /v1/models); default: the bundled model"))}


def knob_parameters(cls, only: tuple[str, ...] | None = None) -> list:
    """The fields with a ``Knob`` of ``cls`` (``only``: of these fields alone) as keyword-only
    ``inspect.Parameter``s (``knob_fields``): an MCP tool's arguments from the same one place as the HTTP
    requests' fields."""
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hint, default=default)
            for name, (hint, default) in knob_fields(cls, only).items()]


def knob_fields(cls, only: tuple[str, ...] | None = None) -> dict[str, tuple]:
    """``create_model`` field definitions of every field with a ``Knob`` of the options dataclass ``cls`` (``only``:
    of these fields alone), named by the knob's setting, with its default, its ``Bounds`` (``bounded_type``) and the
    knob's label and help as its description (floats finite): a field added with its ``Knob`` is a request field
    with no edit here."""
    hints, rules = typing.get_type_hints(cls), bounds(cls)
    return {knob.name(name): (bounded_type(hints[name], knob.name(name), rules.get(name, (None, None))[1],
                                           f"{knob.label}: {knob.help}"), default)
            for name, (default, knob) in knobs(cls).items() if only is None or name in only}


def knob_options(given, cls, only: tuple[str, ...] | None = None) -> dict:
    """field name -> value of the fields with a ``Knob`` of ``cls`` (``only``: of these alone) found in ``given``
    (a request body, an MCP tool's arguments), read by the knob's setting: ``cls``' keyword arguments."""
    found = given if isinstance(given, dict) else given.__dict__
    return {name: found[knob.name(name)] for name, (_, knob) in knobs(cls).items()
            if (only is None or name in only) and knob.name(name) in found}


BarsInput = create_model("BarsInput", __base__=Strict, __doc__="Where the bars come from: CSV text (read like an "
                         "upload) or a source's symbol, and the model.", **bars_fields())

# a forecast's quantile levels: strictly between 0 and 1, each once (``kronos.quantiles.LEVEL_BOUNDS``); how many,
# the server's limit (413)
QUANTILES = bounded_type(list[float], "quantiles", LEVEL_BOUNDS, "quantile levels, strictly between 0 and 1, each "
                                                                 "once")

ForecastSettingsModel = create_model("ForecastSettingsModel", __base__=Strict, **settings_fields())


class ForecastOptions(BarsInput):
    quantiles: QUANTILES = list(DEFAULT_QUANTILES)
    return_paths: bool = Field(False, description="also return every sampled path")
    record: bool = Field(True, description="record the forecast in the workspace's ledger (as kronos forecast does)")


ForecastRequest = create_model("ForecastRequest", __base__=ForecastOptions, **settings_fields(),
                               **knob_fields(CovariateOptions))


# the walk-forward's plan: the fields of the one ``TrustPlan`` (kronos evaluate's options, the Evaluate page's)
EvaluateRequest = create_model("EvaluateRequest", __base__=BarsInput, **settings_fields(), **knob_fields(TrustPlan),
                               **knob_fields(CovariateOptions))


# what names one series of a batch (a watch's, a watchlist retrain's): CSV text or a source's symbol, the
# ``BarsRequest`` fields generated from their knobs (``series.series_entries`` makes watchlist entries of them)
SERIES_KNOBS = ("csv_text", "source", "symbol", "interval", "exchange")

BatchSeries = create_model("BatchSeries", __base__=Strict, __doc__="One series of a batch: CSV text under a name, or "
                           "a source's symbol.", name=(str | None, Field(None, description="with bars_csv: the series' "
                                                                                           "name (default: seriesN)")),
                           **knob_fields(BarsRequest, SERIES_KNOBS))


BatchEvaluate = create_model("BatchEvaluate", __base__=Strict, **knob_fields(RankPlan), __doc__=(
    "Does the ranking work (``kronos batch`` evaluating)? Scored on past cut-off dates, not forecast now (the "
    "request's paths is each of these path counts in turn); one field per ``RankPlan`` knob."))


class BatchOptions(Strict):
    series: list[BatchSeries] = Field(..., min_length=1)
    evaluate: BatchEvaluate | None = Field(None, description="score the ranking on past cut-offs instead; the job's "
                                                             "result is the JSON report with its panel")
    model: str | None = None


TOUCH = ("touch_levels",)  # ``BatchSettings``' knob (its forecast and risk are the requests' settings fields)


# the touch levels each row reports (``BatchSettings``' knob), how every series is read (``ScreenRequest``'s knobs
# every face offers: the gate's fixes, the files' calendar), the
# risk columns' settings (``BatchSettings.risk``: the ``RiskSettings`` knobs a row's columns depend on) and the
# covariates every series is conditioned on (``CovariateOptions``' knobs, as /v1/forecast's)
BatchRequest = create_model("BatchRequest", __base__=BatchOptions, **knob_fields(BatchSettings, TOUCH),
                            **knob_fields(ScreenRequest, READING),
                            **settings_fields(), **knob_fields(RiskSettings, RISK_KNOBS), **knob_fields(CovariateOptions))


def batch_settings(given, settings: ForecastSettings) -> BatchSettings:
    """The ``BatchSettings`` of a screen a request body (or an MCP tool's arguments) asks for: ``settings``, its
    touch levels and its risk columns' settings (``BatchSettings`` validates: one message for all)."""
    return from_knobs(BatchSettings, given, TOUCH, forecast=settings, risk=batch_risk(given))


def batch_risk(given) -> RiskSettings:
    """The ``RiskSettings`` of a batch's risk columns a request (or an MCP tool's arguments) asks for
    (``RiskSettings`` validates: one message for all)."""
    return from_knobs(RiskSettings, given, RISK_KNOBS, per_step=False)


# newer bars of a series, CSV text, with the ``BarsRequest`` fields that name and read them, generated from their
# knobs (``FILE_KNOBS``: ``kronos ledger score FILE``'s options): ``from_knobs(BarsRequest, body)`` is its bars request
ScoreRequest = create_model("ScoreRequest", __base__=Strict, bars_csv=(str, Field(
    ..., description="newer bars of a series: score its forecasts in this workspace")), **knob_fields(BarsRequest, FILE_KNOBS))


def settings_given(given) -> dict:
    """The ``ForecastSettings`` fields a request body or an MCP tool's arguments (a dict) give, by name."""
    found = given if isinstance(given, dict) else vars(given)
    return {name: found[name] for name in SETTINGS_NAMES if name in found}


def forecast_settings(given) -> ForecastSettings:
    """The ``ForecastSettings`` a request body or an MCP tool's arguments ask for (``ForecastSettings`` validates:
    one message for all)."""
    return ForecastSettings(**settings_given(given))


def settings_parameters(fields: dict | None = None) -> list:
    """The ``ForecastSettings`` fields (``fields``: these field definitions, e.g. ``risk_settings_fields()``) as
    keyword-only ``inspect.Parameter``s: how an MCP tool's typed schema gets the settings from the same one place as
    the HTTP requests."""
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hint,
                              default=inspect.Parameter.empty if default is ... else default)
            for name, (hint, default) in (fields or settings_fields()).items()]


class RetrainOptions(BarsInput):
    """``kronos retrain`` as a job (``POST /v1/retrain``): the series' bars (or ``series``, a watchlist), the
    horizon its held-out forecasts cover, and the retrain's settings, one field per ``Knob`` of
    ``kronos_studio.training.retrain.RetrainSettings`` (``knob_fields``)."""

    horizon: int = Field(..., ge=1, description="bars each held-out forecast covers")
    include_training_period: bool = Field(False, description="also judge on held-out cut-offs inside the base model's "
                                                              "training period (left out by default, as in evaluate)")
    series: list[BatchSeries] | None = Field(None, min_length=1, description="several series (as POST /v1/batch "
                                             "takes them) instead of one's bars: each retrained in turn, one result "
                                             "row per decision, named by its series")


RetrainRequest = create_model("RetrainRequest", __base__=RetrainOptions, __doc__=RetrainOptions.__doc__,
                              **knob_fields(RetrainWatchlistRequest, ("every",)), **knob_fields(RetrainSettings))


class RiskOptions(BarsInput):
    """``kronos risk`` (``POST /v1/risk``): the risk reading of the forecast of these bars, model and settings,
    or with ``backtest`` its walk-forward backtest; the risk settings one field per ``Knob`` of
    ``kronos_studio.risk.measures.RiskSettings`` (``knob_fields``)."""

    backtest: bool = Field(False, description="backtest the VaR, ES and variance forecasts on the latest cutoffs "
                                              "instead")


def risk_settings_fields() -> dict[str, tuple]:
    """``settings_fields`` of a risk request: its ``paths`` not given (None) is enough for the highest level's ES
    (``risk_forecast_settings``)."""
    described = ("sample paths (of the model asked, at every cut-off with backtest); default: enough for the highest "
                 "level's ES, 20 beyond its VaR: 2,000 for 0.99")
    paths = bounded_type(int | None, "paths", bounds(ForecastSettings)["paths"][1], described)
    return {**settings_fields(), "paths": (paths, None)}


# with backtest, its plan: one field per ``RiskBacktestPlan`` knob (kronos risk --backtest's options, the MCP tool's,
# the Evaluate page's Risk backtest controls)
RiskRequest = create_model("RiskRequest", __base__=RiskOptions, __doc__=RiskOptions.__doc__, **risk_settings_fields(),
                           **knob_fields(RiskSettings), **knob_fields(RiskBacktestPlan))


def risk_forecast_settings(given, risk: RiskSettings) -> ForecastSettings:
    """The ``ForecastSettings`` of a risk request (``given``: its body, or the MCP tool's arguments) whose paths, not
    given, are the risk's default (``desk.risk.risk_paths``: every face's)."""
    values = settings_given(given)
    return ForecastSettings(**{**values, "paths": risk_paths(risk, values.get("paths"))})


class FixBody(BaseModel):
    """One remedy of a refusal: the setting it names, as a request field when one sets it, the value to give
    (when one is known) and its words."""

    setting: str | None = None
    field: str | None = None
    value: typing.Any = None
    text: str


class ErrorBody(BaseModel):
    """Every error's answer: ``detail``, one line (the problem and its fixes, naming request fields); a refusal of
    the library's or of a limit also gives them as data (``problem``, ``values``, ``fix``)."""

    detail: str
    problem: str | None = None
    values: dict[str, typing.Any] | None = None
    fix: list[FixBody] | None = None


# What each error status means, as the OpenAPI document says it (docs/service.md, Errors).
STATUSES = {
    400: "a data source that cannot deliver the bars (unreachable, or no such symbol)",
    401: "no API key, or an unknown or revoked one",
    403: "a plain key acting in another workspace or asking for an admin's action; a file outside the allowed folders",
    404: "a model not in the catalog; no such job, forecast or adapter in this workspace (another's is not said)",
    409: "a job's result before it is done, cancelling a finished job, a rollback of a series without a champion",
    413: "past one of the server's limits: the limit is named, with how to stay inside it",
    421: "a server open without keys asked under a name other than localhost, 127.0.0.1 or [::1]",
    422: "a request the server cannot take: an invalid body or parameter, a value outside its setting's bounds "
         "(problem, values and fix as data), bars it cannot read or that the quality gate blocks",
    429: "too many jobs of this key queued or running",
    503: "the ledger cannot be reached, or the server is shutting down (send the request again)",
}
# Every /v1 route may answer these: the key (401, 403, a malformed workspace header 422), the body's size (413), an
# --open server's Host check (421), the ledger the keys are kept in or a shutdown cutting the request (503).
EVERY_ROUTE = (401, 403, 413, 421, 422, 503)


def answers(*statuses: int) -> dict:
    """FastAPI ``responses`` of the error ``statuses``: each a ``ErrorBody`` with what it means (``STATUSES``)."""
    return {status: {"model": ErrorBody, "description": STATUSES[status]} for status in statuses}
