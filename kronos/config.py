"""Config dataclasses (fields are the official ``config.json`` keys) and the registry of official models."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError


class ConfigError(UserError, ValueError):
    """A config.json that does not describe a Kronos model."""


def _from_mapping(cls, data: Mapping[str, Any], what: str):
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unknown:
            parts.append(f"unknown keys {unknown}")
        raise ConfigError(
            f"{what} config.json is not a {cls.__name__}: {'; '.join(parts)}. "
            f"Expected exactly these keys: {names}."
        )
    return cls(**{n: data[n] for n in names})


@dataclass(frozen=True)
class TokenizerConfig:
    """BSQ tokenizer hyper-parameters (the 16 keys of the official tokenizer config.json)."""

    d_in: int = 6
    d_model: int = 256
    n_heads: int = 4
    ff_dim: int = 512
    n_enc_layers: int = 4
    n_dec_layers: int = 4
    ffn_dropout_p: float = 0.0
    attn_dropout_p: float = 0.0
    resid_dropout_p: float = 0.0
    s1_bits: int = 10
    s2_bits: int = 10
    beta: float = 0.05
    gamma0: float = 1.0
    gamma: float = 1.1
    zeta: float = 0.05
    group_size: int = 4

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ConfigError(f"tokenizer d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.s1_bits != self.s2_bits:
            raise ConfigError("the tokenizer's bit layout needs s1_bits == s2_bits")
        if (self.s1_bits + self.s2_bits) % self.group_size:
            raise ConfigError("s1_bits + s2_bits must be divisible by group_size")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenizerConfig:
        return _from_mapping(cls, data, "tokenizer")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class KronosConfig:
    """Autoregressive predictor hyper-parameters (the 11 keys of the official predictor config.json)."""

    s1_bits: int = 10
    s2_bits: int = 10
    n_layers: int = 4
    d_model: int = 256
    n_heads: int = 4
    ff_dim: int = 512
    ffn_dropout_p: float = 0.0
    attn_dropout_p: float = 0.0
    resid_dropout_p: float = 0.0
    token_dropout_p: float = 0.0
    learn_te: bool = True

    def __post_init__(self):
        if self.d_model % self.n_heads:
            raise ConfigError(f"predictor d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.d_model % DEPENDENCY_HEADS:
            raise ConfigError(f"predictor d_model {self.d_model} must be divisible by {DEPENDENCY_HEADS}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KronosConfig:
        return _from_mapping(cls, data, "predictor")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Hard-coded in the official architecture, not carried by config.json.
DEPENDENCY_HEADS = 4
ROPE_BASE = 10000.0
RMS_NORM_EPS = 1e-5  # RMSNorm epsilon (not the price normalisation one: kronos.normalization)
BAR_COLUMNS = ("open", "high", "low", "close", "volume", "amount")
CLOSE = BAR_COLUMNS.index("close")  # the close's column in a bar or path array


@dataclass(frozen=True)
class OfficialModel:
    """What a published checkpoint does not carry: its paired tokenizer and trained context."""

    name: str
    repo_id: str
    tokenizer_repo_id: str
    context: int
    revision: str | None = None
    tokenizer_revision: str | None = None
    params: int = 0


# Revisions: small/Tokenizer-base are the ones upstream's regression test pins; mini/Tokenizer-2k are
# pinned by third-party code. Kronos-base has no known pinned revision, so it follows "main".
OFFICIAL_MODELS: dict[str, OfficialModel] = {
    "mini": OfficialModel(
        "mini", "NeoQuasar/Kronos-mini", "NeoQuasar/Kronos-Tokenizer-2k", 2048,
        "f4e68697d9d5aed55cef5c96aabc3376bcad9f81", "26966d0035065a0cae0ebad7af8ece35bc1fb51c", 4_108_032,
    ),
    "small": OfficialModel(
        "small", "NeoQuasar/Kronos-small", "NeoQuasar/Kronos-Tokenizer-base", 512,
        "901c26c1332695a2a8f243eb2f37243a37bea320", "0e0117387f39004a9016484a186a908917e22426", 24_741_376,
    ),
    "base": OfficialModel(
        "base", "NeoQuasar/Kronos-base", "NeoQuasar/Kronos-Tokenizer-base", 512,
        None, "0e0117387f39004a9016484a186a908917e22426", 102_310_592,
    ),
}

# The last day of market data the official models saw: pre-training data to 2024-02, validation to
# 2024-05 (upstream issue #204). A backtest on bars up to this day scores memory, not forecasting.
OFFICIAL_DATA_SEEN_UNTIL = "2024-05-31"

# Published configs, used to build same-shaped random models in tests and benchmarks.
OFFICIAL_CONFIGS: dict[str, KronosConfig] = {
    "mini": KronosConfig(10, 10, 4, 256, 4, 512, 0.2, 0.0, 0.2, 0.0, True),
    "small": KronosConfig(10, 10, 8, 512, 8, 1024, 0.25, 0.1, 0.25, 0.1, True),
    "base": KronosConfig(10, 10, 12, 832, 16, 2048, 0.2, 0.0, 0.2, 0.0, True),
}
OFFICIAL_TOKENIZER_CONFIGS: dict[str, TokenizerConfig] = {
    "NeoQuasar/Kronos-Tokenizer-base": TokenizerConfig(group_size=4),
    "NeoQuasar/Kronos-Tokenizer-2k": TokenizerConfig(group_size=5),
}


# --- checkpoint folders on disk (one home for the file names; no torch needed to read them) ---
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
BUNDLE_FILE = "bundle.json"  # our own: context, name and data_seen_until for a tokenizer/ + predictor/ folder
DEFAULT_BUNDLE_CONTEXT = 512


def read_bundle(folder) -> dict:
    """A model folder's ``bundle.json`` ({} when absent or unreadable): its context and name."""
    try:
        meta = json.loads((Path(folder) / BUNDLE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def official_model(ref) -> OfficialModel | None:
    """The official model an official name ('mini') or its Hub repo id names, else None."""
    ref = str(ref)
    return OFFICIAL_MODELS.get(ref) or next((m for m in OFFICIAL_MODELS.values() if m.repo_id == ref), None)


def trained_context(ref) -> int | None:
    """The context ``ref`` says it was trained for: an official name or repo id knows its own, a folder
    with tokenizer/ and predictor/ names it in its bundle.json. None when nothing says (a folder without
    bundle.json, another repo id): ``load_pair`` then assumes DEFAULT_BUNDLE_CONTEXT unless told."""
    official = official_model(ref)
    if official is not None:
        return official.context
    path = Path(str(ref)).expanduser()
    if not (path / "predictor").is_dir():
        return None
    try:
        context = int(read_bundle(path)["context"])
    except (KeyError, TypeError, ValueError):
        return None
    return context if context > 0 else None


MIN_BAND_PATHS = 2  # a band, a median and P(up) need at least two sample paths (one path: every quantile is it)
# Bars of history below which the studio refuses a forecast (kronos_studio.forecasters.window.check_history).
# Kronos normalises each column by its mean and standard deviation over the lookback (the studio's random
# walk, bootstrap, GARCH and HAR read the spread of the returns), and a standard deviation from n bars is off
# by about 1/sqrt(2(n - 1)) of itself: 50% from 3 bars, 16% from 20. The fan's width scales with it.
MIN_HISTORY = 20


def default_lookback(context: int, horizon: int) -> int:
    """The history a forecast reads when none is asked for: context - horizon, so that the history and
    the forecast fit the model's window and every step reuses the cache (a window that slides costs a
    full recomputation per step); at least half the context, for horizons near the context's length."""
    return max(context - horizon, context // 2, 2)
