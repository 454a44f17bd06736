"""An ensemble fitted to one series: walk-forward every member on the series' own history and fit
stacking weights there (``fit_to_series``), stored under the studio's storage root keyed by the series
(source, symbol, interval), the horizon and the members' identities, and loaded back by that key: the
weights fitted on a series' past serve its forecasts from then on, as new bars arrive.

Why stacking and nothing else: a few dozen cut-offs of one series cannot train LightGBM's per-cut-off
weights honestly, while stacking fits K - 1 numbers by a convex problem. The spread stays 1: choosing it
on a handful of validation cut-offs would be noise. The cut-offs all forecast bars after the last day
any member learned from (``training_period``): a member scored on bars it has seen would be flattered.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kronos.bars import bars_frame, input_digest
from kronos.errors import Fix, InputError
from kronos.lazy import pd
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.walk_forward import choose_cutoffs
from kronos_studio.forecasters.base import ENSEMBLE_LOOKBACK

from .features import asset_class
from .members import member_identity
from .meta import META_FILE, MetaLearner
from .train import SeriesSpec, fit_meta, signal_evaluations

SERIES_FOLDER = "ensembles"  # under data_sources.storage's root ($KRONOS_STUDIO_CACHE)
SERIES_METHODS = ("stacking",)
SERIES_SPREADS = (1.0,)
DEFAULT_SERIES_CUTOFFS = 40


def series_key(bars, horizon: int, members: Mapping) -> str:
    """sha256 (16 hex digits) of what a fit to a series depends on: the series (its source, symbol and
    interval; a frame without them: its content), the horizon and every member's identity."""
    symbol = getattr(bars, "series_symbol", None)  # the series' name, with its venue where known
    series = [bars.source, symbol] if symbol else input_digest(bars_frame(bars))
    payload = {"series": series, "interval": bars.interval, "horizon": int(horizon),
               "members": {k: member_identity(m)["digest"] for k, m in sorted(members.items())}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def fits_folder(workspace: str | None = None) -> Path:
    """Where ``workspace``'s fits are stored (``kronos_studio.workspaces``)."""
    from kronos_studio.workspaces import workspace_path

    return workspace_path(SERIES_FOLDER, workspace)


def series_folder(key: str, workspace: str | None = None) -> Path:
    return fits_folder(workspace) / key


def series_fits(workspace: str | None = None) -> tuple:
    """(key, mtime) of every ensemble fitted to a series in ``workspace``, and of its champion meta-learner
    (``gated.champion_entry``): a new fit (here, in the app or by ``kronos train ensemble FILE``) changes that
    series' ensemble forecasts, a promoted or rolled-back meta-learner every one of them, so stores of
    forecasts key on it."""
    from .gated import champion_entry

    try:
        fits = tuple(sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(fits_folder(workspace))
                            if e.is_dir() and e.name != "workspaces"))
    except OSError:
        fits = ()
    champion = champion_entry(workspace)
    return fits if champion is None else (*fits, (f"champion-meta-learner-{champion.id}", str(champion.decided_at)))


@dataclass(frozen=True)
class SeriesFit:
    """What a fit to one series decides beyond the forecast's settings."""

    cutoffs: int = DEFAULT_SERIES_CUTOFFS  # cut-offs spread over the series
    name: str | None = None  # the series' name in the provenance (None: "SYMBOL INTERVAL")
    store: bool = True  # saved in ``series_folder(series_key(...))``
    workspace: str | None = None  # whose fits (None: the default workspace's)


