"""Chronos-2 as an ensemble member: the official ``chronos-forecasting`` pipeline as a forecaster
(``sample(history, future, settings)``: paths [S, horizon, 6]).

What goes in. The target is the natural log of the close; the open, high and low (log) and the volume
(``log1p``) go in as *past covariates*, the input ``Chronos2Pipeline.predict`` documents for series
whose future values are unknown (a dict per series: ``target`` + ``past_covariates``). The package
standardises every variate itself (mean/std of the context, then arcsinh when the checkpoint says so),
so no scaling happens here; the log is our choice: quantiles commute with a monotone map, a log price
treats up and down moves of the same relative size alike, and ``exp`` keeps every quantile positive.
``amount`` is left out (it is volume x price, often filled in exactly so). A checkpoint may record the
covariates it was trained with in its ``config.json`` (``studio_past_covariates``: the bundled small
model was trained on the close alone and says ``[]``); the member follows that unless told otherwise.

What comes out. Chronos-2 forecasts quantiles, not paths: the close quantiles at all of the
checkpoint's levels (``config.json``, ``chronos_config.quantiles``) are turned into Brownian-correlated
paths by ``quantile_paths.log_return_paths`` and into coherent candles by
``evaluation.baselines.candles_from_log_returns`` (volume/amount: the recent median), both driven by
``np.random.default_rng(seed)``, so a forecast is reproducible for a seed. The lookback is at most the
model's context length.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Sequence
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from safetensors import safe_open

from kronos.checkpoints import CheckpointError, Source, is_hub_id, resolve
from kronos.config import BAR_COLUMNS, CONFIG_FILE, WEIGHTS_FILE
from kronos.device import default_device
from kronos.forecast import Forecast
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.baselines import candles_from_log_returns
from kronos_studio.forecasters.base import PathModel
from kronos_studio.forecasters.period import period_until
from kronos_studio.forecasters.warm import Warm, process_weights

from ..bundled import CHRONOS2_NAME, MODELS_DIR
from .members import cheap_member_paths
from .quantile_paths import log_return_paths

DEFAULT_REF = "amazon/chronos-2"
ENV_CHRONOS2 = "KRONOS_STUDIO_CHRONOS2"  # the ensemble's Chronos-2: a folder or Hub id, or OFF for none
AUTO, OFF = "auto", "off"  # the ensemble's Chronos-2 choices besides a reference
# Nothing after a model's public release can be in its training data: the latest day it can have seen.
RELEASED = {DEFAULT_REF: "2025-10-20"}
SEEN_UNTIL_KEY = "studio_data_seen_until"  # config.json key of a checkpoint folder that records its data's end
BUNDLED_CHRONOS2 = MODELS_DIR / CHRONOS2_NAME  # trained by scripts/train_chronos2.py (when bundled)
PACKAGE = "chronos-forecasting"
PINNED_VERSION = "2.3.2"
COVARIATES = ("open", "high", "low", "volume")  # past covariates by default (amount is derived)
COVARIATES_KEY = "studio_past_covariates"  # config.json key naming the covariates a checkpoint was trained with
CANDLE_WINDOW = 60  # bars whose intrabar ranges and volumes the candles resample


def package_version() -> str | None:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return None


def _pipeline_class():
    try:
        from chronos import Chronos2Pipeline
    except ImportError as e:
        raise CheckpointError(f"Chronos-2 needs the '{PACKAGE}' package: pip install {PACKAGE}=={PINNED_VERSION} "
                              f"({e})") from None
    return Chronos2Pipeline


def _check_weights(model, folder: Path) -> None:
    """transformers fills missing weights with random ones and only warns: refuse that instead."""
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected = sorted(set(expected) - set(shapes)), sorted(set(shapes) - set(expected))
    wrong = [k for k in sorted(set(shapes) & set(expected)) if shapes[k] != expected[k]]
    if missing or unexpected or wrong:
        raise CheckpointError(
            f"{folder / WEIGHTS_FILE} does not match its {CONFIG_FILE}: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shapes {wrong[:5]}. Re-download the checkpoint or point to another folder.")


def load_chronos2(ref: str | os.PathLike = DEFAULT_REF, revision: str | None = None, device=None, *,
                  cache_dir: str | os.PathLike | None = None, tqdm_class=None):
    """``(Chronos2Pipeline, Source)`` for a Hub repo id (e.g. 'amazon/chronos-2') or a local folder
    (``config.json`` + ``model.safetensors``, as ``save_pretrained`` writes them), located by
    ``kronos.checkpoints.resolve``: the same Hugging Face cache, revision pinning, ``HF_HUB_OFFLINE``
    and fast "Hub unreachable" answer as Kronos. Weights load strictly, in eval mode, on ``device``
    (``kronos.device.default_device()`` when None). Every failure is a ``CheckpointError``."""
    text = str(ref)
    if not Path(text).expanduser().exists() and not is_hub_id(text):
        raise CheckpointError(f"'{text}' is neither an existing folder nor a Hub repo id like '{DEFAULT_REF}'; "
                              f"the bundled model is at {BUNDLED_CHRONOS2}.")
    pipeline_class = _pipeline_class()
    src = resolve(ref, revision, cache_dir, tqdm_class)
    from transformers.utils import logging as transformers_logging

    bars_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()  # its "Loading weights" bar would land in our output
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline = pipeline_class.from_pretrained(str(src.path))
    except (OSError, ValueError, KeyError, TypeError, AssertionError, AttributeError) as e:
        raise CheckpointError(
            f"{src.path} is not a Chronos-2 checkpoint ({type(e).__name__}: {e}); point to a folder saved by "
            f"Chronos2Pipeline.save_pretrained or a Hub repo like '{DEFAULT_REF}'.") from None
    finally:
        if bars_on:
            transformers_logging.enable_progress_bar()
    _check_weights(pipeline.model, src.path)
    pipeline.model.to(device or default_device()).eval()
    return pipeline, src


def local_chronos2(ref: str | os.PathLike) -> Source | None:
    """Where Chronos-2 ``ref`` is on this machine, without any network: a checkpoint folder, or the
    snapshot of a Hub repo id in the local Hugging Face cache (the revision its ``main`` points to); None
    when its weights are not here."""
    path = Path(ref).expanduser()
    if path.is_dir():  # a folder that is not a checkpoint is an error worth reporting
        return _folder_source(str(path), _weights_stat(path))
    if not is_hub_id(str(ref)):
        return None
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(str(ref), name) for name in (CONFIG_FILE, WEIGHTS_FILE)]
    if not all(isinstance(f, str) for f in found) or Path(found[0]).parent != Path(found[1]).parent:
        return None
    folder = Path(found[1]).parent
    return Source(str(ref), folder, folder.name)


def _weights_stat(folder: Path) -> tuple | None:
    weights = folder / WEIGHTS_FILE
    stat = weights.stat() if weights.is_file() else None
    return stat and (stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _folder_source(folder: str, weights_stat: tuple | None) -> Source:
    """A folder's Source, its weights hashed once per version of the file (not at every forecast)."""
    return resolve(Path(folder))


