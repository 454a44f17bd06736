"""The studio's pipeline: the Kronos core with future bar times from the bars' trading calendar
(exchange sessions and holidays, 24/7 crypto, the weekly FX session) — the hook the core leaves open."""
from __future__ import annotations

from data_sources.calendars import future_timestamps
from kronos.checkpoints import KronosPair
from kronos.config import MIN_BAND_PATHS
from kronos.lazy import pd
from kronos.pipeline import KronosPipeline


def calendar_future_timestamps(bars, history_timestamps: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """The bars' calendar and interval (a ``data_sources.Bars`` carries both) decide the future bar
    times, read from the whole history as the Forecast page reads them (``Bars.future_timestamps``), so
    a series gets the same times in a batch, the CLI and the app; a plain frame follows its own rhythm,
    skipping weekdays and hours it never trades."""
    from data_sources import Bars

    if isinstance(bars, Bars) and len(bars) and bars.timestamps.max() == history_timestamps[-1]:
        return bars.future_timestamps(horizon)
    return future_timestamps(history_timestamps, horizon, interval=getattr(bars, "interval", None),
                             calendar=getattr(bars, "calendar", None))


def too_few_paths(paths: int) -> str | None:
    """What to say of a forecast from fewer than MIN_BAND_PATHS paths (None when there are enough): every
    quantile is that one path, so the band has width 0 and P(up) is 0% or 100%."""
    if paths >= MIN_BAND_PATHS:
        return None
    return (f"{paths} sample path: every quantile is that path (a band of width 0, P(up) 0% or 100%), which says "
            f"nothing about uncertainty; sample at least {MIN_BAND_PATHS} paths (30 by default)")


def studio_pipeline(pair: KronosPair, decode: str | None = None) -> KronosPipeline:
    """``decode``: see ``kronos.accel.resolve_decode`` (default eager)."""
    return KronosPipeline(pair, future_timestamps=calendar_future_timestamps, decode=decode)
