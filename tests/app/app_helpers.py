"""Helpers shared by the app tests (a unique module name: other test folders have a conftest too)."""
from __future__ import annotations

import json
from pathlib import Path


def make_model(folder: Path, name: str, seed: int) -> Path:
    import torch

    from kronos.checkpoints import save_checkpoint
    from kronos.config import KronosConfig, TokenizerConfig
    from kronos.model import Kronos
    from kronos.tokenizer import KronosTokenizer

    torch.manual_seed(seed)
    save_checkpoint(Kronos(KronosConfig(n_layers=2, d_model=64, n_heads=4, ff_dim=128)), folder / "predictor")
    save_checkpoint(KronosTokenizer(TokenizerConfig(d_model=32, n_heads=4, ff_dim=64, n_enc_layers=1,
                                                    n_dec_layers=1)), folder / "tokenizer")
    (folder / "bundle.json").write_text(json.dumps({"context": 128, "name": name}))
    return folder


def first_model_seen_until(tmp_path: Path, app_env, monkeypatch, seen_until: str) -> Path:
    """A tiny model, first in the app's model list, whose bundle says it saw data up to ``seen_until``."""
    import os

    folder = make_model(tmp_path / "test-tiny-seen", "test-tiny-seen", 3)
    meta = json.loads((folder / "bundle.json").read_text())
    (folder / "bundle.json").write_text(json.dumps({**meta, "data_seen_until": seen_until}))
    monkeypatch.setenv("KRONOS_STUDIO_MODELS", os.pathsep.join(map(str, [folder, *app_env])))
    return folder


def good_csv(n: int = 200) -> bytes:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ts = pd.bdate_range("2023-01-02", periods=n)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    frame = pd.DataFrame({"date": ts.strftime("%Y-%m-%d"), "open": close * 0.999, "high": close * 1.01,
                          "low": close * 0.99, "close": close, "volume": rng.integers(1000, 5000, n)})
    return frame.to_csv(index=False).encode()


def multi_asset_csv(tickers=("AAA", "BBB", "CCC"), n=200) -> bytes:
    """A daily file of several instruments, one after the other, named in a ticker column; each its own prices."""
    import io

    import pandas as pd

    one = pd.read_csv(io.BytesIO(good_csv(n)))
    parts = []
    for i, t in enumerate(tickers):
        part = one.copy()
        part[["open", "high", "low", "close"]] *= 10 ** i
        parts.append(part.assign(ticker=t))
    return pd.concat(parts).to_csv(index=False).encode()


BAD_CSV = b"name,colour\nfoo,red\nbar,blue\n"


def trace_values(trace: dict, key: str):
    """A plotly trace's data array from a figure's JSON, also where plotly sent it base64-encoded
    ({"dtype", "bdata"})."""
    import numpy as np

    data = trace[key]
    if isinstance(data, dict):
        import base64

        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).astype(float)
    return np.asarray(data, dtype=float)


def kept_forecasts() -> list:
    """The forecasts the app's one result cache holds (``app_support.models.results``: the desk keeps a forecast as
    (forecast, lookback note), beside risk readings, reports and backtests), in the order they were kept."""
    from app_support.models import results
    from kronos.forecast import Forecast

    done = (f.result() for f in list(results().results.values()) if f.done() and f.exception() is None)
    return [v[0] for v in done if isinstance(v, tuple) and isinstance(v[0], Forecast)]
