"""What the service is and offers: ``/health`` (no key needed) and ``/v1/models``."""
from __future__ import annotations

from fastapi import APIRouter

from ..deps import Shared, Who
from ..errors import answers

router = APIRouter()


@router.get("/health")
def health(service: Shared):
    return {"status": "ok", "models_loaded": service.registry.loaded(), "open": service.config.open_access}


@router.get("/v1/models")
@answers
def models(who: Who, service: Shared):
    """The models a request may name: the catalog (bundled, folders, ensemble, official) and the
    statistical models."""
    from dataclasses import asdict

    from kronos_studio.forecasters import STATISTICAL, catalog

    return {"models": [asdict(m) for m in catalog(service.config.models_dirs)] + [{"key": key, "label": key, "ref": key,
                                                          "kind": "statistical"} for key in STATISTICAL]}
