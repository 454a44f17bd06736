"""The models that ship with Kronos Studio as package data (usable offline), and which one is the
default: the one with the lowest validation loss its training recorded (never a test-period score)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from kronos.errors import Fix, UserError

from . import ASSETS

MODELS_DIR = ASSETS / "models"
BUNDLED_NAMES = ("studio-tiny", "studio-small")
ENSEMBLE_DIR = ASSETS / "ensemble"  # the bundled ensemble's meta-learner (kronos_studio.ensemble.bundled)
CHRONOS2_NAME = "chronos2-small"  # the bundled Chronos-2: an ensemble member (kronos_studio.ensemble.chronos2)
HISTORY_FILE = "training_history.json"  # written by scripts/train_bundled.py: per-stage loss records
ENV_MODELS = "KRONOS_STUDIO_MODELS"  # extra model folders (tokenizer/ + predictor/), os.pathsep-separated


def bundled_models() -> dict[str, Path]:
    """Name -> folder (with tokenizer/ and predictor/) for every bundled model present, the default
    first."""
    found = {name: MODELS_DIR / name for name in BUNDLED_NAMES if (MODELS_DIR / name / "predictor").is_dir()}
    return dict(sorted(found.items(), key=lambda item: validation_loss(item[1])))


def validation_loss(folder: Path) -> float:
    """The best validation cross-entropy of the predictor's training run (inf when not recorded)."""
    try:
        history = json.loads((folder / HISTORY_FILE).read_text())["predictor"]
        return min(r["val_loss"] for r in history if "val_loss" in r)
    except (OSError, ValueError, KeyError, TypeError):
        return float("inf")


def listed_folders(models_dirs=()) -> dict[str, Path]:
    """Name -> folder of the model folders (with predictor/) named in $KRONOS_STUDIO_MODELS, then in
    ``models_dirs`` (a server's ``--models-dir``), in their order: each entry a model folder, or a folder whose
    subfolders are model folders; of two folders with one name, the first (as in PATH)."""
    found: dict[str, Path] = {}
    for folder in [*filter(None, os.environ.get(ENV_MODELS, "").split(os.pathsep)), *map(str, models_dirs)]:
        path = Path(folder).expanduser()
        inside = [path] if (path / "predictor").is_dir() else (
            sorted(sub for sub in path.iterdir() if (sub / "predictor").is_dir()) if path.is_dir() else [])
        for model in inside:
            found.setdefault(model.name, model)
    return found


def model_reference(ref):
    """The folder of the bundled model, or of the $KRONOS_STUDIO_MODELS folder, that ``ref`` names by its name
    (``studio-tiny``, ``desk-fx-model``), so that every entry point takes the names the app lists (and a
    service's client names a model without knowing where it lies); any other reference (an official name, a
    Hub id, an existing folder: a folder of that name in the working directory wins) as it is."""
    if isinstance(ref, str) and ref and not Path(ref).exists():
        if ref in BUNDLED_NAMES:
            folder = bundled_models().get(ref)
            return ref if folder is None else str(folder)
        folder = listed_folders().get(ref)
        if folder is not None:
            return str(folder)
    return ref


class NoBundledModel(UserError, FileNotFoundError):
    """No bundled model is installed, and none was named."""


def default_model_path() -> Path:
    models = bundled_models()
    if not models:
        raise NoBundledModel(f"no bundled model found under {MODELS_DIR}", {"folder": str(MODELS_DIR)},
                             Fix("pass {setting} (e.g. 'mini' when online)", "model"))
    return next(iter(models.values()))
