"""What a cross-sectional walk-forward (``cross_section``, ``kronos batch --evaluate``) asks for: ``RankPlan``, its
options' one home, apart from the statistics that score it (scipy), so that a face draws its options without them."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.lazy import np
from kronos.settings import Bounds, check_bounds, default, knob

from .engine import BatchRun

# Path counts one evaluation scores, each a walk over every date: the HTTP API's cap of 8 became every face's
# (the command line took any number, the app offers 8 counts)
MAX_PATH_COUNTS = 8


@dataclass(frozen=True)
class RankPlan:
    """What a cross-sectional walk-forward asks for: ``cutoffs`` dates, ``step`` bars apart (None: the horizon, so
    forward returns never overlap), scored for each path count of ``paths`` (sorted, each once);
    ``include_trained``: keep the dates inside the model's training period (left out by default); ``costs_bps``: the
    cost per unit turnover the long-short spread pays, in basis points. Each option carries its ``Knob``: the
    command line's ``kronos batch --evaluate`` options, ``POST /v1/batch``'s ``evaluate`` fields and the Screener's
    "Does the ranking work?" controls are generated from them. ``run``: where the forecasts run (a ``BatchRun``'s
    ``engine``, ``ray_address``, ``workers``, ``device`` and ``model``: Ray actors load that model reference); None:
    in this process, one batched run per date.

    The defaults, where the faces disagreed: one path count, the screen's own (``ForecastSettings.paths``: the
    ranking the Screener shows is the one scored, in one walk), and 5 bps of costs (0 made the spread "after costs"
    the spread before them under another name)."""

    cutoffs: int = knob(20, Bounds(ge=1), label="Cut-off dates", low=5, high=500,
                        help="past dates at which every series is forecast from the bars before it")
    step: int | None = knob(None, Bounds(ge=1, unit="bar"), label="Bars between cut-offs", low=1, high=2000,
                            help="bars between cut-offs (default: the horizon, so that the forward returns scored do "
                                 "not overlap)")
    paths: tuple[int, ...] = knob((default("paths"),), Bounds(ge=1, min_items=1, max_items=MAX_PATH_COUNTS,
                                                              what="every path count"),
                                  label="Path counts", help="sample paths, each count scored on the same dates: does "
                                                            "sampling more paths rank better?")
    include_trained: bool = knob(False, label="Include cut-offs inside the model's training period",
                                 setting="include_training_period",
                                 help="also score cut-off dates inside the model's training period (left out by "
                                      "default: such scores measure memory, not forecasting)")
    costs_bps: float = knob(5.0, Bounds(ge=0, lt=10_000, what="costs (basis points per unit turnover)"),
                            label="Costs (bps per unit turnover)", low=0.0, high=500.0, step=0.5,
                            help="paid on every unit of weight the long-short portfolio trades at a cut-off")
    run: BatchRun | None = None

    def __post_init__(self):
        object.__setattr__(self, "paths", tuple(int(p) for p in np.atleast_1d(self.paths)))
        check_bounds(self)  # each knob's Bounds: one rule, one message for every face
        object.__setattr__(self, "paths", tuple(sorted(set(self.paths))))
