"""Errors as the service answers them: an HTTP status, one line (``detail``: the problem the command line
reports for the same input, its fixes naming request fields rather than flags) and the same as data
(``problem``, ``values``, ``fix``); never a traceback."""
from __future__ import annotations

import functools
import json

from data_sources.errors import in_studio_words
from kronos.errors import (
    BAD_INPUT,
    NOT_FOUND,
    REFUSED,
    TOO_LARGE,
    UNAVAILABLE,
    UNREACHABLE,
    UserError,
    finite_or_null,
    json_safe,
    plain_name,
    printable,
    refusal,
    said,
    with_type,
    worded,
)
from kronos.settings import knobs
from kronos_studio.desk import (
    LIMIT_PREFIX,
    AdaptersRequest,
    Cancelled,
    DriftRequest,
    StepsRequest,
    TrackRecordRequest,
)

from .cancel import CLIENT_GONE
from .redact import text_without_paths


@functools.cache
def request_fields() -> frozenset[str]:
    """Every field a request body takes (``schemas``' models, each sampling knob among them) and query parameter
    drawn from a desk request's knobs (``deps.with_query``): a setting a fix names is its request field of the same
    name, with no edit here. Read when an error is worded: the schemas load pydantic and pandas."""
    from pydantic import BaseModel

    from . import schemas

    models = [m for m in vars(schemas).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    queries = [knob.name(name) for cls in (TrackRecordRequest, DriftRequest, StepsRequest, AdaptersRequest)
               for name, (_, knob) in knobs(cls).items()]
    return frozenset(name for m in models for name in m.model_fields) | frozenset(knobs()) | frozenset(queries)


def request_field(setting: str | None) -> str | None:
    """The request field that sets ``setting``, None when no request field does."""
    return setting if setting in request_fields() else None


# Settings of the server itself (``kronos serve``'s options), not of a request: named as the server's, and so is
# every limit (the desk's ``Limits``: each one's setting is LIMIT_PREFIX + its name).
SERVER_SETTINGS = {"jobs_dir", "allow_dir", "device", "chronos2", "threads", "concurrency"}


# Actions a fix asks for, as the HTTP API does them.
ACTIONS = {"rollback": "POST /v1/adapters/{id}/rollback", "score": "POST /v1/ledger/score", "adapters": "GET /v1/adapters"}


def field_name(setting: str, value: object = None) -> str:
    """A setting as the HTTP API names it: 'the field "lookback"', '"calendar": "XNYS"', 'the server's max_bars'."""
    if setting in ACTIONS:
        return ACTIONS[setting]
    name = request_field(setting)
    if name is not None:
        return f'the field "{name}"' if value is None else f'"{name}": {json.dumps(value, default=str)}'
    if setting in SERVER_SETTINGS or setting.startswith(LIMIT_PREFIX):
        return f"the server's {setting}" + ("" if value is None else f" {value}")
    return plain_name(setting, value)


class ServiceError(Exception):
    """A request the service refuses: ``status`` and a one-line ``detail`` naming the problem and the fix;
    given as ``problem``, ``values`` and ``fix`` (``kronos.errors.Fix``), ``detail`` is worded from them."""

    def __init__(self, status: int, detail: str | None = None, *, problem: str | None = None,
                 values: dict | None = None, fix=()):
        self.status = status
        self.problem = problem if problem is not None else detail
        self.values = dict(values or {})
        self.fix = tuple(fix)
        self.detail = detail if detail is not None else worded(self.problem, self.fix, field_name)
        super().__init__(self.detail)

    def body(self) -> dict:
        """The JSON answer: ``detail``, and the problem, its values and its fixes as fields (``json_safe``)."""
        fixes = [{"setting": f.setting, "field": request_field(f.setting), "value": f.value,
                  "text": f.worded(field_name)} for f in self.fix]
        return json_safe({"detail": self.detail, "problem": self.problem, "values": self.values, "fix": fixes})


def one_line(e: BaseException) -> str:
    """``e``'s sentence (a library error's fixes naming request fields) on one line: a line break in it (a symbol
    sent with one) written as its escape, never a cut."""
    return printable(said(e, field_name))


def bug_line(e: BaseException) -> str:
    """A bug's one line, as a request or a job answers it: 'internal error: TypeError: ...', without the server's
    files its own words may name."""
    return f"internal error: {text_without_paths(printable(with_type(e, field_name)))}"


def refused(status: int, e: BaseException) -> ServiceError:
    """The ``ServiceError`` of library error ``e``: its one line, and its problem, values and fixes as data."""
    if not isinstance(e, UserError):
        return ServiceError(status, one_line(e))
    return ServiceError(status, one_line(e), problem=printable(e.problem.strip()) if e.problem else "",
                        values=e.values, fix=e.fix)


def notice_line(notice) -> str:
    """A ``kronos.errors.Notice`` as the service's warnings list it, fixes naming request fields."""
    return notice.line(field_name)


# Each kind of refusal (``kronos.errors.refusal``) as the HTTP API answers it.
STATUS = {BAD_INPUT: 422, NOT_FOUND: 404, UNAVAILABLE: 400, UNREACHABLE: 503, TOO_LARGE: 413}


def as_service_error(e: BaseException) -> ServiceError | None:
    """The ``ServiceError`` of a refusal, in the studio's words, with its kind's ``STATUS``; None for a bug."""
    if isinstance(e, ServiceError):
        return e
    kind = refusal(e)
    return None if kind is None else refused(STATUS[kind], in_studio_words(e))


def known_errors(call, as_error=lambda known: known):
    """``call`` raising ``as_error(ServiceError)`` for the library's refusals (the rest as they are: bugs)."""
    @functools.wraps(call)
    def wrapped(*args, **kwargs):
        try:
            return call(*args, **kwargs)
        except Exception as e:
            known = as_service_error(e)
            if known is None:
                raise
            raise as_error(known) from None
    return wrapped


def library_refusal(e):
    """The library's own refusal (a ``kronos.errors.UserError``: a value outside its setting's ``Bounds``) when it is
    every finding of pydantic's validation error ``e``, else None."""
    found = [(err.get("ctx") or {}).get("error") for err in e.errors()]
    return found[0] if found and all(isinstance(f, UserError) for f in found) else None


def validation_line(e) -> str:
    """pydantic's findings (a ``RequestValidationError``) as one line: 'horizon: Field required; paths:
    Input should be a valid integer'; a value its setting's bounds refuse in the library's words, naming fields."""
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        error = (err.get("ctx") or {}).get("error")
        said = error.worded(field_name) if isinstance(error, UserError) else err.get("msg")
        parts.append(f"{where}: {said}" if where else str(said))
    return "invalid request: " + "; ".join(parts)


@functools.cache
def answer_class():
    """The service's JSON response: non-ASCII escaped (an unpaired surrogate a request sent, echoed, cannot break the
    answer) and a number JSON cannot carry (NaN, infinity: not computable) as null, never a failure to answer."""
    from fastapi.responses import JSONResponse

    class Answer(JSONResponse):
        def render(self, content) -> bytes:
            try:
                return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()
            except ValueError:  # a non-finite number somewhere: null, as a frame's NaN is (ledger_views.records)
                return json.dumps(finite_or_null(content), ensure_ascii=True, allow_nan=False,
                                  separators=(",", ":")).encode()

    return Answer


def add_error_handlers(app) -> None:
    """Every error of ``app`` as ``{"detail": one line}`` (a ``ServiceError`` also with ``problem``, ``values`` and
    ``fix``) with its status (401 with the Bearer challenge), invalid requests 422, a bug 500 (its traceback logged)."""
    from fastapi.exceptions import RequestValidationError

    Answer = answer_class()

    def answer(e: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        body = e.body()  # one line even where it echoes what a request sent (a job id with a newline)
        return Answer({**body, "detail": printable(body["detail"])}, status_code=e.status, headers=headers)

    async def library_error(request, e: Exception):
        """The library's refusals (bad bars, settings, a model not found) as their 4xx, for every endpoint at
        once; anything else is a bug."""
        known = as_service_error(e)
        return answer(known) if known is not None else await bug(request, e)

    app.add_exception_handler(ServiceError, lambda _request, e: answer(e))

    async def cancelled(request, _e):
        """Work stopped because its asker left: the server shutting down cuts it (503, send it again), or its client
        disconnected (``cancel.CLIENT_GONE``: an answer nobody reads, for the access log)."""
        if request.app.state.service.askers.stopping.is_set():
            return Answer({"detail": "the server is shutting down and stopped this request: send it again"},
                          status_code=503)
        return Answer({"detail": "the client disconnected: the request was stopped"}, status_code=CLIENT_GONE)

    app.add_exception_handler(Cancelled, cancelled)
    for kind in REFUSED:
        app.add_exception_handler(kind, library_error)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, e: RequestValidationError):
        own = library_refusal(e)  # a value its setting's bounds refuse: the command line's words, as data too
        if own is not None:
            return answer(refused(422, own))
        return Answer({"detail": printable(validation_line(e))}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(_request, e: Exception):
        return Answer({"detail": bug_line(e)}, status_code=500)
