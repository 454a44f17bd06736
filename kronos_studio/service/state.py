"""What the service's endpoints share, made once per application: its settings (``ServiceConfig``) and
the ``Service`` (the ledger, the warm models, the cache of identical requests, the batch jobs)."""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

from kronos.threads import SAMPLING_CONCURRENCY
from kronos_studio.desk import Desk, Limits, ModelRegistry, ResultCache
from kronos_studio.desk.cache import CACHE_ENTRIES
from kronos_studio.desk.ledger import open_ledger

from .cancel import Askers
from .compute import catalog_model
from .errors import one_line
from .jobs import JobRunner


@dataclass
class ServiceConfig:
    ledger_url: str | None = None  # None: ledger_url() ($KRONOS_STUDIO_DB, else the SQLite file)
    open_access: bool = False  # no keys: every request acts in the default workspace (loopback only)
    limits: Limits = field(default_factory=Limits)
    jobs_dir: str | None = None  # None: a temporary folder, removed at shutdown
    # None: a new one (tests hand in one that loads random models; an app in the same process may hand in
    # kronos_studio.catalog.registry.shared_registry(), to share its loaded models)
    registry: ModelRegistry | None = None
    decode: str | None = None  # how a new registry's pipelines decode ('compiled': warmed up at start)
    concurrency: int = SAMPLING_CONCURRENCY  # forecasts a new registry samples at once, each on its share of the cores
    cache_entries: int = CACHE_ENTRIES
    models_dirs: tuple[str, ...] = ()  # model folders, or folders of them, the catalog offers beside the bundled


class Service:
    """What the endpoints share: the ledger, the desk (the warm models, the cache of identical requests), the jobs."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.limits = config.limits
        self.ledger = open_ledger(config.ledger_url)
        self.registry = config.registry or ModelRegistry(decode=config.decode, concurrency=config.concurrency,
                                                         max_models=config.limits.models)
        self.desk = Desk(self.registry, cache=ResultCache(config.cache_entries), limits=config.limits,
                         models_dirs=config.models_dirs)
        self.jobs = JobRunner(config.limits, config.jobs_dir)
        self.askers = Askers()  # the requests in flight, each stopped when its client leaves or the server stops
        self.warm_up = None
        if self.registry.decode == "compiled":  # compile the usual shape now, not at a user's request
            self.warm_up = threading.Thread(target=self._warm_up, name="kronos-warm-up", daemon=True)
            self.warm_up.start()

    def model(self, ref: str | None) -> str | None:
        """A request's model reference as the catalog names it (``compute.catalog_model``): 404 for anything else."""
        return catalog_model(self.desk, ref)

    def _warm_up(self) -> None:
        try:
            self.registry.warm_up()
        except Exception as e:  # the service works without it: say why, in one line
            print(f"kronos serve: the warm-up forecast failed ({one_line(e)}); requests compile on first use",
                  file=sys.stderr)

    def stop(self) -> None:
        """The server begins to shut down: every request's and running job's work stops at its next step."""
        self.askers.stop_all()
        self.jobs.stop_running()

    def close(self) -> None:
        self.stop()
        self.jobs.shutdown()
        self.ledger.close()
