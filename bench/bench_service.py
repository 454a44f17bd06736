"""A bounded load test of ``kronos serve`` on loopback, and the warm model's latency against the CLI's.

A ``kronos serve`` process (its own SQLite ledger, one API key) on a free loopback port; ``--clients``
threads each send ``--requests`` forecasts of the same bars with the bundled model, the seed drawn from
``--distinct`` values: requests with the same seed are identical (computed once, the rest answered from
the cache or by waiting on the computation in flight), the others differ. Prints one JSON object:

- ``errors``: responses other than 200; ``lost_ledger_rows``: forecasts answered with a ledger id that the
  ledger does not hold afterwards, and ``ledger_rows_added`` against the distinct forecasts made (the same
  forecast is kept once per workspace); ``identical_requests_identical``: every answer of a seed equal;
- ``latency_p50_s`` / ``latency_p95_s`` over every request, ``throughput_rps`` (requests / wall time);
- ``warm_forecast_s``: median latency of uncached forecasts, one at a time, on the warm server;
  ``cli_forecast_s``: median wall time of ``kronos forecast`` of the same bars and settings (a fresh
  process: imports, model load, sampling, ledger off).

    .venv/bin/python bench/bench_service.py
    .venv/bin/python bench/bench_service.py --clients 8 --requests 50 --distinct 16 --horizon 10 --paths 10
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from kronos.synthetic import random_bars

ROOT = Path(__file__).resolve().parents[1]
UNCACHED = 1_000_000  # first seed of the warm-latency forecasts (the load test draws from 0 .. --distinct - 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen, within_s: float = 120) -> None:
    """Return once the ``kronos serve`` process ``server`` answers ``/health``; exit if it never does."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("kronos serve did not start")
        time.sleep(0.2)


def run_clients(client, n: int) -> float:
    """Run ``client(k)`` in ``n`` threads at once (k = 0 .. n - 1); the wall seconds until all are done."""
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="per client")
    parser.add_argument("--distinct", type=int, default=16, help="different forecasts (seeds) among the requests")
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--paths", type=int, default=10)
    parser.add_argument("--lookback", type=int, default=256)
    parser.add_argument("--bars", type=int, default=600)
    parser.add_argument("--cli-runs", type=int, default=3)
    args = parser.parse_args()

    from kronos_studio.ledger import Ledger
    from kronos_studio.service.keys import create_key

    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    env = {**os.environ, "KRONOS_STUDIO_DB": f"sqlite:///{work / 'ledger.sqlite'}", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    with Ledger.open(env["KRONOS_STUDIO_DB"]) as ledger:
        _, token = create_key(ledger, "bench")
    csv = work / "bars.csv"
    random_bars(args.bars, seed=3, freq="1h").to_csv(csv, index=False)
    bars_text = csv.read_text()
    settings = {"horizon": args.horizon, "paths": args.paths, "lookback": args.lookback}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", "serve", "--port", str(port)],
                              env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        wait_until_up(base, server)
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            # Seeds above --distinct: never among the load test's requests, so these are never cached.
            c.post("/v1/forecast", json={"bars_csv": bars_text, **settings, "seed": UNCACHED, "record": False})
            warm = []
            for seed in range(UNCACHED + 1, UNCACHED + 6):  # uncached, one at a time
                t = time.perf_counter()
                assert c.post("/v1/forecast", json={"bars_csv": bars_text, **settings, "seed": seed,
                                                    "record": False}).status_code == 200
                warm.append(time.perf_counter() - t)

        with Ledger.open(env["KRONOS_STUDIO_DB"]) as ledger:
            rows_before = ledger.scoped("bench").counts()["predictions"]
        latencies, statuses, answers = [], [], {}
        lock = threading.Lock()

        def client(k: int) -> None:
            rng = random.Random(k)
            with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
                for _ in range(args.requests):
                    seed = rng.randrange(args.distinct)
                    t = time.perf_counter()
                    r = c.post("/v1/forecast", json={"bars_csv": bars_text, **settings, "seed": seed})
                    elapsed = time.perf_counter() - t
                    with lock:
                        latencies.append(elapsed)
                        statuses.append(r.status_code)
                        if r.status_code == 200:
                            body = r.json()
                            answers.setdefault(seed, []).append((body["quantiles"], body["ledger"]["id"]))

        wall = run_clients(client, args.clients)
    finally:
        server.terminate()
        server.wait(timeout=60)

    with Ledger.open(env["KRONOS_STUDIO_DB"]) as ledger:
        scoped = ledger.scoped("bench")
        rows_after = scoped.counts()["predictions"]
        held = set(scoped.predictions_frame()["prediction_id"])
    ids = {pid for got in answers.values() for _, pid in got}
    cli = []
    for _ in range(args.cli_runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kronos_studio.cli.main", "forecast", str(csv), "--horizon",
                        str(args.horizon), "--paths", str(args.paths), "--lookback", str(args.lookback),
                        "--out", str(work / "q.csv"), "--no-ledger", "--quiet"], env=env, check=True,
                       capture_output=True)
        cli.append(time.perf_counter() - t)
    n = len(latencies)
    print(json.dumps({
        "clients": args.clients, "requests": n, "distinct_forecasts": len(answers), "horizon": args.horizon,
        "paths": args.paths, "lookback": args.lookback, "cpus": os.cpu_count(),
        "errors": sum(s != 200 for s in statuses),
        "ledger_rows_added": rows_after - rows_before, "lost_ledger_rows": len(ids - held),
        "identical_requests_identical": all(all(q == got[0][0] and pid == got[0][1] for q, pid in got)
                                            for got in answers.values()),
        "latency_p50_s": round(statistics.median(latencies), 4), "latency_p95_s": round(percentile(latencies, 0.95), 4),
        "throughput_rps": round(n / wall, 2), "wall_s": round(wall, 2),
        "warm_forecast_s": round(statistics.median(warm), 4), "cli_forecast_s": round(statistics.median(cli), 3),
    }, indent=2))


if __name__ == "__main__":
    main()
