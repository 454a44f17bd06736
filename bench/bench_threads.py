"""Sharing the machine (issue 54): whole ``kronos batch`` processes alone and side by side, the Ray engine
against the local one, and ``kronos serve`` under concurrent clients, with and without the thread budget.

Writes ``--files`` synthetic hourly bar files (``kronos.synthetic.random_bars``, 200 bars each), then:

* **batch**: for each mode and each count N in ``--side-by-side`` (default 1, 2, 4), N ``kronos batch``
  processes started together on that watchlist (each its own ``--out``), the bundled default model,
  horizon 10, 30 paths. Per run: wall and CPU seconds (user + system, from ``wait4``: CPU equal to wall
  times the threads is spinning); together: series a minute (N × files / the slowest run's wall time) and
  ``work_vs_alone``, that rate over the mode's own one-run rate (issue 54's target: ≥ 0.9 for N = 2).
  Modes: ``before`` emulates every process computing on all the cores, as before the budget
  (``KRONOS_STUDIO_THREADS`` = the cores: fixed, not shared); ``after`` is the default (the cores shared
  among the computations running); ``before_passive`` is ``before`` with ``OMP_WAIT_POLICY=PASSIVE``
  (OpenMP threads sleep instead of spinning while they wait), to see whether that alone would do.
* **ray**: ``--engine ray --workers 2`` alone against the local engine alone (``after``).
* **service**: ``kronos serve`` with ``--clients`` (default 2, 4) threads each sending ``--requests``
  distinct (uncached) forecasts: one at a time on all the cores (``--concurrency 1``, the default, and
  what one model was served with before), N at once each on all the cores (``KRONOS_STUDIO_THREADS`` =
  the cores, ``--concurrency N``: what N models were served with before) and N at once sharing the cores
  (``--concurrency N``). Forecasts a minute and the latency p50 / p95.

Every process shares cores only with the others of this benchmark (``KRONOS_STUDIO_THREAD_SHARE`` is a
folder of its own). Prints one JSON object.

    .venv/bin/python bench/bench_threads.py                        # 203 files, everything
    .venv/bin/python bench/bench_threads.py --files 12 --side-by-side 1,2 --clients 2 --requests 2 --no-ray
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = ("before", "after", "before_passive")
SETTINGS = ["--horizon", "10", "--paths", "30", "--seed", "0"]


def write_watchlist(folder: Path, count: int, bars: int = 200) -> None:
    from kronos.synthetic import random_bars

    folder.mkdir(parents=True)
    for i in range(count):
        frame = random_bars(bars, seed=i, freq="1h", start="2025-01-06 00:00")
        frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
        frame.to_csv(folder / f"S{i:05d}.csv", index=False)


def mode_env(base: dict, mode: str, cores: int) -> dict:
    env = dict(base)
    if mode in ("before", "before_passive"):
        env["KRONOS_STUDIO_THREADS"] = str(cores)
    if mode == "before_passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    return env


def side_by_side(commands: list[list[str]], env: dict) -> list[dict]:
    """Start every command at once; each one's wall and CPU seconds (its own, from wait4) and exit code."""
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for cmd in commands]
    errors = {p.pid: "" for p in procs}

    def drain(p):  # a full stderr pipe would stop the child
        errors[p.pid] = p.stderr.read()

    readers = [threading.Thread(target=drain, args=(p,)) for p in procs]
    for r in readers:
        r.start()
    runs = {}
    for _ in procs:
        pid, status, usage = os.wait4(-1, 0)
        runs[pid] = {"wall_s": round(time.perf_counter() - started, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
                     "exit_code": os.waitstatus_to_exitcode(status)}
    for r in readers:
        r.join()
    for p in procs:
        p.returncode = runs[p.pid]["exit_code"]
        if runs[p.pid]["exit_code"] != 0:
            raise SystemExit(f"{' '.join(p.args)} failed:\n{errors[p.pid][-2000:]}")
        runs[p.pid]["stderr_tail"] = errors[p.pid].strip().splitlines()[-1][-200:] if errors[p.pid].strip() else ""
    return [runs[p.pid] for p in procs]


def batch_case(watchlist: Path, work: Path, files: int, count: int, env: dict, extra: list[str] = ()) -> dict:
    tag = f"{count}-{time.perf_counter_ns()}"
    commands = [[sys.executable, "-m", "kronos_studio.cli.main", "batch", str(watchlist), *SETTINGS, "--quiet",
                 "--out", str(work / f"rows-{tag}-{i}.parquet"), *extra] for i in range(count)]
    runs = side_by_side(commands, env)
    import pandas as pd

    for run, cmd in zip(runs, commands):  # the threads its forecasts used, from the rows' provenance: count
        used = pd.read_parquet(cmd[cmd.index("--out") + 1])["threads"].dropna().astype(int)
        run["forecast_threads"] = {str(k): int(v) for k, v in used.value_counts().sort_index().items()}
    slowest = max(r["wall_s"] for r in runs)
    return {"runs": runs, "wall_s_max": slowest, "series_per_min_total": round(60 * count * files / slowest, 1)}


def bench_batch(args, watchlist: Path, work: Path, base_env: dict, cores: int) -> dict:
    out = {}
    for mode in args.modes:
        env = mode_env(base_env, mode, cores)
        cases = {}
        for n in args.side_by_side:
            cases[str(n)] = batch_case(watchlist, work, args.files, n, env)
        alone = cases.get("1")
        if alone:
            for case in cases.values():
                case["work_vs_alone"] = round(case["series_per_min_total"] / alone["series_per_min_total"], 3)
        out[mode] = cases
    if "before" in out and "after" in out and "1" in out["before"] and "1" in out["after"]:
        out["after_alone_vs_before_alone_wall"] = round(out["after"]["1"]["wall_s_max"]
                                                        / out["before"]["1"]["wall_s_max"], 3)
    return out


def bench_ray(args, watchlist: Path, work: Path, base_env: dict) -> dict:
    local = batch_case(watchlist, work, args.files, 1, base_env)
    ray = batch_case(watchlist, work, args.files, 1, base_env, ["--engine", "ray", "--workers", "2"])
    return {"local": local, "ray_workers_2": ray, "ray_vs_local": round(ray["series_per_min_total"]
                                                                        / local["series_per_min_total"], 3)}


def service_case(args, bars_text: str, env: dict, clients: int, concurrency: int, first_seed: int) -> dict:
    import httpx
    from bench_service import free_port, percentile  # bench/ is the script's folder, first on sys.path

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", "serve", "--open", "--port", str(port),
                               "--concurrency", str(concurrency)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit("kronos serve did not start:\n" + server.stderr.read()[-2000:])
        health = httpx.get(f"{base}/health").json()
        body = {"bars_csv": bars_text, "horizon": 10, "paths": 30, "record": False}  # as SETTINGS
        warm = httpx.post(f"{base}/v1/forecast", json={**body, "seed": first_seed - 1}, timeout=600)
        if warm.status_code != 200:
            raise SystemExit(f"warm-up forecast failed: {warm.status_code} {warm.text[:500]}")
        latencies, errors = [], []

        def client(k: int):
            with httpx.Client(base_url=base, timeout=600) as c:
                for i in range(args.requests):
                    t = time.perf_counter()
                    r = c.post("/v1/forecast", json={**body, "seed": first_seed + k * args.requests + i})
                    latencies.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=60)
    if errors:
        raise SystemExit(f"service errors: {errors[:3]}")
    return {"concurrency": concurrency, "threads": health.get("threads"), "forecasts": len(latencies),
            "wall_s": round(wall, 2), "forecasts_per_min": round(60 * len(latencies) / wall, 1),
            "latency_p50_s": round(statistics.median(latencies), 3), "latency_p95_s": round(percentile(latencies, 0.95), 3)}


