"""Where a workspace's files live under the studio's storage root: the default workspace's (the open,
single-user studio's, and the command line's) where they always were, every other one's in a folder of its
own, so a user never reads another workspace's adapters or fitted ensembles."""
from __future__ import annotations

import re
from pathlib import Path

from data_sources.storage import storage_path
from kronos_studio.ledger.schema import DEFAULT_WORKSPACE


def workspace_path(folder: str, workspace: str | None = None) -> Path:
    """``folder`` (e.g. "adapters") of ``workspace`` under the storage root (None: the default workspace)."""
    if workspace in (None, DEFAULT_WORKSPACE):
        return storage_path(folder)
    # A workspace is named by a user's e-mail or an admin's choice: made safe as one folder name.
    return storage_path(folder, "workspaces", re.sub(r"[^A-Za-z0-9@._-]", "_", workspace).lstrip(".") or "_")
