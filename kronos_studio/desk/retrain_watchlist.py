"""The watchlist retrain (``Desk.retrain_watchlist``): every series of a watchlist given its gated retrain, each
under its own lock, one after the other or on Ray actors (``kronos_studio.batch.retrain_watchlist``), as ``kronos
retrain WATCHLIST`` and ``POST /v1/retrain`` with ``series`` ask for it: one ``RetrainWatchlistRequest`` in, one
``WatchlistRetrained`` out (each series' outcome: decided, refused or locked, with its decisions). One series'
refusal or lock never stops the others. The size of a retrain within the face's limits is checked here too
(``check_size``: a single series' retrain and a watchlist's).

The retrain itself and the champion's reference are imported where they are used: they bring the ledger's database
layer, which a face drawing this request's options (``kronos retrain --help``) does not need."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Fix, InputError, Notice
from kronos.knobs import Bounds, check_bounds, knob
from kronos_studio.batch.watchlist import Entry
from kronos_studio.catalog.champion import retrain_reference
from kronos_studio.training.retrain_settings import RetrainSettings

from .screen import Engine, bars_knob


@dataclass(frozen=True)
class RetrainWatchlistRequest:
    """A watchlist retrain: the ``entries``, the retrain's ``settings`` (each series' challenger and gate), the base
    ``model`` (None: each series' champion's base, the bundled default when it has none), when to decide, how every
    series is read, where the series run and what the registry records as the adapters' maker (None: the library's
    default)."""

    entries: tuple[Entry, ...]
    settings: RetrainSettings
    model: str | None = None
    every: int | None = knob(None, Bounds(ge=1, unit="bar"), label="Decide every (bars)",
                             help="walk forward through the history, deciding every K bars from bars before each "
                                  "point only (default: once, at the end of the bars)")
    since: str | None = knob(None, label="First retraining point", help="with every: the date of the first retraining "
                                                                        "point")
    fixes: tuple[str, ...] = bars_knob("fixes")
    calendar: str | None = bars_knob("calendar")
    engine: Engine = Engine()
    device: object = None
    made_by: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "fixes", tuple(self.fixes or ()))
        check_bounds(self)
        if self.since and not self.every:
            raise InputError("since picks the first retraining point of a walk, which every sets",
                             {"since": self.since}, Fix("give {setting} with it", "every"))


@dataclass
class WatchlistRetrained:
    """Each series' outcome (``batch.retrain_watchlist.SeriesOutcome``), in watchlist order, and the counts."""

    outcomes: list = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Series whose outcome is ``status`` ('decided', 'refused' or 'locked')."""
        return sum(o.status == status for o in self.outcomes)

    @property
    def promoted(self) -> int:
        return sum(d["decision"] == "promoted" for o in self.outcomes for d in o.decisions)


def check_size(limits, settings: RetrainSettings, series: int = 1, decisions: int | None = None) -> None:
    """A retrain's settings within the face's ``limits`` (None: none): training steps, paths x horizon of a held-out
    forecast, held-out cut-offs, and the held-out sampling over its series and decisions (one each when the
    decisions are not known yet)."""
    if limits is None:
        return
    limits.check_training(settings.steps, decisions)
    limits.check_path_steps(settings.paths, settings.horizon)
    limits.check_cutoffs(settings.n_cutoffs, "held-out cut-offs")
    work = series * (decisions or 1) * settings.n_cutoffs * settings.paths * settings.horizon
    limits.check_job_steps(work, f"series x decisions x cut-offs x paths x horizon = {series} x {decisions or 1} x "
                                 f"{settings.n_cutoffs} x {settings.paths} x {settings.horizon}")


def check(desk, request: RetrainWatchlistRequest) -> str | None:
    """What is refused before any series is read (a job's face asks before the job starts): no series, settings that
    cannot judge a challenger, ``champion`` as the base, a size past the face's limits. The base model reference."""
    if not request.entries:
        raise InputError("the watchlist has no series", fix=Fix("add series to the watchlist"))
    check_size(desk.limits, request.settings, series=len(request.entries))
    request.settings.check()
    return retrain_reference(request.model)  # 'champion' is refused before any series is read


def retrain_watchlist(desk, request: RetrainWatchlistRequest, *, ledger, log=None, progress=None) -> WatchlistRetrained:
    """Every entry of ``request`` retrained in ``ledger``'s registry (its workspace's) on the desk's warm pairs (Ray
    actors load their own and open the default ledger); ``log(line)``: one line per decision; ``progress(outcome)``:
    each series' outcome as it is decided (a job's face checks for a cancel there)."""
    from kronos_studio.batch.retrain_watchlist import Fanout, SeriesRetrainer, WatchlistRetrain
    from kronos_studio.batch.retrain_watchlist import retrain_watchlist as run

    model = check(desk, request)
    e = request.engine
    job = WatchlistRetrain(request.settings, model=model, every=request.every, since=request.since,
                           fixes=request.fixes, calendar=request.calendar, device=request.device,
                           max_points=desk.limits.decisions if desk.limits is not None else None,
                           **({"made_by": request.made_by} if request.made_by else {}))
    done = WatchlistRetrained()
    for outcome in run(list(request.entries), job, Fanout(e.engine, e.ray_address, e.workers), log=log,
                       unit=SeriesRetrainer(job, ledger, desk.registry.loader(model))):
        done.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return done
