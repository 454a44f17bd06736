"""Gated retraining of every series of a watchlist (``kronos_studio.batch.watchlist``): each series is one
unit of work, retrained in this process one after the other (the local engine) or by a pool of Ray actors
(``kronos_studio.batch.ray_engine.actor_pool``), each under its own series lock. One series' refusal (too
few bars, a data-quality error, a champion on another base) or lock never stops the others: its outcome
says so.

    for outcome in retrain_watchlist(read_watchlist("watchlist/"), WatchlistRetrain(RetrainSettings(horizon=4))):
        print(outcome.series, outcome.status)
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kronos.errors import Fix, UserError
from kronos_studio.catalog.champion import series_retrainer
from kronos_studio.ledger import LedgerError
from kronos_studio.training.retrain import MADE_BY, RetrainError, RetrainSettings, SeriesLocked

from .engine import ENGINES
from .ray_engine import actor_pool
from .watchlist import load_entry

DECIDED, REFUSED, LOCKED = "decided", "refused", "locked"


@dataclass(frozen=True)
class WatchlistRetrain:
    """What every series of the watchlist is retrained with, beyond its bars."""

    settings: RetrainSettings
    model: str | None = None  # a model reference; None: the series' champion's base (the bundled default)
    every: int | None = None  # walk forward, deciding every ``every`` bars
    since: str | None = None  # with ``every``: the first retraining point
    fixes: tuple[str, ...] = ()  # the data-quality gate's fixes accepted for every series
    calendar: str | None = None  # the bar files' trading calendar (None: inferred from each file)
    device: object = None
    made_by: str = MADE_BY  # the entry point that asked, recorded with every adapter registered
    max_points: int | None = None  # retraining points of one series at most (a server's limit); None: any


@dataclass
class SeriesOutcome:
    """One series' retrain: its decisions and champion afterwards, or why it was not retrained
    (``error``: the refusal, or ``SeriesLocked``)."""

    series: str
    status: str  # DECIDED, REFUSED or LOCKED
    decisions: list[dict] = field(default_factory=list)
    champion: int | None = None
    error: Exception | None = None
    log: list[str] = field(default_factory=list)  # one line per decision

    def to_dict(self, message: str | None = None) -> dict:
        """As JSON: ``message`` words the error (default: as a Python caller reads it)."""
        out = {"series": self.series, "status": self.status, "decisions": self.decisions, "champion": self.champion}
        if self.error is not None:
            out["message"] = message or str(self.error)
        return out


class SeriesRetrainer:
    """Retrains one watchlist entry at a time on ``ledger`` (None: the default ledger, opened here, as a Ray
    actor does), loading each base model once."""

    def __init__(self, job: WatchlistRetrain, ledger=None, load_pair: Callable[[str], object] | None = None):
        self.job = job
        self._ledger = ledger
        self._load_pair = load_pair
        self._pairs: dict[str, object] = {}

    def ledger(self):
        if self._ledger is None:
            from kronos_studio.ledger import Ledger

            self._ledger = Ledger.open()
        return self._ledger

    def pair(self, ref: str):
        if ref not in self._pairs:
            if self._load_pair is not None:
                self._pairs[ref] = self._load_pair(ref)
            else:
                from kronos.checkpoints import load_pair

                self._pairs[ref] = load_pair(ref, device=self.job.device)
        return self._pairs[ref]

    def retrain(self, entry, log: Callable[[str], None] | None = None, bars=None) -> SeriesOutcome:
        """``entry``'s series retrained (a ``watchlist.Entry``); ``log(line)`` gets one line per decision, which
        the outcome keeps too; ``bars``: the series' bars already read and gated (a watch's tick: a replay's cut of
        them at its clock), instead of reading them here."""
        from kronos.checkpoints import CheckpointError

        outcome = SeriesOutcome(entry.series, DECIDED)

        def line(text: str) -> None:
            outcome.log.append(f"{entry.series}: {text}")
            if log is not None:
                log(outcome.log[-1])

        job = self.job
        # a fetched series is downloaded with the bars a decision needs; a bar file is gated as one forecast's
        # history reads it, so that too few bars for a decision are refused by the retrain, with its numbers
        history = job.settings.needed() if entry.file is None else job.settings.lookback
        if bars is None:
            loaded = load_entry(entry, history, fixes=job.fixes, calendar=job.calendar)
            if loaded.error is not None:
                return refused(outcome, RetrainError(loaded.error))
            bars = loaded.bars
        try:
            ledger = self.ledger()
            retrainer = series_retrainer(job.model, bars, ledger, job.settings, self.pair, log=line,
                                         made_by=job.made_by)
            points = retrainer.points(job.every, job.since)
            if job.max_points is not None and len(points) > job.max_points:
                raise RetrainError(f"{len(points)} retraining points are over the limit of {job.max_points} per series",
                                   {"points": len(points), "max_points": job.max_points},
                                   Fix("decide less often (a larger {setting}) or on fewer bars", "every"))
            report = retrainer.run(points)
        except SeriesLocked as e:
            outcome.status, outcome.error = LOCKED, e
            return outcome
        except (UserError, LedgerError, CheckpointError, FileNotFoundError) as e:
            return refused(outcome, e)
        outcome.decisions, outcome.champion = report.decisions, report.champion
        return outcome


def refused(outcome: SeriesOutcome, error: Exception) -> SeriesOutcome:
    outcome.status, outcome.error = REFUSED, error
    return outcome


@dataclass(frozen=True)
class Fanout:
    """Where the series run: ``engine`` "local" (this process, one after the other) or "ray" (``workers``
    actors on the cluster at ``address``, None: a local Ray instance)."""

    engine: str = "local"
    address: str | None = None
    workers: int | None = None


def retrain_watchlist(entries: list, job: WatchlistRetrain, fanout: Fanout = Fanout(),
                      log: Callable[[str], None] | None = None, unit: SeriesRetrainer | None = None
                      ) -> Iterator[SeriesOutcome]:
    """Every entry's ``SeriesOutcome``, in watchlist order. ``log(line)`` gets each decision's line (from Ray
    workers: when their series is done); ``unit``: the local engine's retrainer (None: one of ``job`` on the
    default ledger)."""
    if fanout.engine not in ENGINES:
        raise ValueError(f"unknown engine '{fanout.engine}': use one of {list(ENGINES)}")
    if fanout.engine == "local":
        unit = unit or SeriesRetrainer(job)
        for entry in entries:
            yield unit.retrain(entry, log)
        return

    with actor_pool(SeriesRetrainer, (job,), address=fanout.address, workers=fanout.workers) as (_, actors):
        from ray.util import ActorPool

        for outcome in ActorPool(actors).map(lambda actor, entry: actor.retrain.remote(entry), entries):
            for text in outcome.log:
                if log is not None:
                    log(text)
            yield outcome
