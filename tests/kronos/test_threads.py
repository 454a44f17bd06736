"""The thread decision (kronos.threads): each source of the cores a process may use, the settings, the
machine's share among computations, and never more threads than allowed. The cores come from files
and the system, read by functions given fake cgroup trees here; nothing is timed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from kronos import threads
from kronos.errors import InputError
from kronos.threads import ThreadBudget, ThreadShare, cgroup_cores, computing, thread_budget, usable_cores

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(autouse=True)
def no_setting(monkeypatch):
    """No thread setting from the environment the tests run in; configure() restored after each test."""
    monkeypatch.delenv(threads.ENV_THREADS, raising=False)
    monkeypatch.delenv(threads.OMP_THREADS, raising=False)
    before = threads.configure(None)
    yield
    threads.configure(before)


def cgroup_tree(tmp_path, proc_lines: str, files: dict[str, str]):
    """A fake /sys/fs/cgroup (``files``: path under it -> content) and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(textwrap.dedent(proc_lines))
    return root, proc


def test_cgroup_v2_quota_in_whole_cores_the_lowest_of_the_process_and_its_ancestors(tmp_path):
    root, proc = cgroup_tree(tmp_path, "0::/user.slice/job\n", {
        "user.slice/job/cpu.max": "250000 100000\n",  # 2.5 cores: 2 whole ones
        "user.slice/cpu.max": "max 100000\n",  # no quota above
    })
    assert cgroup_cores(root, proc) == 2
    (root / "user.slice/cpu.max").write_text("100000 100000\n")  # a parent's tighter quota applies too
    assert cgroup_cores(root, proc) == 1


def test_cgroup_quota_below_one_core_still_gives_one(tmp_path):
    root, proc = cgroup_tree(tmp_path, "0::/\n", {"cpu.max": "50000 100000\n"})
    assert cgroup_cores(root, proc) == 1


def test_cgroup_v2_without_a_quota_is_none(tmp_path):
    root, proc = cgroup_tree(tmp_path, "0::/a\n", {"a/cpu.max": "max 100000\n", "cpu.max": "max 100000\n"})
    assert cgroup_cores(root, proc) is None


