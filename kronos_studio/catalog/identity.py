"""What a model is now, for a result's key: the same reference can serve other numbers tomorrow (a champion
promoted, an ensemble fitted to the series, a Chronos-2 downloaded), and a result kept from before must not
answer for it."""
from __future__ import annotations

from kronos_studio.bundled import ENSEMBLE_DIR, model_reference
from kronos_studio.ensemble.meta import files_digest

from .champion import CHAMPION, champion_entry
from .choice import ModelChoice, model_of
from .resolve import ENSEMBLE, ModelRef, normal_reference

NOT_PER_SERIES = "not chosen per series"  # the champion read for a model other than ``champion``


def per_series(ref) -> bool:
    """``ref`` (a reference or a ``ModelChoice``) names ``champion``: one model per series, read from the registry."""
    ref = model_of(ref)
    return ref.per_series if isinstance(ref, ModelRef) else model_reference(ref) == CHAMPION


def mixes(ref, ensemble: bool = False) -> bool:
    """``ref`` (with the ``ensemble`` switch, or a ``ModelChoice`` with its own) names the ensemble."""
    if isinstance(ref, ModelChoice):
        ref, ensemble = ref.model, ensemble or ref.ensemble
    return ensemble or (ref.mixes if isinstance(ref, ModelRef) else ref == ENSEMBLE)


def served_champion(ref, bars, workspace: str | None = None, ledger=None):
    """For ``champion``: the series' champion entry now (None: its base model serves), read once so that a key
    and the forecast name the same adapter; ``NOT_PER_SERIES`` for any other model."""
    if not per_series(ref):
        return NOT_PER_SERIES

    return champion_entry(bars, workspace, ledger=ledger)


def model_identity(ref, bars, workspace: str | None = None, champion=NOT_PER_SERIES) -> dict:
    """What results of ``ref`` (a ``ModelChoice``, or a reference with the resolver's defaults) on ``bars`` depend on
    besides the bars and the settings: the model in its one spelling and precision; for ``champion`` the adapter
    serving (``served_champion``); for the ensemble its meta-learner's files, the workspace's fits to series, the
    asset class it reads from the bars and the Chronos-2 that would join it."""
    choice = ModelChoice.of(ref)
    ref, ensemble, meta, chronos2 = choice.model, choice.ensemble, choice.meta, choice.chronos2
    precision = ref.precision if isinstance(ref, ModelRef) else None
    if champion is not NOT_PER_SERIES:
        return {"model": CHAMPION, "adapter": None if champion is None else champion.served, "precision": precision}
    name = ref.ref if isinstance(ref, ModelRef) else ref
    identity = {"model": normal_reference(None if name == ENSEMBLE else name), "precision": precision}
    if not mixes(ref, ensemble):
        return identity
    from kronos_studio.ensemble.chronos2 import ensemble_state
    from kronos_studio.ensemble.features import asset_class
    from kronos_studio.ensemble.series import series_fits

    try:
        digest = files_digest(meta or ENSEMBLE_DIR)
    except OSError:
        digest = None
    return {**identity, "ensemble": True, "meta": digest, "fits": series_fits(workspace),
            "asset_class": asset_class(bars.calendar, bars.source), "chronos2": ensemble_state(chronos2)}
