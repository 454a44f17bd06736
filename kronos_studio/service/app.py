"""The HTTP service: ``create_app(ServiceConfig(...))`` is a FastAPI application over the forecaster seam
and the ledger (``kronos serve`` runs it with uvicorn), assembled from the routers in ``routes``. Every
``/v1`` endpoint acts as the workspace of the request's API key; errors are one line (``{"detail": ...}``)
with a 4xx status, never a traceback."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from .access import AccessLog, LoopbackHosts
from .body_limit import BodyLimit
from .errors import add_error_handlers
from .routes import adapters, batch, evaluate, forecast, ledger, meta, retrain, risk, watches
from .state import Service, ServiceConfig

ROUTERS = (meta.router, forecast.router, evaluate.router, risk.router, batch.router, ledger.router, retrain.router, adapters.router,
           watches.router)


@asynccontextmanager
async def lifespan(app: FastAPI):
    runner = watches.start_runner(app.state.service)  # the live watches tick again from their next bar close
    yield
    runner.stop()
    app.state.service.close()  # the batch jobs stop, the ledger's connections close


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The application of ``config``: its ``Service`` (ledger, warm models, cache, jobs; the warm-up
    started) on ``app.state.service``, where the routes' dependencies (``deps``) find it."""
    config = config or ServiceConfig()
    app = FastAPI(title="Kronos Studio", version=meta.API_VERSION, lifespan=lifespan,
                  description="Forecasts, walk-forward evaluations, batch screens and the forecast ledger over "
                              "HTTP. Send `Authorization: Bearer <token>` (`kronos keys create`).")
    app.state.service = Service(config)
    app.add_middleware(BodyLimit, limits=config.limits)
    if config.open_access:  # no keys: only requests addressed to this machine's loopback names
        app.add_middleware(LoopbackHosts)
    app.add_middleware(AccessLog)  # outermost: a refused request is logged too
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
