"""What a forecast is asked for, without torch or pandas: ``ForecastSettings``, the one home of every
sampling default and of how each sampling knob is offered (``Knob``: the CLI's options, the app's
sidebar, the Screener, ``kronos batch`` and the HTTP schema read theirs from it) and of the values each setting
accepts (``Bounds``: one check for every face, and the HTTP and MCP schemas' constraints), and ``SamplingConfig``,
its temperature / top-k / top-p as the sampler takes them."""
from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import InputError
from .knobs import (  # noqa: F401 (their home is kronos.knobs; every face reads them from here too)
    SAME_DIGITS,
    Bounds,
    Knob,
    bounded,
    bounds,
    check_bounds,
    check_value,
    knob,
    knob_kind,
    same_key,
)
from .normalization import CLIP

# The predictor's compute precision. fp32 is the official numerics (greedy output equal to the official
# predictor's); bf16 halves the predictor's weights and activations and matches fp32 only in distribution
# (tests/kronos/test_precision.py). The tokenizer always runs in fp32: its sign bits are the tokens.
# A model-loading choice, not a sampling setting: kronos.device maps the names to dtypes.
PRECISIONS = ("fp32", "bf16")
DEFAULT_PRECISION = "fp32"
# The horizon a forecast starts from where nobody chose one yet: the Forecast page's first value, and what
# a long-running process forecasts once at start-up to have its decode steps compiled before they are asked
# for (``kronos_studio.catalog.warm_up_forecast``). The CLI asks for a horizon every time.
DEFAULT_HORIZON = 30
# Seeds run from 0 (numpy's generators take no negative seed) to the largest integer every JSON reader keeps
# exactly; the seeds derived from one (seed + cut-off, seed + member x stride) stay inside the ledger's 64-bit column.
MAX_SEED = 2**53 - 1

@dataclass(frozen=True)
class SamplingConfig:
    """``temperature == 0`` or ``top_k == 1`` is greedy. Unlike upstream, top-k and top-p combine
    (top-k first, then the nucleus of what is left) instead of top-k silently disabling top-p."""

    temperature: float
    top_k: int
    top_p: float

    def __post_init__(self):
        if not self.temperature >= 0:
            raise ValueError(f"temperature must be >= 0 (0 means greedy), got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 means off), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] (1 means off), got {self.top_p}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0 or self.top_k == 1


@dataclass(frozen=True)
class ForecastSettings:
    horizon: int = bounded(ge=1, unit="bar")
    paths: int = bounded(30, ge=1)
    seed: int = bounded(0, ge=0, le=MAX_SEED)
    temperature: float = knob(1.0, Bounds(ge=0), label="Temperature", low=0.0, high=2.0, step=0.05,
                              help="0 = greedy: every path takes the most likely token at each step, so all paths "
                                   "are the same (one line, no band). Above 1 the fan widens, below it narrows")
    # 1.0: every token at the model's own probability. The official predictor's default, 0.9, cuts each
    # step's least likely tokens, which narrows the fan: on periods the bundled model never trained on its
    # p10-p90 band covered 0.68-0.75 at 0.9 and 0.80-0.83 at 1.0, its CRPS moving by -0.010 to +0.035
    # (docs/scores.md, "Sampling the whole distribution"). Greedy equivalence with the official is unaffected.
    top_p: float = knob(1.0, Bounds(gt=0, le=1), label="Top-p", low=0.05, high=1.0, step=0.05,
                        help="1.0 samples the model's whole distribution. Below 1 the least likely tokens are never "
                             "drawn and the fan narrows (at 0.9, the official default, the bundled model's band held "
                             "0.68-0.75 of outcomes where it promises 0.80: docs/scores.md)")
    top_k: int = knob(0, Bounds(ge=0), label="Top-k (0 = off)", low=0, high=1024, more=True,
                      help="keep only the k likeliest tokens at each step")
    # None: default_lookback(context, horizon); given: exactly that many bars
    lookback: int | None = bounded(None, ge=2, unit="bar")
    clip: float = knob(CLIP, Bounds(gt=0), label="Clip (standard deviations)", low=1.0, high=10.0, step=0.5, more=True,
                       help="history values further than this many standard deviations from the lookback's mean "
                            "are clipped before the model reads them (Kronos's own default: 5)")
    # Start the fan from the actual last bar, not from the tokenizer's reconstruction of it (False: the
    # official predictor's output exactly). See ``anchor_offset``.
    anchor: bool = knob(True, label="Start the fan at the last close", more=True,
                        help="Kronos continues its tokenizer's reconstruction of the history, which can sit a few "
                             "percent off the last close, so the whole fan jumps at its first step. On: every path "
                             "is moved by that reconstruction error (one factor for open, high, low and close). "
                             "Off: the official model's output exactly.")

    def __post_init__(self):
        check_bounds(self)  # horizon, paths, seed, lookback, and each knob's range
        try:
            _ = self.sampling  # SamplingConfig validates temperature, top-k and top-p as the sampler takes them
        except ValueError as e:
            raise InputError(str(e)) from None

    @property
    def sampling(self) -> SamplingConfig:
        return SamplingConfig(self.temperature, self.top_k, self.top_p)



# What a forecast asks for (how far, how many draws, which, how much history), not how it samples: any value
# of these is a production forecast. Every other setting shapes the sampled distribution.
REQUEST_FIELDS = ("horizon", "paths", "seed", "lookback")


def knobs(cls=None) -> dict[str, tuple[object, Knob]]:
    """field name -> (default, Knob) of every field of the options dataclass ``cls`` that has a ``Knob``, in
    field order (what a face makes options, request fields and widgets of). ``cls`` None: ``ForecastSettings``,
    read when called (every setting that shapes the sampled distribution)."""
    return {f.name: (f.default, f.metadata["knob"]) for f in fields(cls or ForecastSettings) if "knob" in f.metadata}


def knob_values(given, cls=None) -> dict:
    """field name -> value of every field with a ``Knob`` of ``cls`` (as ``knobs``), read from ``given``'s
    attribute named by the knob's setting: what a face's generated options hand back (a parsed command line,
    a request body), as ``cls``' keyword arguments."""
    return {name: getattr(given, knob.name(name)) for name, (_, knob) in knobs(cls).items()}


def from_knobs(cls, given, only: tuple[str, ...] | None = None, **fixed):
    """``cls`` made from ``fixed`` and the values of its knobs' settings found in ``given`` (a parsed command line,
    a request body, an MCP tool's arguments as a dict; ``only``: of these fields alone): a list as the tuple the
    options hold; a setting not found, or a list given as None (a repeated option not given), keeps its default.
    ``cls`` checks the values itself: one refusal in one wording for every face."""
    found = given if isinstance(given, dict) else vars(given)
    values = {name: found[knob.name(name)] for name, (default, knob) in knobs(cls).items()
              if (only is None or name in only) and knob.name(name) in found
              and not (found[knob.name(name)] is None and isinstance(default, tuple))}
    return cls(**fixed, **{name: tuple(v) if isinstance(v, list) else v for name, v in values.items()})


def sampling_defaults() -> dict:
    """Each setting that shapes the sampled distribution, with its default: ``ForecastSettings``' own
    (temperature, top-p, top-k, clip, anchor) and the predictor's precision. A forecast with another
    value of any of them is an experiment."""
    return {**{name: value for name, (value, _) in knobs().items()}, "precision": DEFAULT_PRECISION}


def default(name: str):
    """The default of one ``ForecastSettings`` field (what an option that is not given means)."""
    return next(f.default for f in fields(ForecastSettings) if f.name == name)
