"""Before and after: the base model's and the adapted model's forecasts of the same bars, scored alike."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kronos.bars import bars_frame
from kronos.checkpoints import KronosPair
from kronos.lazy import pd
from kronos.pipeline import KronosPipeline
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import baselines_by_label
from kronos_studio.evaluation.trust import guard_cutoffs, guard_note
from kronos_studio.evaluation.walk_forward import choose_cutoffs, compare, cutoffs_from_time, summary_table
from kronos_studio.events import EventBuilder
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasters.period import training_period

# Said where the with/without-events comparison is not run (the page, the CLI): why, in one sentence.
NO_EVENTS_NOTE = ("No event falls in the evaluated bars (every event channel is empty there), so the adapter is "
                  "not compared with and without events: its event encoder would add only its learned constant, "
                  "not anything about events. The adapter row is the adapter as trained.")


@dataclass
class BeforeAfter:
    """The walk-forward results by label, the training-period guard's numbers (``trust.guard_cutoffs``) and
    whether every event channel was empty in the evaluated bars (then one adapter row, not two)."""

    results: dict
    guard: dict = field(default_factory=dict)
    events_empty: bool = False

    def table(self):
        return summary_table(self.results)

    def guard_line(self) -> str | None:
        """The training-period guard's sentence (``trust.guard_note``), None when no cut-off was inside the period."""
        return guard_note(self.guard)

    def notes(self) -> list[str]:
        """What a reader of the table must know: the guard's sentence, and why one adapter row when no event fell in
        the evaluated bars (``NO_EVENTS_NOTE``)."""
        return [note for note in (self.guard_line(), NO_EVENTS_NOTE if self.events_empty else None) if note]


def events_empty(builder: EventBuilder, timestamps, cutoffs: list[int], lookback: int, horizon: int) -> bool:
    """Whether every event channel is 0 in every cut-off's history window and horizon, as of the cut-off."""
    return not any(builder(timestamps[max(0, c - lookback):c], timestamps[c:c + horizon]).any() for c in cutoffs)


@dataclass(frozen=True)
class BeforeAfterOptions:
    """What the comparison decides beyond the forecast's settings: where its cut-offs go (from ``start`` on,
    e.g. the held-out test period; ``n_cutoffs`` of them, each with ``min_history`` bars before it, None: the
    base model's context), whether the naive baselines join, whether cut-offs inside the base model's training
    period count, and ``progress(label, i, n)``."""

    start: object = None
    n_cutoffs: int = 20
    min_history: int | None = None
    baselines: bool = True
    include_training_period: bool = False
    progress: Callable[[str, int, int], None] | None = None


def before_after(base: KronosPair, adapted: KronosPair, bars, builder: EventBuilder, settings: ForecastSettings,
                 options: BeforeAfterOptions = BeforeAfterOptions()) -> BeforeAfter:
    """Walk-forward on the same cut-offs, every model sampling with ``settings`` whole (seed + i at cut-off i):
    the base model, the adapter with events, the adapter without events, and the naive baselines.

    Cut-offs inside the base model's training period are left out unless ``options.include_training_period``
    (``TrainingPeriodError`` when none is left). When every event channel is empty in the evaluated bars the
    two adapter rows would differ only by the event encoder's learned bias, so one row is run, as trained."""
    horizon = settings.horizon
    min_history = options.min_history or settings.lookback or base.context
    frame = bars_frame(bars)
    if options.start is not None:
        cutoffs = cutoffs_from_time(frame, options.start, horizon, options.n_cutoffs, min_history)
    else:
        cutoffs = choose_cutoffs(len(frame), horizon, options.n_cutoffs, min_history)
    cutoffs, guard = guard_cutoffs(frame, cutoffs, training_period(base), options.include_training_period)
    empty = events_empty(builder, pd.DatetimeIndex(frame["timestamp"]), cutoffs, min_history, horizon)
    models = {f"{base.name} (base)": KronosForecaster(KronosPipeline(base))}
    if empty:
        models[f"{adapted.name} (adapter)"] = KronosForecaster(KronosPipeline(adapted), builder)
    else:
        models[f"{adapted.name} + events"] = KronosForecaster(KronosPipeline(adapted), builder)
        models[f"{adapted.name}, no events"] = KronosForecaster(KronosPipeline(adapted))
    if options.baselines:
        models.update(baselines_by_label(paths=max(settings.paths, 100)))
    # Every cut-off has ``min_history`` bars before it; each model reads the window ``settings`` asks of them
    # (no lookback: its own; Kronos: context - horizon).
    results = compare(models, frame, settings, cutoffs, progress=options.progress)
    return BeforeAfter(results, guard, empty)