def bench_service(args, work: Path, base_env: dict, cores: int) -> dict:
    from kronos.synthetic import random_bars

    frame = random_bars(200, seed=7, freq="1h", start="2025-01-06 00:00")
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
    bars_text = frame.to_csv(index=False)
    env = {**base_env, "KRONOS_STUDIO_DB": f"sqlite:///{work / 'service.sqlite'}"}
    out, seed = {}, 1_000
    for clients in args.clients:
        cases = {"one_at_a_time_all_cores": service_case(args, bars_text, env, clients, 1, seed),
                 "n_at_once_all_cores_each": service_case(args, bars_text, mode_env(env, "before", cores), clients,
                                                          clients, seed + 100_000),
                 "n_at_once_shared_cores": service_case(args, bars_text, env, clients, clients, seed + 200_000)}
        seed += 1_000_000
        out[f"{clients}_clients"] = cases
    return out


def counts(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=203)
    parser.add_argument("--side-by-side", type=counts, default=[1, 2, 4], help="runs started together, e.g. 1,2,4")
    parser.add_argument("--modes", type=lambda t: [m for m in t.split(",") if m], default=list(MODES),
                        help=f"of {','.join(MODES)}")
    parser.add_argument("--clients", type=counts, default=[2, 4], help="concurrent service clients, e.g. 2,4")
    parser.add_argument("--requests", type=int, default=10, help="forecasts per service client")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--no-service", action="store_true")
    args = parser.parse_args()
    if bad := [m for m in args.modes if m not in MODES]:
        parser.error(f"unknown modes {bad}: use {','.join(MODES)}")

    from kronos.threads import budget_report, thread_budget

    cores = thread_budget().cores
    report = {"bench": "threads", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "budget": budget_report(),
              "load_average_1min": round(os.getloadavg()[0], 2),
              "settings": {"files": args.files, "horizon": 10, "paths": 30, "model": "bundled default"}}
    with tempfile.TemporaryDirectory(prefix="bench-threads-") as tmp:
        work = Path(tmp)
        watchlist = work / "watchlist"
        write_watchlist(watchlist, args.files)
        share = work / "share"
        base_env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "KRONOS_STUDIO_THREAD_SHARE": str(share),
                    "KRONOS_STUDIO_DB": f"sqlite:///{work / 'ledger.sqlite'}"}
        for name in ("KRONOS_STUDIO_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY"):  # the modes set their own
            base_env.pop(name, None)
        report["batch"] = bench_batch(args, watchlist, work, base_env, cores)
        if not args.no_ray:
            report["ray"] = bench_ray(args, watchlist, work, base_env)
        if not args.no_service:
            report["service"] = bench_service(args, work, base_env, cores)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
