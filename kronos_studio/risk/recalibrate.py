"""A risk reading that learns from its exceptions: any model's horizon-return distribution (its own, or its paths')
recalibrated online, per series, position and level, from the outcomes seen so far, never from one after the
cut-off it serves.

* **Adaptive level** (adaptive conformal inference, Gibbs & Candès 2021, on the VaR's level): the tail probability
  the VaR and ES are read at moves after each outcome, a_{t+1} = a_t + g a (a - err_t), err_t = 1 when the loss went
  beyond the VaR served, a the nominal 1 - level; an exception widens the next readings, a quiet stretch narrows
  them, and the long-run exception rate is steered to a whatever the model's miscalibration. The step is relative
  to a (``ACI_STEP`` g: one 99% exception moves a from 1% to 0.9% for g = 0.1, a hundred quiet days restore it), and a_t is kept
  within ``LEVEL_BOUNDS`` times a (and below one half): a model whose tail is far off is widened or narrowed that
  far at most, and said to be so by its level.
* **Variance scale** (a filtered scaling of the model's returns): the forecast variance, and the returns with it,
  multiplied by the mean ratio of the realized variance to the model's own forecast over its latest
  ``SCALE_WINDOW`` outcomes (the scale that minimises QLIKE over them), shrunk to 1 by ``SCALE_PRIOR`` outcomes'
  worth of weight so that a few outcomes move it little.

The state (``RecalState``: each level's a_t, the latest ratios, the counts) is what the ledger keeps per workspace,
series, model and horizon (``kronos_studio.ledger.risk_state``); ``walk`` replays it over a backtest's cut-offs, each
cut-off served from the outcomes of the earlier ones whose horizon had ended by then.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from kronos.errors import Fix, InputError
from kronos.lazy import np

from .distribution import HorizonReturn
from .measures import position_losses

ACI_STEP = 0.1  # the adaptive level's step, relative to the tail probability a (0.1: the lowest FZ0 of 0.1, 0.25 and
# 0.5 on the development series of scripts/measure_risk_champion.py; docs/risk.md)
LEVEL_BOUNDS = (0.2, 3.0)  # a_t stays within these multiples of a (and below MAX_TAIL)
MAX_TAIL = 0.5
SCALE_WINDOW = 250  # outcomes the variance scale averages over (the latest)
SCALE_PRIOR = 25  # outcomes' worth of weight the variance scale keeps on 1


def tag(position: str, level: float) -> str:
    """A (position, level)'s key in a state and a backtest's columns: ``long_0.99``."""
    return f"{position}_{level:g}"


@dataclass(frozen=True)
class Recalibration:
    """How a model's readings are recalibrated: the adaptive level and/or the variance scale, and their constants."""

    aci: bool = True
    scale: bool = False
    step: float = ACI_STEP
    window: int = SCALE_WINDOW
    prior: int = SCALE_PRIOR

    def __post_init__(self):
        if not (self.aci or self.scale):
            raise InputError("a recalibration adapts the level, the variance scale or both: neither was asked",
                             {"aci": self.aci, "scale": self.scale}, Fix("ask for the adaptive level or the scale"))
        if not self.step > 0 or self.window < 1 or self.prior < 0:
            raise InputError(f"a recalibration needs a step above 0, a window of 1 or more and a prior of 0 or more, got "
                             f"{self.step}, {self.window}, {self.prior}",
                             {"step": self.step, "window": self.window, "prior": self.prior})

    def describe(self) -> str:
        parts = ([f"adaptive level (ACI, step {self.step:g} of the tail probability)"] if self.aci else []) + \
                ([f"variance scale (last {self.window} outcomes, prior {self.prior})"] if self.scale else [])
        return " and ".join(parts)

    def identity(self) -> dict:
        return {"aci": self.aci, "scale": self.scale, "step": self.step, "window": self.window, "prior": self.prior}


@dataclass
class RecalState:
    """What a recalibration has learnt: the tail probability each (position, level) is read at next (``alphas``,
    keyed by ``tag``), the latest realized-to-forecast variance ratios, and the outcomes and exceptions counted."""

    alphas: dict[str, float] = field(default_factory=dict)
    ratios: list[float] = field(default_factory=list)
    outcomes: int = 0
    exceptions: dict[str, int] = field(default_factory=dict)

    def alpha(self, position: str, level: float) -> float:
        return self.alphas.get(tag(position, level), 1 - level)

    def to_dict(self) -> dict:
        return {"alphas": dict(self.alphas), "ratios": [float(r) for r in self.ratios], "outcomes": self.outcomes,
                "exceptions": dict(self.exceptions)}

    @classmethod
    def from_dict(cls, d: dict | None) -> RecalState:
        d = d or {}
        return cls(dict(d.get("alphas", {})), [float(r) for r in d.get("ratios", [])], int(d.get("outcomes", 0)),
                   dict(d.get("exceptions", {})))


