"""The HTTP service: ``create_app(ServiceConfig(...))`` is a FastAPI application over the forecaster seam
and the ledger (``kronos serve`` runs it with uvicorn). Every ``/v1`` endpoint acts as the workspace of
the request's API key; errors are one line (``{"detail": ...}``) with a 4xx status, never a traceback."""
from __future__ import annotations

import functools
import ipaddress
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse

from kronos_studio.ledger.schema import DEFAULT_WORKSPACE

from . import compute
from .body_limit import BodyLimit
from .errors import ServiceError, as_service_error, one_line
from .jobs import JobRunner
from .keys import Identity, KeyProblem, check_workspace, identify
from .ledger_views import ledger_filters, records, track_record_body
from .limits import Limits
from .models import ModelRegistry
from .schemas import (
    BatchRequest,
    EvaluateRequest,
    ForecastRequest,
    ScoreRequest,
    forecast_settings,
)

WORKSPACE_HEADER = "X-Kronos-Workspace"  # an admin key acting in another workspace (sharing)
LOOPBACK_NAMES = ("localhost",)


def loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (where ``--open`` may serve without keys)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServiceConfig:
    ledger_url: str | None = None  # None: ledger_url() ($KRONOS_STUDIO_DB, else the SQLite file)
    open_access: bool = False  # no keys: every request acts in the default workspace (loopback only)
    limits: Limits = field(default_factory=Limits)
    jobs_dir: str | None = None  # None: a temporary folder, removed at shutdown
    registry: ModelRegistry | None = None  # None: a new one (tests hand in one that loads random models)
    decode: str | None = None  # how a new registry's pipelines decode ('compiled': warmed up at start)
    cache_entries: int = compute.CACHE_ENTRIES


class Service:
    """What the endpoints share: the ledger, the warm models, the cache of identical requests, the jobs."""

    def __init__(self, config: ServiceConfig):
        from kronos_studio.ledger import Ledger

        self.config = config
        self.limits = config.limits
        self.ledger = Ledger.open(config.ledger_url)
        self.registry = config.registry or ModelRegistry(decode=config.decode)
        self.cache = compute.OnceCache(config.cache_entries)
        self.jobs = JobRunner(config.limits, config.jobs_dir)
        self.warm_up = None
        if self.registry.decode == "compiled":  # compile the usual shape now, not at a user's request
            self.warm_up = threading.Thread(target=self._warm_up, name="kronos-warm-up", daemon=True)
            self.warm_up.start()

    def _warm_up(self) -> None:
        try:
            self.registry.warm_up()
        except Exception as e:  # the service works without it: say why, in one line
            print(f"kronos serve: the warm-up forecast failed ({one_line(e)}); requests compile on first use",
                  file=sys.stderr)

    def close(self) -> None:
        self.jobs.shutdown()
        self.ledger.close()


def answers(endpoint):
    """Library errors that mean bad input become their ``ServiceError`` (4xx, one line)."""
    @functools.wraps(endpoint)
    def wrapped(*args, **kwargs):
        try:
            return endpoint(*args, **kwargs)
        except Exception as e:
            known = as_service_error(e)
            if known is None:
                raise
            raise known from None
    return wrapped


def validation_line(e: RequestValidationError) -> str:
    """pydantic's findings as one line: 'horizon: Field required; paths: Input should be a valid integer'."""
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "invalid request: " + "; ".join(parts)