def fit_to_series(bars, members: Mapping, settings: ForecastSettings, fit: SeriesFit = SeriesFit(),
                  progress: Callable[[str, int, int], None] | None = None) -> MetaLearner:
    """A meta-learner (stacking weights) fitted by walking ``members`` forward with ``settings`` (the
    forecasts': horizon, paths, sampling, seed) over ``fit.cutoffs`` cut-offs spread over ``bars`` (a
    ``data_sources.Bars``), each with ``ENSEMBLE_LOOKBACK`` bars of history (what the ensemble forecasts
    from), so the series needs that many bars and a horizon more."""
    horizon, cutoffs, name = settings.horizon, fit.cutoffs, fit.name
    frame = bars_frame(bars)
    min_history = ENSEMBLE_LOOKBACK  # the history the ensemble forecasts from: its Kronos member reads its own share
    seen = seen_until(members)
    first = 0 if seen is None else int((pd.DatetimeIndex(frame["timestamp"]).tz_convert("UTC") <= seen[0]).sum())
    try:
        chosen = choose_cutoffs(len(frame), horizon, cutoffs, min_history, start=first)
    except ValueError:
        if seen is None:
            raise
        raise InputError(f"the {seen[1]} member learned from data up to {seen[0].date()}: fitting the ensemble on "
                         "bars it has seen would flatter it",
                         {"member": seen[1], "seen_until": str(seen[0].date()), "min_history": min_history},
                         Fix(f"give bars after that ({horizon + 1}+ of them after {min_history} bars of history)")
                         ) from None
    name = name or f"{bars.symbol} {bars.interval}"
    spec = SeriesSpec(name, bars, bars.interval, asset_class(bars.calendar, bars.source), horizon, chosen)
    evals = signal_evaluations([spec], members, settings, progress=progress)
    key = series_key(bars, horizon, members)
    meta = fit_meta(evals, settings.paths, methods=SERIES_METHODS, spreads=SERIES_SPREADS, info={"provenance": {
        "fitted_to_series": name, "series_sha256": input_digest(frame), "interval": bars.interval,
        "horizon": horizon, "cutoffs": len(chosen), "first_cutoff": str(frame["timestamp"].iloc[chosen[0] - 1]),
        "last_cutoff": str(frame["timestamp"].iloc[chosen[-1] - 1]), "series_key": key,
        "fingerprint": fingerprint(frame)}})
    if fit.store:
        meta.folder = meta.save(series_folder(key, fit.workspace))
    return meta


def seen_until(members: Mapping) -> tuple | None:
    """(the latest day any member learned from, that member's key), None when none records one."""
    periods = [(p.seen_until, k) for k, m in members.items() for p in [m.training_period()] if p is not None]
    return max(periods, default=None)


FINGERPRINT_BARS = 16  # the last bars a fit saw, which later bars of the same series must hold unchanged


def fingerprint(frame: pd.DataFrame) -> dict:
    """The last bars a fit walked over: their last time and a digest of them (times and values)."""
    tail = frame.iloc[-FINGERPRINT_BARS:]
    return {"last_bar": str(tail["timestamp"].iloc[-1]), "bars": len(tail), "sha256": input_digest(tail)}


def holds(frame: pd.DataFrame, print_: dict) -> bool:
    """Whether ``frame`` holds the fingerprinted bars unchanged (the same series, maybe with newer bars)."""
    times = pd.DatetimeIndex(frame["timestamp"])
    at = times.get_indexer([pd.Timestamp(print_["last_bar"])])[0]
    if at < 0 or at + 1 < print_["bars"]:
        return False
    return input_digest(frame.iloc[at + 1 - print_["bars"]:at + 1]) == print_["sha256"]


def load_series_meta(bars, members: Mapping, horizon: int, workspace: str | None = None) -> MetaLearner | None:
    """The meta-learner ``fit_to_series`` stored for these bars, horizon and members, None when there is none
    or when these bars are not the series it was fitted to: the key names the series (a file by its name),
    so the bars must also hold the last bars the fit saw, unchanged (another file of the same name, or
    revised bars, get the general rule instead of weights fitted to other data)."""
    folder = series_folder(series_key(bars, horizon, members), workspace)
    if not (folder / META_FILE).is_file():
        return None
    meta = MetaLearner.load(folder)
    print_ = meta.info.get("provenance", {}).get("fingerprint")
    return meta if print_ is not None and holds(bars_frame(bars), print_) else None
