"""Errors as the service answers them: an HTTP status, one line (``detail``: the problem the command line
reports for the same input, its fixes naming request fields rather than flags) and the same as data
(``problem``, ``values``, ``fix``); never a traceback."""
from __future__ import annotations

import functools
import json


@functools.cache
def request_fields() -> frozenset[str]:
    """Every field a request body takes (``kronos_studio.service.schemas``' models, each sampling knob among
    them): a setting a fix names is its request field of the same name, so a field added to a request or a
    knob added to ``ForecastSettings`` is named as a field with no edit here. Read when an error is worded:
    the schemas load pydantic and pandas."""
    from pydantic import BaseModel

    from kronos.settings import knobs

    from . import schemas

    models = [m for m in vars(schemas).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    return frozenset(name for m in models for name in m.model_fields) | frozenset(knobs())


def request_field(setting: str | None) -> str | None:
    """The request field that sets ``setting``, None when no request field does."""
    return setting if setting in request_fields() else None


# Settings of the server itself (``kronos serve``'s options), not of a request: named as the server's, and so is
# every limit (``limits.Limits``: each one's setting is LIMIT_PREFIX + its name).
SERVER_SETTINGS = {"jobs_dir", "allow_dir", "device", "chronos2", "threads", "concurrency"}
LIMIT_PREFIX = "max_"


# Actions a fix asks for, as the HTTP API does them.
ACTIONS = {"rollback": "POST /v1/adapters/{id}/rollback", "score": "POST /v1/ledger/score", "adapters": "GET /v1/adapters"}


def field_name(setting: str, value: object = None) -> str:
    """A setting as the HTTP API names it: 'the field "lookback"', '"calendar": "XNYS"', 'the server's max_bars'."""
    from kronos.errors import plain_name

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
        from kronos.errors import worded

        self.status = status
        self.problem = problem if problem is not None else detail
        self.values = dict(values or {})
        self.fix = tuple(fix)
        self.detail = detail if detail is not None else worded(self.problem, self.fix, field_name)
        super().__init__(self.detail)

    def body(self) -> dict:
        """The JSON answer: ``detail``, and the problem, its values and its fixes as fields."""
        fixes = [{"setting": f.setting, "field": request_field(f.setting), "value": f.value,
                  "text": f.worded(field_name)} for f in self.fix]
        return json.loads(json.dumps({"detail": self.detail, "problem": self.problem, "values": self.values,
                                      "fix": fixes}, default=str))


def one_line(e: BaseException) -> str:
    from kronos.errors import UserError

    text = (e.worded(field_name) if isinstance(e, UserError) else str(e)).strip()
    return text.splitlines()[0] if text else type(e).__name__


def refused(status: int, e: BaseException) -> ServiceError:
    """The ``ServiceError`` of library error ``e``: its one line, and its problem, values and fixes as data."""
    from kronos.errors import UserError

    if not isinstance(e, UserError):
        return ServiceError(status, one_line(e))
    return ServiceError(status, one_line(e), problem=e.problem.strip().splitlines()[0] if e.problem else "",
                        values=e.values, fix=e.fix)


def notice_line(notice) -> str:
    """A ``kronos.errors.Notice`` as the service's warnings list it, fixes naming request fields."""
    return f"kronos: {notice.kind}: {notice.worded(field_name)}"


def as_service_error(e: BaseException) -> ServiceError | None:
    """The ``ServiceError`` of a library exception that means bad input (None for anything else: a bug).
    Bars that cannot be read or that the quality gate blocks, settings out of range: 422; a source that
    cannot deliver: 400; a model that cannot be found or loaded: 404; a ledger that cannot be reached: 503."""
    from data_sources.errors import DataSourceError
    from kronos.checkpoints import CheckpointError
    from kronos.errors import InputError
    from kronos_studio.bars_input import BarsInputError
    from kronos_studio.ledger import LedgerError

    if isinstance(e, ServiceError):
        return e
    if isinstance(e, (CheckpointError, FileNotFoundError)):
        return refused(404, e)
    if isinstance(e, DataSourceError):
        return refused(400, e)
    if isinstance(e, LedgerError):
        return refused(503, e)
    if isinstance(e, (BarsInputError, InputError, ValueError)):
        return refused(422, e)
    return None


def library_errors() -> tuple[type, ...]:
    """The exception classes ``as_service_error`` may answer as bad input: the library's errors (a checkpoint, a
    data source, the ledger: each a ``UserError``), and the plain ones a library call raises for bad input."""
    from kronos.errors import UserError

    return (UserError, FileNotFoundError, ValueError)


def known_errors(call, as_error=lambda known: known):
    """``call`` raising ``as_error(ServiceError)`` for library errors that mean bad input (the rest as they
    are: bugs)."""
    import functools

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


def printable(text: str) -> str:
    """``text`` with its control characters and unpaired surrogates written as escapes ('\\n', '\\ud800'):
    what a client sent (a field name, an id), echoed in one line."""
    return "".join(ch if ch.isprintable() and not "\ud800" <= ch <= "\udfff" else ascii(ch)[1:-1] for ch in text)


def validation_line(e) -> str:
    """pydantic's findings (a ``RequestValidationError``) as one line: 'horizon: Field required; paths:
    Input should be a valid integer'."""
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def add_error_handlers(app) -> None:
    """Every error of ``app`` as ``{"detail": one line}`` (a ``ServiceError`` also with ``problem``, ``values``
    and ``fix``): a ``ServiceError`` with its status (401 with the
    Bearer challenge), invalid requests 422, anything else 500 (the traceback goes to the server's log)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    class Answer(JSONResponse):
        """JSON with non-ASCII escaped: an unpaired surrogate a request sent, echoed, cannot break the answer."""

        def render(self, content) -> bytes:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()

    def refusal(e: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        body = e.body()  # one line even where it echoes what a request sent (a job id with a newline)
        return Answer({**body, "detail": printable(body["detail"])}, status_code=e.status, headers=headers)

    async def library_error(request, e: Exception):
        """The library's refusals (bad bars, settings, a model not found) as their 4xx, for every endpoint at
        once; anything else is a bug."""
        known = as_service_error(e)
        return refusal(known) if known is not None else await bug(request, e)

    app.add_exception_handler(ServiceError, lambda _request, e: refusal(e))
    for kind in library_errors():
        app.add_exception_handler(kind, library_error)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, e: RequestValidationError):
        return Answer({"detail": printable(validation_line(e))}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(_request, e: Exception):
        from kronos_studio.redact import text_without_paths

        line = text_without_paths(one_line(e))  # a bug's own words may name the server's files
        return Answer({"detail": printable(f"internal error: {type(e).__name__}: {line}")}, status_code=500)
