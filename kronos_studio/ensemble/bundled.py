"""The bundled ensemble: the meta-learner trained offline (package data) over the bundled Kronos,
GARCH, the random walk and the bootstrap."""
from __future__ import annotations

from kronos_studio import ASSETS

from .ensemble import Ensemble
from .features import asset_class
from .members import default_members
from .meta import MetaLearner

ENSEMBLE_DIR = ASSETS / "ensemble"
# Bars of history the members see when no lookback is given (the GARCH member fits on 500 returns).
ENSEMBLE_LOOKBACK = 520


def load_bundled_meta() -> MetaLearner:
    return MetaLearner.load(ENSEMBLE_DIR)


def kronos_lookback(context: int, horizon: int, lookback: int | None) -> int:
    """Bars the ensemble's Kronos member reads: context - horizon (its own default, the window never
    slides), and no more than the ensemble's ``lookback`` when one is given."""
    from kronos.config import default_lookback

    own = default_lookback(context, horizon)
    return min(own, lookback) if lookback else own


def bars_ensemble(pipeline, bars, meta: MetaLearner, settings) -> Ensemble:
    """The default members mixed by ``meta`` for the kind of series ``bars`` is, with ``settings`` (a
    ``kronos.pipeline.ForecastSettings``): every member samples ``settings.paths`` paths; the Kronos
    member (``pipeline``) samples with the settings' temperature, top-p, top-k and anchor and reads
    ``kronos_lookback`` bars; the others read their own windows of the ensemble's history."""
    members = default_members(pipeline, paths=settings.paths,
                              lookback=kronos_lookback(pipeline.context, settings.horizon, settings.lookback),
                              temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                              anchor=settings.anchor)
    return Ensemble(members, meta, settings.paths, bars.interval, asset_class(bars.calendar, bars.source))
