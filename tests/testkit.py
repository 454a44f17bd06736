"""Helpers shared by every test folder (a unique module name: pytest puts tests/ on sys.path through
tests/conftest.py, and several folders have a conftest of their own)."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kronos.config import OFFICIAL_CONFIGS, KronosConfig, TokenizerConfig

# Model configs the tests build with random weights: a tiny one, and the official mini and small.
CONFIGS = {
    "tiny": (KronosConfig(10, 10, 2, 64, 4, 128, 0.1, 0.1, 0.1, 0.1, True), TokenizerConfig(group_size=4)),
    "mini": (OFFICIAL_CONFIGS["mini"], TokenizerConfig(group_size=5)),
    "small": (OFFICIAL_CONFIGS["small"], TokenizerConfig(group_size=4)),
}
IN_CI = bool(os.environ.get("CI"))


def random_bars(n: int, seed: int = 0, freq: str = "5min", start: str = "2024-06-03 09:30") -> pd.DataFrame:
    """A geometric random walk with coherent OHLC and positive volume."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0005, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    return pd.DataFrame({"timestamp": pd.date_range(start, periods=n, freq=freq), "open": open_, "high": high,
                         "low": low, "close": close, "volume": rng.uniform(1e3, 5e3, n)})


@dataclass
class ModelFolder:
    """A tokenizer/ + predictor/ folder in the official checkpoint layout."""

    folder: Path

    def ours(self, context: int):
        from kronos.checkpoints import load_pair

        (self.folder / "bundle.json").write_text(json.dumps({"context": context, "name": self.folder.name}))
        return load_pair(self.folder, device="cpu")


def save_official_layout(module, config, folder: Path) -> None:
    """config.json + model.safetensors, as the official checkpoints are published."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict(), sort_keys=True))
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(folder / "model.safetensors"))


def random_model_folder(folder: Path, name: str, seed: int = 1234) -> ModelFolder:
    """Our own modules with random weights at config ``name`` (no oracle needed)."""
    import torch

    from kronos.model import Kronos
    from kronos.tokenizer import KronosTokenizer

    pcfg, tcfg = CONFIGS[name]
    torch.manual_seed(seed)
    save_official_layout(KronosTokenizer(tcfg).eval(), tcfg, folder / "tokenizer")
    save_official_layout(Kronos(pcfg).eval(), pcfg, folder / "predictor")
    return ModelFolder(folder)


def require_oracle():
    """The official Kronos package (``kronos-model-arch``, test-only). Missing: a skip on a developer's
    machine, a failure in CI, where the equivalence tests must run."""
    try:
        import model
    except ImportError:
        why = "the official oracle (kronos-model-arch) is not installed: bash scripts/test.sh installs it"
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return model


def fill_hub_cache(cache: Path, repo_id: str, revision: str, folder: Path) -> None:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<commit>/...}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(folder, repo / "snapshots" / revision)
