"""The watch (``Desk.watch`` delegates here): the learning loop run by itself over a watchlist, live at each bar
close or replayed over past days on a simulated clock. One tick, for every series of the watchlist:

1. its bars: read (a folder's newest file of each series) or fetched (the bar cache: only newer bars), or in a
   replay cut at the tick's clock, the bars closed by then, as that day's download held them; the quality gate;
2. every recorded forecast whose bars have arrived scored (``Ledger.score``);
3. a forecast of each series by its champion (or the model asked) through the engine of ``kronos batch`` (pool or
   Ray: a 500-series watchlist ticks in the time of a batch), with the batch's risk columns, each recorded in the
   ledger as it comes (an ensemble, which the batch does not run, one series at a time through ``Desk.forecast``);
4. drift (``ledger.drift``) and the VaR exceptions of the forecasts whose horizon has just arrived
   (``risk.record``);
5. the gated retrain where it is due (every N ticks, or when drift is flagged: ``RetrainPolicy``), and with
   ``learn`` the gated meta-learner refitted on what was scored by then (``ensemble.gated``);
6. alerts (``AlertRules``) delivered by ``kronos_studio.alerts`` and kept in the ledger.

**Run once, crash-safe, by the ledger's keys and locks, never by timing.** A tick is a row per (watch, tick time)
claimed by one process (``ledger.watches``): run twice, the second finds it done; killed with -9 and started again,
the next run takes the claim over (its holder is gone) and runs the tick again, which records nothing twice: each
series' forecast at a last bar is looked up first (``Ledger.made_from``), forecasts are seeded and kept once by
their key, scores once per step, a retrain once per window (the registry), an alert once per event and target.

**A replay** writes under its label (``Ledger.replaying``): its forecasts, scores, champions and lineage never
meet the live ones, and every view reads one label. The training-period guard applies: ticks whose bars the base
model learned from are refused, or with ``include_training_period`` run and flagged, in the label itself.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data_sources.calendars import bar_closes, closes_between, next_close
from kronos.errors import Fix, Notice, UserError
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings, from_knobs, knob, knobs
from kronos_studio.alerts import Email, Message, Retry, Webhook, deliver
from kronos_studio.batch.engine import BatchRun, run_batch
from kronos_studio.batch.forecaster import BatchSettings
from kronos_studio.batch.summary import risk_column
from kronos_studio.batch.watchlist import Entry, Loaded, gate_entry, load_entries, read_watchlist
from kronos_studio.bundled import default_model_path
from kronos_studio.catalog.choice import ModelChoice
from kronos_studio.catalog.kinds import kind_of
from kronos_studio.catalog.resolve import ENSEMBLE
from kronos_studio.ensemble.members import weights_sha256
from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD
from kronos_studio.evaluation.trust import TrainingPeriodError
from kronos_studio.redact import masked_url
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.record import risk_record, tag
from kronos_studio.training.retrain_settings import RetrainSettings

from .limits import TooLarge
from .requests import ForecastRequest
from .screen import Engine

# The stages of a tick, in order: what the bench's shares and a tick's ``timings`` name.
STAGES = ("load", "score", "forecast", "record", "drift_exceptions", "retrain", "alerts")
REPLAY_HISTORY = 100_000  # bars asked of a source for a replay: all it has (a file is read whole anyway)
MADE_BY = "kronos watch"
# The rules' names (an alert's ``rule``)
VAR_EXCEPTION, DRIFT, CHAMPION_CHANGED, DATA_GATE, TICK_FAILED, PRICE_CROSSED = (
    "var_exception", "drift", "champion_changed", "data_gate", "tick_failed", "price_crossed")


class WatchError(UserError, ValueError):
    """A watch that cannot run as asked; the message names the problem and the fix."""


# --- the options: each a field with its Knob, from which every face is drawn ---------------------------------
@dataclass(frozen=True)
class RetrainPolicy:
    """When the gated retrain runs at a tick, and (with ``learn``) when the meta-learner is refitted."""

    every: int = knob(0, label="Retrain every (ticks)", low=0, high=100_000, setting="retrain_every",
                      help="run the gated retrain of every series every this many ticks (0: not on a schedule)")
    on_drift: bool = knob(False, label="Retrain when drift is flagged", setting="retrain_on_drift",
                          help="run the gated retrain of a series at the tick its drift is newly flagged")
    learn_every: int = knob(20, label="Refit the meta-learner every (ticks)", low=1, high=100_000,
                            setting="learn_every", help="with learning on: refit the gated meta-learner from the "
                                                        "ledger every this many ticks")

    def __post_init__(self):
        if self.every < 0 or self.learn_every < 1:
            bad, least = ("retrain_every", 0) if self.every < 0 else ("learn_every", 1)
            raise WatchError(f"{bad} must be at least {least}", {bad: getattr(self, "every" if least == 0 else
                                                                             "learn_every")},
                             Fix(f"use {least} or more ({{setting}})", bad, least))


@dataclass(frozen=True)
class AlertRules:
    """Which events raise an alert."""

    var_exception: bool = knob(True, label="Alert on a VaR exception", setting="alert_var_exception",
                               help="a forecast's horizon return was a loss beyond its VaR")
    var_level: float = knob(0.99, label="VaR level of the exception alerts", low=0.5, high=0.9999, step=0.005,
                            setting="alert_var_level", help="the VaR level whose exceptions are alerted")
    drift: bool = knob(True, label="Alert when drift is flagged", setting="alert_drift",
                       help="a model on a series newly drifting (coverage, PIT or skill)")
    champion_changed: bool = knob(True, label="Alert when a champion changes", setting="alert_champion",
                                  help="a series' champion promoted, rolled back or replaced")
    data_gate: bool = knob(True, label="Alert when the data gate refuses a series", setting="alert_data_gate",
                           help="a series' bars could not be read or the quality gate refused them (at the tick it starts)")
    tick_failed: bool = knob(True, label="Alert when a tick fails", setting="alert_tick_failed",
                             help="a tick stopped on an error (it runs again at the next start)")
    price_levels: tuple[str, ...] = knob((), label="Price levels", setting="price_level",
                                         help="SERIES=PRICE: alert when the series' close crosses PRICE")

    def __post_init__(self):
        if not 0.5 < self.var_level < 1:
            raise WatchError(f"the VaR level of the exception alerts must lie between 0.5 and 1, got {self.var_level}",
                             {"alert_var_level": self.var_level}, Fix("give e.g. 0.99 ({setting})", "alert_var_level"))
        self.levels()

    def levels(self) -> dict[str, list[float]]:
        """series -> the price levels it is watched against."""
        out: dict[str, list[float]] = {}
        for text in self.price_levels:
            name, _, price = str(text).rpartition("=")
            try:
                value = float(price)
            except ValueError:
                value = float("nan")
            if not name or not value > 0:
                raise WatchError(f"a price level is SERIES=PRICE with a positive price, got {text!r}",
                                 {"price_level": text}, Fix("give e.g. AAPL=200 ({setting})", "price_level"))
            out.setdefault(name, []).append(value)
        return out


@dataclass(frozen=True)
class AlertChannels:
    """Where alerts go: webhooks (JSON, Slack's incoming-webhook shape) and e-mail over SMTP, with retries. The
    SMTP password is never given, only the environment variable that holds it when an alert is sent."""

    webhooks: tuple[str, ...] = knob((), label="Webhook URLs", setting="webhook",
                                     help="POST each alert as JSON ({'text': ...}: Slack's incoming webhooks read it)")
    email_to: tuple[str, ...] = knob((), label="E-mail to", setting="email_to", help="addresses to e-mail alerts to")
    smtp_host: str = knob("", label="SMTP host", setting="smtp_host", help="the SMTP server e-mail alerts go through")
    smtp_port: int = knob(25, label="SMTP port", low=1, high=65535, setting="smtp_port", help="its port")
    smtp_from: str = knob("kronos-studio@localhost", label="E-mail from", setting="smtp_from",
                          help="the sender address of e-mail alerts")
    smtp_user: str = knob("", label="SMTP user", setting="smtp_user", help="log in as this user (empty: no login)")
    smtp_password_env: str = knob("", label="SMTP password variable", setting="smtp_password_env",
                                  help="the environment variable holding the SMTP password (never the password)")
    smtp_starttls: bool = knob(False, label="SMTP STARTTLS", setting="smtp_starttls", help="encrypt with STARTTLS")
    attempts: int = knob(4, label="Delivery attempts", low=1, high=20, setting="alert_attempts",
                         help="tries per alert, with exponential backoff between them")
    backoff_s: float = knob(2.0, label="First retry after (s)", low=0.0, high=600.0, setting="alert_backoff",
                            help="seconds before the first retry; each later one waits twice as long")

    def __post_init__(self):
        if self.email_to and not self.smtp_host:
            raise WatchError("e-mail alerts need an SMTP server", {"email_to": list(self.email_to)},
                             Fix("name it with {setting}", "smtp_host"))
        if self.attempts < 1 or self.backoff_s < 0:
            raise WatchError("an alert is tried at least once, after waits of 0 s or more",
                             {"alert_attempts": self.attempts, "alert_backoff": self.backoff_s},
                             Fix("give 1 or more ({setting})", "alert_attempts"))

    def channels(self) -> list:
        out = [Webhook(url) for url in self.webhooks]
        if self.email_to:
            out.append(Email(self.smtp_host, tuple(self.email_to), self.smtp_port, self.smtp_from,
                             self.smtp_user or None, self.smtp_password_env or None, self.smtp_starttls))
        return out

    def retry(self):
        return Retry(self.attempts, self.backoff_s)

    def shown(self) -> dict:
        """As a face may show it: the webhooks without their tokens (``redact.masked_url``)."""
        return {**dataclasses.asdict(self), "webhooks": [masked_url(u) for u in self.webhooks]}


@dataclass(frozen=True)
class Replay:
    """A replay over past days: ticks at every bar close after ``start`` to the end of ``end`` (dates, UTC; None:
    the end of the bars); ``label``: the name its rows carry (default: the watch's name and the dates)."""

    start: str | None = knob(None, label="Replay from", setting="replay_from",
                             help="replay the days after this date (YYYY-MM-DD) on a simulated clock: each tick sees "
                                  "only the bars closed by then")
    end: str | None = knob(None, label="Replay to", setting="to",
                           help="with replay_from: the last day replayed (default: the end of the bars)")
    label: str | None = knob(None, label="Replay name", setting="replay_name",
                             help="with replay_from: the label its rows carry (default: the watch's name)")

    def __post_init__(self):
        object.__setattr__(self, "label", self.label or "")  # not given: "" (what the watch's key was made with)

    def window(self) -> tuple[pd.Timestamp, pd.Timestamp | None]:
        try:
            start = _utc(self.start)
            end = None if self.end is None else _utc(self.end) + pd.Timedelta(days=1)  # to the end of that day
        except (ValueError, TypeError) as e:
            raise WatchError(f"a replay's dates are days like 2018-05-01: {e}",
                             {"replay_from": self.start, "to": self.end},
                             Fix("give {setting} as YYYY-MM-DD", "replay_from")) from None
        if end is not None and end <= start:
            raise WatchError(f"the replay ends ({self.end}) before it starts ({self.start})",
                             {"replay_from": self.start, "to": self.end}, Fix("give a later {setting}", "to"))
        return start, end


@dataclass(frozen=True)
class WatchRequest:
    """What a watch does at each tick: the watchlist's ``entries`` (``batch.watchlist.Entry``; ``watchlist``: the
    folder or CSV they were read from, read again at each live tick), the model (None: the bundled default;
    ``champion``: each series' own; ``ensemble``), the forecast and risk settings, the retrain policy, the alert
    rules and channels, and for a replay its window (``replay``). ``learn``: refit the gated meta-learner when
    due; ``engine``: where a tick's forecasts run (``kronos batch``'s ``Engine``, its knobs the command line's options);
    ``retrain_settings``: how a challenger is trained (None: ``RetrainSettings``' defaults at the horizon)."""

    name: str
    entries: tuple
    settings: ForecastSettings
    model: str | None = None
    watchlist: str | None = None
    risk: RiskSettings = RiskSettings(per_step=False)
    retrain: RetrainPolicy = RetrainPolicy()
    alerts: AlertRules = AlertRules()
    channels: AlertChannels = AlertChannels()
    replay: Replay | None = None
    learn: bool = knob(False, label="Learn", help="refit the gated meta-learner from the ledger when due (learn_every "
                                                  "ticks), on what was scored by each tick's clock")
    include_training_period: bool = knob(False, label="Replay inside the model's training period",
                                         setting=INCLUDE_TRAINING_PERIOD,
                                         help="run a replay whose ticks lie inside the base model's training period "
                                              "(refused otherwise: its scores would measure memory), its rows flagged")
    engine: Engine = Engine()
    fixes: tuple[str, ...] = ()
    calendar: str | None = None
    retrain_settings: object = None  # training.retrain_settings.RetrainSettings

    def __post_init__(self):
        if not str(self.name).strip() or len(self.name) > 200:
            raise WatchError("a watch needs a name of 1 to 200 characters", {"name": self.name},
                             Fix("name it ({setting})", "name"))
        if not self.entries:
            raise WatchError("the watchlist has no series", fix=Fix("add series to the watchlist"))
        if self.replay is not None and self.replay.start is None:  # a face's Replay of its knobs, replay_from not given
            given = {k: v for k, v in (("to", self.replay.end), ("replay_name", self.replay.label)) if v}
            if given:  # never a live watch that silently drops them
                raise WatchError(f"{' and '.join(given)} {'belong' if len(given) > 1 else 'belongs'} to a replay, "
                                 "which replay_from starts", given, Fix("give {setting} too", "replay_from"))
            object.__setattr__(self, "replay", None)

    def to_json(self) -> dict:
        """The request as the ledger keeps it (``watches.request``): plain JSON, read back by ``from_json``."""
        out = {"name": self.name, "entries": [dataclasses.asdict(e) for e in self.entries],
               "settings": dataclasses.asdict(self.settings), "model": self.model, "watchlist": self.watchlist,
               "risk": dataclasses.asdict(self.risk), "retrain": dataclasses.asdict(self.retrain),
               "alerts": dataclasses.asdict(self.alerts), "channels": dataclasses.asdict(self.channels),
               "replay": None if self.replay is None else dataclasses.asdict(self.replay), "learn": self.learn,
               "include_training_period": self.include_training_period, **self._engine_json(),
               "fixes": list(self.fixes), "calendar": self.calendar,
               "retrain_settings": None if self.retrain_settings is None else dataclasses.asdict(self.retrain_settings)}
        return json.loads(json.dumps(out, default=str))

    def _engine_json(self) -> dict:
        """The engine as flat keys (as kept before it was an ``Engine``); no ray_address when none is given, so that
        a watch kept before it existed keeps its key."""
        return {k: v for k, v in dataclasses.asdict(self.engine).items() if k != "ray_address" or v is not None}

    @classmethod
    def from_json(cls, data: dict) -> WatchRequest:
        def tuples(d: dict) -> dict:
            return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

        return cls(name=data["name"], entries=tuple(Entry(**e) for e in data["entries"]),
                   settings=ForecastSettings(**data["settings"]), model=data.get("model"),
                   watchlist=data.get("watchlist"), risk=RiskSettings(**tuples(data["risk"])),
                   retrain=RetrainPolicy(**data["retrain"]), alerts=AlertRules(**tuples(data["alerts"])),
                   channels=AlertChannels(**tuples(data["channels"])),
                   replay=None if data.get("replay") is None else Replay(**data["replay"]),
                   learn=bool(data.get("learn")), include_training_period=bool(data.get("include_training_period")),
                   engine=Engine(data.get("engine", "local"), data.get("ray_address"), data.get("workers")), fixes=tuple(data.get("fixes", ())),
                   calendar=data.get("calendar"),
                   retrain_settings=None if data.get("retrain_settings") is None else RetrainSettings(
                       **data["retrain_settings"]))

    def key(self) -> str:
        """What makes its ticks (not its name, nor where its alerts go): another key is another watch. A watchlist
        read again at each tick keys its series, not their files: the day's download (``AAPL_2026-06-30.csv``
        beside ``AAPL_2026-06-29.csv``) is the same watch."""
        made = {k: v for k, v in self.to_json().items() if k not in ("name", "channels", "alerts", "watchlist")}
        if self.watchlist is not None:
            made["entries"] = [{k: v for k, v in e.items() if k != "file"} for e in made["entries"]]
        return hashlib.sha256(json.dumps(made, sort_keys=True).encode()).hexdigest()

    def shown(self) -> dict:
        """The request as a face may show it: no webhook token (``AlertChannels.shown``)."""
        return {**self.to_json(), "channels": self.channels.shown()}


def watch_request_of(given, **fixed) -> WatchRequest:
    """The ``WatchRequest`` a face's values ask for (a parsed command line, a request body: ``from_knobs``): its own
    knobs, its options' (``RetrainPolicy``, ``AlertRules``, ``AlertChannels``, ``Replay``, ``Engine``) and how its
    series are read (``ScreenRequest``'s fixes and calendar), with the fields a face works out (``fixed``: the name,
    the entries, the settings, the model...)."""
    read = given if isinstance(given, dict) else vars(given)
    return from_knobs(WatchRequest, given, retrain=from_knobs(RetrainPolicy, given),
                      alerts=from_knobs(AlertRules, given), channels=from_knobs(AlertChannels, given),
                      replay=from_knobs(Replay, given), engine=from_knobs(Engine, given),
                      fixes=tuple(read.get("fix") or ()), calendar=read.get("calendar"), **fixed)


def option_knobs() -> dict[str, tuple]:
    """Every knob of a watch's options, by its setting: what the faces generate their options from."""
    return {how.name(name): (value, how) for cls in (RetrainPolicy, AlertRules, AlertChannels)
            for name, (value, how) in knobs(cls).items()}


# --- what a tick did ---------------------------------------------------------------------------------------------
@dataclass
class SeriesTick:
    """One series at one tick: ``status`` forecast (recorded now), kept (recorded by an earlier run of this tick),
    or why it was not forecast; what was scored; the forecast's id and its VaR; the drift state of its model."""

    series: str
    status: str
    bars_end: str | None = None
    last_close: float | None = None
    scored_steps: int = 0
    forecast_id: int | None = None
    var: float | None = None  # the long position's VaR at the alert level, of the horizon return
    drift: str | None = None
    champion: int | None = None
    retrain: str | None = None
    message: str | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TickResult:
    """What one tick did: ``status`` done, or skipped (``already``: run before; ``busy``: another process runs it
    now), or failed (``error``); per series (``series``), the alerts it raised and delivered, notices, timings."""

    watch: str
    tick_at: pd.Timestamp
    status: str
    series: list[SeriesTick] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    timings: dict = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    attempt: int = 1
    error: str | None = None

    def summary(self) -> dict:
        """What the ledger keeps of it (``watch_ticks.summary``)."""
        return {"series": {s.series: s.to_dict() for s in self.series},
                "notices": [n.worded() for n in self.notices], "timings": self.timings,
                "alerts": self.alerts}

    def to_json(self) -> dict:
        """The tick as every face writes it (``kronos watch --json``, the service's tick and replay jobs): when,
        its status and error, and its ``summary``."""
        return {"tick_at": self.tick_at.isoformat(), "status": self.status, "error": self.error, **self.summary()}


@dataclass(frozen=True)
class TicksRun:
    """What a run of ticks did: how many ticks, how many ran now (done or failed) and how many were done before
    (``already``) or run by another process (``busy``); the forecasts recorded, steps scored and alerts raised by
    the ticks run now."""

    ticks: int
    ran: int
    done: int
    failed: int
    busy: int
    forecasts: int
    scored: int
    alerts: int

    @classmethod
    def of(cls, ticks: list[TickResult]) -> TicksRun:
        ran = [t for t in ticks if t.status not in ("already", "busy")]
        return cls(len(ticks), len(ran), sum(t.status == "done" for t in ticks),
                   sum(t.status == "failed" for t in ticks), sum(t.status == "busy" for t in ticks),
                   sum(s.status == "forecast" for t in ran for s in t.series),
                   sum(s.scored_steps for t in ran for s in t.series), sum(len(t.alerts) for t in ran))

    @property
    def skipped(self) -> int:
        """Ticks not run now: done before, or run by another process now."""
        return self.ticks - self.ran


@dataclass
class Watched:
    """A watch's run: its ticks (a replay's every one, a live run's so far) and what its reader should know."""

    watch: object  # ledger.watches.Watch
    replay: str  # the label its rows carry ('' live)
    ticks: list[TickResult] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def run(self) -> TicksRun:
        """What its ticks did, counted."""
        return TicksRun.of(self.ticks)


# --- the live schedule ------------------------------------------------------------------------------------------
LIVE_DELAY = pd.Timedelta(minutes=1)  # after a bar's close, for the bar to reach its source


class LiveSchedule:
    """When live watches tick: each at its series' next bar close plus ``delay`` (for the bar to reach its source).
    ``watches()``: the watches it schedules now (read again at each step: one added, paused, deleted);
    ``next_close(watch, after)``: the watch's first bar close after ``after``; ``now()``: the clock;
    ``on_error(watch, error)``: a watch whose bars cannot tell its next close (None: raised; the service logs it
    and goes on with the others). ``kronos watch``'s live loop and the service's runner both step it."""

    def __init__(self, watches: Callable[[], list], next_close: Callable[[object, pd.Timestamp], pd.Timestamp | None],
                 *, now: Callable[[], pd.Timestamp], delay: pd.Timedelta = LIVE_DELAY,
                 on_error: Callable[[object, Exception], None] | None = None):
        self.watches, self.next_close, self.now, self.delay, self.on_error = watches, next_close, now, delay, on_error
        self.due: dict[int, pd.Timestamp] = {}  # watch id -> the bar close it ticks next

    def _next(self, watch, after: pd.Timestamp) -> pd.Timestamp | None:
        try:
            return self.next_close(watch, after)
        except Exception as e:
            if self.on_error is None:
                raise
            self.on_error(watch, e)  # asked again at the next step
            return None

    def step(self, run: Callable[[object, pd.Timestamp], None],
             busy: Callable[[object], bool] = lambda watch: False) -> pd.Timestamp | None:
        """``run(watch, close)`` for every watch whose next close (plus the delay) has come and that is not
        ``busy`` (its last tick still runs); the earliest close to come (None: none)."""
        now, soonest = self.now(), None
        for watch in self.watches():
            if busy(watch):
                continue
            at = self.due.get(watch.id) or self._next(watch, now - self.delay)
            if at is None:
                continue
            if at + self.delay <= now:
                run(watch, at)
                at = self._next(watch, max(at, self.now() - self.delay))  # a long pause skips to the next to come
                if at is None:
                    self.due.pop(watch.id, None)
                    continue
            self.due[watch.id] = at
            soonest = at if soonest is None or at < soonest else soonest
        return soonest

    def wait_s(self, soonest: pd.Timestamp | None, most: float | None = None) -> float | None:
        """Seconds until ``soonest`` (plus the delay) comes, at most ``most`` (None: ``most``)."""
        if soonest is None:
            return most
        left = max(0.0, (soonest + self.delay - self.now()).total_seconds())
        return left if most is None else min(most, left)


# --- bars at a tick ----------------------------------------------------------------------------------------------
class LiveBars:
    """The watchlist's bars now: a folder read again (each series' newest file), sources fetched through the bar
    cache (only newer bars)."""

    def __init__(self, request: WatchRequest, history: int, cache=None):
        self.request, self.history, self.cache = request, history, cache

    def entries(self) -> list:
        if self.request.watchlist is None:
            return list(self.request.entries)
        return read_watchlist(self.request.watchlist, newest=True)

    def load(self, tick_at: pd.Timestamp) -> list:
        return list(load_entries(self.entries(), self.history, self.cache, tuple(self.request.fixes),
                                 self.request.calendar))


class ReplayBars:
    """Every series' bars read once; at each tick, cut to the bars closed by its clock (``calendars.bar_closes``:
    what that day's download held) and gated again."""

    def __init__(self, request: WatchRequest, history: int, cache=None):
        self.request, self.history = request, history
        self.full, self.closes, self.errors = {}, {}, {}
        for entry in request.entries:
            try:
                bars = _read(entry, request.calendar, cache)
            except Exception as e:  # noqa: BLE001 - any reason a series has no bars is its row's, not the watch's
                self.errors[entry.series] = f"cannot load: {str(e).strip().splitlines()[0] if str(e).strip() else e}"
                continue
            self.full[entry.series] = bars
            self.closes[entry.series] = bar_closes(bars.timestamps, bars.interval, bars.calendar).as_unit("ns").asi8

    def ticks(self, start: pd.Timestamp, end: pd.Timestamp | None) -> pd.DatetimeIndex:
        """One tick per close of a bar any series' calendar expects in (start, end] (at most to its last bar)."""
        found = pd.DatetimeIndex([], tz="UTC")
        for name, bars in self.full.items():
            last = pd.Timestamp(int(self.closes[name].max()), tz="UTC")
            found = found.append(closes_between(bars.timestamps, start, last if end is None else min(end, last),
                                                bars.interval, bars.calendar))
        return found.unique().sort_values()

    def load(self, tick_at: pd.Timestamp) -> list:
        out = []
        for entry in self.request.entries:
            if entry.series in self.errors:
                out.append(Loaded(entry, error=self.errors[entry.series]))
                continue
            bars = self.full[entry.series]
            closed = self.closes[entry.series] <= pd.Timestamp(tick_at).value  # in the file's order, sorted or not
            cut = bars.replace(frame=bars.frame[closed].reset_index(drop=True))
            out.append(gate_entry(entry, cut, self.history, tuple(self.request.fixes)) if closed.any() else
                       Loaded(entry, error="no bars closed by this tick"))
        return out


def _read(entry, calendar, cache):
    """A series' bars as read or fetched, whatever the gate says of the whole history (a replay gates each day's
    cut of them)."""
    from data_sources import load_bars, read_bars_file

    if entry.file is not None:
        return read_bars_file(entry.file, calendar=calendar, symbol=entry.symbol)
    return load_bars(entry.source, entry.symbol, entry.interval, lookback=REPLAY_HISTORY, exchange=entry.exchange,
                     cache=cache)


def _utc(when) -> pd.Timestamp:
    t = pd.Timestamp(when)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


# --- the watcher: ticks run and kept ---------------------------------------------------------------------------
class Watcher:
    """One watch over ``ledger`` (scoped to the caller's workspace by the face; a replay's label added here):
    ``tick(at)`` runs one tick under its claim, ``replay()`` every tick of the replay's window in time order,
    ``live(...)`` at each bar close. ``sleep``: how an alert's retry waits (a test's records it); ``fail_after``:
    a test's hook, called after each series is recorded (it may raise, as a crash would)."""

    def __init__(self, desk, request: WatchRequest, ledger, *, made_by: str = MADE_BY,
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], pd.Timestamp] | None = None,
                 after_record: Callable[[str], None] | None = None, cache=None):
        from kronos_studio.ledger.watches import WatchBook

        self.desk, self.request, self.sleep = desk, request, sleep
        self.now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self.after_record, self.cache = after_record, cache
        self.notices: list[Notice] = []
        self.history = self._history()
        self.source = ReplayBars(request, self.history, cache) if request.replay is not None else \
            LiveBars(request, self.history, cache)
        self.ticks_planned = self._replay_ticks() if request.replay is not None else None
        self.label = self._label() if request.replay is not None else ""
        self.ledger = ledger.replaying(self.label) if self.label else ledger
        self.book = WatchBook(self.ledger)
        self.watch = self.book.ensure(request.name, request.to_json(), request.key(), replay=self.label,
                                      made_by=made_by)

    # the model and its history
    def _base_forecaster(self, bars=None):
        """The forecaster whose lookback and training period the watch reads (a champion's base, the ensemble's
        Kronos: the bundled default)."""
        kind = kind_of(self.request.model)
        ref = None if kind.per_series or kind.mixes else self.request.model
        return self.desk.registry.forecaster(ref, bars, self.request.settings)

    def _history(self) -> int:
        s = self.request.settings
        try:
            forecaster = self._base_forecaster()
        except (UserError, ValueError, FileNotFoundError) as e:
            raise WatchError(f"the watch's model cannot be used: {e}", {"model": self.request.model},
                             Fix("name another with {setting}", "model")) from None
        return s.lookback or forecaster.lookback(s.horizon)

    # the replay: its ticks, its label, the training-period guard
    def _replay_ticks(self) -> pd.DatetimeIndex:
        start, end = self.request.replay.window()
        ticks = self.source.ticks(start, end)
        if not len(ticks):
            end = self.request.replay.end or "the end of the bars"
            raise WatchError(f"no bar closes between {self.request.replay.start} and {end}: the watchlist's bars do "
                             "not reach into the replay",
                             {"replay_from": self.request.replay.start, "to": self.request.replay.end},
                             Fix("replay days the bars hold ({setting})", "replay_from"))
        return ticks

    def _label(self) -> str:
        """The replay's label: the one asked, else the watch's name; flagged when its ticks lie inside the base
        model's training period (refused without ``include_training_period``)."""
        from kronos_studio.ledger.schema import IN_TRAINING_PERIOD, REPLAY_CHARS

        replay = self.request.replay
        if replay.label and len(replay.label) > REPLAY_CHARS:  # refused, never cut (the service refused it, the
            # command line cut it silently)
            raise WatchError(f"a replay's label is at most {REPLAY_CHARS} characters, got {len(replay.label)}",
                             {"replay_name": len(replay.label)}, Fix("give a shorter {setting}", "replay_name"))
        label = replay.label or self.request.name
        period = self._base_forecaster().training_period()
        inside = 0 if period is None else int((self.ticks_planned <= period.seen_until).sum())
        if inside:
            said = (f"{inside} of the {len(self.ticks_planned)} ticks of the replay ({self.ticks_planned[0]:%Y-%m-%d} "
                    f"to {self.ticks_planned[-1]:%Y-%m-%d}) forecast bars inside the base model's training period "
                    f"({period.describe()})")
            if not self.request.include_training_period:
                raise TrainingPeriodError(
                    f"{said}: it learned from bars of those dates, so the replay's scores, drift and exceptions would "
                    "measure its memory", {"ticks": len(self.ticks_planned), "in_training_period": inside,
                                           "seen_until": str(period.seen_until)},
                    (Fix(f"replay days after {period.seen_until.date()} ({{setting}})", "replay_from"),
                     Fix("or run it knowingly, every view flagging it ({setting})", INCLUDE_TRAINING_PERIOD, True)))
            self.notices.append(Notice(f"{said}: its rows are labelled '{IN_TRAINING_PERIOD.strip()}' and every view of "
                                       "them says so: they partly measure memory",
                                       values={"in_training_period": inside}))
            label = label[:REPLAY_CHARS - len(IN_TRAINING_PERIOD)] + IN_TRAINING_PERIOD
        return label[:REPLAY_CHARS]

    # one tick
    def tick(self, tick_at) -> TickResult:
        """The tick at ``tick_at`` under its claim: run, or skipped (done before, or run by another process now)."""
        from kronos_studio.ledger.schema import DONE, FAILED
        from kronos_studio.ledger.watches import BUSY

        tick_at = _utc(tick_at)
        claim = self.book.claim(self.watch.id, tick_at.to_pydatetime())
        if claim in (DONE, BUSY):
            return TickResult(self.request.name, tick_at, "already" if claim == DONE else BUSY)
        result = TickResult(self.request.name, tick_at, "running", attempt=claim.attempts)
        if claim.attempts > 1:
            result.notices.append(Notice(f"tick {tick_at:%Y-%m-%d %H:%M} UTC ran before and was cut off: run again, "
                                         "recording nothing twice", kind="note"))
        try:
            self._run(tick_at, result, claim)
        except Exception as e:  # kept failed and alerted; an interrupt (not an Exception) leaves the claim to be taken over
            result.status, result.error = FAILED, f"{type(e).__name__}: {e}"
            self._alert_failed(result, claim)
            self.book.finish(claim, FAILED, result.summary(), result.error)
            if not isinstance(e, UserError):
                raise
            return result
        result.status = DONE
        self.book.finish(claim, DONE, result.summary())
        return result

    def _run(self, tick_at: pd.Timestamp, result: TickResult, claim) -> None:
        clock = time.perf_counter
        started = clock()
        loaded = self.source.load(tick_at)
        result.timings["load"] += clock() - started
        previous = self.book.previous(self.watch.id, tick_at.to_pydatetime())
        before = (previous.summary or {}).get("series", {}) if previous is not None else {}
        by_name = {}
        for item in loaded:
            entry = item.entry
            s = SeriesTick(entry.series, "forecast" if item.error is None else "refused", message=item.error)
            if item.bars is not None and len(item.bars.frame):
                s.bars_end = str(item.bars.frame["timestamp"].iloc[-1])
                s.last_close = float(item.bars.frame["close"].iloc[-1])
            by_name[entry.series] = s
        result.series = list(by_name.values())
        ok = [item for item in loaded if item.error is None]

        started = clock()
        for item in ok:
            by_name[item.entry.series].scored_steps = self.ledger.score(item.bars).steps
        result.timings["score"] += clock() - started

        self._forecast(ok, by_name, result)
        self.book.renew(claim)

        started = clock()
        events = self._drift_and_exceptions(ok, by_name, before, tick_at, previous)
        result.timings["drift_exceptions"] += clock() - started

        started = clock()
        events += self._retrain(ok, by_name, before, tick_at, result)
        result.timings["retrain"] += clock() - started
        self.book.renew(claim)

        events += self._gate_and_prices(loaded, by_name, before, tick_at)
        started = clock()
        self._deliver(events, result, claim)
        result.timings["alerts"] += clock() - started

    # forecasting and recording
    def _forecast(self, ok: list, by_name: dict, result: TickResult) -> None:
        s = self.request.settings
        todo = []
        for item in ok:
            kept = [pid for pid, prov in self.ledger.made_from(item.bars, s.horizon, s.paths, s.seed).items()
                    if prov.get("watch") == self.request.name]
            if kept:
                by_name[item.entry.series].status, by_name[item.entry.series].forecast_id = "kept", kept[0]
            else:
                todo.append(item)
        if not todo:
            return
        if kind_of(self.request.model).mixes:
            self._forecast_ensemble(todo, by_name, result)
        else:
            self._forecast_batch(todo, by_name, result)

    def _record(self, series: str, forecast, bars, by_name: dict, result: TickResult) -> None:
        started = time.perf_counter()
        forecast.provenance["watch"] = self.request.name  # which watch made it (a restarted tick finds it)
        if self.label:
            forecast.provenance["replay"] = self.label
        by_name[series].forecast_id = self.ledger.record(forecast, bars).id
        result.timings["record"] += time.perf_counter() - started
        if self.after_record is not None:
            self.after_record(series)

    def _forecast_batch(self, todo: list, by_name: dict, result: TickResult) -> None:
        r = self.request
        levels = tuple(sorted({*r.risk.levels, r.alerts.var_level}))  # the tick says the VaR at the alerts' level
        settings = BatchSettings(r.settings, risk=dataclasses.replace(r.risk, levels=levels, per_step=False))
        run = BatchRun(model=r.model, engine=r.engine.engine, ray_address=r.engine.ray_address, workers=r.engine.workers,
                       workspace=self.ledger.workspace, ledger_url=self.ledger.url,
                       registry=self.desk.registry if r.engine.engine == "local" else None,
                       replay=self.ledger.replay, fixes=tuple(r.fixes), calendar=r.calendar,
                       each_forecast=lambda job, fc: self._record(job.series, fc, job.bars, by_name, result))
        started, recorded = time.perf_counter(), result.timings["record"]
        done = run_batch([item.entry for item in todo], settings, run, ready=todo)
        result.timings["forecast"] += time.perf_counter() - started - (result.timings["record"] - recorded)
        var = risk_column("var", "long", r.alerts.var_level)
        for row in done.rows.to_dict("records"):
            s = by_name[row["series"]]
            if row["status"] != "ok":
                s.status, s.message = "failed", row["status"]
            elif var in row and pd.notna(row[var]):
                s.var = float(row[var])

    def _forecast_ensemble(self, todo: list, by_name: dict, result: TickResult) -> None:
        """The ensemble, which the batch does not run: one series at a time through the desk; a replay's by its own
        champion meta-learner (learned as it went) or the bundled one, never the live workspace's."""
        choice = ModelChoice(ENSEMBLE)
        if self.label:
            from kronos_studio.ensemble.bundled import ENSEMBLE_DIR
            from kronos_studio.ensemble.gated import champion_meta
            from kronos_studio.ledger.registry import Registry

            entry = champion_meta(Registry(self.ledger))
            choice = ModelChoice(ENSEMBLE, meta=str(ENSEMBLE_DIR if entry is None else entry.path))
        for item in todo:
            started = time.perf_counter()
            try:
                done = self.desk.forecast(ForecastRequest(item.bars, choice, self.request.settings,  # gated bars
                                                          self.ledger.workspace), ledger=self.ledger)
            except TooLarge:
                raise  # past the desk's limits: the tick is refused whole, not each series
            except (UserError, ValueError) as e:
                by_name[item.entry.series].status, by_name[item.entry.series].message = "failed", str(e)
                continue
            finally:
                result.timings["forecast"] += time.perf_counter() - started
            self._record(item.entry.series, done.forecast, item.bars, by_name, result)

    # drift and the exceptions of the forecasts whose horizon just arrived
    def _drift_and_exceptions(self, ok: list, by_name: dict, before: dict, tick_at, previous) -> list:
        from kronos_studio.ledger.drift import DRIFTING, drift_report

        rules, events = self.request.alerts, []
        keys = {(i.bars.source, i.bars.series_symbol, i.bars.interval): i.entry.series for i in ok}
        if not keys:
            return events
        states: dict[str, list] = {}
        for d in (d for item in ok for d in drift_report(self.ledger, rolling=False, **self._drift_window(item))):
            name = keys.get((d.source, d.symbol, d.interval))
            if name is None:
                continue
            states.setdefault(name, []).append(d.state)
            if d.state == DRIFTING and (before.get(name) or {}).get("drift") != DRIFTING and rules.drift:
                events.append(self._event(DRIFT, f"drift:{name}:{d.model}:{tick_at.isoformat()}", name,
                                          f"{name}: {d.model} is drifting: {d.detail}",
                                          {"model": d.model, "detail": d.detail, "numbers": d.numbers()}))
        for name, found in states.items():
            by_name[name].drift = DRIFTING if DRIFTING in found else found[0]
        if rules.var_exception:
            since = None if previous is None else pd.Timestamp(previous.tick_at)
            for item in ok:
                events += self._exceptions(item, since)
        return events

    def _drift_window(self, item) -> dict:
        """The filters of ``item``'s series and of the forecasts its drift state reads: the newest ``DRIFT_LAST``
        scored ones and, for their random-walk references, the forecasts whose scored steps hold the
        ``RW_MIN_RETURNS`` returns before them (a forecast a bar, as a watch makes them): a tick's cost stays the
        same however long the watch has run."""
        from kronos_studio.ledger.drift import DRIFT_LAST, RW_MIN_RETURNS

        bars, horizon = item.bars, self.request.settings.horizon
        back = DRIFT_LAST + RW_MIN_RETURNS + 2 * horizon + 5
        stamps = bars.timestamps
        return {"source": bars.source, "symbol": bars.series_symbol, "interval": bars.interval,
                "last_bar_from": stamps[max(0, len(stamps) - back)]}

    def _exceptions(self, item, since: pd.Timestamp | None) -> list:
        """The VaR exceptions of ``item``'s forecasts whose horizon bar is one of the bars closed since the last
        tick (``since``; the first tick: the last bar)."""
        level, horizon, bars = self.request.alerts.var_level, self.request.settings.horizon, item.bars
        stamps = bars.timestamps
        tail = stamps[-(horizon * 4 + 8):]
        if since is None:
            new = tail[-1:]
        else:
            new = tail[np.asarray(bar_closes(tail, bars.interval, bars.calendar) > since)]
        if not len(new):
            return []
        first = len(stamps) - len(tail) + int(tail.get_indexer(new[:1])[0])
        record = risk_record(self.ledger, RiskSettings(levels=(level,), positions=("long",), per_step=False),
                             source=bars.source, symbol=bars.series_symbol, interval=bars.interval,
                             last_bar_from=stamps[max(0, first - horizon - 1)])
        f, hit, var = record.forecasts, f"exception_{tag('long', level)}", f"var_{tag('long', level)}"
        if f.empty or hit not in f.columns:
            return []
        at = pd.to_datetime(f["horizon_bar_at"], utc=True)
        newly = f[f[hit].astype(bool) & at.isin(pd.DatetimeIndex(new).tz_convert("UTC"))]
        name, out = item.entry.series, []
        for row in newly.to_dict("records"):
            out.append(self._event(
                VAR_EXCEPTION, f"var:{name}:{row['prediction_id']}:long_{level:g}", name,
                f"{name}: VaR exception at {level:.0%}: the {row['horizon']}-bar return to "
                f"{pd.Timestamp(row['horizon_bar_at']):%Y-%m-%d %H:%M} was {row['realized_return']:+.2%}, a loss "
                f"beyond the VaR of {row[var]:.2%} ({row['model']}, forecast {row['prediction_id']})",
                {"prediction_id": int(row["prediction_id"]), "model": row["model"],
                 "realized_return": float(row["realized_return"]), "var": float(row[var]), "level": level}))
        return out

    # the gated retrain, the meta-learner
    def _retrain(self, ok: list, by_name: dict, before: dict, tick_at, result: TickResult) -> list:
        from kronos_studio.ledger.drift import DRIFTING
        from kronos_studio.ledger.registry import Registry, SeriesKey

        policy, events = self.request.retrain, []
        done = self.book.done_count(self.watch.id, tick_at.to_pydatetime())
        due_all = policy.every > 0 and (done + 1) % policy.every == 0
        due = [i for i in ok if due_all or (policy.on_drift and by_name[i.entry.series].drift == DRIFTING and
                                            (before.get(i.entry.series) or {}).get("drift") != DRIFTING)]
        if due:
            self._run_retrain(due, by_name, result)
        if self.request.learn and (done + 1) % policy.learn_every == 0:
            self._learn(tick_at, result)
        registry = Registry(self.ledger)
        watched = kind_of(self.request.model).per_series or policy.every > 0 or policy.on_drift
        for item in ok if watched else []:
            name = item.entry.series
            entry = registry.champion(SeriesKey.of(item.bars))
            by_name[name].champion = None if entry is None else entry.id
            was = (before.get(name) or {}).get("champion", "unknown")
            if was != "unknown" and was != by_name[name].champion and self.request.alerts.champion_changed:
                now = "the base model" if entry is None else f"adapter {entry.id}"
                events.append(self._event(CHAMPION_CHANGED, f"champion:{name}:{by_name[name].champion}:"
                                                            f"{tick_at.isoformat()}", name,
                                          f"{name}: its champion is now {now} (was "
                                          f"{'the base model' if was is None else f'adapter {was}'})",
                                          {"champion": by_name[name].champion, "was": was}))
        return events

    def _run_retrain(self, due: list, by_name: dict, result: TickResult) -> None:
        from kronos_studio.batch.retrain_watchlist import SeriesRetrainer, WatchlistRetrain

        r = self.request
        settings = r.retrain_settings or RetrainSettings(horizon=r.settings.horizon)
        settings = dataclasses.replace(settings, horizon=r.settings.horizon,
                                       include_training_period=r.include_training_period)
        model = None if r.model in (None, "champion", "ensemble") else r.model
        unit = SeriesRetrainer(WatchlistRetrain(settings, model=model, made_by=f"{MADE_BY} ({r.name})"),
                               ledger=self.ledger, load_pair=self.desk.registry.pair)
        for item in due:
            outcome = unit.retrain(item.entry, bars=item.bars)
            decided = [d.get("decision") for d in outcome.decisions]
            said = ", ".join(map(str, decided)) if decided else f"{outcome.status}: {outcome.error}"
            by_name[item.entry.series].retrain = said
            if outcome.error is not None:
                result.notices.append(Notice(f"{item.entry.series}: retrain {outcome.status}: {outcome.error}",
                                             kind="note"))

    def _learn(self, tick_at, result: TickResult) -> None:
        """The gated meta-learner refitted on the ensemble forecasts scored by this tick's clock."""
        from kronos_studio.ensemble.from_ledger import MIN_EVALUATIONS
        from kronos_studio.ensemble.gated import MetaGateError, MetaGateSettings, gate_from_ledger

        try:
            made = gate_from_ledger(self.ledger, MetaGateSettings(tick_at, MIN_EVALUATIONS, *bundled_base()))
            result.notices.append(Notice(f"meta-learner {made.entry.id}: {made.entry.status} "
                                         f"({made.scores.get('reason', 'decided before')})", kind="note"))
        except MetaGateError as e:
            result.notices.append(Notice(f"meta-learner not refitted: {e}", kind="note"))

    # the data gate and the price levels
    def _gate_and_prices(self, loaded: list, by_name: dict, before: dict, tick_at) -> list:
        rules, events, levels = self.request.alerts, [], self.request.alerts.levels()
        for item in loaded:
            name = item.entry.series
            refused_before = (before.get(name) or {}).get("status") == "refused"
            if item.error is not None and rules.data_gate and not refused_before:  # when it starts: no repeat
                events.append(self._event(DATA_GATE, f"gate:{name}:{tick_at.isoformat()}", name,
                                          f"{name}: no forecast: {item.error}", {"reason": item.error}))
            now, was = by_name[name].last_close, (before.get(name) or {}).get("last_close")
            for level in levels.get(name, []):
                if now is not None and was is not None and (was < level <= now or was > level >= now):
                    way = "above" if now >= level else "below"
                    events.append(self._event(PRICE_CROSSED, f"price:{name}:{level:g}:{tick_at.isoformat()}", name,
                                              f"{name}: the close crossed {level:g}: {was:g} -> {now:g} ({way})",
                                              {"level": level, "close": now, "previous_close": was}))
        return events

    # alerts
    def _event(self, rule: str, event: str, series: str | None, text: str, facts: dict):
        facts = {"watch": self.request.name, **({"replay": self.label} if self.label else {}), **facts}
        return Message(rule, event, text, series, facts)

    def _alert_failed(self, result: TickResult, claim) -> None:
        if not self.request.alerts.tick_failed:
            return
        try:
            self._deliver([self._event(TICK_FAILED, f"tick_failed:{result.tick_at.isoformat()}:{result.attempt}", None,
                                       f"watch {self.request.name}: the tick at {result.tick_at:%Y-%m-%d %H:%M} UTC "
                                       f"failed: {result.error}", {"error": result.error})], result, claim)
        except Exception as e:  # noqa: BLE001 - the tick's own failure is what is reported
            result.notices.append(Notice(f"the failed tick's alert could not be kept: {e}"))

    def _deliver(self, events: list, result: TickResult, claim) -> None:
        channels = self.request.channels.channels()
        for message in events:
            result.alerts.append({"rule": message.rule, "event": message.event, "series": message.series,
                                  "text": message.text, "deliveries": []})
            for channel in channels:
                kind = "webhook" if hasattr(channel, "url") else "email"
                kept = self.book.alert(self.watch.id, message.event, kind, channel.target)
                if kept is not None and kept.status == "sent":
                    continue  # sent by an earlier run of this tick
                done = deliver(message, channel, self.request.channels.retry(), self.sleep)
                self.book.keep_alert(self.watch.id, claim.tick_id, rule=message.rule, event=message.event,
                                     series=message.series, message=message.text, channel=done.channel,
                                     target=done.target, sent=done.sent, attempts=done.attempts, last_error=done.error)
                result.alerts[-1]["deliveries"].append(dataclasses.asdict(done))
                if not done.sent:
                    result.notices.append(Notice(f"alert {message.rule} to {done.target} failed after {done.attempts} "
                                                 f"attempts: {done.error}"))

    # runs
    def replay(self, progress: Callable[[int, int, TickResult], None] | None = None) -> list[TickResult]:
        """Every tick of the replay, in time order (those done before are skipped)."""
        out = []
        for i, at in enumerate(self.ticks_planned):
            out.append(self.tick(at))
            if progress is not None:
                progress(i + 1, len(self.ticks_planned), out[-1])
        return out

    def last_close(self, now: pd.Timestamp) -> pd.Timestamp | None:
        """The latest bar close at or before ``now`` of any series: the tick ``--once`` runs."""
        found = []
        for item in self.source.load(now):
            if item.bars is None:
                continue
            closes = closes_between(item.bars.timestamps, now - pd.Timedelta(days=10), now, item.bars.interval,
                                    item.bars.calendar)
            if len(closes):
                found.append(closes[-1])
        return max(found) if found else None

    def next_tick(self, now: pd.Timestamp) -> pd.Timestamp | None:
        """The first bar close after ``now`` of any series of the watchlist, on its calendar."""
        found = []
        for item in self.source.load(now):
            if item.bars is not None:
                found.append(next_close(item.bars.timestamps, now, item.bars.interval, item.bars.calendar))
        return min(found) if found else None

    def live(self, *, once: bool = False, wait: Callable[[float], None] = time.sleep,
             stop: Callable[[], bool] = lambda: False, delay: pd.Timedelta = LIVE_DELAY,
             on_tick: Callable[[TickResult], None] | None = None,
             progress: Callable[[int, int | None, TickResult], None] | None = None) -> list[TickResult]:
        """Tick at each bar close (plus ``delay``, for the bar to reach its source: ``LiveSchedule``) until
        ``stop()``; ``once``: the tick of the latest close now, and return. ``wait(seconds)``: how the time to the
        next close passes (a test's clock moves it); after each tick ``on_tick(tick)`` (not ``once``) and
        ``progress(i, n, tick)`` as a replay's (``n``: 1 once, None live)."""
        out: list[TickResult] = []

        def run(watch, at) -> None:
            out.append(self.tick(at))
            if progress is not None:
                progress(len(out), 1 if once else None, out[-1])
            if on_tick is not None and not once:
                on_tick(out[-1])

        if once:
            at = self.last_close(self.now())
            if at is None:
                raise WatchError("no series of the watchlist has bars to tick on", fix=Fix("check the watchlist"))
            run(self.watch, at)
            return out
        schedule = LiveSchedule(lambda: [self.watch], lambda watch, after: self.next_tick(after), now=self.now,
                                delay=delay)
        while not stop():
            ran = len(out)
            soonest = schedule.step(run)
            if len(out) > ran:
                continue
            if soonest is None:
                raise WatchError("no series of the watchlist has bars to tick on", fix=Fix("check the watchlist"))
            wait(schedule.wait_s(soonest))
        return out


