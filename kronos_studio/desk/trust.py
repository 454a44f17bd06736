"""The trust use case (``Desk.trust``): a walk-forward of one model over a plan's cut-offs of a series, the naive
baselines on the same cut-offs and seeds, skill scores and the conformal fan calibration with its held-out check
(``evaluation.trust.evaluate``). One plan (``TrustPlan``, every field with its ``Knob``) for the app's Evaluate page
and badge and for ``Desk.evaluate`` (``kronos evaluate``, ``POST /v1/evaluate``, the MCP tool ``evaluate``), which
words the same walk, kept under the same key, as the ``kronos evaluate`` JSON (``evaluated``)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from kronos.errors import Notice
from kronos.settings import ForecastSettings
from kronos_studio.catalog.choice import ModelChoice
from kronos_studio.evaluation.report import EvaluationReport, Walked, report_body, walk_notices, walked_history
from kronos_studio.evaluation.trust import TrustPlan, TrustReport, evaluate

from .cache import result_key


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
