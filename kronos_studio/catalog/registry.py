"""Models loaded once per process and kept warm: a small thread-safe registry keyed by model reference (one
spelling per model: ``resolve.normal_reference``) and precision, which the app, ``kronos serve`` and ``kronos
mcp`` all load through. Callers that name the same model share its weights; a model's first callers wait on one
load, not one each; past ``max_models``, the least recently used model is dropped."""
from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kronos.errors import Fix, InputError
from kronos.settings import DEFAULT_HORIZON, DEFAULT_PRECISION, ForecastSettings
from kronos.threads import SAMPLING_CONCURRENCY, ThreadUse, computing
from kronos_studio.fair import Abandoned, Cancelled, FairSlots, asker_gone, check_asker, stoppable
from kronos_studio.forecasters.base import Forecaster
from kronos_studio.forecasters.warm import Recent, WarmWeights, process_weights

from .champion import champion_forecaster
from .choice import ModelChoice, model_of
from .resolve import ModelRef, normal_reference, resolve
from .warm_up import warm_up_forecast


def load_pair(ref, **options):
    """``kronos.checkpoints.load_pair``, imported at the first load: a registry made at start-up (the service,
    the app's warm-up) does not import torch until it loads a model."""
    from kronos.checkpoints import load_pair as load

    return load(ref, **options)


