"""The one storage root of Kronos Studio: cached bars, LoRA adapters and track records live below it.

``$KRONOS_STUDIO_CACHE`` when set, else the platform's user cache folder (``~/.cache/kronos-studio``
on Linux). It is read on every call, so a changed environment takes effect at once.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

ENV_VAR = "KRONOS_STUDIO_CACHE"


def storage_root() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("kronos-studio"))


def storage_path(*parts: str) -> Path:
    """A folder or file under the storage root, e.g. ``storage_path("adapters")``."""
    return storage_root().joinpath(*parts)


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file in the target's folder, then rename it onto ``path``:
    a reader, or the next run after a crash, sees the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
