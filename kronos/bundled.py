"""The models that ship with Kronos Studio under ``assets/models`` (usable offline)."""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "models"
# Largest first: the default when no model is chosen or the Hub is unreachable.
BUNDLED_ORDER = ("studio-small", "studio-tiny")


def bundled_models() -> dict[str, Path]:
    """Name -> folder (with tokenizer/ and predictor/) for every bundled model present."""
    return {name: ASSETS / name for name in BUNDLED_ORDER if (ASSETS / name / "predictor").is_dir()}


def default_model_path() -> Path:
    models = bundled_models()
    if not models:
        raise FileNotFoundError(f"no bundled model found under {ASSETS}; pass --model (e.g. 'mini' when online)")
    return next(iter(models.values()))
