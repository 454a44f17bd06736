"""From a model reference to a forecaster: the only place that knows the kinds of model. ``catalog()``
lists what the app offers (``ModelRef``); ``resolve`` turns a reference (a ``ModelRef``, an official name,
a bundled model's name, a Hub id, a folder, ``ensemble``, ``champion`` (per series: its champion adapter, else its base), a statistical model's key (``STATISTICAL``), or None for the bundled default) into a
``Forecaster``."""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kronos.config import DEFAULT_BUNDLE_CONTEXT, OFFICIAL_MODELS, default_lookback, official_model, read_bundle
from kronos.errors import Fix, InputError, UserError
from kronos.settings import DEFAULT_PRECISION, ForecastSettings
from kronos_studio.bundled import CHRONOS2_NAME, default_model_path, listed_folders, model_reference
from kronos_studio.ensemble.meta import MetaLearner
from kronos_studio.forecasters.base import ENSEMBLE_LOOKBACK, Forecaster
from kronos_studio.forecasters.kronos import KronosForecaster
from kronos_studio.forecasters.warm import Warm

from .champion import CHAMPION
from .kinds import ENSEMBLE, NEURAL, STATISTICAL, Statistical, kind_of

__all__ = ["ENSEMBLE", "STATISTICAL", "ModelRef", "Statistical", "UnknownModel", "catalog", "offered", "resolve"]

@dataclass(frozen=True)
class ModelRef:
    """A model the studio offers, before it is loaded."""

    key: str  # stable id used in cache keys and widget values
    label: str
    ref: str  # what ``resolve`` takes: a folder, an official name, ``ensemble``
    kind: str  # "bundled", "folder", "official", "ensemble", "champion" or a neural kind's name (``kinds.NEURAL``)
    context: int = 512  # bars the model reads at most (the ensemble: bars of history its members see)
    precision: str = DEFAULT_PRECISION  # the Kronos predictor's compute precision (kronos.settings.PRECISIONS)

    def with_precision(self, precision: str) -> ModelRef:
        """The same model computed in ``precision``: another key, so its forecasts are stored apart."""
        if precision == self.precision:
            return self
        base = self.key.split("@")[0]
        return dataclasses.replace(self, precision=precision,
                                   key=base if precision == DEFAULT_PRECISION else f"{base}@{precision}")

    def ensemble_of(self) -> ModelRef:
        """This Kronos model as the ensemble's Kronos member, mixed with the statistical members (the
        ``champion``, one model per series, is not mixed: check ``per_series`` before asking)."""
        if self.per_series:
            raise ValueError(f"'{CHAMPION}' is one Kronos model per series, not one to mix: leave out the ensemble")
        if self.mixes:
            return self
        return ModelRef(f"{ENSEMBLE}:{self.key}", f"Ensemble over {self.label}", self.ref, "ensemble",
                        ENSEMBLE_LOOKBACK, self.precision)

    @property
    def public(self) -> dict:
        """This entry as a caller on another machine sees it: a bundled model or a listed folder named by its
        name (``bundled.model_reference`` takes it), never by where it lies."""
        if not self.local:
            return dataclasses.asdict(self)
        name = Path(self.ref).name
        return {**dataclasses.asdict(self), "key": f"{self.kind}:{name}", "ref": name}

    @property
    def downloads(self) -> bool:
        """Its weights come from the Hugging Face Hub (cached after the first time)."""
        return self.kind == "official"

    @property
    def bundled(self) -> bool:
        """Shipped inside the package: offline, and the default."""
        return self.kind == "bundled"

    @property
    def local(self) -> bool:
        """A Kronos model on this machine (bundled or a folder)."""
        return self.kind in ("bundled", "folder")

    @property
    def mixes(self) -> bool:
        """A mixture of members (the ensemble): its members' paths are kept and ranked beside it."""
        return self.kind == "ensemble"

    @property
    def kronos_ref(self) -> str:
        """The Kronos model it is or mixes: the bundled one an ensemble reads (the same folder)."""
        return self.ref

    @property
    def per_series(self) -> bool:
        """Chosen per series (``champion``): its champion adapter, else its base model; which one served is in
        each forecast's provenance."""
        return self.kind == CHAMPION

    @property
    def takes_adapter(self) -> bool:
        """A LoRA event adapter can be put on it (a Kronos model, not a mixture, not ``champion``, whose
        adapters are the registry's, nor a model of another kind)."""
        return kind_of(self).takes_adapter

    @property
    def screens(self) -> bool:
        """``kronos batch`` (the Screener) can run it: one Kronos model over many series."""
        return not self.mixes

    def default_lookback(self, horizon: int) -> int:
        """Bars of history it reads by default: context - horizon for Kronos (the window never slides), all
        of its history for the ensemble (GARCH fits on up to 500 returns)."""
        return self.context if self.mixes else default_lookback(self.context, horizon)

    def slides(self, lookback: int, horizon: int) -> int:
        """Sampling steps that recompute a sliding window: those past the model's context (the
        ensemble's Kronos member reads at most context - horizon, so never)."""
        return 0 if self.mixes else max(0, lookback + horizon - 1 - self.context)


