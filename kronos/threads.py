"""The one place that decides how many CPU threads a computation uses (the device and dtype are chosen
beside it, in ``kronos.device``). Torch is imported only to apply a decision, so a command can decide
before torch loads.

Two limits and a share:

- **the cores this process may use**: the machine's count, lowered by the CPU affinity
  (``taskset``, a cpuset), hyper-threads (SMT siblings count as one core, as torch's own default counts
  them), a cgroup CPU quota (a container's ``--cpus``: v2 ``cpu.max``, v1
  ``cpu.cfs_quota_us``) and, inside a Ray actor, its ``num_cpus`` (``usable_cores``);
- **a setting**: ``configure(n)`` (the CLI's ``--threads``), else ``KRONOS_STUDIO_THREADS``, else
  ``OMP_NUM_THREADS``: that many threads, never more than the cores (``thread_budget``);
- **the machine's share**, without a setting: every computation of this user's Kronos processes on the
  machine holds a lease file while it runs (``ThreadShare``), and each takes its fair part of the cores
  (two batches side by side: half each; alone: all of them). A process that computes with all the
  cores beside another that does the same makes both spin: OpenMP threads busy-wait for each other, so
  two runs did together less than half the work of one.

``computing()`` is a computation: it holds a lease and sets the calling thread's torch threads; the
studio wraps every forecast in one (``kronos_studio.forecasters.make``)."""
from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kronos.lazy import torch

from .errors import Fix, InputError

ENV_THREADS = "KRONOS_STUDIO_THREADS"  # threads per computation, fixed (no share)
ENV_SHARE = "KRONOS_STUDIO_THREAD_SHARE"  # the share's folder ("off": no share; default: one per user in the temp dir)
OMP_THREADS = "OMP_NUM_THREADS"  # what OpenMP itself reads (Ray sets it in its workers)
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
SYSFS_CPU = Path("/sys/devices/system/cpu")
LEASE = ".lease"
SAMPLING_CONCURRENCY = 1  # forecasts the service (and the MCP server) samples at once: one, on all its cores
STALE_NEW_S = 60  # a lease still being made after this long belongs to a process that died making it


def affinity_cpus() -> frozenset[int] | None:
    """The CPUs this process may run on (``taskset``, a cpuset); None where the system does not say."""
    try:
        return frozenset(os.sched_getaffinity(0)) or None
    except (AttributeError, OSError):
        return None


def physical_cores(cpus: frozenset[int], sysfs: Path | None = None) -> int | None:
    """How many physical cores ``cpus`` lie on: SMT siblings (hyper-threads) of one core count once, as
    torch counts them for its own default. None where the topology is not readable."""
    sysfs = sysfs or SYSFS_CPU
    cores = set()
    for cpu in cpus:
        topology = sysfs / f"cpu{cpu}" / "topology"
        text = None
        for name in ("core_cpus_list", "thread_siblings_list"):
            try:
                text = (topology / name).read_text()
                break
            except OSError:
                continue
        siblings = _cpu_list(text) if text else None
        if not siblings:
            return None
        cores.add(siblings)
    return len(cores) or None


def _cpu_list(text: str) -> frozenset[int] | None:
    """A kernel CPU list ("0-3,8,10-11") as a set."""
    cpus = set()
    try:
        for part in text.strip().split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
    except ValueError:
        return None
    return frozenset(cpus)


def cgroup_cores(root: Path | None = None, proc_cgroup: Path | None = None) -> int | None:
    """The CPU quota of this process's cgroup and its ancestors, in whole cores (rounded down, at least 1):
    cgroup v2 ``cpu.max`` ("200000 100000": 2 cores; "max": none), v1 ``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us`` (-1: none). None: no quota, or no cgroups. ``root`` and ``proc_cgroup``: where
    the cgroup tree and this process's cgroup file are (default ``CGROUP_ROOT``, ``PROC_CGROUP``)."""
    root, proc_cgroup = root or CGROUP_ROOT, proc_cgroup or PROC_CGROUP
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one hierarchy at the root
            quotas += [q for d in _ancestors(root, path) if (q := _v2_quota(d / "cpu.max")) is not None]
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's own mount
            mounts = [root / controllers, root / "cpu", root / "cpu,cpuacct"]
            mount = next((m for m in mounts if m.is_dir()), None)
            if mount is not None:
                quotas += [q for d in _ancestors(mount, path) if (q := _v1_quota(d)) is not None]
    return max(1, math.floor(min(quotas))) if quotas else None


def _ancestors(mount: Path, path: str) -> list[Path]:
    """``mount/path`` and each folder above it up to ``mount`` (a quota anywhere above applies too); inside a
    container the process's path may not exist under its own mount, whose root is then its cgroup."""
    parts = [p for p in path.strip("/").split("/") if p and p != ".."]
    return [mount.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]


