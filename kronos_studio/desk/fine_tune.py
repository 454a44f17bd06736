"""LoRA fine-tuning with event inputs (``Desk.fine_tune``): rank-8 LoRA adapters on a base model's attention and the
event embedding trained on leakage-safe windows of one or more series (``training.lora.finetune_lora``), then the
before/after walk-forward of the base model, the adapter with and without events and the naive baselines on the
held-out end of each series (``training.before_after``): ``kronos train lora`` and the app's Fine-tune page.

The training code (torch, peft) is imported where it runs: naming this module's request (a face's options) loads
none of it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from data_sources.requests import BarsRequest
from kronos.errors import Fix, InputError, Notice
from kronos.lazy import pd
from kronos.settings import MAX_SEED, Bounds, ForecastSettings, check_bounds, knob
from kronos_studio.catalog.resolve import ModelRef
from kronos_studio.evaluation.training_period import INCLUDE_TRAINING_PERIOD
from kronos_studio.events import EventBuilder, bundled_calendar, load_calendar, merged_calendars
from kronos_studio.training.datasets import (
    BUNDLED_TRAIN_SAMPLES,
    TimeSplit,
    as_series,
    build_train_data,
    fraction_split,
    load_sample_series,
)

AT_LEAST_ONE = Bounds(ge=1)


@dataclass(frozen=True)
class FineTunePlan:
    """How an adapter is trained and judged, beyond the forecast's settings (which the before/after walk-forward
    samples with). Every field has its ``Knob``: ``kronos train lora``'s options and the Fine-tune page's widgets."""

    steps: int = knob(150, AT_LEAST_ONE, label="Steps", low=1, high=5000, help="optimizer steps")
    batch_size: int = knob(16, AT_LEAST_ONE, label="Batch (windows)", low=1, high=128,
                           help="training windows per step")
    lr: float = knob(1e-3, Bounds(gt=0), label="Learning rate", low=1e-5, high=1e-2, step=1e-5,
                     help="the peak learning rate (a warm-up to it, then a cosine decay)")
    window: int = knob(128, Bounds(ge=2), label="Window (bars)", low=16, high=2048,
                       help="history + target bars per training window (at most the model's context: a longer one is "
                            "cut to it, and said)")
    val_fraction: float = knob(0.15, Bounds(gt=0, lt=1), label="Validation share", low=0.05, high=0.4, step=0.01,
                               help="the share of the bars before the held-out test period that picks the best step "
                                    "(the longest series', when there are several)")
    test_fraction: float = knob(0.2, Bounds(ge=0, lt=1), label="Held-out test share", low=0.0, high=0.5, step=0.01,
                                help="the latest share of the bars, neither trained nor validated on: the before/after "
                                     "walk-forward runs there (0: none, it runs from the validation's start)")
    eval_cutoffs: int = knob(20, Bounds(ge=0), label="Walk-forward cut-offs", low=0, high=200,
                             help="cut-offs of the before/after walk-forward on the held-out bars (0: none)")
    include_training_period: bool = knob(False, label="Include cut-offs inside the model's training period",
                                         setting=INCLUDE_TRAINING_PERIOD,
                                         help="a forecast of bars the base model trained or validated on scores "
                                              "memory, not forecasting: such cut-offs are left out of the before/after "
                                              "walk-forward unless switched on (and then flagged)")
    lookback: int = knob(0, Bounds(ge=0), label="Normalising bars (0: 3/4 of the window)", low=0, high=2048, more=True,
                         help="the leading bars of each window whose mean and standard deviation normalise it")
    stride: int = knob(1, AT_LEAST_ONE, label="Stride (bars between windows)", low=1, high=1000, more=True,
                       help="bars between the starts of two training windows")
    weight_decay: float = knob(0.0, Bounds(ge=0), label="Weight decay", low=0.0, high=0.5, step=0.01, more=True,
                               help="AdamW's decoupled weight decay of the adapter's weights")
    grad_clip: float = knob(1.0, Bounds(gt=0), label="Gradient clip", low=0.1, high=10.0, step=0.1, more=True,
                            help="the gradient's largest norm")
    warmup: int = knob(0, Bounds(ge=0), label="Warm-up steps (0: 5% of the steps)", low=0, high=5000, more=True,
                       help="steps of the learning rate's linear warm-up")
    eval_every: int = knob(0, Bounds(ge=0), label="Validate every (steps; 0: a fifth of them)", low=0, high=5000,
                           more=True, help="steps between two validations (the best validated step is kept)")
    val_windows: int = knob(64, AT_LEAST_ONE, label="Validation windows", low=1, high=4096, more=True,
                            help="fixed validation windows scored at every validation")
    save_every: int = knob(100, AT_LEAST_ONE, label="Save every (steps)", low=1, high=5000, more=True,
                           help="steps between two saves of the resume state")
    seed: int = knob(0, Bounds(ge=0, le=MAX_SEED), label="Training seed", low=0, high=2**31 - 1, more=True,
                     help="seed of the adapter's initialisation and of the batches: same seed, same adapter")
    time_limit: int = knob(0, Bounds(ge=0), label="Time limit (s; 0: none)", low=0, high=86_400, more=True,
                           help="stop (saved, resumable) after this long")
    resume: bool = knob(True, label="Resume the run in the adapter's folder", more=True,
                        help="continue the run the folder holds (an interrupted one; said when it happens) instead of "
                             "starting over")

    def __post_init__(self):
        check_bounds(self)

    def train_config(self):
        """The training loop's ``TrainConfig``: the warm-up and the validations derived from the steps unless given."""
        from kronos_studio.training.loop import TrainConfig

        steps = self.steps
        return TrainConfig(steps=steps, batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                           warmup_steps=self.warmup or max(1, steps // 20), grad_clip=self.grad_clip, seed=self.seed,
                           eval_every=self.eval_every or max(1, steps // 5), val_windows=self.val_windows,
                           save_every=self.save_every, log_every=max(1, min(25, steps // 20)),
                           time_limit_s=self.time_limit or None)


@dataclass(frozen=True)
class FineTuneRequest:
    """An adapter asked for: the series it learns from (``data``: ``BarsRequest``s, ``Gated`` bars or bars; and
    ``samples``, the bundled sample series by name, None: none, empty: the bundled training corpus), the base
    ``model`` (a reference or ``ModelRef``; None: the bundled default), the adapter's folder (``out``) and ``name``
    (None: the folder's), the forecast ``settings`` the before/after walk-forward samples with (its lookback aside:
    each model reads its own window), the ``plan``, the event calendars (``calendars``: files or calendars already
    read, after the bundled one unless ``bundled_calendar`` is off), the leader series (``leaders``: (name, bars)
    pairs, named index, rates, dollar or crypto) and the cut times that override the plan's shares (``val_start``,
    ``test_start``). The bundled calendar's switch and the cut times carry their ``Knob``s: ``kronos train lora``'s
    options are generated from them."""

    data: tuple
    settings: ForecastSettings
    out: str
    model: object = None
    plan: FineTunePlan = FineTunePlan()
    samples: tuple | None = None
    calendars: tuple = ()
    bundled_calendar: bool = knob(True, label="With the bundled event calendar",
                                  help="the bundled macro calendar's events, before the calendars given")
    leaders: tuple = ()
    val_start: str | None = knob(None, label="Validation start",
                                 help="timestamp where validation starts (default: the validation share before the "
                                      "held-out test period); with it, no held-out test period unless a test start is "
                                      "given")
    test_start: str | None = knob(None, label="Test start",
                                  help="held-out test period start: not trained or validated on; the before/after "
                                       "evaluation runs there (default: the held-out test share at the end of the "
                                       "bars)")
    name: str | None = None

    def __post_init__(self):
        if not self.data and self.samples is None:  # refused before a model is loaded
            raise InputError("no series to train on", fix=(Fix("give bars in {setting}", "data"),
                                                           Fix("or name bundled samples in {setting}", "samples")))


@dataclass
class FineTuned:
    """The adapter (``training.adapters.Adapter``) written to ``folder``: its parameter counts, its training history,
    the validation loss before (the base model's) and after, its best step; where the before/after walk-forward
    began (``start``), each series' comparison (``evaluations``: name -> ``training.before_after.BeforeAfter``) or
    why it had none (``refused``: name -> the library's refusal, worded by the face), and the notices."""

    adapter: object
    folder: Path
    counts: dict
    history: list
    base_val: float | None
    best_val: float | None
    best_step: int | None
    start: object = None
    evaluations: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)


def fine_tune(desk, request: FineTuneRequest, *, progress: Callable[[int, int, dict], None] | None = None,
              evaluation_progress: Callable[[str, int, int], None] | None = None,
              log: Callable[[str], None] | None = None) -> FineTuned:
    """Train the adapter ``request`` asks for on the registry's warm base pair (a copy of its predictor: the pair is
    left as it was), then walk the base model and the adapter forward on each series' held-out bars.
    ``progress(step, steps, record)`` after each training step, ``evaluation_progress(model, i, n)`` per cut-off,
    ``log(line)`` the training's own lines. ``UserError``s name the settings to change."""
    from kronos_studio.training.adapters import apply_adapter
    from kronos_studio.training.before_after import BeforeAfterOptions, before_after
    from kronos_studio.training.lora import finetune_lora
    from kronos_studio.training.state import read_state

    plan, model = request.plan, request.model
    pair = desk.registry.loader(model)(model.kronos_ref if isinstance(model, ModelRef) else model)
    series, notices = _series(desk, request)
    window = plan.window
    if window > pair.context:
        notices.append(Notice(f"the {window}-bar window is longer than the {pair.context} bars {pair.name} reads: "
                              f"its windows are {pair.context} bars", (Fix("lower {setting}", "window"),),
                              values={"window": window, "context": pair.context}))
        window = pair.context
    lookback = plan.lookback or max(2, window * 3 // 4)
    if lookback > window:
        raise InputError(f"{lookback} normalising bars are more than the {window}-bar window",
                         {"lookback": lookback, "window": window}, Fix("lower {setting}", "lookback"))
    split = fraction_split(max(series, key=len), plan.val_fraction, plan.test_fraction)
    split = TimeSplit(pd.Timestamp(request.val_start) if request.val_start is not None else split.val_start,
                      pd.Timestamp(request.test_start) if request.test_start is not None else split.test_start)
    data = build_train_data(series, split, window, lookback, stride=plan.stride)
    folder = Path(request.out)
    if plan.resume and read_state(folder) is not None:
        notices.append(Notice(f"the run in {folder.name} was resumed where it stopped (its data and settings as "
                              "first asked)", (Fix("turn off {setting} to start over", "resume", False),),
                              kind="note", values={"folder": folder.name}))
    builder = _events(desk, request)
    # file and folder names only: an adapter folder may be shared, the paths of this machine stay here
    run_info = {"calendars": [Path(c).name if isinstance(c, (str, Path)) else c.name for c in request.calendars],
                "leaders": [f"{name}={_leader_name(bars)}" for name, bars in request.leaders]}
    result = finetune_lora(pair, data, builder, plan.train_config(), folder, name=request.name, device=None,
                           resume=plan.resume, log=log, progress=progress, run_info=run_info)
    done = FineTuned(result.adapter, folder, result.counts, result.history, result.base_val, result.best_val,
                     result.best_step, split.test_start if split.test_start is not None else split.val_start,
                     notices=notices)
    if plan.eval_cutoffs <= 0:
        return done
    adapted = apply_adapter(pair, result.adapter)
    for s in series:
        try:
            done.evaluations[s.name] = before_after(pair, adapted, s.frame, builder, request.settings, BeforeAfterOptions(
                start=done.start, n_cutoffs=plan.eval_cutoffs, min_history=min(lookback, pair.context),
                include_training_period=plan.include_training_period, progress=evaluation_progress))
        except ValueError as e:  # too few held-out bars, every cut-off inside the training period: said per series
            done.refused[s.name] = e
    return done


def _series(desk, request: FineTuneRequest) -> tuple[list, list[Notice]]:
    """The training series (``training.datasets.Series``) and the bars' notices: the bars given, then the samples."""
    series, notices = [], []
    for given in request.data:
        gated = desk._gated(given, None)
        series.append(as_series(gated.bars))
        notices += gated.notices
    if request.samples is not None:
        series += [load_sample_series(name) for name in (request.samples or BUNDLED_TRAIN_SAMPLES)]
    return series, notices


def _events(desk, request: FineTuneRequest):
    """The ``EventBuilder`` of the request's calendars (files read here) and leaders (their bars read here)."""
    calendars = [load_calendar(c) if isinstance(c, (str, Path)) else c for c in request.calendars]
    calendar = merged_calendars([bundled_calendar() if request.bundled_calendar else None, *calendars])
    leaders = {name: desk._gated(bars, None).bars for name, bars in request.leaders}
    return EventBuilder(calendar, leaders or None)


def _leader_name(bars) -> str:
    """A leader's series as the adapter's record names it: a file by its name (never its path), else its symbol."""
    if isinstance(bars, BarsRequest):
        return Path(bars.file).name if bars.file else str(bars.symbol)
    return str(bars.symbol)