def ensemble_state(choice: str | None = AUTO) -> tuple | None:
    """What decides which Chronos-2 ``auto`` mixes in, cheaply (no hashing of weights, no loading), for
    stores of ensemble forecasts to key on: the reference and where its weights are (with their size and
    time for a folder), or None when none would join."""
    ref = ensemble_reference(choice)
    if ref is None:
        return None
    path = Path(ref).expanduser()
    if path.is_dir():
        return ref, str(path.resolve()), _weights_stat(path)
    src = local_chronos2(ref)
    return None if src is None else (ref, src.revision)


def ensemble_reference(choice: str | None = AUTO) -> str | None:
    """The Chronos-2 the ensemble mixes: ``choice`` (a folder, a Hub id, or the bundled one's name), or for
    ``auto`` (None too) ``$KRONOS_STUDIO_CHRONOS2`` or else the official ``amazon/chronos-2``; None for ``off``."""
    choice = AUTO if choice is None else str(choice)
    if choice == AUTO:
        choice = os.environ.get(ENV_CHRONOS2, "").strip() or DEFAULT_REF
    if choice == CHRONOS2_NAME and not Path(choice).exists():  # the bundled one, by the name the models list
        return str(BUNDLED_CHRONOS2)
    return None if choice.lower() == OFF else choice


