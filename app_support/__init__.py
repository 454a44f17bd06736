"""UI-side helpers for the Streamlit app: cached loaders, the shared sidebar, forecast runs with
progress. Pages call these; the model and data libraries never import Streamlit."""

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@lru_cache(maxsize=1)
def app_version() -> str:
    """Package version plus the git commit when run from a checkout (for the provenance export)."""
    try:
        v = version("kronos-studio")
    except PackageNotFoundError:
        v = "0+unknown"
    try:
        root = Path(__file__).resolve().parent.parent
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=2).stdout.strip()
        return f"{v}+g{sha}" if sha else v
    except Exception:
        return v
