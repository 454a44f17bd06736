"""Notices more than one use case gives (warnings as data, ``kronos.errors.Notice``): a forecast's and each
series of a screen's. ``kronos_studio.forecasting`` is read where a notice is made: it brings the model's pipeline,
which a face drawing its options does not need."""
from __future__ import annotations

from kronos.errors import Fix, Notice


def paths_notices(paths: int) -> list[Notice]:
    """Too few paths for a band (every quantile that one path), for a forecast or each series of a screen."""
    from kronos_studio.forecasting import too_few_paths

    few = too_few_paths(paths)
    return [Notice(f"too_few_paths: {few}", (Fix("ask for more with {setting}", "paths"),))] if few else []