def ensemble_member(choice: str | None = AUTO, paths: int = 200, device=None, *, tqdm_class=None,
                    warm: Warm | None = None):
    """``(Chronos2Member or None, status)``: the ensemble's Chronos-2 member and one line saying which it
    is or why there is none. ``auto`` takes it only when its weights are already on this machine (an
    ensemble forecast never waits for a download); a reference the user named is loaded, downloaded if
    need be. Failures to load what the user named are ``CheckpointError``s. A checkpoint on this machine is
    loaded once per version and device and kept warm by ``warm`` (a ``ModelRegistry``'s, beside its Kronos
    models; default: the process's): every ensemble forecast of a process mixes the same one."""
    ref = ensemble_reference(choice)
    if ref is None:
        return None, "Chronos-2 left out (off)"
    named = choice not in (None, AUTO)
    if package_version() is None:
        if named:
            _pipeline_class()  # raises, naming the install command
        return None, f"Chronos-2 left out: the {PACKAGE} package is not installed"
    src = local_chronos2(ref)
    if src is None and not named:
        if not is_hub_id(ref):
            return None, f"Chronos-2 left out: {ref} (${ENV_CHRONOS2}) is not a folder on this machine"
        return None, (f"Chronos-2 left out: {ref} is not on this machine (download it once: an ensemble "
                      f"forecast with its Chronos-2 member set to {ref}, while online)")
    if src is None:
        pipeline, src = load_chronos2(ref, device=device, tqdm_class=tqdm_class)
    else:
        on = str(device or default_device())
        pipeline = (warm or process_weights().get)(f"chronos2:{src.path}@{src.revision}:{on}",
                                                   lambda: load_chronos2(str(src.path), device=on)[0])
    member = Chronos2Member(pipeline, paths=cheap_member_paths(paths), source=src)
    return member, f"Chronos-2 joins: {member.name} ({src.revision})"


def _log(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)  # NaN = missing to Chronos


def _with_amount(history: pd.DataFrame) -> pd.DataFrame:
    if "amount" in history:
        return history
    return history.assign(amount=history["volume"] * history[["open", "high", "low", "close"]].mean(axis=1))