def official_cached(repo_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        from kronos.config import WEIGHTS_FILE

        return isinstance(try_to_load_from_cache(repo_id, WEIGHTS_FILE, revision=revision), str)
    except Exception:
        return False


def folder_context(path: Path) -> int:
    try:
        return int(read_bundle(path).get("context", DEFAULT_BUNDLE_CONTEXT))
    except (TypeError, ValueError):
        return DEFAULT_BUNDLE_CONTEXT


def catalog(models_dirs=()) -> list[ModelRef]:
    """Local folders (``bundled.listed_folders``: $KRONOS_STUDIO_MODELS and ``models_dirs``), the bundled models,
    ``champion`` (per series: its champion adapter, else the bundled default), the official ones (any of
    them but ``champion`` mixed into the ensemble: ``ModelRef.ensemble_of``), then the neural kinds registered
    besides Kronos (``kinds.register``)."""
    from kronos_studio.bundled import bundled_models  # read when called: a test patches it in kronos_studio.bundled

    out: list[ModelRef] = []
    for name, path in listed_folders(models_dirs).items():
        out.append(ModelRef(f"folder:{path}", f"{name} (local folder)", str(path), "folder", folder_context(path)))
    bundled = bundled_models()
    for name, path in bundled.items():
        out.append(ModelRef(f"bundled:{name}", f"{name} (bundled, offline)", str(path), "bundled",
                            folder_context(path)))
    if bundled:  # its base when a series has no champion: the bundled default
        out.append(ModelRef(CHAMPION, f"{CHAMPION} (each series' promoted adapter, else {next(iter(bundled))})",
                            CHAMPION, CHAMPION, folder_context(next(iter(bundled.values())))))
    for name, m in OFFICIAL_MODELS.items():
        where = "cached" if official_cached(m.repo_id, m.revision) else "download"
        size = f"{m.params / 1e6:.0f}M params" if m.params else ""
        out.append(ModelRef(f"official:{name}", f"Kronos-{name} (Hugging Face, {size}, {where})", name, "official",
                            m.context))
    out += [ModelRef(f"{kind.name}:{kind.name}", kind.label, kind.name, kind.name, kind.context) for kind in NEURAL.values()]
    return out


class UnknownModel(UserError, FileNotFoundError):
    """A reference that names no entry of the catalog, where only the catalog may be named (the service)."""


def normal_reference(ref) -> str:
    """One spelling per model, for the caches that keep loaded models: a bundled model's name is its folder,
    an official repo id its name, an existing folder its resolved path (None: the bundled default's); anything
    else as it is."""
    ref = str(default_model_path() if ref is None else model_reference(str(ref)))
    official = official_model(ref)
    if official is not None:
        return official.name
    path = Path(ref).expanduser()
    return str(path.resolve()) if path.is_dir() else ref


def offered(ref: str | None, models_dirs=()) -> str | None:
    """``ref`` as the catalog names it, when it names an entry of it: a bundled, official (name or repo id) or
    local model (by its folder in any spelling, or the folder's name), ``ensemble``, ``champion``, a
    statistical model (None: the bundled default). Anything else raises ``UnknownModel``, whose words are
    the same whether or not such a path exists on this machine."""
    from kronos_studio.bundled import bundled_models  # read when called: a test patches it in kronos_studio.bundled

    if ref is None or ref in (ENSEMBLE, CHAMPION, CHRONOS2_NAME) or ref in STATISTICAL or ref in NEURAL:
        return ref
    official = official_model(ref)
    if official is not None:
        return official.name
    local = {**listed_folders(models_dirs), **bundled_models()}  # a bundled name wins
    if ref in local:
        return str(local[ref].resolve())
    try:
        asked = Path(ref).expanduser().resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop: no folder of the catalog either
        asked = None
    if asked is not None and any(asked == path.resolve() for path in local.values()):
        return str(asked)
    listed = dict.fromkeys([*bundled_models(), *OFFICIAL_MODELS, *listed_folders(models_dirs), ENSEMBLE, CHAMPION,
                            *STATISTICAL, *NEURAL])
    raise UnknownModel(f"'{ref}' is not a model of the catalog ({', '.join(listed)})", {"model": ref},
                       Fix("name one of them in {setting}", "model"))


def resolve(ref: ModelRef | str | None, bars=None, settings: ForecastSettings | None = None, *,
            ensemble: bool = False, load_pair: Callable[[str], object] | None = None,
            meta: str | os.PathLike | None = None, workspace: str | None = None, chronos2: str | None = "auto",
            decode: str | None = None, **load_options) -> Forecaster:
    """The forecaster ``ref`` names; ``ensemble``: that Kronos model as the ensemble's Kronos member
    (``ref`` 'ensemble': the bundled default's). ``bars`` (a ``data_sources.Bars``) and ``settings`` are
    needed by the ensemble (its asset class, interval and member settings); ``workspace``: whose fits of
    the ensemble to a series it may use (None: the default workspace's). ``load_pair(ref)`` loads a Kronos model
    (default: ``kronos.checkpoints.load_pair(ref, **load_options)``, e.g. ``device``, ``precision``,
    ``tokenizer``, ``revision``, ``context``); ``meta``: a meta-learner folder (without it: the series' fit, the
    workspace's champion meta-learner, else the bundled one);
    ``chronos2``: the ensemble's Chronos-2 member, ``auto`` (when its weights are on this machine), ``off`` or a
    folder / Hub id (``kronos_studio.ensemble.chronos2.ensemble_member``); ``decode``: how the Kronos pipeline
    runs its decode loop (``kronos.accel.resolve_decode``; default eager). A neural kind's and the ensemble's
    Chronos-2 weights are kept warm where ``load_pair`` keeps its own (a registry's ``Loader``: its ``warm``), else in
    the process's store (``forecasters.warm.process_weights``).
    Raises ``CheckpointError``/``FileNotFoundError``/``ValueError`` with messages meant for the user."""
    from kronos_studio.forecasting import studio_pipeline

    if isinstance(ref, ModelRef):
        name = ENSEMBLE if ref.mixes else ref.kronos_ref
    else:
        name = model_reference(ref)  # a bundled model's name: its folder
    if name in STATISTICAL:
        if ensemble:
            raise ValueError(f"{name} is a statistical model, not a Kronos model to mix with them: leave out the "
                             "ensemble, or name a Kronos model")
        return STATISTICAL[name].make()
    warm: Warm | None = getattr(load_pair, "warm", None)
    if name in NEURAL:
        if ensemble:
            raise ValueError(f"{name} is not a Kronos model to mix with the ensemble's members: leave out the "
                             "ensemble, or name a Kronos model")
        return NEURAL[name].make(warm)
    if name == CHAMPION:  # per series: its champion adapter in the registry, or its base model
        from .champion import champion_entry, champion_forecaster

        if ensemble:
            raise ValueError(f"'{CHAMPION}' is one Kronos model per series, not one to mix: leave out the ensemble")
        return champion_forecaster(bars, champion_entry(bars, workspace), load_pair or _loader(load_options),
                                   lambda pair: studio_pipeline(pair, decode))
    if name == CHRONOS2_NAME:
        from kronos_studio.ensemble.chronos2 import ENV_CHRONOS2

        raise InputError(f"{name} is the bundled Chronos-2, a member of the ensemble rather than a model of its own",
                         {"model": name}, Fix(f"mix it into the ensemble (model {ENSEMBLE} with {{setting}}, or "
                                              f"{ENV_CHRONOS2}={name})", "chronos2", name))
    load_pair = load_pair or _loader(load_options)
    kronos_ref = ref.kronos_ref if isinstance(ref, ModelRef) else (
        str(default_model_path()) if name in (None, ENSEMBLE) else name)
    pipeline = studio_pipeline(load_pair(kronos_ref), decode)
    if name != ENSEMBLE and not ensemble:
        return KronosForecaster(pipeline)

    from kronos_studio.ensemble.bundled import bars_ensemble, load_bundled_meta
    from kronos_studio.ensemble.chronos2 import ensemble_member
    from kronos_studio.ensemble.series import load_series_meta

    if bars is None or settings is None:
        raise ValueError("the ensemble needs the bars (their interval and asset class) and the settings")
    mixture = partial(bars_ensemble, pipeline, bars, settings=settings,
                      chronos2=ensemble_member(chronos2, settings.paths, pipeline.pair.device, warm=warm))
    if meta:  # named by the user: used as it is, or refused for other members
        return mixture(MetaLearner.load(meta), on_mismatch="refuse")
    mixed = mixture(load_bundled_meta())
    fitted = load_series_meta(bars, mixed.members, settings.horizon, workspace)  # `kronos train ensemble FILE`
    if fitted is not None:  # fitted to this very series: more specific than a ledger-wide champion
        return mixture(fitted, on_mismatch="refuse")
    return _champion_meta_ensemble(mixed, mixture, pipeline, workspace)


def _champion_meta_ensemble(mixed, mixture, pipeline, workspace: str | None):
    """The ensemble weighed by ``workspace``'s champion meta-learner (``kronos train ensemble --from-ledger``
    promotes them), else ``mixed``; the provenance says which served, or why the champion did not."""
    from kronos_studio.ensemble.gated import champion_entry, serving_meta

    entry = champion_entry(workspace)
    if entry is None:
        return mixed
    meta, note = serving_meta(entry, list(mixed.members), pipeline.pair.provenance().get("predictor_revision"))
    served = mixed if meta is None else mixture(meta, on_mismatch="refuse")
    served.notes["meta_learner_champion"] = note
    return served


def _loader(load_options: dict) -> Callable[[str], object]:
    from kronos.checkpoints import load_pair

    return lambda model: load_pair(model, **load_options)
