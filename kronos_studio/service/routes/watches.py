"""Watches (``kronos watch``) per workspace: ``POST /v1/watches`` keeps one and ticks it at each bar close on the
service's job threads (``watch_runner``), or with ``replay_from`` replays past days as a job; ``GET /v1/watches``
lists them with their last ticks, ``GET /v1/watches/{id}`` shows one's ticks and alerts, ``POST .../pause`` and
``.../resume`` stop and restart its ticks, ``DELETE`` removes it (its forecasts stay in the ledger). A watch's
series are the ones ``POST /v1/batch`` takes; no answer holds a webhook's token or a server path."""
from __future__ import annotations

import json
import shutil
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import Field, create_model

from kronos.errors import UserError, worded
from kronos.settings import Bounds
from kronos_studio.desk import (
    READING,
    AlertChannels,
    AlertRules,
    Replay,
    RetrainPolicy,
    ScreenRequest,
    Watcher,
    WatchRequest,
)
from kronos_studio.desk.watch import watch_folder, watch_request_of
from kronos_studio.desk.watches import delete_watch, list_watches, set_paused, show_watch, shown_watch, watch_book

from ..deps import Shared, Who, WorkspaceLedger
from ..errors import ServiceError, field_name
from ..public_ids import FORECAST_ID_CHARS, WatchIds, watch_id, watch_of
from ..redact import without_paths
from ..schemas import (
    EVERY_ROUTE,
    BatchSeries,
    Strict,
    answers,
    bounded_type,
    forecast_settings,
    knob_fields,
    settings_fields,
)
from ..series import INPUTS, placed, series_entries
from ..watch_runner import MADE_BY, WatchRunner, replay_job

router = APIRouter(prefix="/v1/watches", responses=answers(*EVERY_ROUTE))
WatchId = Annotated[str, Path(pattern=f"^[0-9a-f]{{{FORECAST_ID_CHARS}}}$",
                              description="a watch's public id (its 'id', GET /v1/watches)")]
TICKS_SHOWN, MAX_TICKS_SHOWN = 20, 1000
Ticks = Annotated[bounded_type(int, "ticks", Bounds(ge=1, le=MAX_TICKS_SHOWN)),
                  Query(description="the newest ticks shown, what each did per series")]


class WatchOptions(Strict):
    """A watch: its name, its series (as ``POST /v1/batch`` takes them), the model (default: the bundled one;
    ``champion``: each series' own; ``ensemble``) and the forecast's settings; ``replay_from`` (and ``to``) replays
    past days instead, its rows labelled ``replay_name`` (default: the name); the replay, the learning, the retrain
    policy, the alert rules and channels one field per ``Knob`` of ``kronos_studio.desk.watch``'s options."""

    name: str = Field(..., min_length=1, max_length=200)
    series: list[BatchSeries] = Field(..., min_length=1)
    model: str | None = None


WatchBody = create_model("WatchBody", __base__=WatchOptions, __doc__=WatchOptions.__doc__, **settings_fields(),
                         **knob_fields(Replay), **knob_fields(WatchRequest),
                         **knob_fields(ScreenRequest, READING), **knob_fields(RetrainPolicy), **knob_fields(AlertRules),
                         **knob_fields(AlertChannels))


def body_field(setting: str, value: object = None) -> str:
    """A setting a watch's refusal names, as this request's field (else as any request's)."""
    if setting in WatchBody.model_fields:
        return f'the field "{setting}"' if value is None else f'"{setting}": {json.dumps(value, default=str)}'
    return field_name(setting, value)


def refusal(e: UserError, status: int = 422) -> ServiceError:
    return ServiceError(status, worded(e.problem, e.fix, body_field), problem=e.problem, values=e.values, fix=e.fix)


def watch_request(body, workspace: str, desk):
    """The desk's ``WatchRequest`` of ``body`` (its series checked within ``desk``'s limits): CSV series kept under
    the workspace's storage (a live watch reads them at every tick), the others fetched."""
    entries, texts = series_entries(desk, body.series, desk.limits)
    folder = watch_folder(body.name, workspace)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / INPUTS).exists():  # the watch asked again: its series as this request gives them
        shutil.rmtree(folder / INPUTS)
    entries = placed(entries, texts, folder)
    return watch_request_of(body, name=body.name, entries=tuple(entries), settings=forecast_settings(body),
                            model=body.model)


