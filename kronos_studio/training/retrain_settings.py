"""What a gated retrain is asked to do (``RetrainSettings``) and its refusal (``RetrainError``), apart from the
retrain itself: the faces draw their options from these without loading the adapter registry's database layer."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.errors import Fix, UserError
from kronos.lazy import np
from kronos.settings import MAX_SEED, Bounds, check_bounds, knob

from .gate import MIN_GATE_CUTOFFS

AT_LEAST_ONE = Bounds(ge=1)  # the retrain's counts (bars, cut-offs, paths, steps)
VAL_FRACTION = 0.25  # the end of the training window that picks the best adapter (never the held-out cut-offs)


class RetrainError(UserError, ValueError):
    """A retrain that cannot run as asked; the message names the problem, the numbers and the fix."""


@dataclass(frozen=True)
class RetrainSettings:
    """How a challenger is trained and judged. Small and fast by default: a retrain runs unattended. Each field
    with a ``Knob`` is offered by every face (``kronos retrain``'s options, ``POST /v1/retrain``'s fields, the
    Fine-tune page's "Retrain settings"), generated from it; the horizon and the training-period switch are
    asked for where every use case asks for them."""

    horizon: int
    window: int = knob(300, AT_LEAST_ONE, label="Training window (bars)", low=1, high=100_000,
                       help="bars a challenger learns from (the last quarter picks its best step)")
    lookback: int = knob(48, AT_LEAST_ONE, label="Lookback (bars)", low=1, high=4096,
                         help="history bars of every training window and every held-out forecast")
    # held-out cut-offs, ``horizon`` bars apart (closer ones share actuals: their differences would be counted as
    # independent). 40: the paired differences spread 24-44% of the champion's CRPS on offline daily and hourly
    # bars, so 40 detect an improvement of 11-20% at 80% power, 8 only 28-50% (docs/learning.md, "Can the gate
    # promote?"; scripts/measure_gate_power.py)
    n_cutoffs: int = knob(40, AT_LEAST_ONE, label="Held-out cut-offs", low=1, high=1000, setting="cutoffs",
                          help="cut-offs after the training window, one horizon apart, on which the challenger and "
                               "the champion are scored (fewer tell a smaller improvement from noise less often)")
    paths: int = knob(50, AT_LEAST_ONE, label="Sample paths", low=1, high=1000, help="paths per held-out forecast")
    seed: int = knob(0, Bounds(ge=0, le=MAX_SEED), label="Seed", low=0, high=2**31 - 1, more=True,
                     help="random seed of the training and the held-out forecasts: same seed, same decision")
    steps: int = knob(40, AT_LEAST_ONE, label="Training steps", low=1, high=100_000, help="optimizer steps of the challenger")
    batch_size: int = 8
    lr: float = 5e-3
    include_training_period: bool = False  # also judge on cut-offs inside the base model's training period (flagged)
    # The second confirmation a challenger judged on in-sample evidence needs to serve (``Retrainer.decide_at``):
    # with include_training_period, a decision left with fewer than MIN_GATE_CUTOFFS cut-offs after the base
    # model's training period is decided and recorded, and promoted only with this on.
    promote_in_sample: bool = knob(False, label="Promote on in-sample evidence", more=True,
                                   help="with cut-offs inside the model's training period included: also let a "
                                        f"challenger serve when fewer than {MIN_GATE_CUTOFFS} of them lie after "
                                        "that period, so that the gate's verdict rests on the model's memory of the "
                                        "bars (off: such a challenger is decided and recorded, not promoted)")

    def __post_init__(self):
        check_bounds(self, RetrainError)

    def held_out(self) -> int:
        return self.n_cutoffs * self.horizon

    def cutoffs(self, at: int) -> list[int]:
        """The held-out cut-offs of the decision at bar position ``at``: ``horizon`` bars apart after the training
        window, the last leaving exactly ``horizon`` bars before ``at``."""
        return list(range(at - self.held_out(), at - self.horizon + 1, self.horizon))[:self.n_cutoffs]

    def needed(self) -> int:
        """Bars before a retraining point: the training window and the held-out cut-offs."""
        return self.window + self.held_out()

    def check(self, context: int | None = None, model: str = "the model") -> None:
        """Refuse settings that cannot judge a challenger; ``context``: the bars ``model`` (the base) reads,
        which one history plus the horizon must fit in (None: not known yet)."""
        values = {"window": self.window, "lookback": self.lookback, "horizon": self.horizon}
        if self.n_cutoffs < MIN_GATE_CUTOFFS:
            raise RetrainError(f"{self.n_cutoffs} held-out cut-offs cannot tell a better model from noise",
                               {"cutoffs": self.n_cutoffs, "min_gate_cutoffs": MIN_GATE_CUTOFFS},
                               Fix(f"use at least {MIN_GATE_CUTOFFS} ({{setting}})", "cutoffs", MIN_GATE_CUTOFFS))
        if context is not None and self.lookback + self.horizon > context:
            room = context - self.lookback  # the longest horizon after this lookback
            too_long = f"the {self.horizon}-bar horizon is too long" if self.horizon >= context else \
                f"a {self.lookback}-bar lookback plus the {self.horizon}-bar horizon is too long"
            raise RetrainError(f"{too_long}: {model} reads {context} bars, one history and the horizon together",
                               {**values, "context": context},
                               ((Fix(f"use a horizon of at most {room} bars ({{setting}})", "horizon", room),)
                                if room >= 1 else ()) + (Fix("or lower {setting}", "lookback"),))
        val = int(self.window * VAL_FRACTION)
        if val < self.lookback + self.horizon:
            least = int(np.ceil((self.lookback + self.horizon) / VAL_FRACTION))
            window = Fix(f"use a window of at least {least} bars ({{setting}})", "window", least)
            if self.horizon > val:  # the horizon alone overflows what the window validates on: say so first
                raise RetrainError(f"the {self.horizon}-bar horizon is too long: a {self.window}-bar window validates "
                                   f"on its last {val} bars, and each held-out forecast needs one history plus the "
                                   "horizon", values, (Fix("shorten {setting}", "horizon"), window))
            raise RetrainError(f"a {self.window}-bar window validates on its last {val} bars, fewer than one "
                               f"{self.lookback}-bar history plus the {self.horizon}-bar horizon", values,
                               (window, Fix("or shorten {setting}", "lookback")))
