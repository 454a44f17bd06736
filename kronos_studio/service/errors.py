"""Errors as the service answers them: an HTTP status and one line, the same line the command line
prints for the same input; never a traceback."""
from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses: ``status`` and a one-line ``detail`` naming the problem and the fix."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


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
        return ServiceError(404, one_line(e))
    if isinstance(e, DataSourceError):
        return ServiceError(400, one_line(e))
    if isinstance(e, LedgerError):
        return ServiceError(503, one_line(e))
    if isinstance(e, (BarsInputError, InputError, ValueError)):
        return ServiceError(422, one_line(e))
    return None


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


def answers(endpoint):
    """Library errors that mean bad input become their ``ServiceError`` (4xx, one line)."""
    return known_errors(endpoint)


def validation_line(e) -> str:
    """pydantic's findings (a ``RequestValidationError``) as one line: 'horizon: Field required; paths:
    Input should be a valid integer'."""
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def add_error_handlers(app) -> None:
    """Every error of ``app`` as ``{"detail": one line}``: a ``ServiceError`` with its status (401 with the
    Bearer challenge), invalid requests 422, anything else 500 (the traceback goes to the server's log)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(ServiceError)
    async def refused(_request, e: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse({"detail": e.detail}, status_code=e.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, e: RequestValidationError):
        return JSONResponse({"detail": validation_line(e)}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(_request, e: Exception):
        return JSONResponse({"detail": f"internal error: {type(e).__name__}: {one_line(e)}"}, status_code=500)
