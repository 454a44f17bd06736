"""Drift as the desk serves it (``Desk.drift``): is each model still calibrated, and still better than the random
walk, on each series a query reads (``kronos_studio.ledger.drift``: the tests and their thresholds' one home)?
The thresholds come back with the answer (``DriftThresholds``), for the faces that explain them.

``kronos_studio.ledger.drift`` (scipy, the walk-forward's random walk) is imported when drift is judged: this
module stays light, so the request is options and fields before any database is touched."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Notice
from kronos.settings import Bounds, knob
from kronos_studio.ledger.drift_window import MIN_SCORED

from .track_record import ExperimentsOption, ModelsQuery, replay_said


@dataclass(frozen=True)
class DriftRequest(ExperimentsOption, ModelsQuery):
    """Drift of each series and model the query reads, over the newest ``last`` scored forecasts of each."""

    last: int | None = knob(None, Bounds(ge=MIN_SCORED), label="Forecasts judged",
                            help="the newest scored forecasts judged per series and model (default: the drift "
                                 f"setting; at least {MIN_SCORED}, the fewest a drift test judges)")


@dataclass(frozen=True)
class DriftThresholds:
    """What drift is judged by (``kronos_studio.ledger.drift``'s constants): the forecasts judged (``last``), the
    fewest judged (``min_scored``), the p-value that flags (``alpha``), the band's nominal coverage, and the returns
    a forecast's random-walk reference needs (``rw_min_returns``)."""

    last: int
    min_scored: int
    alpha: float
    nominal: float
    rw_min_returns: int


@dataclass
class Drifted:
    """One ``kronos_studio.ledger.drift.Drift`` per workspace, series and model (its state, tests and rolling
    window), judged over the newest ``thresholds.last`` scored forecasts of each."""

    drifts: list
    thresholds: DriftThresholds
    notices: list[Notice] = field(default_factory=list)


def drift(desk, request: DriftRequest, *, ledger) -> Drifted:
    """The drift of ``ledger``'s forecasts ``request`` reads (a scoped ledger: its workspace's; unscoped: each
    workspace's apart). Fewer forecasts judged than a drift test needs are refused (``drift_report``)."""
    from kronos_studio.ledger import drift as judged

    last = judged.DRIFT_LAST if request.last is None else request.last
    report = judged.drift_report(request.reading(ledger), last, experiments=request.include_experiments,
                                 **request.filters())
    return Drifted(report, DriftThresholds(last, judged.MIN_SCORED, judged.ALPHA, judged.NOMINAL,
                                           judged.RW_MIN_RETURNS), replay_said(request, ledger))