def _v2_quota(file: Path) -> float | None:
    try:
        quota, period = file.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def ray_cores() -> int | None:
    """Inside a Ray actor or task, the CPUs Ray gave it (``num_cpus``, at least 1); None elsewhere (Ray not
    imported or not started, or the driver). Ray is never imported here."""
    ray = sys.modules.get("ray")
    if ray is None:
        return None
    try:
        if not ray.is_initialized():
            return None
        context = ray.get_runtime_context()
        if context.get_actor_id() is None and context.get_task_id() is None:
            return None
        cpus = context.get_assigned_resources().get("CPU")
    except Exception:  # noqa: BLE001 - a Ray without this API, or a driver it will not answer for
        return None
    return max(1, int(cpus)) if cpus else None


@dataclass(frozen=True)
class Cores:
    count: int
    limited_by: str  # 'cpu count', 'affinity', 'physical cores', 'cgroup quota' or 'Ray num_cpus'


def usable_cores() -> Cores:
    """The cores this process may use: the machine's CPUs, lowered by each limit that applies (the lowest
    wins): the affinity, SMT siblings counted once, a cgroup quota, a Ray actor's CPUs."""
    count = os.cpu_count() or 1
    cpus = affinity_cpus() or frozenset(range(count))
    cores = Cores(count, "cpu count")
    for name, n in (("affinity", len(cpus)), ("physical cores", physical_cores(cpus)), ("cgroup quota", cgroup_cores()),
                    ("Ray num_cpus", ray_cores())):
        if n is not None and n < cores.count:
            cores = Cores(n, name)
    return cores


_configured: int | None = None


def configure(threads: int | None) -> int | None:
    """This process's thread setting (the command line's ``--threads``; None: none), above
    ``KRONOS_STUDIO_THREADS``; returns the one it replaces."""
    global _configured
    if threads is not None and threads < 1:
        raise InputError(f"threads must be 1 or more, got {threads}", {"threads": threads},
                         Fix("set {setting} to 1 or more, or leave it out to share the machine's cores", "threads"))
    previous, _configured = _configured, threads
    return previous


def thread_setting() -> tuple[int, str] | None:
    """(threads, where they were asked for) of the setting that applies; None: none, the machine is shared."""
    if _configured is not None:
        return _configured, "threads"
    for name in (ENV_THREADS, OMP_THREADS):
        text = os.environ.get(name, "").strip()
        if not text:
            continue
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n < 1:
            raise InputError(f"{name} must be a whole number of threads, 1 or more, got '{text}'", {name: text},
                             Fix("set it to 1 or more, unset it to share the machine's cores, or use {setting}",
                                 "threads"))
        return n, name
    return None


