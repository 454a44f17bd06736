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
