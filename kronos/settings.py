"""What a forecast is asked for, without torch or pandas: ``ForecastSettings``, the one home of every
sampling default (the CLI's options, the app's sidebar, the Screener and ``kronos batch`` read theirs
from it), and ``SamplingConfig``, its temperature / top-k / top-p as the sampler takes them."""
from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import InputError
from .normalization import CLIP

# The predictor's compute precision. fp32 is the official numerics (greedy output equal to the official
# predictor's); bf16 halves the predictor's weights and activations and matches fp32 only in distribution
# (tests/kronos/test_precision.py). The tokenizer always runs in fp32: its sign bits are the tokens.
# A model-loading choice, not a sampling setting: kronos.device maps the names to dtypes.
PRECISIONS = ("fp32", "bf16")
DEFAULT_PRECISION = "fp32"
# The horizon a forecast starts from where nobody chose one yet: the Forecast page's first value, and what
# a long-running process forecasts once at start-up to have its decode steps compiled before they are asked
# for (``kronos_studio.forecasters.warm_up_forecast``). The CLI asks for a horizon every time.
DEFAULT_HORIZON = 30

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
    horizon: int
    paths: int = 30
    seed: int = 0
    temperature: float = 1.0
    # 1.0: every token at the model's own probability. The official predictor's default, 0.9, cuts each
    # step's least likely tokens, which narrows the fan: on periods the bundled model never trained on its
    # p10-p90 band covered 0.68-0.75 at 0.9 and 0.80-0.83 at 1.0, its CRPS moving by -0.010 to +0.035
    # (docs/scores.md, "Sampling the whole distribution"). Greedy equivalence with the official is unaffected.
    top_p: float = 1.0
    top_k: int = 0
    lookback: int | None = None  # None: default_lookback(context, horizon); given: exactly that many bars
    clip: float = CLIP
    # Start the fan from the actual last bar, not from the tokenizer's reconstruction of it (False: the
    # official predictor's output exactly). See ``anchor_offset``.
    anchor: bool = True

    def __post_init__(self):
        if self.horizon < 1:
            raise InputError(f"horizon must be at least 1 bar, got {self.horizon}")
        if self.paths < 1:
            raise InputError(f"paths must be at least 1, got {self.paths}")
        if self.lookback is not None and self.lookback < 2:
            raise InputError(f"lookback must be at least 2 bars, got {self.lookback}")
        try:
            _ = self.sampling  # SamplingConfig validates temperature, top-k and top-p
        except ValueError as e:
            raise InputError(str(e)) from None

    @property
    def sampling(self) -> SamplingConfig:
        return SamplingConfig(self.temperature, self.top_k, self.top_p)



# What a forecast asks for (how far, how many draws, which, how much history), not how it samples: any value
# of these is a production forecast. Every other setting shapes the sampled distribution.
REQUEST_FIELDS = ("horizon", "paths", "seed", "lookback")


def sampling_defaults() -> dict:
    """Each setting that shapes the sampled distribution, with its default: ``ForecastSettings``' own
    (temperature, top-p, top-k, clip, anchor) and the predictor's precision. A forecast with another
    value of any of them is an experiment."""
    return {**{f.name: f.default for f in fields(ForecastSettings) if f.name not in REQUEST_FIELDS},
            "precision": DEFAULT_PRECISION}


def default(name: str):
    """The default of one ``ForecastSettings`` field (what an option that is not given means)."""
    return next(f.default for f in fields(ForecastSettings) if f.name == name)
