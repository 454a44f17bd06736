"""The bundled ensemble: the meta-learner trained offline (package data) over the bundled Kronos,
GARCH, the random walk and the bootstrap."""
from __future__ import annotations

from kronos_studio import ASSETS

from .ensemble import Ensemble
from .features import asset_class
from .members import default_members
from .meta import MetaLearner

ENSEMBLE_DIR = ASSETS / "ensemble"


def load_bundled_meta() -> MetaLearner:
    return MetaLearner.load(ENSEMBLE_DIR)


def bars_ensemble(pipeline, bars, meta: MetaLearner, paths: int, lookback: int, **kronos_settings) -> Ensemble:
    """The default members (``pipeline`` as the Kronos member, reading ``lookback`` bars, with
    ``kronos_settings`` such as temperature) mixed by ``meta``, for the kind of series ``bars`` is."""
    members = default_members(pipeline, paths=paths, lookback=lookback, **kronos_settings)
    return Ensemble(members, meta, paths, bars.interval, asset_class(bars.calendar, bars.source))
