"""What a forecast is asked for, without torch or pandas: ``ForecastSettings``, the one home of every
sampling default and of how each sampling knob is offered (``Knob``: the CLI's options, the app's
sidebar, the Screener, ``kronos batch`` and the HTTP schema read theirs from it) and of the values each setting
accepts (``Bounds``: one check for every face, and the HTTP and MCP schemas' constraints), and ``SamplingConfig``,
its temperature / top-k / top-p as the sampler takes them."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

from .errors import Fix, InputError
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
class Knob:
    """How a field of a use case's options (``ForecastSettings``' sampling knobs, the retrain's
    ``RetrainSettings``, ...) is offered to a person, read by every entry point so that a new option is a field
    with its ``Knob`` and the code that uses it, nothing else: the CLI makes an option of it (a bool that
    defaults on becomes ``no-<name>``), the HTTP API a request field, the app a widget (a toggle for a bool, a
    slider for a float, a number box for an int; ``more``: folded away as rarely changed). ``low``/``high``
    bound the app's widget only. ``setting``: the name every face gives it where the field's own is not it (the
    flag, the request field, the setting a ``Fix`` names). The values it accepts are its field's ``Bounds``
    (``knob(default, Bounds(...), ...)``), which the options class checks (``check_bounds``)."""

    label: str
    help: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    more: bool = False
    setting: str | None = None

    def name(self, field_name: str) -> str:
        """The setting this knob of field ``field_name`` is offered as."""
        return self.setting or field_name


@dataclass(frozen=True)
class Bounds:
    """The values a field of a use case's options accepts (with its ``Knob``, or alone): one rule, checked by the
    options class for every caller (``check_bounds``), from which the HTTP API's and the MCP tools' schemas are
    generated, so that every face refuses the same values in the same words. Numbers (each item's, for a tuple):
    ``ge``/``gt``/``le``/``lt``. A tuple: at least ``min_items``, at most ``max_items``, each among ``choices``
    (when given); ``unique``: a set, a member given twice refused, never silently dropped (numbers equal to
    ``SAME_DIGITS`` significant digits are one member: they would name one column). Checked in linear time,
    the length first, so that a huge list is refused before its items are looked at, and never echoed back.
    ``what``: the words a refusal names the values by (default: the setting); ``unit``: of a count ('bar')."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    choices: tuple | None = None
    what: str | None = None
    unit: str | None = None

    def rule(self) -> str:
        """The numbers' rule in words: 'at least 1 bar', 'a whole number from 0 to 9', 'in (0, 1]'."""
        lo, hi = (self.ge, "[") if self.ge is not None else (self.gt, "(")
        top, end = (self.le, "]") if self.le is not None else (self.lt, ")")
        if lo is not None and top is not None:
            if self.ge is not None and self.le is not None and isinstance(lo, int) and isinstance(top, int):
                return f"a whole number from {lo} to {top}"
            if hi == "(" and end == ")":
                return f"between {lo} and {top} (exclusive)"
            return f"in {hi}{lo}, {top}{end}"
        if lo is not None:
            unit = f" {self.unit}{'' if lo == 1 else 's'}" if self.unit else ""
            return f"at least {lo}{unit}" if hi == "[" else f"above {lo}"
        if top is not None:
            return f"at most {top}" if end == "]" else f"below {top}"
        return ""

    def holds(self, x) -> bool:
        """Whether number ``x`` keeps the numbers' rule (NaN never does)."""
        try:
            return ((self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                    and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))
        except TypeError:
            return False


def _nearest_allowed(rule: Bounds, value):
    try:
        if rule.ge is not None and value < rule.ge:
            return rule.ge
        if rule.le is not None and value > rule.le:
            return rule.le
    except TypeError:
        pass
    return None


def _must(rule: Bounds) -> str:
    return ("lie " if rule.rule().startswith("between") else "be ") + rule.rule()


def knob(default, bounds: Bounds | None = None, **how):
    """A field with its ``Knob`` (``how``) and, when given, the ``Bounds`` of the values it accepts."""
    return field(default=default, metadata={"knob": Knob(**how), **({"bounds": bounds} if bounds else {})})


def bounded(default=MISSING, **bounds):
    """A field without a ``Knob`` whose values are bounded (``Bounds(**bounds)``): a forecast's horizon, its seed."""
    return field(default=default, metadata={"bounds": Bounds(**bounds)})


def bounds(cls) -> dict[str, tuple[str, Bounds]]:
    """field name -> (its setting, its ``Bounds``) of every bounded field of the options dataclass ``cls``."""
    return {f.name: (f.metadata["knob"].name(f.name) if "knob" in f.metadata else f.name, f.metadata["bounds"])
            for f in fields(cls) if "bounds" in f.metadata}


def check_bounds(options, error=InputError) -> None:
    """Refuse (``error``, an ``InputError`` by default) a field of ``options`` outside its ``Bounds``: the one rule
    its class's ``__post_init__`` applies, and the HTTP and MCP schemas validate with (``check_value``)."""
    for name, (setting, rule) in bounds(type(options)).items():
        check_value(setting, rule, getattr(options, name), error)


def check_value(setting: str, rule: Bounds, value, error=InputError):
    """``value`` of ``setting`` when it keeps ``rule``; ``error`` naming the problem and the fix otherwise (a tuple's
    length first, then its items, then repeats: linear time, and a list is echoed only once within its bound).
    None is a setting left to its default, and passes."""
    if value is None or isinstance(value, bool):
        return value
    what = rule.what or setting
    if not isinstance(value, (tuple, list)):
        if rule.holds(value):
            return value
        words = rule.rule()
        nearest = _nearest_allowed(rule, value)  # the fix's value: the closed bound the value fell past, if any
        fix = Fix(f"use at least {rule.ge} ({{setting}})", setting, rule.ge) if words.startswith("at least") else \
            Fix(f"use {words if words.startswith('a ') else 'a value ' + words} ({{setting}})", setting, nearest)
        raise error(f"{what} must {_must(rule)}, got {value}", {setting: value}, fix)
    n = len(value)
    if rule.max_items is not None and n > rule.max_items:
        raise error(f"{n} {what} given, at most {rule.max_items}", {setting: n, "most": rule.max_items},
                    Fix(f"give at most {rule.max_items} in {{setting}}", setting))
    if rule.min_items is not None and n < rule.min_items:
        raise error(f"{what}: {n} given, at least {rule.min_items} needed", {setting: n},
                    Fix(f"give at least {rule.min_items} in {{setting}}", setting))
    if rule.choices is not None and any(v not in rule.choices for v in value):
        choices = ", ".join(map(str, rule.choices))
        raise error(f"{what} must be among {choices}, got {list(value)}", {setting: list(value)},
                    Fix(f"give {{setting}} among {choices}", setting))
    if rule.rule() and not all(rule.holds(v) for v in value):
        raise error(f"{what} must {_must(rule)}, got {list(value)}", {setting: list(value)},
                    Fix(f"give each of {{setting}} {rule.rule()}", setting))
    if rule.unique:
        seen = {}
        for v in value:
            key = same_key(v)
            if key in seen:
                again = "" if seen[key] == v else f" (as {seen[key]!r}: the same to {SAME_DIGITS} significant digits)"
                raise error(f"{v!r} is named twice in {setting}{again}", {setting: n, "repeated": v},
                            Fix("name each once in {setting}", setting))
            seen[key] = v
    return value


SAME_DIGITS = 6  # two numbers of a set that agree to this many significant digits are one (they name one column)


def same_key(value):
    """What makes two members of a set the same: a number to ``SAME_DIGITS`` significant digits (a level names its
    column so: 0.95 and 0.9500001 would be one column), anything else itself."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, f".{SAME_DIGITS}g")
    return value


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


def sampling_defaults() -> dict:
    """Each setting that shapes the sampled distribution, with its default: ``ForecastSettings``' own
    (temperature, top-p, top-k, clip, anchor) and the predictor's precision. A forecast with another
    value of any of them is an experiment."""
    return {**{name: value for name, (value, _) in knobs().items()}, "precision": DEFAULT_PRECISION}


def default(name: str):
    """The default of one ``ForecastSettings`` field (what an option that is not given means)."""
    return next(f.default for f in fields(ForecastSettings) if f.name == name)
