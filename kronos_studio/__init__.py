"""Kronos Studio: the features around the Kronos core — evaluation, training, the command line and the
bundled models. Depends on ``kronos`` (the model) and ``data_sources`` (bars); neither depends on it."""
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"  # package data: bundled models and event calendar
