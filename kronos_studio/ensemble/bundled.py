"""The bundled ensemble: the meta-learner trained offline (package data) over the bundled Kronos, HAR,
GJR-GARCH, GARCH, the random walk and the bootstrap (``scripts/train_ensemble.py``)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from kronos_studio.bundled import ENSEMBLE_DIR
from kronos_studio.evaluation.baselines import Bootstrap, RandomWalk

from .ensemble import Ensemble
from .features import asset_class
from .members import GarchMember, KronosMember, cheap_member_paths
from .meta import MetaLearner, files_digest
from .volatility import GjrGarchMember, HarMember


def default_members(kronos_pipeline, settings, chronos2=None, cheap_paths: int | None = None) -> dict:
    """key -> member: Kronos, HAR, GJR-GARCH, GARCH, the random walk and the bootstrap (and Chronos-2
    when given). Kronos samples with the settings each forecast passes (the forecast's paths), the simulated
    members draw their own ``cheap_paths`` paths (default ``cheap_member_paths(settings.paths)``)."""
    cheap = cheap_member_paths(settings.paths) if cheap_paths is None else cheap_paths
    members = [KronosMember(kronos_pipeline), HarMember(paths=cheap), GjrGarchMember(paths=cheap),
               GarchMember(paths=cheap), RandomWalk(paths=cheap), Bootstrap(paths=cheap)]
    if chronos2 is not None:
        members.insert(1, chronos2)
    return {m.key: m for m in members}


def load_bundled_meta() -> MetaLearner:
    """The bundled meta-learner, parsed once per version of its files (every ensemble forecast asks for it).
    Shared: callers do not modify it."""
    return _bundled_meta(files_digest(ENSEMBLE_DIR))


@lru_cache(maxsize=2)
def _bundled_meta(digest: str) -> MetaLearner:
    return MetaLearner.load(ENSEMBLE_DIR)


def is_bundled(meta: MetaLearner) -> bool:
    return meta.folder is not None and Path(meta.folder).resolve() == ENSEMBLE_DIR.resolve()


def bars_ensemble(pipeline, bars, meta: MetaLearner, settings, on_mismatch: str | None = None,
                  chronos2: tuple | None = None) -> Ensemble:
    """The default members combined by ``meta`` for the kind of series ``bars`` is, with ``settings`` (a
    ``kronos.pipeline.ForecastSettings``): the mixture has ``settings.paths`` paths, Kronos samples that many
    and the cheap members ``members.cheap_member_paths`` of it; the Kronos
    member (``pipeline``: any Kronos the user chose) samples with the settings whole; every member reads its
    own window of the ensemble's history (``Ensemble.member_forecasts``).

    ``on_mismatch`` (default: "equal" for the bundled meta-learner, "refuse" for one the user named):
    the bundled meta-learner was trained with the bundled Kronos, so with another Kronos it is not used:
    the members are weighed equally and the provenance says why. ``chronos2``: a Chronos-2 member to mix
    in and the provenance's line about it (``chronos2.ensemble_member``'s pair; None: no Chronos-2)."""
    member, status = chronos2 or (None, None)
    members = default_members(pipeline, settings, chronos2=member)
    bundled = is_bundled(meta)
    return Ensemble(members, meta, bars.interval, asset_class(bars.calendar, bars.source),
                    on_mismatch=on_mismatch or ("equal" if bundled else "refuse"),
                    meta_label="the bundled meta-learner" if bundled else
                    f"the meta-learner in {meta.folder}" if meta.folder else "the meta-learner",
                    notes=None if status is None else {"chronos2": status})
