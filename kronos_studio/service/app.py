"""The HTTP service: ``create_app(ServiceConfig(...))`` is a FastAPI application over the forecaster seam
and the ledger (``kronos serve`` runs it with uvicorn), assembled from the routers in ``routes``. Every
``/v1`` endpoint acts as the workspace of the request's API key; errors are one line (``{"detail": ...}``)
with a 4xx status, never a traceback."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from .access import AccessLog, LoopbackHosts
from .body_limit import BodyLimit
from .cancel import GRACE_S, Disconnects
from .deps import known_query
from .errors import add_error_handlers, answer_class
from .routes import adapters, batch, evaluate, forecast, ledger, meta, retrain, risk
from .state import Service, ServiceConfig

ROUTERS = (meta.router, forecast.router, evaluate.router, risk.router, batch.router, ledger.router, retrain.router, adapters.router)


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield
    app.state.service.close()  # the batch jobs stop, the ledger's connections close


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    """The application of ``config``: its ``Service`` (ledger, warm models, cache, jobs; the warm-up
    started) on ``app.state.service``, where the routes' dependencies (``deps``) find it."""
    config = config or ServiceConfig()
    app = FastAPI(title="Kronos Studio", version=meta.API_VERSION, lifespan=lifespan, default_response_class=answer_class(),
                  dependencies=[Depends(known_query)],  # an unknown query parameter refused, as an unknown field is
                  description="Forecasts, walk-forward evaluations, batch screens and the forecast ledger over "
                              "HTTP. Send `Authorization: Bearer <token>` (`kronos keys create`).")
    app.state.service = Service(config)
    app.add_middleware(BodyLimit, limits=config.limits)
    app.add_middleware(Disconnects, askers=app.state.service.askers)  # outside BodyLimit: it reads what this pumps
    if config.open_access:  # no keys: only requests addressed to this machine's loopback names
        app.add_middleware(LoopbackHosts)
    app.add_middleware(AccessLog)  # outermost: a refused request is logged too
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until SIGTERM or SIGINT: the signal first stops every request's and job's work at
    its next step (``Service.stop``), so the server answers what it can, cuts the rest (503) and exits within
    seconds; what a request's thread cannot stop is left after ``cancel.GRACE_S``."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            app.state.service.stop()
            super().handle_exit(sig, frame)

    Server(uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_S)).run()
