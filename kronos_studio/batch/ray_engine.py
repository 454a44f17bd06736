"""The Ray engine: the same chunks as the local engine, forecast by a pool of actors that each load the
model once. ``address`` None starts a local Ray instance (and stops it afterwards); an address
("ray://head:10001", "auto") joins an existing cluster, whose nodes need kronos-studio installed and,
for a model given as a folder, that folder at the same path. ``actor_pool`` starts the actors of any class
(``kronos retrain`` over a watchlist runs its series on it too)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kronos.errors import UserError

from .forecaster import BatchSettings, ChunkForecaster

CPUS_PER_WORKER = 1  # torch threads per actor: on CPU, more actors beat more threads per actor for small batches


class RayEngineError(UserError, RuntimeError):
    """Ray cannot run the batch (not installed, no cluster at the address, workers disagree on the model)."""


@contextmanager
def ray_workers(model: str | None, settings: BatchSettings, *, address: str | None = None,
                workers: int | None = None, device=None, expected_model: dict | None = None
                ) -> Iterator[Callable[..., Iterator[list]]]:
    """A pool of ``workers`` actors (default: one per CPU Ray has), each with the model loaded; yields
    ``map_chunks(chunks, method="forecast")``, which hands every chunk to that ``ChunkForecaster`` method of
    an actor (``forecast_run`` for a ranking's cut-off dates) and gives the results in chunk order."""
    with actor_pool(ChunkForecaster, (model, settings, device, CPUS_PER_WORKER), address=address,
                    workers=workers) as (ray, actors):
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


@contextmanager
def actor_pool(actor_class: type, args: tuple, *, address: str | None = None, workers: int | None = None):
    """``workers`` Ray actors of ``actor_class(*args)`` (default: one per CPU Ray has) on the cluster at
    ``address`` (None: a local instance, stopped afterwards); yields ``(ray, actors)``."""
    try:
        import ray
    except ImportError:
        raise RayEngineError("the Ray engine needs Ray: pip install 'ray>=2.40'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address is None:
                ray.init(num_cpus=workers * CPUS_PER_WORKER if workers else None, include_dashboard=False,
                         logging_level="ERROR", log_to_driver=False)
            else:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RayEngineError(f"cannot start or reach Ray at {address or 'a local instance'}: {e}") from None
    try:
        count = workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // CPUS_PER_WORKER)
        Worker = ray.remote(num_cpus=CPUS_PER_WORKER)(actor_class)
        yield ray, [Worker.remote(*args) for _ in range(count)]
    finally:
        if started_here:
            ray.shutdown()


def _model_of(provenance: dict) -> tuple:
    return tuple(provenance.get(k) for k in ("model", "predictor_revision", "tokenizer_revision"))
