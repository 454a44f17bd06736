"""Fitting the ensemble to one series (``Desk.fit_ensemble``): the members an ensemble forecast of the series mixes,
walked forward over cut-offs of its own history with the forecasts' settings whole, and stacking weights fitted
there (``ensemble.series.fit_to_series``), stored in the workspace under the series' key: every later ensemble
forecast of the series uses them (``kronos train ensemble FILE``, the Evaluate page's "Fit the ensemble to this
series")."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from kronos.errors import Notice
from kronos.settings import Bounds, ForecastSettings, check_bounds, knob
from kronos_studio.catalog.choice import ModelChoice
from kronos_studio.ensemble.series import DEFAULT_SERIES_CUTOFFS, SeriesFit, fit_to_series, load_series_meta


@dataclass(frozen=True)
class FitEnsembleRequest:
    """An ensemble fitted to a series: its ``bars`` (a ``BarsRequest``, ``Gated`` bars or bars), the forecasts'
    ``settings`` (horizon, paths, sampling and seed: every member samples with them), the ensemble's Kronos
    (``model``: a ``ModelChoice``, its ``chronos2`` read; a reference or a ``ModelRef`` is taken with the resolver's
    defaults; None: the bundled default), the cut-offs, the series' name in the fit's provenance (None: 'SYMBOL INTERVAL') and whose
    fits (``workspace``)."""

    bars: object
    settings: ForecastSettings
    model: ModelChoice = ModelChoice()
    n_cutoffs: int = knob(DEFAULT_SERIES_CUTOFFS, Bounds(ge=4), label="Cut-offs", low=4, high=500, setting="cutoffs",
                          help="cut-offs spread over the series' history after the last day any member learned "
                               "from, each walked forward by every member (a few dozen: stacking fits one weight "
                               "per member)")
    name: str | None = None
    workspace: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "model", ModelChoice.of(self.model))
        check_bounds(self)


@dataclass
class EnsembleFitted:
    """The fitted meta-learner (``ensemble.meta.MetaLearner``: its method, weights, validation and provenance; where
    it was stored, ``folder``), the series' ``bars``, the members' names by key, and the bars' notices then which
    Chronos-2 joined."""

    meta: object
    bars: object
    members: dict[str, str]
    notices: list[Notice]


def mixture(desk, request: FitEnsembleRequest, bars):
    """The ensemble a forecast of ``bars`` with the request's model and settings mixes (its members: what the fit
    weighs), on the registry's warm pairs."""
    return desk.registry.forecaster(dataclasses.replace(request.model, ensemble=True), bars, request.settings,
                                    request.workspace)


def said(mixed) -> list[Notice]:
    """Which Chronos-2 joined the members, or why none did (the ensemble's note), as a note."""
    status = mixed.describe().get("chronos2")
    return [Notice(status, kind="note")] if status else []


def fit_ensemble(desk, request: FitEnsembleRequest, *, progress: Callable[[str, int, int], None] | None = None,
                 ways: str | None = None) -> EnsembleFitted:
    """Stacking weights of the request's ensemble fitted on ``request.n_cutoffs`` cut-offs of its bars and stored by
    the series' key in its workspace; ``progress(member, i, n)`` per cut-off of each member. An ``InputError`` when
    too few bars lie after the last day any member learned from."""
    gated = desk._gated(request.bars, ways)
    bars = gated.bars
    mixed = mixture(desk, request, bars)
    meta = fit_to_series(bars, mixed.members, request.settings,
                         SeriesFit(request.n_cutoffs, request.name, workspace=request.workspace), progress)
    return EnsembleFitted(meta, bars, {k: m.name for k, m in mixed.members.items()}, gated.notices + said(mixed))


def fitted_ensemble(desk, request: FitEnsembleRequest) -> EnsembleFitted | None:
    """The fit stored for the request's series, horizon and members (None: none, or one of other bars under the
    same name: ``load_series_meta``)."""
    gated = desk._gated(request.bars, None)
    mixed = mixture(desk, request, gated.bars)
    meta = load_series_meta(gated.bars, mixed.members, request.settings.horizon, request.workspace)
    if meta is None:
        return None
    return EnsembleFitted(meta, gated.bars, {k: m.name for k, m in mixed.members.items()}, gated.notices)