def bundled_base() -> tuple[str, str]:
    """(name, revision) of the bundled Kronos the ensemble mixes, as its forecasts' provenance names it: what a
    meta-learner refitted by a watch is registered beside."""
    folder = Path(default_model_path())
    return folder.name, f"local:{weights_sha256(folder / 'predictor') or weights_sha256(folder)}"


def watch(desk, request: WatchRequest, ledger, *, once: bool = False, live: bool = True, made_by: str = MADE_BY,
          progress=None, **options) -> Watched:
    """Run ``request`` on ``ledger``: a replay's every tick, or live (``once``: one tick) until ``options``' ``stop``;
    ``progress(i, n, tick)`` after each tick (``n``: a replay's count, 1 once, None live) (``Watcher.live``'s ``wait``, ``stop``, ``delay``, ``on_tick``; the ``Watcher``'s ``sleep``, ``now``,
    ``after_record``, ``cache``)."""
    live_options = {k: options.pop(k) for k in ("wait", "stop", "delay", "on_tick") if k in options}
    watcher = Watcher(desk, request, ledger, made_by=made_by, **options)
    done = Watched(watcher.watch, watcher.label, notices=list(watcher.notices))
    if request.replay is not None:
        done.ticks = watcher.replay(progress)
    elif live:
        done.ticks = watcher.live(once=once, progress=progress, **live_options)
    return done


def watch_folder(name: str, workspace: str | None = None):
    """Where a watch named ``name`` keeps the series a client handed it as CSV text (a live watch reads them at every
    tick): a folder of its own under the workspace's ``watches/`` (``workspaces.workspace_path``)."""
    from kronos_studio.workspaces import workspace_path

    return workspace_path("watches", workspace) / hashlib.sha256(name.encode()).hexdigest()[:16]
