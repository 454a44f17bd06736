"""A mixed load on ``kronos serve`` with a client that leaves mid-request and a SIGTERM during the load (issue 63):
does the server answer what it can, stop the work nobody waits for, lose no row, and exit within seconds?

A ``kronos serve`` process on a free loopback port, its own SQLite ledger, one API key in each of two workspaces.
``--clients`` threads, alternately of workspace A and B, each send ``--requests`` requests in a fixed mix: recorded
forecasts (each with a seed of its own: one new ledger row per 200), a repeated forecast (from the cache), a risk
reading, a small walk-forward evaluation, the workspace's predictions, its track record with VaR exceptions, a
batch job and its status. One more client sends a long forecast and leaves after ``--leave-after`` seconds. Once
``--sigterm-at`` of the requests are answered, the server gets SIGTERM. Prints one JSON object:

- ``statuses``: every answer's status (``connection_refused``: sent after the server stopped listening), and by
  kind of request, with one refusal's words of each kind and status (``refusals``);
  ``server_errors_not_cut``: 5xx answers other than the 503s of requests the shutdown cut (0);
- ``rows_lost``: forecasts answered 200 whose row is not in their workspace's ledger (0); ``rows_unanswered``:
  rows of forecasts whose answer the shutdown cut after they were recorded;
- ``exit_after_sigterm_s``: seconds from SIGTERM to the server process's exit (under 5); ``exit_code``;
- ``left_request``: the leaving client's request as the access log has it (status 499, its duration: the work
  stopped at the next sampling step after the client left, not after the whole horizon), and the latency p50 / p95.

    .venv/bin/python bench/bench_service_shutdown.py
    .venv/bin/python bench/bench_service_shutdown.py --clients 8 --requests 50 --sigterm-at 0.6
    .venv/bin/python bench/bench_service_shutdown.py --clients 2 --requests 8 --model random_walk   # a smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from bench_service import free_port, percentile, wait_until_up

from kronos.synthetic import random_bars

ROOT = Path(__file__).resolve().parents[1]
WORKSPACES = ("desk-a", "desk-b")
MIX = ("forecast", "forecast", "repeat", "risk", "evaluate", "predictions", "track_record", "forecast", "batch",
       "job")  # one cycle of a client's requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="threads, alternately of each workspace")
    parser.add_argument("--requests", type=int, default=50, help="per client")
    parser.add_argument("--model", default=None, help="a model reference (default: the bundled model)")
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--paths", type=int, default=10)
    parser.add_argument("--sigterm-at", type=float, default=0.6, help="share of the requests answered before SIGTERM")
    parser.add_argument("--leave-after", type=float, default=2.0, help="seconds the leaving client waits")
    args = parser.parse_args()

    from kronos_studio.ledger import Ledger
    from kronos_studio.service.keys import create_key
    from kronos_studio.service.public_ids import forecast_ids

    work = Path(tempfile.mkdtemp(prefix="bench-service-shutdown-"))
    url = f"sqlite:///{work / 'ledger.sqlite'}"
    env = {**os.environ, "KRONOS_STUDIO_DB": url, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with Ledger.open(url) as ledger:
        tokens = {w: create_key(ledger, w)[1] for w in WORKSPACES}
    bars = random_bars(600, seed=3, freq="1h").to_csv(index=False)
    asked = {"bars_csv": bars, "horizon": args.horizon, "paths": args.paths, "model": args.model}
    port = free_port()
    log_file = work / "access.log"
    server = subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", "serve", "--port", str(port),
                               "--access-log", str(log_file), "--jobs-dir", str(work / "jobs")], env=env, cwd=ROOT,
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    total = args.clients * args.requests
    statuses, latencies, answered_ids, cut = Counter(), [], {w: [] for w in WORKSPACES}, []
    by_kind: dict[str, Counter] = {kind: Counter() for kind in MIX}
    refusals: dict[str, str] = {}
    lock, stopped = threading.Lock(), threading.Event()
    sigterm_at = exit_s = None

    def send(c, kind: str, seed: int, jobs: list) -> httpx.Response:
        if kind == "forecast":
            return c.post("/v1/forecast", json={**asked, "seed": seed})
        if kind == "repeat":
            return c.post("/v1/forecast", json={**asked, "seed": 0, "record": False})
        if kind == "risk":
            return c.post("/v1/risk", json={**asked, "paths": 50, "seed": seed})
        if kind == "evaluate":
            return c.post("/v1/evaluate", json={**asked, "paths": 5, "cutoffs": 3, "seed": seed,
                                                "include_training_period": True})  # random bars of 2024
        if kind == "predictions":
            return c.get("/v1/ledger/predictions")
        if kind == "track_record":
            return c.get("/v1/ledger/track-record", params={"levels": [0.9, 0.99]})
        if kind == "batch":
            r = c.post("/v1/batch", json={"series": [{"name": "s", "bars_csv": bars}], "model": args.model,
                                          "horizon": args.horizon, "paths": args.paths, "seed": seed})
            if r.status_code == 202:
                jobs.append(r.json()["id"])
            return r
        return c.get(f"/v1/jobs/{jobs[-1]}") if jobs else c.get("/v1/ledger/predictions")

    def client(k: int) -> None:
        workspace = WORKSPACES[k % 2]
        jobs: list[str] = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[workspace]}"}, timeout=600) as c:
            for i in range(args.requests):
                kind, t = MIX[i % len(MIX)], time.perf_counter()
                try:
                    r = send(c, kind, 1_000 + k * args.requests + i, jobs)
                except httpx.TransportError:  # the server stopped listening (or closed the connection)
                    with lock:
                        statuses["connection_refused" if stopped.is_set() else "connection_error"] += 1
                    continue
                with lock:
                    latencies.append(time.perf_counter() - t)
                    statuses[r.status_code] += 1
                    by_kind[kind][r.status_code] += 1
                    if 400 <= r.status_code < 500:
                        refusals.setdefault(f"{kind} {r.status_code}", r.json().get("detail", "")[:200])
                    if kind == "forecast" and r.status_code == 200:
                        answered_ids[workspace].append(r.json()["ledger"]["id"])
                    if r.status_code == 503 and "shutting down" in r.text:
                        cut.append(kind)

    def leaver() -> None:  # a long forecast whose client gives up
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[WORKSPACES[0]]}"},
                          timeout=args.leave_after) as c:
            try:
                c.post("/v1/forecast", json={**asked, "horizon": 400, "paths": 200, "seed": 7, "record": False})
            except httpx.TimeoutException:
                pass

    try:
        wait_until_up(base, server)
        for w in WORKSPACES:  # load the model before the load starts
            warm = httpx.post(f"{base}/v1/forecast", headers={"Authorization": f"Bearer {tokens[w]}"}, timeout=600,
                              json={**asked, "seed": 10**9, "record": False})
            if warm.status_code != 200:
                raise SystemExit(f"the warm-up forecast failed: {warm.status_code} {warm.text[:300]}")
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        threads.append(threading.Thread(target=leaver))
        started = time.perf_counter()
        for t in threads:
            t.start()
        while sum(v for s, v in statuses.items() if isinstance(s, int)) < args.sigterm_at * total:
            if not any(t.is_alive() for t in threads[:-1]):
                break
            time.sleep(0.05)
        sigterm_at = time.perf_counter()
        stopped.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        finally:
            exit_s = time.perf_counter() - sigterm_at
        for t in threads:
            t.join(timeout=120)
        wall = time.perf_counter() - started
    finally:
        if server.poll() is None:
            server.kill()
    errors = server.stderr.read()

    with Ledger.open(url) as ledger:
        rows = {}
        for w in WORKSPACES:
            scoped = ledger.scoped(w)
            ids = scoped.predictions_frame()["prediction_id"].tolist()
            rows[w] = set(forecast_ids(scoped, ids).values())
    lost = sum(len(set(answered_ids[w]) - rows[w]) for w in WORKSPACES)
    unanswered = sum(len(rows[w] - set(answered_ids[w])) for w in WORKSPACES)
    log = [json.loads(line) for line in log_file.read_text().splitlines() if line.startswith("{")]
    left = [e for e in log if e["status"] == 499]
    five_xx = sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500)
    print(json.dumps({
        "clients": args.clients, "requests_per_client": args.requests, "requests_planned": total,
        "model": args.model or "bundled default", "horizon": args.horizon, "paths": args.paths, "cpus": os.cpu_count(),
        "statuses": {str(s): n for s, n in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "statuses_by_kind": {kind: {str(s): n for s, n in sorted(c.items())} for kind, c in by_kind.items()},
        "refusals": refusals,
        "answered": len(latencies), "cut_by_shutdown": len(cut),
        "server_errors_not_cut": five_xx - len(cut),
        "forecasts_answered_200": sum(len(v) for v in answered_ids.values()),
        "rows_lost": lost, "rows_unanswered": unanswered,
        "sigterm_after_s": round(sigterm_at - started, 2) if sigterm_at else None,
        "exit_after_sigterm_s": round(exit_s, 2) if exit_s is not None else None, "exit_code": server.returncode,
        "left_request": [{"status": e["status"], "duration_s": e["duration_s"], "route": e["route"]} for e in left],
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "wall_s": round(wall, 2), "server_stderr_tail": errors.strip().splitlines()[-3:],
    }, indent=2))


if __name__ == "__main__":
    main()
