"""The desk's requests of the use cases written in ``desk.Desk`` itself (a forecast, its walk-forward evaluation, one
series' retrain) and the bars a use case is handed once gated (``Gated``), apart from the desk so that the use-case
modules that make them (the risk desk, Compare's backtest, the watch) import no loop."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Notice
from kronos.settings import ForecastSettings
from kronos_studio.catalog.choice import ModelChoice


@dataclass
class Gated:
    """A series' bars after the quality gate, and what the reader and the gate noted (``Notice``s)."""

    bars: object
    notices: list[Notice] = field(default_factory=list)


@dataclass(frozen=True)
class ForecastRequest:
    """A forecast asked for: ``bars`` (a ``BarsRequest``, ``Gated`` bars, or bars), the ``model`` (a
    ``ModelChoice``; a reference is taken with the resolver's defaults), the ``settings``, whose results and fits
    (``workspace``); ``future``: the bar times to place it at (None: the bars' calendar's); ``covariates``: a
    ``CovariateOptions`` to condition on (``desk.covariates``); ``adapter``: an ``adapted.AdapterRequest``, a LoRA
    event adapter on the model reading its events and leaders (``desk.adapted``)."""

    bars: object
    model: ModelChoice
    settings: ForecastSettings
    workspace: str | None = None
    future: object = None
    covariates: object = None
    adapter: object = None

    def __post_init__(self):
        object.__setattr__(self, "model", ModelChoice.of(self.model))


@dataclass(frozen=True)
class EvaluateRequest:
    """A walk-forward evaluation asked for (the ``kronos evaluate`` JSON): ``bars``, ``model`` and ``settings`` as a
    ``ForecastRequest``'s, the walk's ``plan`` (an ``evaluation.trust.TrustPlan``; None: its defaults), the
    ``workspace``, ``covariates`` (each cut-off reading them as of its own close) and the name the JSON gives the
    bars (``file``)."""

    bars: object
    model: ModelChoice
    settings: ForecastSettings
    plan: object = None
    workspace: str | None = None
    covariates: object = None
    file: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "model", ModelChoice.of(self.model))


@dataclass(frozen=True)
class RetrainRequest:
    """One series' gated retrain asked for: ``bars`` (a ``BarsRequest`` or gated bars), the base ``model`` (None:
    its champion's base), the retrain's ``settings`` (a ``RetrainSettings``), deciding at the end of the bars or
    every ``every`` bars (from ``since``), and who asked (``made_by``, kept with each decision; None: the
    retrainer's default)."""

    bars: object
    model: object
    settings: object
    every: int | None = None
    since: object = None
    made_by: str | None = None