def watch_body(ledger, shown) -> dict:
    """A watch as an answer (``desk.watches.WatchShown``): its public id, its request without secrets or server
    paths, its ticks, every id in them public (``public_ids.WatchIds``)."""
    ids = WatchIds(ledger)
    return {**{k: v for k, v in shown.watch.to_dict().items() if k != "request"}, "id": watch_id(shown.watch),
            "request": without_paths(shown.request()), "ticks": [ids.tick(t) for t in shown.ticks]}


def _kicked(service) -> None:
    """The live watches looked at again (one added, paused, resumed or deleted)."""
    runner = getattr(service, "watch_runner", None)
    if runner is not None:
        runner.kick()


@router.post("", status_code=201, responses=answers(400, 404, 429))
def watches_create(body: WatchBody, who: Who, service: Shared, ledger: WorkspaceLedger):
    """Keep a watch and tick it at each of its series' bar closes (201), or with ``replay_from`` replay past days
    as a job (202 with the job: ``GET /v1/jobs/{id}``)."""
    body = body.model_copy(update={"model": service.model(body.model)})
    try:
        request = watch_request(body, who.workspace, service.desk)
        ready = Watcher(service.desk, request, ledger, made_by=MADE_BY)  # checked now: a refusal is a 422
    except UserError as e:
        raise refusal(e) from None
    answer = watch_body(ready.ledger, shown_watch(ready.ledger, ready.watch.id))
    if request.replay is not None:
        job = service.jobs.submit(who, "watch replay", replay_job(ready))
        return JSONResponse({"watch": answer, "job": job.public()}, status_code=202)
    _kicked(service)
    return answer


@router.get("")
def watches_list(who: Who, ledger: WorkspaceLedger):
    """The workspace's watches, each with its last tick."""
    return {"workspace": who.workspace, "watches": [watch_body(ledger, w) for w in list_watches(ledger)]}


@router.get("/{watch_id}", responses=answers(404))
def watches_show(watch_id: WatchId, ledger: WorkspaceLedger, ticks: Ticks = TICKS_SHOWN):
    """One watch: its newest ``ticks`` ticks (what each did per series) and its alerts (sent or failed)."""
    shown = show_watch(ledger, watch_of(watch_book(ledger), watch_id).id, ticks=ticks)
    when = {i: at.isoformat() for i, at in shown.alert_ticks.items()}
    return {**watch_body(ledger, shown), "alerts": WatchIds(ledger).alerts(shown.alerts, when)}


def _set(watch_id: str, ledger, service, paused: bool) -> dict:
    changed = set_paused(ledger, watch_of(watch_book(ledger), watch_id).id, paused)
    _kicked(service)
    return watch_body(ledger, shown_watch(ledger, changed.id))


@router.post("/{watch_id}/pause", responses=answers(404))
def watches_pause(watch_id: WatchId, ledger: WorkspaceLedger, service: Shared):
    """Stop ticking it (a tick running now finishes)."""
    return _set(watch_id, ledger, service, True)


@router.post("/{watch_id}/resume", responses=answers(404))
def watches_resume(watch_id: WatchId, ledger: WorkspaceLedger, service: Shared):
    """Tick it again from its next bar close."""
    return _set(watch_id, ledger, service, False)


@router.delete("/{watch_id}", responses=answers(404))
def watches_delete(watch_id: WatchId, ledger: WorkspaceLedger, service: Shared):
    """Remove it with its ticks and alerts (the forecasts it recorded stay in the ledger)."""
    delete_watch(ledger, watch_of(watch_book(ledger), watch_id).id)
    _kicked(service)
    return {"deleted": watch_id}


def start_runner(service):
    """The thread ticking the service's live watches, on ``service.watch_runner`` (stopped with it)."""
    service.watch_runner = WatchRunner(service).start()
    return service.watch_runner
