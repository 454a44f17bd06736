"""What the service is and offers: ``/health`` (no key needed: whether it answers, and its versions) and
``/v1/models``. Neither names a server path or a model any workspace loaded."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from kronos.threads import budget_report
from kronos_studio.desk import STATISTICAL

from ..deps import Shared, Who
from ..schemas import EVERY_ROUTE, answers

router = APIRouter()
API_VERSION = "1"  # the /v1 routes; the application's OpenAPI version


def versions() -> dict:
    """The studio's package version and the API's."""
    try:
        studio = version("kronos-studio")
    except PackageNotFoundError:  # run from a source tree that was never installed
        studio = "unknown"
    return {"kronos_studio": studio, "api": API_VERSION}


@router.get("/health", responses=answers(421, 422))
def health(service: Shared):
    return {"status": "ok", "versions": versions(),
            "threads": {**budget_report(), "concurrency": service.registry.concurrency}}


@router.get("/v1/models", responses=answers(*EVERY_ROUTE))
def models(who: Who, service: Shared):
    """The models a request may name (each ``ref`` is what ``model`` takes), and no other: the catalog (bundled,
    listed folders and the server's ``--models-dir``, champion, official) and the statistical models."""
    return {"models": [m.public for m in service.desk.models()]
            + [{"key": key, "label": key, "ref": key, "kind": "statistical"} for key in STATISTICAL]}
