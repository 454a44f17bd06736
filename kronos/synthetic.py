"""Random-weight model configurations and synthetic bars, for the tests and the benchmarks (which
must not depend on each other): a tiny model, and the official mini and small shapes."""
from __future__ import annotations

from kronos.config import OFFICIAL_CONFIGS, KronosConfig, TokenizerConfig
from kronos.lazy import np, pd

MODEL_CONFIGS = {  # name: (predictor config, tokenizer config)
    "tiny": (KronosConfig(10, 10, 2, 64, 4, 128, 0.1, 0.1, 0.1, 0.1, True), TokenizerConfig(group_size=4)),
    "mini": (OFFICIAL_CONFIGS["mini"], TokenizerConfig(group_size=5)),
    "small": (OFFICIAL_CONFIGS["small"], TokenizerConfig(group_size=4)),
}


def random_bars(n: int, seed: int = 0, freq: str = "5min", start: str = "2024-06-03 09:30") -> pd.DataFrame:
    """A geometric random walk with coherent OHLC and positive volume."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0005, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, n))
    return pd.DataFrame({"timestamp": pd.date_range(start, periods=n, freq=freq), "open": open_, "high": high,
                         "low": low, "close": close, "volume": rng.uniform(1e3, 5e3, n)})
