"""Training a Kronos tokenizer or predictor on your own bars, from scratch or fine-tuning a checkpoint
(``Desk.pretrain``: ``kronos train tokenizer`` and ``kronos train predictor``): the bars read, split in time and cut
into windows (``TrainingData``), the model made or loaded, trained by ``training.pretrain`` with the optimiser's
options (``TrainingOptions``), and for a predictor a ready-to-use model folder written beside it.

The training packages (torch) are imported when a model is trained, not when a face reads the options."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kronos.config import OFFICIAL_MODELS, KronosConfig, TokenizerConfig
from kronos.errors import Fix, InputError, Notice
from kronos.lazy import np, pd
from kronos.settings import MAX_SEED, Bounds, check_bounds, knob
from kronos_studio.bundled import model_reference
from kronos_studio.training.datasets import (
    BUNDLED_TRAIN_SAMPLES,
    DataError,
    TimeSplit,
    as_series,
    build_train_data,
    load_sample_series,
)
from kronos_studio.training.retrain_settings import AT_LEAST_ONE

TOKENIZER, PREDICTOR = "tokenizer", "predictor"
# the learning rate and gradient clip of each model when none is asked for: a new model's, a fine-tune's
NEW_LR = 1e-3
FINE_TUNE_LR = {TOKENIZER: 2e-4, PREDICTOR: 4e-5}  # the official fine-tuning rates
GRAD_CLIP = {TOKENIZER: 2.0, PREDICTOR: 3.0}


@dataclass(frozen=True)
class TrainingData:
    """The bars a model trains on and their time split: bar ``files`` (each read whole, named by its stem),
    offline ``samples`` (() : the bundled training corpus; None: none), windows of ``window`` bars normalised by
    their first ``lookback`` (None: 3/4 of the window), every ``stride`` bars; validation from ``val_start``
    (None: the last ``val_fraction`` of the bars, one cut for every series). Each option past the series carries
    its ``Knob``: ``kronos train tokenizer``'s and ``kronos train predictor``'s data options are generated from
    them."""

    files: tuple[str, ...] = ()
    samples: tuple[str, ...] | None = None
    window: int = knob(128, AT_LEAST_ONE, label="Window (bars)", help="bars per training window")
    lookback: int | None = knob(None, Bounds(ge=1, unit="bar"), label="Normalising bars",
                                help="leading bars of each window whose mean and standard deviation normalise it "
                                     "(default 3/4 of the window)")
    val_start: str | None = knob(None, label="Validation start",
                                 help="timestamp where validation starts (default: the validation share at the end "
                                      "of the bars)")
    val_fraction: float = knob(0.1, Bounds(gt=0, lt=1), label="Validation share",
                               help="the latest share of the bars validated on when no validation start is given")
    stride: int = knob(1, AT_LEAST_ONE, label="Stride (bars between windows)",
                       help="step between training window starts")

    def __post_init__(self):
        check_bounds(self)
        if self.window_lookback() > self.window:
            raise InputError(f"lookback {self.window_lookback()} is longer than the window {self.window}",
                             {"lookback": self.window_lookback(), "window": self.window},
                             (Fix(f"use a lookback of at most {self.window} ({{setting}})", "lookback", self.window),
                              Fix("use a longer window ({setting})", "window")))

    def window_lookback(self) -> int:
        return self.lookback or max(2, self.window * 3 // 4)


@dataclass(frozen=True)
class TrainingOptions:
    """The optimiser's options (``training.loop.TrainConfig``): ``lr`` and ``grad_clip`` None take the model's
    (``NEW_LR`` or the fine-tuning rate; ``GRAD_CLIP``), ``warmup`` None 5% of the steps. Each carries its
    ``Knob``: the training options of ``kronos train tokenizer`` and ``kronos train predictor``."""

    steps: int = knob(1000, AT_LEAST_ONE, label="Steps", help="optimizer steps")
    batch_size: int = knob(32, AT_LEAST_ONE, label="Batch (windows)", help="training windows per step")
    lr: float | None = knob(None, Bounds(gt=0), label="Learning rate",
                            help="the peak learning rate (default: a new model's, or the official fine-tuning rate)")
    weight_decay: float = knob(0.1, Bounds(ge=0), label="Weight decay", help="AdamW's decoupled weight decay")
    warmup: int | None = knob(None, Bounds(ge=0), label="Warm-up steps",
                              help="steps of the learning rate's linear warm-up (default: a twentieth of the steps)")
    grad_clip: float | None = knob(None, Bounds(gt=0), label="Gradient clip",
                                   help="the gradient's largest norm (default: the model's)")
    seed: int = knob(0, Bounds(ge=0, le=MAX_SEED), label="Training seed",
                     help="seed of a new model's initialisation and of the batches")
    eval_every: int = knob(100, AT_LEAST_ONE, label="Validate every (steps)", help="steps between two validations")
    save_every: int = knob(100, AT_LEAST_ONE, label="Save every (steps)", help="steps between two checkpoints")
    time_limit: float | None = knob(None, Bounds(gt=0), label="Time limit (s)",
                                    help="stop (saved, resumable) after this long")

    def __post_init__(self):
        check_bounds(self)


@dataclass(frozen=True)
class PretrainRequest:
    """Train ``model`` (``TOKENIZER`` or ``PREDICTOR``) on ``data`` into the run folder ``out`` (resumed there
    unless ``resume`` is False), from ``init`` (an official name, a Hub repo id or a folder; None: a new model of
    ``architecture``: the model config's fields, ``layers``, ``dropout``), a predictor on ``tokenizer``; for a
    predictor, ``bundle``: also a ready-to-use model folder there, with its ``context`` (None: the window)."""

    model: str
    data: TrainingData
    out: str
    options: TrainingOptions = field(default_factory=TrainingOptions)
    init: str | None = None
    tokenizer: str | None = None
    architecture: dict = field(default_factory=dict)
    device: object = None
    resume: bool = True
    bundle: str | None = None
    context: int | None = None


@dataclass
class Pretrained:
    """The run (``training.loop.TrainResult``: finished or stopped, its step, best validation loss, folder, wall
    time), where the model folder was written (``bundle``; None: none asked), and what to know."""

    result: object
    bundle: str | None = None
    notices: list[Notice] = field(default_factory=list)


def training_series(data: TrainingData, read: Callable[[str], object]) -> list:
    """The series ``data`` names: each file read by ``read(path)`` (the face's reader) and each sample; an
    ``InputError`` naming the file or sample that cannot be used, or that none is named."""
    series = []
    for f in data.files:
        try:
            series.append(as_series(read(f), name=Path(f).stem))
        except (DataError, ValueError) as e:
            raise named(e, f"'{f}'") from None
    if data.samples is not None:
        for n in data.samples or BUNDLED_TRAIN_SAMPLES:
            try:
                series.append(load_sample_series(n))
            except Exception as e:
                raise InputError(f"sample '{n}': {e}", {"sample": n}) from None
    if not series:
        raise InputError("no training data", {}, (Fix("name bar files in {setting}", "files"),
                                                    Fix("name offline samples in {setting}", "samples")))
    return series


def named(e: Exception, what: str) -> InputError:
    """``e`` with ``what`` (a file, a series) before its problem, its fixes kept."""
    problem, values, fix = (e.problem, e.values, e.fix) if hasattr(e, "problem") else (str(e), {}, ())
    return InputError(f"{what}: {problem}", values, fix)


def training_windows(data: TrainingData, series: list):
    """``series`` split in time (``val_start``, or the last ``val_fraction`` of all their bars) and cut into
    windows (``training.datasets.TrainData``)."""
    if data.val_start:
        split = TimeSplit(pd.Timestamp(data.val_start))
    else:
        stamps = np.concatenate([pd.DatetimeIndex(s.frame["timestamp"]).tz_localize(None).asi8
                                 if pd.DatetimeIndex(s.frame["timestamp"]).tz is None else
                                 pd.DatetimeIndex(s.frame["timestamp"]).tz_convert("UTC").asi8 for s in series])
        split = TimeSplit(pd.Timestamp(int(np.quantile(stamps, 1 - data.val_fraction)), tz="UTC"))
    return build_train_data(series, split, data.window, data.window_lookback(), stride=data.stride)


def train_config(options: TrainingOptions, lr: float, grad_clip: float):
    from kronos_studio.training.loop import TrainConfig

    return TrainConfig(steps=options.steps, batch_size=options.batch_size, lr=options.lr or lr,
                       weight_decay=options.weight_decay,
                       warmup_steps=options.warmup if options.warmup is not None else max(1, options.steps // 20),
                       grad_clip=options.grad_clip or grad_clip, seed=options.seed, eval_every=options.eval_every,
                       save_every=options.save_every, log_every=max(1, min(25, options.steps // 20)),
                       time_limit_s=options.time_limit)


def pretrain(desk, request: PretrainRequest, *, read: Callable[[str], object], log=None) -> Pretrained:
    """Train the request's tokenizer or predictor; ``read(path)``: the face's reader of a bar file; ``log(line)``."""
    series = training_series(request.data, read)
    data = training_windows(request.data, series)
    if request.model == TOKENIZER:
        return Pretrained(_tokenizer(request, data, log))
    return _predictor(request, data, log)


def _tokenizer(request: PretrainRequest, data, log):
    from kronos.checkpoints import load_tokenizer
    from kronos_studio.training.pretrain import new_tokenizer, train_tokenizer

    if request.init:
        official = OFFICIAL_MODELS.get(request.init)
        ref = official.tokenizer_repo_id if official else request.init
        tok, _ = load_tokenizer(ref, official.tokenizer_revision if official else None, device=request.device)
        lr, info = FINE_TUNE_LR[TOKENIZER], {"init": ref}
    else:
        a = request.architecture
        cfg = TokenizerConfig(d_model=a["d_model"], n_heads=a["n_heads"], ff_dim=a["ff_dim"],
                              n_enc_layers=a["layers"], n_dec_layers=a["layers"])
        tok, lr, info = new_tokenizer(cfg, request.options.seed), NEW_LR, {"init": None}
    return train_tokenizer(tok, data, train_config(request.options, lr, GRAD_CLIP[TOKENIZER]), request.out,
                           device=request.device, resume=request.resume, log=log, run_info=info)


def _predictor(request: PretrainRequest, data, log) -> Pretrained:
    from kronos.checkpoints import load_pair, load_predictor, load_tokenizer, save_checkpoint
    from kronos_studio.training.pretrain import new_predictor, train_predictor, write_bundle

    device, tokenizer, predictor = request.device, None, None
    if request.init:
        init = Path(request.init).expanduser()
        if init.is_dir() and not (init / "predictor").is_dir() and request.tokenizer:
            predictor, _ = load_predictor(init, device=device)
        else:
            pair = load_pair(model_reference(request.init), request.tokenizer, device=device)
            predictor, tokenizer = pair.predictor, pair.tokenizer
    if tokenizer is None:
        if not request.tokenizer:
            raise InputError("a predictor trains on a tokenizer, and none is known", {"init": request.init},
                             (Fix("name a trained tokenizer folder or repo id in {setting}", "tokenizer"),
                              Fix("fine-tune a model whose tokenizer is known ({setting})", "init")))
        tokenizer, _ = load_tokenizer(request.tokenizer, device=device)
    if predictor is None:
        a = request.architecture
        cfg = KronosConfig(s1_bits=tokenizer.config.s1_bits, s2_bits=tokenizer.config.s2_bits,
                           n_layers=a["n_layers"], d_model=a["d_model"], n_heads=a["n_heads"],
                           ff_dim=a["ff_dim"], ffn_dropout_p=a["dropout"], resid_dropout_p=a["dropout"])
        predictor, lr = new_predictor(cfg, request.options.seed), NEW_LR
    else:
        lr = FINE_TUNE_LR[PREDICTOR]
    result = train_predictor(predictor, tokenizer, data, train_config(request.options, lr, GRAD_CLIP[PREDICTOR]),
                             request.out, device=device, resume=request.resume, log=log,
                             run_info={"init": request.init, "tokenizer": request.tokenizer})
    if request.bundle:
        tok_dir = Path(request.out) / "tokenizer"
        save_checkpoint(tokenizer, tok_dir)
        write_bundle(request.bundle, tok_dir, request.out, request.context or request.data.window,
                     Path(request.bundle).name)
    return Pretrained(result, request.bundle)
