"""The Ray engine: the same chunks as the local engine, forecast by a pool of actors that each load the
model once. ``address`` None starts a local Ray instance (and stops it afterwards); an address
("ray://head:10001", "auto") joins an existing cluster, whose nodes need kronos-studio installed and,
for a model given as a folder, that folder at the same path. ``actor_pool`` starts the actors of any class
(``kronos retrain`` over a watchlist runs its series on it too)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kronos.errors import UserError
from kronos.threads import thread_budget

from .forecaster import BatchSettings, ChunkForecaster


class RayEngineError(UserError, RuntimeError):
    """Ray cannot run the batch (not installed, no cluster at the address, workers disagree on the model)."""


@contextmanager
def ray_workers(model: str | None, settings: BatchSettings, *, address: str | None = None,
                workers: int | None = None, device=None, expected_model: dict | None = None
                ) -> Iterator[Callable[..., Iterator[list]]]:
    """A pool of ``workers`` actors (default: one per CPU Ray has; see ``actor_pool``), each with the model loaded; yields
    ``map_chunks(chunks, method="forecast")``, which hands every chunk to that ``ChunkForecaster`` method of
    an actor (``forecast_run`` for a ranking's cut-off dates, ``forecast_kept`` for a watch's forecasts) and gives
    the results in chunk order."""
    with actor_pool(ChunkForecaster, (model, settings, device), address=address, workers=workers) as (ray, actors):
        identities = ray.get([a.identity.remote() for a in actors])
        if expected_model is not None:
            wrong = [i for i in identities if _model_of(i) != _model_of(expected_model)]
            if wrong:
                raise RayEngineError(f"Ray workers loaded {_model_of(wrong[0])} but the driver has "
                                     f"{_model_of(expected_model)}: install the same kronos-studio and model on every node")
        from ray.util import ActorPool

        pool = ActorPool(actors)
        yield lambda chunks, method="forecast": pool.map(lambda actor, chunk: getattr(actor, method).remote(chunk),
                                                         chunks)


def actor_cpus(cores: int, workers: int | None) -> int:
    """The CPUs each actor asks Ray for, and so its torch threads (``kronos.threads``: an actor's budget is
    its ``num_cpus``): ``cores`` split among ``workers`` (at least 1 each); 1 when the count is Ray's to
    choose (one actor per CPU: on CPU, more actors beat more threads per actor for small batches)."""
    return max(1, cores // workers) if workers else 1


@contextmanager
def actor_pool(actor_class: type, args: tuple, *, address: str | None = None, workers: int | None = None):
    """``workers`` Ray actors of ``actor_class(*args)`` (default: one per CPU Ray has) on the cluster at
    ``address`` (None: a local instance with this process's thread budget as its CPUs, stopped afterwards);
    each asks for ``actor_cpus`` of the CPUs, so that they share them without oversubscribing; yields
    ``(ray, actors)``."""
    try:
        import ray
    except ImportError:
        raise RayEngineError("the Ray engine needs Ray: pip install 'ray>=2.40'") from None

    started_here = not ray.is_initialized()
    if started_here:
        cores = thread_budget().threads()  # a computation's threads alone: the cores, or the threads setting
        try:
            if address is None:
                ray.init(num_cpus=max(cores, workers or 0), include_dashboard=False, logging_level="ERROR",
                         log_to_driver=False)
            else:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RayEngineError(f"cannot start or reach Ray at {address or 'a local instance'}: {e}") from None
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        per_actor = min(actor_cpus(cpus, workers), _largest_node_cpus(ray, cpus))
        Worker = ray.remote(num_cpus=per_actor)(actor_class)
        yield ray, [Worker.remote(*args) for _ in range(workers or max(1, cpus // per_actor))]
    finally:
        if started_here:
            ray.shutdown()


def _largest_node_cpus(ray, default: int) -> int:
    """The most CPUs one live node has: no actor can ask for more."""
    try:
        counts = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
    except Exception:  # noqa: BLE001 - a client connection that does not list nodes
        return default
    return max(counts, default=default) or default


def _model_of(provenance: dict) -> tuple:
    return tuple(provenance.get(k) for k in ("model", "predictor_revision", "tokenizer_revision"))
