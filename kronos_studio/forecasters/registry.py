"""Models loaded once per process and kept warm: a small thread-safe registry keyed by model reference (and
precision), which the app, ``kronos serve`` and ``kronos mcp`` all load through. Callers that name the same
model share its weights; a model's first callers wait on one load, not one each."""
from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Callable, Iterator

from kronos.errors import Fix, InputError
from kronos.settings import DEFAULT_HORIZON, DEFAULT_PRECISION, ForecastSettings
from kronos.threads import SAMPLING_CONCURRENCY, ThreadUse, computing

from .resolve import ModelRef, resolve
from .warm_up import warm_up_forecast


class ModelRegistry:
    """Kronos pairs by the reference ``resolve`` loads them by (the bundled default: its folder).
    ``load(ref, **options)``: how a pair is loaded (default ``kronos.checkpoints.load_pair``, as ``kronos
    forecast`` loads it without options); it gets ``precision`` and ``tqdm_class`` only when a caller gives
    them."""

    def __init__(self, load: Callable[..., object] | None = None, decode: str | None = None,
                 concurrency: int = SAMPLING_CONCURRENCY):
        """``decode``: how every pipeline runs its decode loop (``kronos.device.resolve_decode``); 'compiled'
        keeps compiled steps on each loaded model (``kronos serve --decode``). ``concurrency``: forecasts
        sampled at once (``sampling``), each on its share of the cores."""
        if concurrency < 1:
            raise InputError(f"concurrency must be 1 or more, got {concurrency}", {"concurrency": concurrency},
                             Fix("set {setting} to 1 or more", "concurrency"))
        self.decode = decode
        self.concurrency = concurrency
        self.slots = threading.BoundedSemaphore(concurrency)
        if load is None:
            from kronos.checkpoints import load_pair as load
        self.load = load
        self.pairs: dict[str, object] = {}
        self.lock = threading.Lock()  # guards the dicts, never held while loading or sampling
        self.loading: dict[str, threading.Lock] = {}
        self.sampling_locks: dict[str, threading.Lock] = {}
        # the model ``champion``'s Kronos forecasters by decode mode, then adapter id (None: the base model):
        # an id names one adapter's files for good, so a promote or rollback is a new key, never a stale one
        self.champions: dict[str | None, dict] = {}

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
        """A loaded pair's name in ``loaded()``: the reference, '@precision' added unless the default."""
        return str(ref) if precision in (None, DEFAULT_PRECISION) else f"{ref}@{precision}"

    def has(self, ref, precision: str | None = None) -> bool:
        with self.lock:
            return self.key(ref, precision) in self.pairs

    def pair(self, ref, *, precision: str | None = None, tqdm_class=None):
        """The warm pair of ``ref`` in ``precision``, loaded on its first use (``tqdm_class``: how a
        download shows its progress)."""
        key = self.key(ref, precision)
        with self.lock:
            if key in self.pairs:
                return self.pairs[key]
            one_load = self.loading.setdefault(key, threading.Lock())
        with one_load:  # concurrent first callers: one loads, the others then find it loaded
            with self.lock:
                if key in self.pairs:
                    return self.pairs[key]
            options = {k: v for k, v in (("precision", precision), ("tqdm_class", tqdm_class)) if v is not None}
            pair = self.load(str(ref), **options)
            with self.lock:
                self.pairs[key] = pair
            return pair

    def forecaster(self, ref: ModelRef | str | None, bars, settings: ForecastSettings, workspace: str | None = None):
        """The forecaster ``ref`` names (``kronos_studio.forecasters.resolve``) on a warm pair, with
        ``workspace``'s fits of the ensemble to a series. Raises what ``resolve`` raises
        (``CheckpointError``, ``FileNotFoundError``, ``ValueError``)."""
        return resolve(ref, bars, settings, load_pair=self.loader(ref), workspace=workspace, decode=self.decode)

    def champion(self, bars, entry):
        """The model ``champion``'s forecaster for ``bars``' series, whose champion is ``entry`` (None: its base
        model), as the caller read it from its ledger (``champion.champion_entry``), on warm pairs."""
        from kronos_studio.forecasting import studio_pipeline

        from .champion import champion_forecaster

        with self.lock:
            served = self.champions.setdefault(self.decode, {})
        return champion_forecaster(bars, entry, self.loader(None), lambda pair: studio_pipeline(pair, self.decode),
                                   served)

    def loader(self, ref: ModelRef | str | None) -> Callable[[str], object]:
        """``load_pair`` for ``resolve(ref)``: warm pairs in ``ref``'s precision (a ``ModelRef``'s own)."""
        precision = ref.precision if isinstance(ref, ModelRef) else None
        return functools.partial(self.pair, precision=precision)

    @contextlib.contextmanager
    def sampling(self, ref) -> Iterator[ThreadUse]:
        """Held while ``ref`` samples: at most ``concurrency`` forecasts at once and one per model (one pair's
        modules never run from two threads at once), each one computation of the machine's share of the
        cores (``kronos.threads.computing``: alone, all of them; with N at once, 1/N each), instead of
        several each on all the cores, fighting for them."""
        with self.lock:
            model = self.sampling_locks.setdefault(str(ref), threading.Lock())
        with model, self.slots, computing() as threads:  # waiting for its model, a forecast holds no slot
            yield threads

    def warm_up(self, ref: ModelRef | str | None = None, settings: ForecastSettings | None = None) -> None:
        """``warm_up_forecast`` by ``ref`` (None: the default model) at ``settings`` (default: the default
        settings, ``DEFAULT_HORIZON`` bars): loads the model, and with decode 'compiled' starts compiling
        that shape's decode steps before the first forecasts need them. Errors are the forecast's own: a
        process works without a warm-up."""
        settings = settings or ForecastSettings(horizon=DEFAULT_HORIZON)
        with self.sampling(ref):
            warm_up_forecast(ref, settings, load_pair=self.loader(ref), decode=self.decode)

    def loaded(self) -> list[str]:
        with self.lock:
            return list(self.pairs)


@functools.lru_cache(maxsize=1)
def shared_registry() -> ModelRegistry:
    """This process's registry: the app's, and a service's when handed in (``ServiceConfig.registry``), so
    that one loaded copy of each model serves them all."""
    return ModelRegistry()