def test_cgroup_v1_cfs_quota(tmp_path):
    root, proc = cgroup_tree(tmp_path, """\
        4:memory:/docker/abc
        3:cpu,cpuacct:/docker/abc
        0::/
        """, {"cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "300000\n",
              "cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
              "cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cores(root, proc) == 3
    (root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us").write_text("-1\n")  # -1: no quota
    assert cgroup_cores(root, proc) is None


def test_cgroup_v1_inside_a_container_whose_own_cgroup_is_the_mount(tmp_path):
    """A container sees the host's path in /proc/self/cgroup but its own cgroup at the mount's root."""
    root, proc = cgroup_tree(tmp_path, "2:cpu:/kubepods/pod1/c1\n", {
        "cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"})
    assert cgroup_cores(root, proc) == 2


def fake_topology(tmp_path, siblings: dict[int, str], name: str = "core_cpus_list"):
    for cpu, text in siblings.items():
        folder = tmp_path / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / name).write_text(text + "\n")
    return tmp_path


def test_hyper_threads_of_one_core_count_once(tmp_path):
    """Four CPUs on two cores (SMT pairs 0,2 and 1,3): two cores, as torch's own default counts them; a
    process pinned to one pair has one."""
    sysfs = fake_topology(tmp_path, {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"})
    assert threads.physical_cores(frozenset({0, 1, 2, 3}), sysfs) == 2
    assert threads.physical_cores(frozenset({0, 2}), sysfs) == 1
    older = fake_topology(tmp_path / "old", {0: "0-1", 1: "0-1"}, "thread_siblings_list")  # older kernels' name
    assert threads.physical_cores(frozenset({0, 1}), older) == 1
    assert threads.physical_cores(frozenset({0, 5}), sysfs) is None  # unreadable: no limit from it


def test_physical_cores_limit_the_cores(tmp_path, monkeypatch):
    cpus = threads.affinity_cpus() or frozenset(range(os.cpu_count() or 1))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    pairs = sorted(cpus)
    one_core = ",".join(map(str, pairs))  # every CPU a hyper-thread of one core
    monkeypatch.setattr(threads, "SYSFS_CPU", fake_topology(tmp_path, dict.fromkeys(pairs, one_core)))
    assert usable_cores() == threads.Cores(1, "physical cores")


def test_no_cgroups_is_none(tmp_path):
    assert cgroup_cores(tmp_path / "none", tmp_path / "missing") is None


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="a one-core quota limits only a machine with more")
def test_the_cgroup_quota_limits_the_cores(tmp_path, monkeypatch):
    root, proc = cgroup_tree(tmp_path, "0::/\n", {"cpu.max": "100000 100000\n"})
    monkeypatch.setattr(threads, "CGROUP_ROOT", root)
    monkeypatch.setattr(threads, "PROC_CGROUP", proc)
    cores = usable_cores()
    assert (cores.count, cores.limited_by) == (1, "cgroup quota")
    assert thread_budget().threads() == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two CPUs")
def test_the_cpu_affinity_limits_the_cores():
    """A process pinned to one CPU (taskset) computes with one thread, and says why."""
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from kronos.threads import usable_cores, computing; c = usable_cores(); "
            "import torch\nwith computing() as use: print(c.count, c.limited_by, use.threads, torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": ROOT}).stdout.split()
    assert out == ["1", "affinity", "1", "1"]


def test_a_setting_gives_that_many_threads_but_never_more_than_the_cores(monkeypatch):
    cores = usable_cores().count
    monkeypatch.setenv(threads.ENV_THREADS, "1")
    assert (thread_budget().threads(), thread_budget().asked_by) == (1, threads.ENV_THREADS)
    monkeypatch.setenv(threads.ENV_THREADS, str(cores + 7))
    assert thread_budget().threads() == cores
    assert thread_budget().threads(rank=0, computing=5) == cores  # a setting is not shared


def test_the_flag_comes_before_the_environment_and_omp_num_threads_after_it(monkeypatch):
    monkeypatch.setenv(threads.OMP_THREADS, "1")
    assert thread_budget().asked_by == threads.OMP_THREADS
    monkeypatch.setenv(threads.ENV_THREADS, "1")
    assert thread_budget().asked_by == threads.ENV_THREADS
    threads.configure(1)
    assert thread_budget().asked_by == "threads"


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_setting_is_refused_naming_it(monkeypatch, text):
    monkeypatch.setenv(threads.ENV_THREADS, text)
    with pytest.raises(InputError, match=f"KRONOS_STUDIO_THREADS must be .* got '{text}'") as e:
        thread_budget()
    assert e.value.fix[0].setting == "threads"
    with pytest.raises(InputError, match="threads must be 1 or more"):
        threads.configure(0)


@pytest.mark.parametrize("cores, computing_, expected", [
    (2, 1, [2]), (2, 2, [1, 1]), (2, 4, [1, 1, 1, 1]), (3, 2, [2, 1]), (8, 3, [3, 3, 2]), (16, 4, [4, 4, 4, 4])])
def test_shared_cores_are_split_fairly_never_over_the_cores_unless_one_each(cores, computing_, expected):
    budget = ThreadBudget(cores, "cpu count")
    split = [budget.threads(rank, computing_) for rank in range(computing_)]
    assert split == expected
    assert sum(split) <= max(cores, computing_)


def hold_lease(folder, cpus: str = ""):
    """Another process holding a lease in ``folder`` until its stdin closes (started once it holds it)."""
    code = ("import sys; from pathlib import Path; from kronos.threads import ThreadShare\n"
            f"cpus = frozenset(int(c) for c in {cpus!r}.split(',') if c) or None\n"
            "with ThreadShare(Path(sys.argv[1])).lease(cpus):\n"
            "    print('held', flush=True); sys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert child.stdout.readline().strip() == "held"
    return child


def test_a_computation_beside_another_process_takes_its_share(tmp_path, monkeypatch):
    monkeypatch.setenv(threads.ENV_SHARE, str(tmp_path))
    cores = usable_cores().count
    with computing() as alone:
        assert (alone.threads, alone.computing) == (cores, 1)
    other = hold_lease(tmp_path)
    try:
        with computing() as beside:
            assert beside.computing == 2
            assert beside.threads == ThreadBudget(cores, "").threads(1, 2)  # the later of two
            import torch

            assert torch.get_num_threads() == beside.threads
            assert beside.describe()["threads"] == beside.threads and beside.describe()["shared"]
    finally:
        other.stdin.close()
        other.wait()
    with computing() as after:
        assert after.computing == 1


def test_a_lease_left_by_a_dead_process_is_removed_and_not_counted(tmp_path):
    other = hold_lease(tmp_path)
    other.kill()  # no clean-up: its file stays, nobody holds it
    other.wait()
    assert len(list(tmp_path.glob("*.lease"))) == 1
    with ThreadShare(tmp_path).lease(None) as (rank, count):
        assert (rank, count) == (0, 1)
    assert not list(tmp_path.glob("*.lease"))


def test_leases_on_other_cpus_are_not_counted(tmp_path):
    other = hold_lease(tmp_path, "2,3")
    try:
        with ThreadShare(tmp_path).lease(frozenset({0, 1})) as (_, count):
            assert count == 1
        with ThreadShare(tmp_path).lease(frozenset({1, 2})) as (rank, count):
            assert (rank, count) == (1, 2)
    finally:
        other.stdin.close()
        other.wait()


def test_a_setting_is_not_shared_and_nested_computations_are_one(tmp_path, monkeypatch):
    monkeypatch.setenv(threads.ENV_SHARE, str(tmp_path))
    monkeypatch.setenv(threads.ENV_THREADS, "1")
    with computing() as outer:
        with computing() as inner:
            assert inner is outer
            assert len(list(tmp_path.glob("*.lease"))) == 1
        assert outer.threads == 1 and outer.budget.setting == 1


def test_sharing_off(tmp_path, monkeypatch):
    monkeypatch.setenv(threads.ENV_SHARE, "off")
    other = hold_lease(tmp_path)
    try:
        with computing() as use:
            assert use.computing == 1
    finally:
        other.stdin.close()
        other.wait()


def test_ray_cores_outside_ray_is_none():
    assert threads.ray_cores() is None
