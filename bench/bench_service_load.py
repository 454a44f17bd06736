"""A bounded load test of ``kronos serve`` across two workspaces (issue 53): does it hold up, keep each
workspace's rows apart, lose nothing and stay in bounded memory?

A ``kronos serve`` process on a free loopback port, its own SQLite ledger (or ``--ledger-url``), one API
key in each of two workspaces. ``--clients`` threads, alternately of workspace A and B, each send
``--requests`` forecasts of the same bars, every one with a seed of its own, so that none is answered from
the cache and each answered 200 is one new ledger row of its workspace. Prints one JSON object:

- ``answered_200`` and ``errors`` (by status); ``latency_p50_s`` / ``latency_p95_s`` / ``latency_max_s`` over
  every request, ``throughput_rps`` (requests / wall time);
- ``rss_before_mb`` / ``rss_after_mb``: the server's resident memory after one warm-up forecast per
  workspace, and after the load;
- per workspace: requests answered 200, ledger rows added, and ``rows_equal_answers`` (both equal, in each
  workspace); ``foreign_rows``: answered ledger ids found in the other workspace (0);
- ``access_log_lines``: lines the server's access log wrote for the load's requests (one each).

    .venv/bin/python bench/bench_service_load.py
    .venv/bin/python bench/bench_service_load.py --clients 8 --requests 25 --horizon 10 --paths 10
    .venv/bin/python bench/bench_service_load.py --clients 2 --requests 2 --model random_walk   # a smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from bench_service import free_port, percentile, run_clients, wait_until_up

from kronos.synthetic import random_bars

ROOT = Path(__file__).resolve().parents[1]
WORKSPACES = ("desk-a", "desk-b")


def rss_mb(pid: int) -> float | None:
    """The resident memory of process ``pid`` in MiB (Linux's /proc; None elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="threads, alternately of each workspace")
    parser.add_argument("--requests", type=int, default=25, help="per client")
    parser.add_argument("--model", default=None, help="a model reference (default: the bundled model)")
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--paths", type=int, default=10)
    parser.add_argument("--lookback", type=int, default=None)
    parser.add_argument("--bars", type=int, default=600)
    parser.add_argument("--ledger-url", default=None, help="a SQLAlchemy URL (default: a new SQLite file)")
    args = parser.parse_args()

    from kronos_studio.ledger import Ledger
    from kronos_studio.service.keys import create_key

    work = Path(tempfile.mkdtemp(prefix="bench-service-load-"))
    url = args.ledger_url or f"sqlite:///{work / 'ledger.sqlite'}"
    env = {**os.environ, "KRONOS_STUDIO_DB": url, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with Ledger.open(url) as ledger:
        tokens = {w: create_key(ledger, w)[1] for w in WORKSPACES}
    bars_text = random_bars(args.bars, seed=3, freq="1h").to_csv(index=False)
    settings = {"horizon": args.horizon, "paths": args.paths, "lookback": args.lookback, "model": args.model}
    port = free_port()
    log_file = work / "access.log"
    server = subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", "serve", "--port", str(port),
                               "--access-log", str(log_file)], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    latencies, statuses, ids = [], Counter(), {w: [] for w in WORKSPACES}
    lock = threading.Lock()
    try:
        wait_until_up(base, server)
        for w in WORKSPACES:  # load the model, and the database, before the memory is read
            warm = httpx.post(f"{base}/v1/forecast", headers={"Authorization": f"Bearer {tokens[w]}"}, timeout=600,
                              json={"bars_csv": bars_text, **settings, "seed": 10**9, "record": False})
            if warm.status_code != 200:
                raise SystemExit(f"the warm-up forecast failed: {warm.status_code} {warm.text[:300]}")
        rss_before = rss_mb(server.pid)
        log_before = len(log_file.read_text().splitlines())
        with Ledger.open(url) as ledger:
            rows_before = {w: ledger.scoped(w).counts()["predictions"] for w in WORKSPACES}

        def client(k: int) -> None:
            workspace = WORKSPACES[k % 2]
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[workspace]}"},
                              timeout=600) as c:
                for i in range(args.requests):
                    t = time.perf_counter()
                    r = c.post("/v1/forecast", json={"bars_csv": bars_text, **settings, "seed": k * args.requests + i})
                    elapsed = time.perf_counter() - t
                    with lock:
                        latencies.append(elapsed)
                        statuses[r.status_code] += 1
                        if r.status_code == 200:
                            ids[workspace].append(r.json()["ledger"]["id"])

        wall = run_clients(client, args.clients)
        rss_after = rss_mb(server.pid)
        time.sleep(0.5)  # the log line of the last answer is written after it is sent
        log_lines = len(log_file.read_text().splitlines()) - log_before
    finally:
        server.terminate()
        server.wait(timeout=60)

    from kronos_studio.service.public_ids import forecast_ids

    with Ledger.open(url) as ledger:  # the answers name forecasts by their public ids
        held = {w: set(forecast_ids(ledger, ledger.scoped(w).predictions_frame()["prediction_id"]).values())
                for w in WORKSPACES}
        rows_after = {w: ledger.scoped(w).counts()["predictions"] for w in WORKSPACES}
    per_workspace = {w: {"answered_200": len(ids[w]), "ledger_rows_added": rows_after[w] - rows_before[w],
                         "rows_equal_answers": rows_after[w] - rows_before[w] == len(ids[w]) == len(set(ids[w]))}
                     for w in WORKSPACES}
    a, b = WORKSPACES
    print(json.dumps({
        "clients": args.clients, "requests_per_client": args.requests, "requests": len(latencies),
        "model": args.model or "bundled default", "horizon": args.horizon, "paths": args.paths, "cpus": os.cpu_count(),
        "answered_200": statuses[200], "errors": {str(s): n for s, n in sorted(statuses.items()) if s != 200},
        "latency_p50_s": round(statistics.median(latencies), 4), "latency_p95_s": round(percentile(latencies, 0.95), 4),
        "latency_max_s": round(max(latencies), 4), "throughput_rps": round(len(latencies) / wall, 2),
        "wall_s": round(wall, 2), "rss_before_mb": rss_before, "rss_after_mb": rss_after,
        "workspaces": per_workspace,
        "rows_equal_answers": all(v["rows_equal_answers"] for v in per_workspace.values()),
        "foreign_rows": len(set(ids[a]) & held[b]) + len(set(ids[b]) & held[a]),
        "access_log_lines": log_lines,
    }, indent=2))


if __name__ == "__main__":
    main()