class ModelRegistry:
    """Kronos pairs by the reference ``resolve`` loads them by (the bundled default: its folder).
    ``load(ref, **options)``: how a pair is loaded (default ``kronos.checkpoints.load_pair``, as ``kronos
    forecast`` loads it without options); it gets ``precision`` and ``tqdm_class`` only when a caller gives
    them."""

    def __init__(self, load: Callable[..., object] | None = None, decode: str | None = None,
                 concurrency: int = SAMPLING_CONCURRENCY, max_models: int | None = None,
                 weights: WarmWeights | None = None):
        """``decode``: how every pipeline runs its decode loop (``kronos.device.resolve_decode``); 'compiled'
        keeps compiled steps on each loaded model (``kronos serve --decode``). ``concurrency``: forecasts
        sampled at once (``sampling``), each on its share of the cores. ``max_models``: models kept loaded at
        most, of every kind (None: all), and as many champion adapters per decode mode. ``weights``: the store
        its models are kept in (default: its own of ``max_models``)."""
        if concurrency < 1:
            raise InputError(f"concurrency must be 1 or more, got {concurrency}", {"concurrency": concurrency},
                             Fix("set {setting} to 1 or more", "concurrency"))
        self.decode = decode
        self.concurrency = concurrency
        self.slots = FairSlots(concurrency)  # taken in turn by the workspaces waiting
        self.load = load or load_pair
        # every kind's weights (``catalog.kinds``), Kronos pairs by ``key``, the others by their kind and reference
        self.weights = weights if weights is not None else WarmWeights(max_models)
        self.pairs: Recent = self.weights.loaded
        self.lock = threading.Lock()  # guards the dicts, never held while loading or sampling
        self.sampling_locks: dict[str, FairSlots] = {}  # one slot per model
        # the model ``champion``'s Kronos forecasters by decode mode, then adapter (``Entry.served``; None: the base
        # model): it names one adapter's files for good, so a promote, a rollback or another ledger's adapter of the
        # same id is a new key, never a stale one
        self.champions: dict[str | None, Recent] = {}
        # LoRA adapters merged onto a warm base (``adapted``): by base, folder and the adapter's files' digest
        self.adapters: Recent = Recent(max_models)

    def decoding(self, decode: str | None) -> ModelRegistry:
        """This registry with another decode mode: the same loaded pairs and locks (a shallow copy), so a
        model loaded by one is warm for the other."""
        if decode == self.decode:
            return self
        view = copy.copy(self)
        view.decode = decode
        return view

    @staticmethod
    def key(ref, precision: str | None = None) -> str:
        """A loaded pair's name in ``loaded()``: the reference in its one spelling, '@precision' added unless
        the default."""
        ref = normal_reference(ref)
        return ref if precision in (None, DEFAULT_PRECISION) else f"{ref}@{precision}"

    def has(self, ref, precision: str | None = None) -> bool:
        return self.key(ref, precision) in self.weights

    def pair(self, ref, *, precision: str | None = None, tqdm_class=None):
        """The warm pair of ``ref`` in ``precision``, loaded on its first use (``tqdm_class``: how a
        download shows its progress)."""
        options = {k: v for k, v in (("precision", precision), ("tqdm_class", tqdm_class)) if v is not None}
        return self.weights.get(self.key(ref, precision), lambda: self.load(normal_reference(ref), **options))

    def warm(self, key: str, load: Callable[[], object]):
        """Any kind's weights kept warm beside the Kronos pairs (``forecasters.warm.Warm``): a neural kind's, the
        ensemble's Chronos-2."""
        return self.weights.get(key, load)

    def forecaster(self, ref: ModelChoice | ModelRef | str | None, bars, settings: ForecastSettings,
                   workspace: str | None = None):
        """The forecaster ``ref`` names (a ``ModelChoice``: ``kronos_studio.catalog.resolve`` with its ``ensemble``,
        ``meta``, ``chronos2``; a reference: with their defaults) on a warm pair, with ``workspace``'s fits of the
        ensemble to a series. Raises what ``resolve`` raises (``CheckpointError``, ``FileNotFoundError``,
        ``ValueError``)."""
        choice = ModelChoice.of(ref)
        return resolve(choice.model, bars, settings, load_pair=self.loader(choice.model), workspace=workspace,
                       decode=self.decode, **choice.options())

    def champion(self, bars, entry):
        """The model ``champion``'s forecaster for ``bars``' series, whose champion is ``entry`` (None: its base
        model), as the caller read it from its ledger (``champion.champion_entry``), on warm pairs."""
        from kronos_studio.forecasting import studio_pipeline

        with self.lock:
            served = self.champions.setdefault(self.decode, Recent(self.pairs.most))
        return champion_forecaster(bars, entry, self.loader(None), lambda pair: studio_pipeline(pair, self.decode),
                                   served)

    def adapted(self, ref: ModelRef | str | None, folder: str, digest: str):
        """The warm pair of ``ref`` with the LoRA adapter in ``folder`` (its files' ``digest``) merged into a copy of
        its predictor, merged once per process (``training.adapters.apply_adapter``: refused when the adapter was
        trained on another base)."""
        from kronos_studio.training.adapters import apply_adapter

        base = ref.kronos_ref if isinstance(ref, ModelRef) else ref
        precision = ref.precision if isinstance(ref, ModelRef) else None
        key = (self.key(base, precision), str(folder), digest)
        with self.lock:
            if key in self.adapters:
                return self.adapters.used(key)
        pair = apply_adapter(self.pair(base, precision=precision), folder)
        with self.lock:
            return self.adapters.setdefault(key, pair)

    def loader(self, ref: ModelRef | str | None) -> Loader:
        """``load_pair`` for ``resolve(ref)``: warm pairs in ``ref``'s precision (a ``ModelRef``'s own), and this
        registry's store for the other kinds' weights."""
        ref = model_of(ref)
        return Loader(self, ref.precision if isinstance(ref, ModelRef) else None)

    def sampling_turns(self, ref) -> FairSlots:
        """The one slot model ``ref`` samples in (one pair's modules never run from two threads at once), which
        the workspaces waiting for it take in turn (``kronos_studio.fair``)."""
        with self.lock:
            return self.sampling_locks.setdefault(normal_reference(ref), FairSlots(1))

    @contextlib.contextmanager
    def sampling(self, ref, owner=None) -> Iterator[ThreadUse]:
        """Held while ``ref`` samples for ``owner`` (a workspace): at most ``concurrency`` forecasts at once and
        one per model, both taken in turn by the owners waiting, each one computation of the machine's share of
        the cores (``kronos.threads.computing``: alone, all of them; with N at once, 1/N each), instead of
        several each on all the cores, fighting for them."""
        # waiting for its model, a forecast holds no slot; one whose asker left stops waiting
        try:
            with self.sampling_turns(ref).held(owner, abandon=asker_gone), \
                    self.slots.held(owner, abandon=asker_gone), computing() as threads:
                yield threads
        except Abandoned:
            raise Cancelled from None

    def in_turn(self, forecaster, ref, owner):
        """``forecaster`` (of model ``ref``) sampling run by run in ``owner``'s turns: a long walk-forward
        lets the other workspaces' forecasts in between its runs instead of holding the model throughout."""
        return InTurn(forecaster, functools.partial(self.sampling, ref, owner))

    def warm_up(self, ref: ModelRef | str | None = None, settings: ForecastSettings | None = None) -> None:
        """``warm_up_forecast`` by ``ref`` (None: the default model) at ``settings`` (default: the default
        settings, ``DEFAULT_HORIZON`` bars): loads the model, and with decode 'compiled' starts compiling
        that shape's decode steps before the first forecasts need them. Errors are the forecast's own: a
        process works without a warm-up."""
        settings = settings or ForecastSettings(horizon=DEFAULT_HORIZON)
        with self.sampling(ref):
            warm_up_forecast(ref, settings, load_pair=self.loader(ref), decode=self.decode)

    def loaded(self) -> list[str]:
        return self.weights.keys()


