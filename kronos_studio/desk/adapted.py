"""A forecast by a LoRA event adapter, as the desk serves it (``Desk.forecast(..., adapter=AdapterRequest(...))``):
the adapter merged onto its base model once per process (``ModelRegistry.adapted``), reading the scheduled events
of a calendar and, through the event encoder's leader channels, other series named as covariates
(``covariates.kronos.covariate_events``: each leader bar handed over only once it completed before the cut-off).

Leaders are read through ``Desk.bars`` like any covariate (a file, a bundled sample, a source's ticker at the
target's interval). An adapter reads a leader channel only if it learned from it: the channels it was trained with
are in its metadata (``kronos lora --leader``); a leader it never saw (its channel was always 0 in training) is
refused, and a channel it learned from but the request leaves out is said (it reads 0, as a missing bar does).

The result key holds the adapter's weights' digest, the calendar's, and each leader's content hash, so an adapted
forecast is never served for the base model's or for one with other events; the provenance names them."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from data_sources.requests import SOURCE_BARS
from kronos.errors import Fix, InputError, Notice
from kronos.settings import ForecastSettings
from kronos_studio.catalog.kinds import kind_of
from kronos_studio.catalog.resolve import ModelRef
from kronos_studio.covariates.conditioning import same_bars
from kronos_studio.covariates.kronos import covariate_events
from kronos_studio.covariates.options import parse_reference
from kronos_studio.events import LEADERS, EventBuilder, bundled_calendar, load_calendar, merged_calendars
from kronos_studio.forecasters import make_forecast
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasters.window import lookback_note

from .covariates import request_at


@dataclass(frozen=True)
class AdapterRequest:
    """A forecast by the adapter in ``folder`` on the model asked for: the event ``calendar``
    (``events.EventCalendar``; None: no scheduled events) and ``leaders``, (leader channel, covariate reference)
    pairs such as ("index", "yfinance:^GSPC"). No calendar and no leaders: the adapter without event inputs."""

    folder: str
    calendar: object = None
    leaders: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "folder", str(Path(self.folder).expanduser()))
        object.__setattr__(self, "leaders", tuple((str(c).strip(), str(r).strip()) for c, r in self.leaders))
        channels = [c for c, _ in self.leaders]
        unknown = [c for c in channels if c not in LEADERS]
        if unknown:
            raise InputError(f"{unknown[0]!r} is not a leader channel of the event encoder", {"leaders": channels},
                             Fix(f"name each leader as one of {', '.join(LEADERS)} ({{setting}}, e.g. index=SPY.csv)",
                                 "leaders"))
        twice = sorted({c for c in channels if channels.count(c) > 1})
        if twice:
            raise InputError(f"the leader channel {twice[0]!r} is named twice", {"leaders": channels},
                             Fix("name each channel once in {setting}", "leaders"))


def parse_leader(text: str) -> tuple[str, str]:
    """``index=yfinance:^GSPC`` -> ("index", "yfinance:^GSPC"); refused without a channel."""
    channel, sep, ref = str(text).partition("=")
    if not sep or not channel.strip() or not ref.strip():
        from kronos_studio.events import LEADERS

        raise InputError(f"a leader is named as CHANNEL=SERIES, got {text!r}", {"leaders": text},
                         Fix(f"write {{setting}} as one of {', '.join(LEADERS)}, '=', then a file, a sample or a "
                             "source:ticker (index=SPY.csv)", "leaders"))
    return channel.strip(), ref.strip()


def trained_leaders(folder: str) -> set[str] | None:
    """The leader channels the adapter learned from (its metadata, ``kronos lora --leader``); None when its
    metadata does not say (an adapter of another maker)."""
    from kronos_studio.training.adapters import adapter_metadata

    meta = adapter_metadata(folder) or {}
    named = (meta.get("training") or {}).get("leaders")
    if named is None:
        return None
    return {str(n).partition("=")[0] for n in named}


def event_calendar(*, bundled: bool = True, user=()):
    """The calendar an adapter's forecast reads (``events.EventCalendar``, None: none): the bundled US macro calendar
    (unless ``bundled`` is False, read once per process) merged with the user's, each a path or a ``(content,
    name)`` pair (an upload); an ``EventError`` naming what cannot be read."""
    users = [load_calendar(*given) if isinstance(given, tuple) else load_calendar(given) for given in user]
    return merged_calendars([_bundled_calendar() if bundled else None, *users])


@lru_cache(maxsize=1)
def _bundled_calendar():
    return bundled_calendar()


def adapters_folder(workspace: str | None = None) -> Path:
    """Where a workspace's adapters are written and found: ``adapters/`` under the studio's storage root
    (``workspaces.workspace_path``; None: the default workspace)."""
    from kronos_studio.workspaces import workspace_path

    return workspace_path("adapters", workspace)


def adapters_trained_on(pair, folders) -> list[Path]:
    """Of the adapter ``folders``, those trained on ``pair``'s predictor and tokenizer revisions (either adapter
    format: ``training.adapters.adapter_metadata``)."""
    from kronos_studio.training.adapters import adapter_metadata

    prov = pair.provenance()
    out = []
    for folder in folders:
        meta = adapter_metadata(folder)
        if meta is None:
            continue
        base = meta.get("base_model", {})
        if (base.get("predictor_revision"), base.get("tokenizer_revision")) == (
                prov.get("predictor_revision"), prov.get("tokenizer_revision")):
            out.append(folder)
    return out


def weights_digest(folder: str) -> str:
    """The adapter's files' content: a retrained adapter in the same folder is another model."""
    h = hashlib.sha256()
    for f in sorted(Path(folder).iterdir()):
        if f.is_file() and f.suffix in (".safetensors", ".json"):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def read_leaders(desk, request: AdapterRequest, target) -> tuple[dict, list[dict], list[Notice]]:
    """(channel -> gated bars, what the provenance names, their notices), each read through ``desk.bars``."""
    needed = max(SOURCE_BARS, 2 * len(target.frame))
    bars, named, notices = {}, [], []
    for channel, text in request.leaders:
        gated = desk.bars(request_at(parse_reference(text), target.interval, needed))
        if same_bars(gated.bars, target):
            raise InputError(f"the leader {text} is the target itself", {"leader": text},
                             Fix("name another series in {setting}", "leaders"))
        bars[channel] = gated.bars
        named.append({"channel": channel, "ref": text, "series": gated.bars.series_symbol,
                      "interval": gated.bars.interval, "content_hash": gated.bars.content_hash()})
        notices += [Notice(f"leader {channel}={text}: {n.problem}", n.fix, n.kind, n.values) for n in gated.notices]
    return bars, named, notices


def check_leaders(request: AdapterRequest, name: str) -> list[Notice]:
    """Refuse a leader the adapter never learned from; say the channels it learned from that are left out."""
    learned = trained_leaders(request.folder)
    asked = {c for c, _ in request.leaders}
    if learned is None:
        return [Notice(f"adapter {name} does not say which leader channels it was trained with: the leaders given "
                       "are read as its event encoder reads them, untested", kind="note")] if asked else []
    unseen = sorted(asked - learned)
    if unseen:
        raise InputError(f"adapter {name} never learned from the leader channel {unseen[0]!r} (trained with "
                         f"{', '.join(sorted(learned)) or 'none'}): its input there was always 0, so what it would "
                         "make of a series there is untested", {"leaders": sorted(asked), "trained": sorted(learned)},
                         (Fix("leave it out of {setting}", "leaders"),
                          Fix("or train an adapter with that leader channel")))
    missing = sorted(learned - asked)
    return [Notice(f"adapter {name} learned from the leader channel{'s' if len(missing) > 1 else ''} "
                   f"{', '.join(missing)}, not given here: {'they read' if len(missing) > 1 else 'it reads'} 0, as "
                   "a missing leader bar does", (Fix("name it in {setting}", "leaders"),))] if missing else []


def check_base(model) -> None:
    """An adapter is put on one Kronos model: not the ensemble, ``champion`` (whose adapters are the registry's),
    Chronos-2 or a statistical model."""
    if not kind_of(model).takes_adapter:
        label = model.label if isinstance(model, ModelRef) else model
        raise InputError(f"{label} cannot take a LoRA adapter: an adapter is trained on one Kronos model",
                         {"model": str(label)}, Fix("choose the Kronos model the adapter was trained on ({setting})",
                                                    "model"))


@dataclass
class Prepared:
    """An adapted request read and checked: its key's identity, the event inputs, what to say."""

    identity: dict  # for the key: ``Desk.forecast_key`` of it
    events: object  # the forecaster's ``events`` callable, or None
    notices: list[Notice]


def prepare(desk, bars, model, request: AdapterRequest, *, workspace, ledger) -> Prepared:
    """Check the base and the leaders, read the leaders (their refusals before any forecast), build the event
    inputs and the identity a result is kept by. No model is loaded."""
    check_base(model)
    name = Path(request.folder).name
    notices = check_leaders(request, name)
    leaders, named, said = read_leaders(desk, request, bars)
    if leaders:  # the alignment's refusals (no overlap, stopped before the cut-off, ...) here
        events = covariate_events(bars, leaders, calendar=request.calendar, with_calendar=False)
    else:
        events = EventBuilder(request.calendar) if request.calendar is not None else None  # as kronos lora trains
    _, base = desk._identity(model, bars, workspace, ledger)
    identity = {**base, "adapter": {"name": name, "digest": weights_digest(request.folder)},
                "events": {"calendar": None if request.calendar is None else request.calendar.digest(),
                           "leaders": named}}
    return Prepared(identity, events, said + notices)


def forecast(desk, gated, model, request: AdapterRequest, settings: ForecastSettings, *, workspace, ledger, future,
             progress, waiting):
    """``Desk.forecast`` by the adapter ``request`` names on ``model``: ((forecast, lookback note), from the cache,
    the bars', leaders' and adapter's notices)."""
    from kronos_studio.forecasting import studio_pipeline

    bars = gated.bars
    ready = prepare(desk, bars, model, request, workspace=workspace, ledger=ledger)
    adapter = ready.identity["adapter"]

    def compute():
        pair = desk.registry.adapted(model, request.folder, adapter["digest"])
        forecaster = KronosForecaster(studio_pipeline(pair, desk.registry.decode), events=ready.events)
        with desk.registry.sampling(ready.identity["model"], workspace):
            fc = make_forecast(forecaster, bars, settings, future, progress=progress)
        fc.provenance["adapter"] = {**adapter, "events": ready.identity["events"]}
        return fc, lookback_note(forecaster, settings, len(fc.history))

    made, hit = desk._kept(lambda: desk.forecast_key(bars, ready.identity, settings, workspace, future), compute,
                           waiting)
    return made, hit, gated.notices + ready.notices