def create_app(config: ServiceConfig | None = None) -> FastAPI:
    from contextlib import asynccontextmanager

    config = config or ServiceConfig()
    service = Service(config)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        service.close()

    app = FastAPI(title="Kronos Studio", version="1", lifespan=lifespan,
                  description="Forecasts, walk-forward evaluations, batch screens and the forecast ledger over "
                              "HTTP. Send `Authorization: Bearer <token>` (`kronos keys create`).")
    app.state.service = service
    app.add_middleware(BodyLimit, limits=config.limits)

    @app.exception_handler(ServiceError)
    async def service_error(_request, e: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if e.status == 401 else None
        return JSONResponse({"detail": e.detail}, status_code=e.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request, e: RequestValidationError):
        return JSONResponse({"detail": validation_line(e)}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(_request, e: Exception):  # still one line; the traceback goes to the server's log
        return JSONResponse({"detail": f"internal error: {type(e).__name__}: {one_line(e)}"}, status_code=500)

    def identity(request: Request) -> Identity:
        if config.open_access:
            who = Identity("open", DEFAULT_WORKSPACE)
        else:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ServiceError(401, "this service needs an API key: send 'Authorization: Bearer <token>' "
                                        "(make one with `kronos keys create --workspace NAME`)")
            who = identify(service.ledger, token.strip())
            if who is None:
                raise ServiceError(401, "the API key is not valid or was revoked: make a new one with "
                                        "`kronos keys create --workspace NAME`")
        asked = request.headers.get(WORKSPACE_HEADER)
        if asked and asked != who.workspace:
            if not who.admin:
                raise ServiceError(403, f"this key belongs to workspace '{who.workspace}'; only an admin key "
                                        f"(`kronos keys create --admin`) may act in '{asked}'")
            try:
                return Identity(who.key_id, check_workspace(asked), True)
            except KeyProblem as e:
                raise ServiceError(422, str(e)) from None
        return who

    def ledger_of(who: Identity):
        return service.ledger.scoped(who.workspace)

    @app.get("/health")
    def health():
        return {"status": "ok", "models_loaded": service.registry.loaded(), "open": config.open_access}

    @app.get("/v1/models")
    @answers
    def models(who: Identity = Depends(identity)):
        """The models a request may name: the catalog (bundled, folders, ensemble, official) and the
        statistical models."""
        from dataclasses import asdict

        from kronos_studio.forecasters import STATISTICAL, catalog

        return {"models": [asdict(m) for m in catalog()] + [{"key": key, "label": key, "ref": key,
                                                              "kind": "statistical"} for key in STATISTICAL]}

    @app.post("/v1/forecast")
    @answers
    def forecast(body: ForecastRequest, who: Identity = Depends(identity)):
        """A forecast: per-step quantiles of every field, equal to `kronos forecast` of the same bars,
        model and settings; the sampled paths with ``return_paths``."""
        from kronos_studio.evaluation.plausibility import check_fan
        from kronos_studio.forecasting import too_few_paths

        settings = forecast_settings(body)
        config.limits.check_path_steps(settings.paths, settings.horizon)
        levels = compute.check_quantile_levels(body.quantiles)
        bars, lines = compute.read_request_bars(body, config.limits)
        key = compute.request_key("forecast", bars, body.model, settings, who.workspace)
        fc = service.cache.get(key, lambda: compute.make_forecast(service.registry, body.model, bars, settings,
                                                                  who.workspace))
        out = compute.forecast_body(fc, levels, body.return_paths)
        if body.record:
            ledger = ledger_of(who)
            ledger.score(bars)  # as kronos forecast: these bars may score the series' earlier forecasts
            done = ledger.record(fc, bars)
            out["ledger"] = {"id": done.id, "new": done.new, "workspace": who.workspace}
        few = too_few_paths(fc.paths.shape[0])
        lines += [f"kronos: warning: too_few_paths: {few} (paths)"] if few else []
        lines += [f"kronos: warning: {p.code}: {p.message}" for p in check_fan(fc.paths, bars.frame["close"].to_numpy())]
        out["warnings"] = lines
        return out

    @app.post("/v1/evaluate")
    @answers
    def evaluate(body: EvaluateRequest, who: Identity = Depends(identity)):
        """The walk-forward report `kronos evaluate` writes (its JSON, ``file`` null)."""
        settings = forecast_settings(body)
        config.limits.check_path_steps(settings.paths, settings.horizon)
        needed = compute.SOURCE_BARS + body.cutoffs * settings.horizon
        bars, lines = compute.read_request_bars(body, config.limits, needed)
        key = compute.request_key("evaluate", bars, body.model, settings, who.workspace, cutoffs=body.cutoffs,
                                  include=body.include_training_period)
        made = service.cache.get(key, lambda: compute.evaluation(service.registry, body.model, bars, settings,
                                                                 body.cutoffs, body.include_training_period,
                                                                 who.workspace))
        return {**made.out, "warnings": lines + made.warnings}

    @app.post("/v1/batch", status_code=202)
    @answers
    def batch(body: BatchRequest, who: Identity = Depends(identity)):
        """A screen of many series (`kronos batch`) as a job: its id now, its status and result later."""
        settings = forecast_settings(body)
        config.limits.check_path_steps(settings.paths, settings.horizon)
        run = batch_run(body, settings, config.limits)
        job = service.jobs.submit(who, "batch", run)
        return job.public()

    @app.get("/v1/jobs/{job_id}")
    @answers
    def job_status(job_id: str, who: Identity = Depends(identity)):
        return service.jobs.get(who, job_id).public()

    @app.get("/v1/jobs/{job_id}/result")
    @answers
    def job_result(job_id: str, format: str = "json", who: Identity = Depends(identity)):
        """The finished job's rows as JSON, or the Parquet file (``format=parquet``)."""
        job = service.jobs.get(who, job_id)
        if job.status != "done":
            detail = f"job '{job_id}' is {job.status}" + (f": {job.error}" if job.error else
                                                         ": ask again when GET /v1/jobs/{id} says done")
            raise ServiceError(409, detail)
        if format == "parquet":
            return FileResponse(job.result, media_type="application/vnd.apache.parquet", filename=job.result.name)
        if format != "json":
            raise ServiceError(422, f"format must be json or parquet, got '{format}'")
        import pandas as pd

        return {"rows": records(pd.read_parquet(job.result))}

    @app.get("/v1/ledger/predictions")
    @answers
    def ledger_predictions(symbol: str | None = None, source: str | None = None, interval: str | None = None,
                           model: str | None = None, since: str | None = None, who: Identity = Depends(identity)):
        """The workspace's forecasts with their realized scores so far, newest first."""
        frame = ledger_of(who).predictions_frame(**ledger_filters(symbol, source, interval, model, since))
        return {"workspace": who.workspace, "predictions": records(frame)}

    @app.get("/v1/ledger/evaluations")
    @answers
    def ledger_evaluations(symbol: str | None = None, source: str | None = None, interval: str | None = None,
                           model: str | None = None, since: str | None = None, who: Identity = Depends(identity)):
        """The workspace's scored (forecast, step) rows."""
        frame = ledger_of(who).evaluations_frame(**ledger_filters(symbol, source, interval, model, since))
        return {"workspace": who.workspace, "evaluations": records(frame)}

    @app.get("/v1/ledger/track-record")
    @answers
    def ledger_track_record(symbol: str | None = None, source: str | None = None, interval: str | None = None,
                            since: str | None = None, include_experiments: bool = False,
                            who: Identity = Depends(identity)):
        """The realized track record of each model in the workspace (coverage, CRPS %, direction hits), of
        the forecasts at the default sampling settings unless ``include_experiments``."""
        filters = ledger_filters(symbol, source, interval, None, since)
        return {"workspace": who.workspace, **track_record_body(ledger_of(who), filters, include_experiments)}

    @app.post("/v1/ledger/score")
    @answers
    def ledger_score(body: ScoreRequest, who: Identity = Depends(identity)):
        """Score the workspace's forecasts of a series on newer bars of it (`kronos ledger score FILE`)."""
        from kronos_studio.bars_input import read_bars

        name = f"{body.symbol or 'bars'}.csv"
        bars = read_bars(body.bars_csv.encode(), name, timezone=body.timezone, calendar=body.calendar,
                         symbol=body.symbol)
        config.limits.check_bars(len(bars.frame))
        report = ledger_of(who).score(bars)
        return {"predictions": report.predictions, "steps": report.steps, "completed": report.completed,
                "skipped": report.skipped}

    @app.delete("/v1/ledger/predictions/{prediction_id}")
    @answers
    def ledger_delete(prediction_id: int, who: Identity = Depends(identity)):
        from kronos_studio.ledger import LedgerError

        try:
            ledger_of(who).delete(prediction_id)
        except LedgerError:
            raise ServiceError(404, f"no prediction {prediction_id} in workspace '{who.workspace}'") from None
        return {"deleted": prediction_id}

    return app


SERIES_NAME_CHARS = "A-Za-z0-9_.-"


def batch_run(body, settings, limits: Limits):
    """The job of a batch request: its series checked now (a bad one is a 422 before any job starts), run
    by ``kronos_studio.batch.engine.run_batch`` into the job's folder."""
    import re

    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.batch.watchlist import Entry, symbol_entries

    files, symbols = [], []
    for i, s in enumerate(body.series, 1):
        if (s.bars_csv is None) == (s.source is None):
            raise ServiceError(422, f"series {i}: give either bars_csv or source + symbol + interval")
        if s.bars_csv is not None:
            name = s.name or f"series{i}"
            if not re.fullmatch(f"[{SERIES_NAME_CHARS}]{{1,100}}", name):
                raise ServiceError(422, f"series {i}: name '{name}' may use only letters, digits, '_', '.', '-'")
            files.append((name, s.bars_csv))
        elif not s.symbol or not s.interval:
            raise ServiceError(422, f"series {i}: source '{s.source}' needs a symbol and an interval")
        else:
            symbols.append((s.source, s.symbol, s.interval, s.exchange))
    names = [n for n, _ in files]
    if len(set(names)) < len(names):
        raise ServiceError(422, "two series share a name: give each a name of its own")
    extra = {"touch_levels": tuple(body.touch_levels)} if body.touch_levels is not None else {}
    batch_settings = BatchSettings(settings, **extra)

    def run(folder: Path):
        from kronos_studio.batch.engine import run_batch

        inputs = folder / "inputs"
        inputs.mkdir()
        entries = []
        for name, text in files:
            (inputs / f"{name}.csv").write_text(text)
            entries.append(Entry(series=name, file=str(inputs / f"{name}.csv")))
        entries += symbol_entries(symbols)
        out = folder / "results.parquet"
        result = run_batch(entries, batch_settings, model=body.model, out=out, fixes=tuple(body.fix),
                           calendar=body.calendar)
        return out, {"series": len(result.rows), "forecast": result.forecast, "failed": result.failed,
                     "elapsed_s": round(result.elapsed_s, 3)}

    return run
