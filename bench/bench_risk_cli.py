"""The whole ``kronos risk`` command against the whole ``kronos forecast`` of the same request (issue 55's target:
VaR/ES at 99% from 1,000 paths, horizon 10, the bundled model, no slower than the 1,000-path forecast; the risk
numbers under 5% of it): each a fresh process, on the bundled MSFT daily sample, alternating, medians.

Prints one JSON object.

    .venv/bin/python bench/bench_risk_cli.py
    .venv/bin/python bench/bench_risk_cli.py --paths 2000 --repeats 5
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = "import sys; from kronos_studio.cli.main import main; sys.exit(main(sys.argv[1:]))"


def timed(args: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds, user + system) of one command in a fresh process: on a shared machine the
    wall time swings with the others' load, the CPU time much less."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, *args], check=True, env=env, cwd=ROOT, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", default="MSFT daily 2000-2013 (bundled)")
    args = parser.parse_args()

    from data_sources import load_sample

    with tempfile.TemporaryDirectory(prefix="bench-risk-cli-") as folder:
        work = Path(folder)
        bars = work / "bars.csv"
        load_sample(args.sample).frame.to_csv(bars, index=False)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "KRONOS_STUDIO_CACHE": str(work / "cache"),
               "KRONOS_STUDIO_DB": f"sqlite:///{work / 'ledger.sqlite'}", "HF_HUB_OFFLINE": "1"}
        common = [str(bars), "--horizon", str(args.horizon), "--paths", str(args.paths)]
        forecast = ["forecast", *common, "--out", str(work / "q.csv"), "--no-ledger", "--quiet"]
        risk = ["risk", *common, "--levels", "0.95", "--levels", "0.99", "--json", str(work / "risk.json")]
        times = {"forecast": [], "risk": []}
        for _ in range(args.repeats):
            times["forecast"].append(timed(forecast, env))
            times["risk"].append(timed(risk, env))
    out = {"sample": args.sample, "paths": args.paths, "horizon": args.horizon, "repeats": args.repeats}
    for i, what in enumerate(("wall", "cpu")):
        f = statistics.median(t[i] for t in times["forecast"])
        r = statistics.median(t[i] for t in times["risk"])
        out[what] = {"kronos_forecast_s": round(f, 2), "kronos_risk_s": round(r, 2), "risk_over_forecast": round(r / f - 1, 4),
                     "min_forecast_s": round(min(t[i] for t in times["forecast"]), 2),
                     "min_risk_s": round(min(t[i] for t in times["risk"]), 2)}
    print(json.dumps({**out, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}))


if __name__ == "__main__":
    main()