class Chronos2Member(PathModel):
    """A Chronos-2 pipeline as a forecaster (see the module docstring for the inputs and paths).

    ``paths`` sample paths per forecast (None: the settings'); ``context_length`` bars of history at most (the model's own
    context length when None, never more); ``covariates`` the bar columns given as past covariates (None:
    what the checkpoint records, else ``COVARIATES``; ``()`` for the close alone). ``sample_batch`` /
    ``batch_size`` let the walk-forward forecast many cut-offs in one model call (each cut-off still draws
    its paths from its own seed)."""

    key = "chronos2"

    def __init__(self, pipeline, paths: int | None = None, context_length: int | None = None,
                 covariates: Sequence[str] | None = None, name: str | None = None, source: Source | None = None,
                 window: int = CANDLE_WINDOW, batch_size: int = 64):
        self.pipeline = pipeline
        self.source = source
        self.paths = None if paths is None else int(paths)
        model_context = int(pipeline.model_context_length)
        self.context_length = min(int(context_length or model_context), model_context)
        if covariates is None:
            covariates = getattr(pipeline.model.config, COVARIATES_KEY, None)
            covariates = COVARIATES if covariates is None else covariates
        unknown = set(covariates) - (set(BAR_COLUMNS) - {"close"})
        if unknown:
            raise ValueError(f"covariates must be bar columns other than the close, got {sorted(unknown)}")
        self.covariates = tuple(covariates)
        self.window = int(window)
        self.batch_size = int(batch_size)
        self.name = name or f"Chronos-2 ({Path(str(source.ref)).name if source is not None else 'in memory'})"

    @classmethod
    def load(cls, ref: str | os.PathLike = DEFAULT_REF, revision: str | None = None, device=None, *,
             cache_dir=None, tqdm_class=None, **settings) -> Chronos2Member:
        pipeline, src = load_chronos2(ref, revision, device, cache_dir=cache_dir, tqdm_class=tqdm_class)
        return cls(pipeline, source=src, **settings)

    @property
    def levels(self) -> np.ndarray:
        return np.asarray(self.pipeline.quantiles, dtype=np.float64)

    def lookback(self, horizon: int) -> int:
        return self.context_length

    def lookback_reason(self, horizon: int) -> str:
        return f"Chronos-2's context, {self.context_length} bars"

    def describe(self) -> dict:
        src = self.source
        return {"member": self.key, "name": self.name, "model": src.ref if src else None,
                "revision": src.revision if src else None, "package": PACKAGE, "package_version": package_version(),
                "context_length": self.context_length, "model_context_length": int(self.pipeline.model_context_length),
                "quantile_levels": [float(q) for q in self.levels], "target": "log(close)",
                "past_covariates": list(self.covariates), "paths": self.paths}

    def training_period(self):
        """The latest day its training data can reach: what the checkpoint folder records
        (``studio_data_seen_until`` in config.json), else a Hub model's public release; None if unknown."""
        src = self.source
        if src is None:
            return None
        day = getattr(self.pipeline.model.config, SEEN_UNTIL_KEY, None)
        if day:
            return period_until(day, f"{Path(str(src.ref)).name}/{CONFIG_FILE}")
        released = RELEASED.get(str(src.ref))
        return None if released is None else period_until(released, f"{src.ref}'s public release")

    def identity(self) -> dict:
        """The checkpoint (its revision: a Hub commit or the local weights' hash) and what it reads."""
        src = self.source
        return {"key": self.key, "model": Path(str(src.ref)).name if src else None,
                "revision": src.revision if src else None, "past_covariates": list(self.covariates)}

    # --- quantiles ---------------------------------------------------------------------------------
    def inputs(self, history: pd.DataFrame) -> dict:
        """The package input for one history (its last ``context_length`` bars): log close as target,
        log open/high/low and log1p volume as past covariates."""
        tail = history.iloc[-self.context_length:]
        out = {"target": _log(tail["close"].to_numpy())}
        if self.covariates:
            out["past_covariates"] = {c: (np.log1p(np.clip(tail[c].to_numpy(np.float64), 0, None)) if c in ("volume", "amount")
                                          else _log(tail[c].to_numpy())) for c in self.covariates}
        return out

    def quantiles_batch(self, histories: Sequence[pd.DataFrame], horizon: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """(levels [L], [H, L] close quantiles in price units for each history), one model call."""
        if horizon < 1:
            raise ValueError("horizon must be at least 1")
        levels = [float(q) for q in self.pipeline.quantiles]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="We recommend keeping prediction length")
            q, _ = self.pipeline.predict_quantiles([self.inputs(h) for h in histories], prediction_length=horizon,
                                                   quantile_levels=levels)
        return np.asarray(levels), [np.exp(x[0].numpy().astype(np.float64)) for x in q]

    def quantiles(self, history: pd.DataFrame, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """(levels [L], close quantiles [horizon, L] in price units) at all of the model's levels."""
        levels, (q,) = self.quantiles_batch([history], horizon)
        return levels, q

    # --- paths -------------------------------------------------------------------------------------
    def paths_from_quantiles(self, history: pd.DataFrame, levels: np.ndarray, close_quantiles: np.ndarray,
                             settings: ForecastSettings) -> np.ndarray:
        last_close = float(history["close"].iloc[-1])
        if not np.isfinite(last_close) or last_close <= 0:
            raise ValueError(f"the last close must be a positive number, got {last_close}")
        rng = np.random.default_rng(settings.seed)
        r = log_return_paths(levels, close_quantiles, last_close, self.draws(settings), rng)
        return candles_from_log_returns(_with_amount(history), r, rng, self.window)

    def draw(self, history: pd.DataFrame, future, settings: ForecastSettings) -> np.ndarray:
        levels, q = self.quantiles(history, settings.horizon)
        return self.paths_from_quantiles(history, levels, q, settings)

    def sample_batch(self, histories: Sequence[pd.DataFrame], futures, settings: ForecastSettings,
                     per_series_stream: bool = True) -> list[Forecast]:
        """Many histories in one model call; each draws from ``settings.seed`` (``per_series_stream``, as a
        forecast of it alone) or, as the walk-forward's cut-offs, the i-th from ``settings.seed + i``."""
        levels, qs = self.quantiles_batch(histories, settings.horizon)
        out = []
        for i, (h, f, q) in enumerate(zip(histories, futures, qs)):
            own = settings if per_series_stream else dataclasses.replace(settings, seed=settings.seed + i)
            out.append(self.forecast(h, f, own, self.paths_from_quantiles(h, levels, q, own)))
        return out
