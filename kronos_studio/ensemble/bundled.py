"""The bundled ensemble: the meta-learner trained offline (package data) over the bundled Kronos,
GARCH, the random walk and the bootstrap."""
from __future__ import annotations

from kronos_studio import ASSETS

from .meta import MetaLearner

ENSEMBLE_DIR = ASSETS / "ensemble"


def load_bundled_meta() -> MetaLearner:
    return MetaLearner.load(ENSEMBLE_DIR)