def scale_of(state: RecalState, recal: Recalibration) -> float:
    """The variance scale: the mean realized/forecast ratio of the latest outcomes, shrunk to 1 (1 without
    ``recal.scale``)."""
    if not recal.scale:
        return 1.0
    r = state.ratios[-recal.window:]
    return (float(np.sum(r)) + recal.prior) / (len(r) + recal.prior) if (r or recal.prior) else 1.0


@dataclass(frozen=True)
class Recalibrated(HorizonReturn):
    """A model's horizon return (``base``) read recalibrated: its returns scaled by sqrt(``factor``), each (position,
    level) read at the tail probability ``alphas`` holds for it (the nominal one where none)."""

    base: HorizonReturn = None
    factor: float = 1.0
    alphas: dict = field(default_factory=dict)

    def tail_probability(self, position: str, level: float) -> float:
        return float(self.alphas.get(tag(position, level), 1 - level))

    def tail(self, position: str, level: float) -> tuple[float, float]:
        return self._scaled().tail(position, 1 - self.tail_probability(position, level))

    def losses(self, position: str) -> np.ndarray:
        return self._scaled().losses(position)

    def scaled(self, factor: float) -> Recalibrated:
        return replace(self, variance=self.variance * factor, factor=self.factor * factor)

    def _scaled(self) -> HorizonReturn:
        return self.base if self.factor == 1.0 else self.base.scaled(self.factor)


def read(state: RecalState, base: HorizonReturn, recal: Recalibration) -> Recalibrated:
    """``base`` as ``state`` recalibrates it now."""
    factor = scale_of(state, recal)
    alphas = dict(state.alphas) if recal.aci else {}
    return Recalibrated(base.variance * factor, f"{base.method}; recalibrated: {recal.describe()}", base.fallback,
                        base, factor, alphas)


def served_vars(served: HorizonReturn, positions: Sequence[str], levels: Sequence[float]) -> dict[str, float]:
    """The VaR served per ``tag``: what an outcome is judged against."""
    return {tag(p, a): float(served.tail(p, a)[0]) for p in positions for a in levels}


def untag(key: str) -> tuple[str, float]:
    position, level = key.split("_", 1)
    return position, float(level)


def settle(state: RecalState, var: dict[str, float], own_variance: float, realized_return: float,
           realized_variance: float, recal: Recalibration) -> RecalState:
    """The state after the outcome of one served reading (``var``: its VaR per ``tag``; ``own_variance``: the model's
    own variance forecast, before any scale): each (position, level)'s tail probability moved by whether its loss
    went beyond the VaR served, and the ratio of the realized variance to the model's own forecast kept."""
    alphas, exceptions = dict(state.alphas), dict(state.exceptions)
    lo, hi = LEVEL_BOUNDS
    for key, served in var.items():
        position, level = untag(key)
        nominal = 1 - level
        hit = bool(float(position_losses(realized_return, position)) > served)
        exceptions[key] = exceptions.get(key, 0) + int(hit)
        a = alphas.get(key, nominal) + recal.step * nominal * (nominal - hit)
        alphas[key] = float(min(max(a, lo * nominal), min(hi * nominal, MAX_TAIL)))
    ratios = list(state.ratios)
    if math.isfinite(realized_variance) and realized_variance > 0 and math.isfinite(own_variance) and own_variance > 0:
        ratios = (ratios + [realized_variance / own_variance])[-recal.window:]
    return RecalState(alphas, ratios, state.outcomes + 1, exceptions)


def walk(returns: Sequence[HorizonReturn], cutoffs: Sequence[int], horizon: int, realized_returns: Sequence[float],
         realized_variances: Sequence[float], recal: Recalibration, positions: Sequence[str], levels: Sequence[float],
         state: RecalState | None = None) -> tuple[list[Recalibrated], RecalState]:
    """Each cut-off's reading recalibrated from the outcomes of the earlier cut-offs whose horizon had ended by then
    (cut-off j's outcome, its bars ``cutoffs[j]`` to ``cutoffs[j] + horizon - 1``, is settled before cut-off i is
    served when ``cutoffs[j] + horizon <= cutoffs[i]``), in order: no reading reads an outcome after its cut-off.
    (the readings, the state after every outcome known at the last cut-off's horizon's end)."""
    state = state or RecalState()
    served: list[Recalibrated] = []
    settled = 0
    for i, c in enumerate(cutoffs):
        while settled < i and cutoffs[settled] + horizon <= c:
            state = settle(state, served_vars(served[settled], positions, levels), returns[settled].variance,
                           realized_returns[settled], realized_variances[settled], recal)
            settled += 1
        served.append(read(state, returns[i], recal))
    for j in range(settled, len(cutoffs)):  # the rest, once the last horizon has ended
        state = settle(state, served_vars(served[j], positions, levels), returns[j].variance, realized_returns[j],
                       realized_variances[j], recal)
    return served, state
