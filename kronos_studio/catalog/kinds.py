"""The kinds of model the catalog offers, one registry: what each is named by, how its weights load and become a
forecaster, and what the rest of the studio asks of it (``kind_of(ref).mixes``, ``.per_series``, ``.takes_adapter``,
``.reads_covariates``) instead of comparing model names.

A statistical model is its class in a module of its own and one ``Statistical`` line in ``STATISTICAL``. A neural
model other than Kronos (a TimesFM, say) is its module and one ``register(NeuralKind(...))`` line: its weights are
loaded once per process through the warm registry (``ModelRegistry.warm``, the same store and ``max_models`` as the
Kronos pairs), it is offered by its name (``resolve.offered``, ``--model NAME``) and listed by ``catalog()``."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from kronos_studio.bundled import CHRONOS2_NAME
from kronos_studio.forecasters.base import Forecaster
from kronos_studio.forecasters.warm import Warm, process_weights

from .champion import CHAMPION

ENSEMBLE = "ensemble"  # the reference that picks the ensemble over the bundled Kronos


class ModelKind:
    """What the studio asks of a kind of model; each answer defaults to a plain forecaster's."""

    mixes = False  # a mixture of members (the ensemble)
    per_series = False  # chosen per series (``champion``)
    takes_adapter = False  # a LoRA event adapter can be put on it (a Kronos model)
    reads_covariates = False  # conditioned on other series (Chronos-2)
    stands_alone = True  # a model of its own (the bundled Chronos-2 is an ensemble member)


@dataclass(frozen=True)
class Builtin(ModelKind):
    """The catalog's own kinds, which ``resolve`` builds itself: Kronos, the ensemble, ``champion``, Chronos-2."""

    name: str
    mixes: bool = False
    per_series: bool = False
    takes_adapter: bool = False
    reads_covariates: bool = False
    stands_alone: bool = True


KRONOS = Builtin("kronos", takes_adapter=True)
MIXTURE = Builtin(ENSEMBLE, mixes=True)
PER_SERIES = Builtin(CHAMPION, per_series=True)
CHRONOS2_MEMBER = Builtin("chronos2", reads_covariates=True, stands_alone=False)


@dataclass(frozen=True)
class Statistical(ModelKind):
    """A statistical model ``--model`` can name: the class (a ``PathModel``, drawing the settings' paths) in
    its own module, imported when it is used."""

    key: str
    module: str
    cls: str

    @property
    def name(self) -> str:
        return self.key

    def make(self) -> Forecaster:
        return getattr(importlib.import_module(self.module), self.cls)()


# A new statistical model is one module and one entry here.
STATISTICAL: dict[str, Statistical] = {m.key: m for m in (
    Statistical("random_walk", "kronos_studio.evaluation.baselines", "RandomWalk"),
    Statistical("bootstrap", "kronos_studio.evaluation.baselines", "Bootstrap"),
    Statistical("persistence", "kronos_studio.evaluation.baselines", "Persistence"),
    Statistical("garch", "kronos_studio.ensemble.members", "GarchMember"),
    Statistical("gjr_garch", "kronos_studio.ensemble.volatility", "GjrGarchMember"),
    Statistical("har", "kronos_studio.ensemble.volatility", "HarMember"),
)}


@dataclass(frozen=True)
class NeuralKind(ModelKind):
    """A neural model offered by ``name``: ``load()`` reads its weights (once per process: ``make``'s ``warm``),
    ``forecaster(weights)`` makes its forecaster of them; ``label`` is how the model list shows it, ``context``
    the bars it reads at most."""

    name: str
    label: str
    load: Callable[[], object]
    forecaster: Callable[[object], Forecaster]
    context: int = 512

    def make(self, warm: Warm | None = None) -> Forecaster:
        """Its forecaster on weights kept warm by ``warm`` (a registry's; default: the process's)."""
        return self.forecaster((warm or process_weights().get)(f"{self.name}:weights", self.load))


NEURAL: dict[str, NeuralKind] = {}  # neural kinds besides Kronos and Chronos-2, by name: ``register``


def register(kind: NeuralKind) -> NeuralKind:
    """Offer ``kind`` by its name (a name the catalog already gives another model is refused)."""
    if kind.name in NEURAL or kind.name in STATISTICAL or kind.name in (ENSEMBLE, CHAMPION, CHRONOS2_NAME):
        raise ValueError(f"'{kind.name}' already names a model of the catalog")
    NEURAL[kind.name] = kind
    return kind


def named_kinds() -> dict[str, ModelKind]:
    """Every kind offered by one name of its own (the others are Kronos models named by folder or Hub name)."""
    return {ENSEMBLE: MIXTURE, CHAMPION: PER_SERIES, CHRONOS2_NAME: CHRONOS2_MEMBER, **STATISTICAL, **NEURAL}


def kind_of(ref) -> ModelKind:
    """The kind of model ``ref`` (a ``resolve.ModelRef``, a reference ``resolve`` takes, None: the bundled default)
    names; a ``choice.ModelChoice`` by the reference it holds."""
    ref = getattr(ref, "model", ref)  # a ModelChoice (read by its field: choice imports resolve, which imports this)
    if getattr(ref, "mixes", None) is not None:  # a ModelRef (read by its fields: resolve imports this module)
        ref = ENSEMBLE if ref.mixes else ref.ref
    return named_kinds().get(None if ref is None else str(ref), KRONOS)


__all__ = ["CHRONOS2_MEMBER", "ENSEMBLE", "KRONOS", "MIXTURE", "NEURAL", "PER_SERIES",
           "STATISTICAL", "ModelKind", "NeuralKind", "Statistical", "kind_of", "named_kinds", "register"]
