"""A model as a request names it (``ModelChoice``): the reference ``resolve`` takes and the resolver's options
(``ensemble``, ``meta``, ``chronos2``), each with its ``Knob``, travelling together from a face to ``resolve``,
``identity.model_identity`` and the registry instead of an untyped ``**choices``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kronos.settings import knob

from .resolve import ModelRef


@dataclass(frozen=True)
class ModelChoice:
    """The model a request asks for: ``model``, a reference ``resolve`` takes (a ``ModelRef``, a name, a folder, a
    Hub id, ``ensemble``, ``champion``, a statistical model's key; None: the bundled default), with the resolver's
    options. Each option carries its ``Knob``: the command line's ``--ensemble``, ``--meta`` and ``--chronos2`` are
    generated from them."""

    model: ModelRef | str | None = None
    ensemble: bool = knob(False, label="Ensemble",
                          help="mix the model's Kronos with the statistical members (HAR, GJR-GARCH, GARCH, the random "
                               "walk, the bootstrap); the bundled meta-learner weighs them only for the Kronos it was "
                               "trained with, otherwise equal weights (the provenance says which)")
    meta: str | None = knob(None, label="Meta-learner",
                            help="with the ensemble: a meta-learner folder, as the ensemble's training writes one "
                                 "(default: the bundled one)")
    chronos2: str = knob("auto", label="Chronos-2 member",
                         help="the ensemble's Chronos-2 member: 'auto' (default) mixes amazon/chronos-2 (or "
                              "$KRONOS_STUDIO_CHRONOS2) in when its weights are already on this machine; 'off' leaves "
                              "it out; 'chronos2-small' (the bundled one), a folder or Hub id is used, downloaded once "
                              "if need be. The bundled meta-learner was trained without it, so with it the members are "
                              "weighed equally (the output says so)")

    @classmethod
    def of(cls, model) -> ModelChoice:
        """``model`` as a choice: a ``ModelChoice`` as it is, a reference with the options' defaults."""
        return model if isinstance(model, ModelChoice) else cls(model)

    def options(self) -> dict:
        """The resolver's keyword arguments (``resolve``'s ``ensemble``, ``meta``, ``chronos2``)."""
        return {"ensemble": self.ensemble, "meta": self.meta, "chronos2": self.chronos2}

    def naming(self, model) -> ModelChoice:
        """These options for another model (a cut-off's, a risk backtest's)."""
        return dataclasses.replace(self, model=model)


def model_of(model):
    """The reference a model (a ``ModelChoice`` or a reference) names."""
    return model.model if isinstance(model, ModelChoice) else model
