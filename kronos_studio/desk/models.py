"""The models a face offers (``Desk.models``): the catalog (local folders, the bundled models, ``champion``, the
official ones, and a server's ``models_dirs``), and what the ensemble can mix on this machine: its bundled
meta-learner (``ensemble_mixable``), its Chronos-2 member (``chronos2_member``), looked up without loading a
model or reaching the network."""
from __future__ import annotations

from dataclasses import dataclass

from kronos_studio.bundled import ENSEMBLE_DIR
from kronos_studio.catalog import catalog
from kronos_studio.ensemble.meta import files_digest


@dataclass(frozen=True)
class Chronos2Member:
    """The Chronos-2 an ensemble forecast mixes in: its reference (None: left out, ``off``) and whether its weights
    are on this machine (an ensemble forecast never waits for a download: without them it goes without it)."""

    ref: str | None
    ready: bool


def models(desk) -> list:
    """The models a request may name (``catalog.catalog``: ``catalog.resolve.ModelRef`` each), the desk's
    ``models_dirs`` among them."""
    return catalog(desk.models_dirs)


def ensemble_mixable() -> bool:
    """Whether the bundled ensemble's meta-learner is readable (its files shipped with the package)."""
    try:
        files_digest(ENSEMBLE_DIR)
    except OSError:
        return False
    return True


def chronos2_member(choice: str | None = None) -> Chronos2Member:
    """The Chronos-2 ``choice`` (None: ``auto``: ``$KRONOS_STUDIO_CHRONOS2``, else the official one) names for the
    ensemble, and whether its weights are here (``ensemble.chronos2.ensemble_state``)."""
    from kronos_studio.ensemble.chronos2 import ensemble_reference, ensemble_state

    ref = ensemble_reference(choice)
    return Chronos2Member(ref, ref is not None and ensemble_state(choice) is not None)
