"""Shared fixtures for the model tests: random-weight models saved in the official layout, with the
official implementation (PyPI ``kronos-model-arch``, test-only) loaded on the same weights."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from kronos.config import OFFICIAL_CONFIGS, KronosConfig, TokenizerConfig
from kronos.hub import KronosPair, load_pair

official = pytest.importorskip("model", reason="the official oracle (kronos-model-arch) is not installed")

CONFIGS = {
    "tiny": (KronosConfig(10, 10, 2, 64, 4, 128, 0.1, 0.1, 0.1, 0.1, True), TokenizerConfig(group_size=4)),
    "mini": (OFFICIAL_CONFIGS["mini"], TokenizerConfig(group_size=5)),
    "small": (OFFICIAL_CONFIGS["small"], TokenizerConfig(group_size=4)),
}


@dataclass
class OraclePair:
    """The same random weights, as the official modules (eval mode) and as a checkpoint folder."""

    folder: Path
    official_tokenizer: torch.nn.Module
    official_predictor: torch.nn.Module

    def ours(self, context: int) -> KronosPair:
        (self.folder / "bundle.json").write_text(json.dumps({"context": context, "name": self.folder.name}))
        return load_pair(self.folder, device="cpu")


def write_official_layout(module: torch.nn.Module, config, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict(), sort_keys=True))
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(folder / "model.safetensors"))


@pytest.fixture(scope="session")
def oracle(tmp_path_factory):
    made: dict[str, OraclePair] = {}

    def make(name: str) -> OraclePair:
        if name not in made:
            pcfg, tcfg = CONFIGS[name]
            torch.manual_seed(1234)
            tok = official.KronosTokenizer(**tcfg.to_dict()).eval()
            pred = official.Kronos(**pcfg.to_dict()).eval()
            folder = tmp_path_factory.mktemp(f"oracle-{name}")
            write_official_layout(tok, tcfg, folder / "tokenizer")
            write_official_layout(pred, pcfg, folder / "predictor")
            made[name] = OraclePair(folder, tok, pred)
        return made[name]

    return make


def random_bars(n: int, seed: int = 0, freq: str = "5min", start: str = "2024-06-03 09:30") -> pd.DataFrame:
    """A geometric random walk with coherent OHLC and positive volume."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0005, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    return pd.DataFrame({"timestamp": pd.date_range(start, periods=n, freq=freq), "open": open_, "high": high,
                         "low": low, "close": close, "volume": rng.uniform(1e3, 5e3, n)})


@pytest.fixture
def bars():
    return random_bars