@dataclass(frozen=True)
class ThreadBudget:
    """What a computation of this process may use: ``cores`` (and what limits them) and, where one
    applies, the ``setting`` (threads) and where it came from; without one the cores are shared."""

    cores: int
    limited_by: str
    setting: int | None = None
    asked_by: str | None = None

    def threads(self, rank: int = 0, computing: int = 1) -> int:
        """Threads of the ``rank``-th of ``computing`` computations sharing these cores (the first get the
        cores that do not divide evenly; at least 1 each); a setting's own, up to the cores."""
        if self.setting is not None:
            return min(self.setting, self.cores)
        computing = max(1, computing)
        return max(1, self.cores // computing + (1 if rank < self.cores % computing else 0))

    def describe(self) -> dict:
        """The budget as ``kronos --version``, ``/health`` and a forecast's provenance report it."""
        return {"cores": self.cores, "limited_by": self.limited_by, "setting": self.setting,
                "asked_by": self.asked_by, "shared": self.setting is None}


def thread_budget() -> ThreadBudget:
    """This process's budget now (the cores may change: a new affinity, a Ray actor)."""
    cores = usable_cores()
    asked = thread_setting()
    return ThreadBudget(cores.count, cores.limited_by, *(asked or (None, None)))


def share_folder() -> Path | None:
    """The share's folder: ``KRONOS_STUDIO_THREAD_SHARE``, 'off' for none; default one per user in the temp dir."""
    value = os.environ.get(ENV_SHARE, "").strip()
    if value.lower() == "off":
        return None
    if value:
        return Path(value)
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"kronos-threads-{user}"


class ThreadShare:
    """The computations running now on this machine, one lease file each in ``folder``, locked (``flock``)
    for as long as it runs: a process that dies leaves a file nobody holds, which the next count removes.
    A lease names the CPUs its process may use; only leases on CPUs of ours count."""

    _names = itertools.count()

    def __init__(self, folder: Path | None):
        self.folder = folder

    @contextlib.contextmanager
    def lease(self, cpus: frozenset[int] | None) -> Iterator[tuple[int, int]]:
        """Holds a lease while inside; yields (its rank among the computations on our CPUs, how many)."""
        try:
            import fcntl
        except ImportError:  # no flock (Windows): each computation alone
            fcntl = None
        if self.folder is None or fcntl is None:
            yield 0, 1
            return
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, path = self._take(fcntl, cpus)
        except OSError:  # a share that cannot be written (read-only temp dir): alone
            yield 0, 1
            return
        try:
            yield self._count(fcntl, path, cpus)
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            handle.close()

    def _take(self, fcntl, cpus):
        # ns timestamp first: leases sort by age, so ranks are stable while a computation runs
        name = f"{time.time_ns():020d}-{os.getpid()}-{threading.get_ident()}-{next(self._names)}"
        staging = self.folder / f"{name}.new"
        handle = open(staging, "w")  # noqa: SIM115 - held (and locked) until the lease ends
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            handle.write(",".join(map(str, sorted(cpus))) if cpus else "")
            handle.flush()
            path = staging.with_suffix(LEASE)
            staging.rename(path)  # locked before it is visible: a count never takes it for a dead one's
        except OSError:
            handle.close()
            with contextlib.suppress(OSError):
                staging.unlink()
            raise
        return handle, path

    def _count(self, fcntl, own: Path, cpus) -> tuple[int, int]:
        live = []
        for path in sorted(self.folder.glob(f"*{LEASE}")):
            if path == own or self._held(fcntl, path):
                if path == own or _overlaps(_read_cpus(path), cpus):
                    live.append(path)
            else:  # nobody holds it: its process died mid-computation
                with contextlib.suppress(OSError):
                    path.unlink()
        for path in self.folder.glob("*.new"):  # a lease whose process died before it was visible
            if time.time() - _mtime(path) > STALE_NEW_S and not self._held(fcntl, path):
                with contextlib.suppress(OSError):
                    path.unlink()
        return live.index(own), len(live)

    @staticmethod
    def _held(fcntl, path: Path) -> bool:
        try:
            with open(path) as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                return False
        except OSError:  # removed as we looked: its computation ended
            return False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _read_cpus(path: Path) -> frozenset[int] | None:
    try:
        text = path.read_text().strip()
        return frozenset(int(c) for c in text.split(",")) if text else None
    except (OSError, ValueError):
        return None


def _overlaps(theirs: frozenset[int] | None, ours: frozenset[int] | None) -> bool:
    return theirs is None or ours is None or bool(theirs & ours)


@dataclass(frozen=True)
class ThreadUse:
    """The threads one computation ran with, and why: its provenance."""

    threads: int
    budget: ThreadBudget
    computing: int  # computations sharing the cores when it started (this one included)

    def describe(self) -> dict:
        return {"threads": self.threads, **self.budget.describe(), "computing": self.computing}


_current = threading.local()
_interop_set = False


@contextlib.contextmanager
def computing(share: ThreadShare | None = None) -> Iterator[ThreadUse]:
    """One computation: holds a lease in the machine's share (``share``; default ``share_folder()``'s) and
    sets the calling thread's torch threads to its part (or the setting's). Nested in another on the same
    thread, it is that one."""
    outer = getattr(_current, "use", None)
    if outer is not None:
        yield outer
        return
    budget = thread_budget()
    with (share or ThreadShare(share_folder())).lease(affinity_cpus()) as (rank, count):
        use = ThreadUse(budget.threads(rank, count), budget, count)
        before = set_torch_threads(use.threads, budget.threads())
        _current.use = use
        try:
            yield use
        finally:
            _current.use = None
            set_torch_threads(before)  # what the thread had: torch code around a studio call keeps its own


def set_torch_threads(threads: int, most: int | None = None) -> int:
    """Sets torch's intra-op threads for the calling thread (OpenMP keeps a count per thread) and returns
    the count it had; the inter-op pool, once per process and only before any parallel work, to ``most``."""
    global _interop_set

    before = torch.get_num_threads()
    if before != threads:
        torch.set_num_threads(threads)
    if not _interop_set:
        _interop_set = True
        with contextlib.suppress(RuntimeError):  # parallel work has started: too late, and harmless
            torch.set_num_interop_threads(most or threads)
    return before


def budget_report() -> dict:
    """The process's budget, as ``kronos --version`` and ``/health`` say it: the threads a computation
    started now alone would get, the cores and what limits them, the setting."""
    try:
        budget = thread_budget()
    except InputError as e:
        return {"error": str(e)}
    return {"threads": budget.threads(), **budget.describe()}
