"""Kronos: our implementation of the Kronos foundation model for OHLCV candles (tokenizer, decoder,
KV-cached multi-path sampling) and its forecast pipeline. Depends on torch, numpy, pandas, safetensors
and huggingface_hub only; nothing of the studio.

    from kronos import KronosPipeline
    pipeline = KronosPipeline.from_pretrained("mini")
    forecast = pipeline.predict(bars, horizon=24, paths=100)
    table = pipeline.predict_quantiles(bars, horizon=24, levels=(0.1, 0.5, 0.9))
    forecasts = pipeline.predict_batch([bars_a, bars_b], horizon=24)

Names are imported on first use, so ``import kronos.quantiles`` (or ``kronos.bars``) does not load torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "KronosPipeline": "pipeline", "Forecast": "forecast", "ForecastSettings": "settings",
    "InputError": "errors", "bars_frame": "bars",
    "KronosPair": "checkpoints", "CheckpointError": "checkpoints", "load_pair": "checkpoints",
    "save_checkpoint": "checkpoints",
    "Kronos": "model", "KronosTokenizer": "tokenizer",
    "KronosConfig": "config", "TokenizerConfig": "config", "OFFICIAL_MODELS": "config",
    "SamplingConfig": "settings", "DEFAULT_QUANTILES": "quantiles", "BAND": "quantiles",
    "default_device": "device",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'kronos' has no attribute {name!r}")


def __dir__():
    return __all__