@dataclass(frozen=True)
class Loader:
    """A registry's ``load_pair`` in one precision (``resolve``'s): ``loader(ref)`` is the warm Kronos pair of
    ``ref``; ``warm(key, load)`` keeps any other kind's weights in the same store (``forecasters.warm.Warm``)."""

    registry: ModelRegistry
    precision: str | None = None

    def __call__(self, ref):
        return self.registry.pair(ref, precision=self.precision)

    def warm(self, key: str, load: Callable[[], object]):
        return self.registry.warm(key, load)


class InTurn(Forecaster):
    """A forecaster whose every sampling run (``sample``, ``sample_batch``) holds its model's slot in its
    owner's turn (``turn()``: ``ModelRegistry.sampling``'s context); everything else is the forecaster's own,
    each part of the ``Forecaster`` seam handed on by name."""

    def __init__(self, inner: Forecaster, turn: Callable[[], contextlib.AbstractContextManager]):
        self.inner, self.turn = inner, turn
        self.key, self.name, self.min_history = inner.key, inner.name, inner.min_history
        self.members, self.batch_size = inner.members, inner.batch_size

    def lookback(self, horizon: int) -> int:
        return self.inner.lookback(horizon)

    def lookback_reason(self, horizon: int) -> str:
        return self.inner.lookback_reason(horizon)

    def describe(self) -> dict:
        return self.inner.describe()

    def identity(self) -> dict:
        return self.inner.identity()

    def training_period(self):
        return self.inner.training_period()

    def device(self) -> str:
        return self.inner.device()

    def sample(self, history, future, settings, progress=None):
        with self.turn():  # each decode step first checks that the run's asker is still there
            return self.inner.sample(history, future, settings, stoppable(progress))

    def sample_batch(self, histories, futures, settings, per_series_stream: bool = True):
        with self.turn():
            check_asker()
            return self.inner.sample_batch(histories, futures, settings, per_series_stream=per_series_stream)


@functools.lru_cache(maxsize=1)
def shared_registry() -> ModelRegistry:
    """This process's registry: the app's, and a service's when handed in (``ServiceConfig.registry``), so
    that one loaded copy of each model serves them all; its store is the process's (``process_weights``), where a
    Chronos-2 built below the catalog without a registry (the covariates') is kept too."""
    return ModelRegistry(weights=process_weights())
