"""The trust use case (``Desk.trust``): a walk-forward of one model over a plan's cut-offs of a series, the naive
baselines on the same cut-offs and seeds, skill scores and the conformal fan calibration with its held-out check
(``evaluation.trust.evaluate``). One plan (``TrustPlan``, every field with its ``Knob``) for the app's Evaluate page
and badge and for ``Desk.evaluate`` (``kronos evaluate``, ``POST /v1/evaluate``, the MCP tool ``evaluate``), which
words the same walk, kept under the same key, as the ``kronos evaluate`` JSON (``evaluated``)."""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass

from kronos.errors import Notice
from kronos.settings import ForecastSettings, knobs
from kronos_studio.catalog.choice import ModelChoice
from kronos_studio.evaluation.report import EvaluationReport, Walked, report_body, walk_notices, walked_history
from kronos_studio.evaluation.trust import TrackRecord, TrustPlan, TrustReport, evaluate

from .cache import result_key

SAMPLING = (*knobs(), "lookback")  # a calibration fitted with another value of one of these does not apply


@dataclass(frozen=True)
class TrustRequest:
    """A walk-forward report asked for: ``bars`` (a ``BarsRequest``, ``Gated`` bars or bars), the model (a
    ``ModelChoice``; a reference or a ``ModelRef`` is taken with the resolver's defaults; None: the bundled
    default), the forecast's ``settings``, the ``plan`` and whose fits and results (``workspace``)."""

    bars: object
    settings: ForecastSettings
    model: ModelChoice = ModelChoice()
    plan: TrustPlan = TrustPlan()
    workspace: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "model", ModelChoice.of(self.model))


@dataclass
class Trusted:
    """A walk-forward report (``evaluation.trust.TrustReport``) of ``bars``: what the model walked says of itself
    (``walked``: its description, a mixture's members, the bars each cut-off read), the bars' notices then the
    walk's (fewer cut-offs than asked, the time limit, the training-period guard), and whether it was kept."""

    report: TrustReport
    bars: object
    walked: Walked
    notices: list[Notice]
    from_cache: bool = False


def trust_key(bars, identity: dict, request: TrustRequest) -> str:
    """The kept report's key: the bars, the model now, the settings, the workspace and the whole plan."""
    return result_key("trust", bars, identity, request.settings, request.workspace,
                      plan=dataclasses.asdict(request.plan))


def trust(desk, request: TrustRequest, *, ledger=None, progress: Callable[[str, int, int], None] | None = None,
          ways: str | None = None) -> Trusted:
    """The walk-forward report ``request`` asks for, computed once per identical request, the model sampling in the
    workspace's turn; ``ledger``: where a ``champion`` is read from; ``progress(model name, i, n)`` per cut-off of
    the model, then of each baseline."""
    settings, plan, workspace = request.settings, request.plan, request.workspace
    desk.check_walk(settings, plan.n_cutoffs)
    gated = desk._gated(request.bars, ways)
    bars = gated.bars
    served, identity = desk._identity(request.model, bars, workspace, ledger)

    def compute():
        forecaster = desk.forecaster(request.model, bars, settings, workspace, served)
        walked = walked_history(forecaster, bars, settings)
        report = evaluate(desk.registry.in_turn(forecaster, identity["model"], workspace), bars.frame, settings,
                          plan, progress)
        return report, walked

    (report, walked), hit = desk._kept(lambda: trust_key(bars, identity, request), compute)
    return Trusted(report, bars, walked, gated.notices + said(report, walked, request), hit)


def said(report: TrustReport, walked: Walked, request: TrustRequest) -> list[Notice]:
    """What a reader of ``report`` must know: fewer cut-offs than asked, the time limit, the guard's sentence."""
    guard = report.guard_line()
    return (walk_notices(report, request.plan, walked.lookback, request.settings.horizon)
            + ([Notice(guard)] if guard else []))


def kept_trust(desk, request: TrustRequest, *, ledger=None) -> Trusted | None:
    """What ``trust`` would answer from the cache now for gated ``request.bars`` (None: it would compute); no
    model is loaded."""
    if desk.cache is None:
        return None
    gated = desk._gated(request.bars, None)
    _, identity = desk._identity(request.model, gated.bars, request.workspace, ledger)
    kept = desk.cache.peek(trust_key(gated.bars, identity, request))
    if kept is None:
        return None
    report, walked = kept
    return Trusted(report, gated.bars, walked, gated.notices + said(report, walked, request), True)


def evaluated(done: Trusted, request: TrustRequest, file: str | None = None) -> EvaluationReport:
    """The ``kronos evaluate`` JSON of a report (``evaluation.report.report_body``; ``file``: the file it read, as
    the command line names it)."""
    return report_body(done.report, done.walked, done.bars, request.settings, request.plan, file)


def series_key(bars, model) -> tuple:
    """'This model on this series' (``model``: a ``ModelRef`` or ``ModelChoice``): new bars of the same series keep
    their track record."""
    return bars.source, bars.series_symbol, bars.interval, model.key


class LatestRecords:
    """The track record of the latest report per (workspace, series), kept in the forecast ledger too, so that it
    survives a restart and every process on the same ledger sees it (the app's badge beside the fan). ``ledger``:
    what returns the ledger to keep them in (None while it cannot be opened)."""

    def __init__(self, ledger: Callable[[], object]):
        self._ledger = ledger
        self._latest: dict[tuple, TrackRecord] = {}
        self._lock = threading.Lock()

    def put(self, workspace: str | None, series: tuple, report: TrustReport) -> None:
        record = report.track_record()
        with self._lock:
            self._latest[(workspace, series)] = record
        book = self._ledger()
        if book is not None:
            try:  # one transaction: a failure midway keeps the previous record whole
                book.put_track_record(series, record.to_dict())
            except Exception:  # a failed write costs the record its persistence, nothing else
                pass

    def latest(self, workspace: str | None, series: tuple) -> TrackRecord | None:
        """The track record of the latest evaluation of this model on this series, or None."""
        with self._lock:
            record = self._latest.get((workspace, series))
        if record is not None:
            return record
        book = self._ledger()
        if book is None:
            return None
        try:
            data = book.track_record(series)
            record = None if data is None else TrackRecord.from_dict(data)
        except Exception:  # unreadable or unreachable: as if never evaluated
            return None
        if record is not None:
            record = record.current()  # another CRPS estimator's skill, another band rule's calibration: not shown
        if record is not None:
            with self._lock:
                self._latest[(workspace, series)] = record
        return record


def mismatch(report, settings: ForecastSettings) -> str | None:
    """Why the calibration of ``report`` (a ``TrustReport`` or ``TrackRecord``) should not be applied to a forecast
    with ``settings`` (None: it may)."""
    if report.calibration is None:
        return "; ".join(report.notes) or "no calibration was fitted"
    if settings.horizon > report.calibration.horizon:
        return (f"it was fitted for {report.calibration.horizon} bars ahead, the forecast runs "
                f"{settings.horizon}: evaluate again with this horizon")
    changed = [name for name in SAMPLING if report.settings.get(name) != getattr(settings, name)]
    if changed:
        return f"it was fitted with other settings ({', '.join(changed)}): evaluate again with these"
    return None
