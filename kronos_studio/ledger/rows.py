"""One forecast as the ledger stores it: its ``predictions`` row (identity, series, settings, quantiles,
provenance) and the close/high/low paths for ``prediction_paths``; an ensemble forecast also gives one
such row per member (``member_rows``)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime

from kronos.config import BAR_COLUMNS
from kronos.lazy import np, pd
from kronos.quantiles import path_quantiles

from . import scoring
from .codec import encode_array, encode_times
from .engine import LedgerError, dumps
from .schema import DEFAULT_WORKSPACE, LIVE, PATH_DTYPE, PATH_FIELDS


def prediction_row(forecast, bars, calibration=None, exchange: str | None = None,
                   workspace: str = DEFAULT_WORKSPACE, replay: str = LIVE) -> tuple[dict, dict]:
    """The ``predictions`` row and the ``prediction_paths`` values of one forecast in ``workspace``, made by the
    replay ``replay`` (``LIVE``: as its bars arrived)."""
    prov = dict(forecast.provenance)
    settings = forecast.settings
    paths = np.asarray(forecast.paths, dtype=PATH_DTYPE)
    if paths.ndim != 3 or paths.shape[2] != len(BAR_COLUMNS):
        raise LedgerError(f"a forecast's paths are [paths, horizon, {len(BAR_COLUMNS)}], got {paths.shape}")
    horizon = paths.shape[1]
    history = forecast.history
    targets = pd.DatetimeIndex(forecast.timestamps)
    if len(targets) != horizon or not len(history):
        raise LedgerError(f"the forecast has {len(targets)} bar times for {horizon} steps and {len(history)} "
                          "history bars: nothing to record")
    last_bar = pd.Timestamp(history["timestamp"].iloc[-1])
    levels = scoring.QUANTILE_LEVELS
    quantiles = path_quantiles(paths, levels).astype(PATH_DTYPE)  # [levels, horizon, 6]
    calibrated = calibration is not None or "calibration" in prov
    cal_levels = [float(u) for u in calibration.levels] if calibration is not None else None
    members = prov.get("members")
    identity = {
        "series": [bars.source, bars.series_symbol, bars.interval, bars.calendar], "data": prov.get("input_sha256"),
        "last_bar": last_bar.value, "model": [prov.get("model"), prov.get("predictor"), prov.get("predictor_revision"),
                                              members], "settings": repr(settings), "calibrated": calibrated,
    }
    if workspace != DEFAULT_WORKSPACE:  # two workspaces each keep their own copy; default keys stay as before 0005
        identity["workspace"] = workspace
    if replay != LIVE:  # a replay's forecast never meets the live one of the same bars; live keys stay as before
        identity["replay"] = replay
    covariates = conditioned_on(prov)
    if covariates is not None:  # forecasts that differ only in their covariates are two (unconditioned keys as before)
        identity["covariates"] = covariates
    digest = hashlib.sha256(dumps(identity).encode())
    digest.update(encode_times(targets))
    digest.update(paths.tobytes())  # the same sampled paths: the same forecast, whatever else changed
    created = pd.Timestamp(prov["created_at"]) if prov.get("created_at") else pd.Timestamp.now(tz="UTC")
    close = history["close"].to_numpy(np.float64)
    row = {
        "forecast_key": digest.hexdigest(), "workspace": workspace, "replay": replay,
        "created_at": (created if created.tzinfo else created.tz_localize("UTC")).to_pydatetime(),
        "source": bars.source, "symbol": bars.series_symbol, "interval": bars.interval, "calendar": bars.calendar,
        "timezone": bars.timezone or str(targets.tz or "UTC"), "exchange": exchange or bars.venue,
        "data_hash": prov.get("input_sha256") or bars.content_hash(),
        "last_bar_at": utc(last_bar), "last_close": float(close[-1]),
        **dict(zip(("history_fingerprint", "fingerprint_bars"), scoring.fingerprint_of_history(history))),
        "first_target_at": utc(targets[0]), "last_target_at": utc(targets[-1]),
        "target_times": encode_times(targets),
        "model": str(prov.get("model") or "unknown"), "model_ref": text_or_none(prov.get("predictor")),
        "model_revision": text_or_none(prov.get("predictor_revision")), "members": members,
        "covariates": covariates,
        "adapter_id": None if prov.get("adapter_id") is None else int(prov["adapter_id"]),  # a champion's
        "horizon": horizon, "paths": paths.shape[0], "seed": int(settings.seed),
        "temperature": float(settings.temperature), "top_p": float(settings.top_p), "top_k": int(settings.top_k),
        "lookback": len(history),  # the bars the model read (the setting may say "the model's context")
        "calibrated": calibrated, "calibration_levels": cal_levels,
        "quantile_levels": list(levels), "quantiles": encode_array(quantiles),
        "provenance": json.loads(dumps(prov)),
    }
    picked = paths[:, :, [BAR_COLUMNS.index(f) for f in PATH_FIELDS]]
    blob = {"fields": list(PATH_FIELDS), "n_paths": paths.shape[0], "horizon": horizon, "data": encode_array(picked)}
    return row, blob


def conditioned_on(provenance: dict) -> dict | None:
    """What a conditioned forecast read besides its target (``desk.covariates``: the series, each with the hash
    of its bars, and the scheduled events), None for a forecast that was not conditioned."""
    named = provenance.get("conditioned_on")
    if named is None:
        return None
    return {"series": list(named), "known_future": list(provenance.get("known_future") or [])}


MEMBER_PREFIX = "ensemble/"  # a member row's model: "ensemble/" + the member's key, e.g. "ensemble/garch"


def member_model(key: str) -> str:
    return f"{MEMBER_PREFIX}{key}"


def member_rows(forecast, bars, parent: dict) -> list[tuple[dict, dict]]:
    """(row, paths) of every member of an ensemble ``forecast`` (one whose ``members`` dict holds each
    member's own paths): the member's paths and quantiles stored as any forecast's, the ensemble's series,
    bar times and history, the weight the meta-learner gave the member and the meta-learner's feature row for
    it, computed from the history the forecast read (as ``Ensemble.combine`` did). ``parent``: the ensemble's
    row; the caller sets ``parent_id``. Uncalibrated: a fan calibration moves the ensemble's paths only."""
    members = forecast.members  # an ensemble's forecast (``EnsembleForecast``) has some
    if not members:
        return []
    prov = forecast.provenance
    member_paths = {k: np.asarray(v, dtype=PATH_DTYPE) for k, v in members.items()}
    features = forecast.member_features(bars)
    seeds = forecast.member_seeds()  # the stream each member drew from
    weights = prov.get("weights") or {}
    described = prov.get("members") or {}
    read = prov.get("members_read") or {}
    out = []
    for key, paths in member_paths.items():
        seed = seeds[key]
        member = dataclasses.replace(forecast, paths=paths, mean=paths.mean(axis=0), provenance={
            "model": member_model(key), "member": key, "ensemble_forecast_key": parent["forecast_key"],
            "describe": described.get(key), "seed": seed, "input_sha256": prov.get("input_sha256"),
            "created_at": prov.get("created_at")})
        row, blob = prediction_row(member, bars, exchange=parent["exchange"], workspace=parent["workspace"],
                                   replay=parent["replay"])
        row.update(
            forecast_key=hashlib.sha256(f"{parent['forecast_key']}/{key}".encode()).hexdigest(),
            created_at=parent["created_at"], seed=seed, calibrated=False, calibration_levels=None,
            lookback=int(read.get(key, row["lookback"])),
            weight=None if weights.get(key) is None else float(weights[key]),
            features={f: float(v) for f, v in features.loc[key].items()})
        out.append((row, blob))
    return out


def utc(ts) -> datetime:
    ts = pd.Timestamp(ts)
    return (ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")).to_pydatetime()


def text_or_none(value) -> str | None:
    return None if value is None else str(value)
