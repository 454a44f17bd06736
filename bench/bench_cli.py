"""``kronos forecast`` from process start against the official predictor's one path in process.

The issue-24 case: mini 400 + 120 x 30 paths through the CLI (``--lookback 400 --horizon 120 --paths 30
--no-ledger --quiet``, the bundled AAPL sample), timed from the moment the process is started until it
exits, against the official ``KronosPredictor`` forecasting ONE path of the same 400 bars in an already
warm process (what the issue calls its in-process time). Both sides use the same random weights at the
official mini configuration and the same sampling (top-k 0, top-p ``--top-p``). The two are alternated,
``--rounds`` times, so that drifts of the machine's load hit both alike; one JSON line:
``per_path_speedup`` = median official one-path time x 30 / median CLI time (and the same per round).

    .venv/bin/python bench/bench_cli.py --rounds 5
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_forecast import build  # noqa: E402
from bench_startup import SAMPLE, kronos_command  # noqa: E402

LOOKBACK, HORIZON, PATHS = 400, 120, 30


def cli_seconds(model: Path, out: Path, top_p: float) -> float:
    argv = [*kronos_command(), "forecast", str(SAMPLE), "--model", str(model), "--horizon", str(HORIZON),
            "--paths", str(PATHS), "--lookback", str(LOOKBACK), "--top-p", str(top_p), "--quiet", "--no-ledger",
            "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kronos forecast exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top-p", type=float, default=1.0, help="both sides (default: the studio's 1.0)")
    parser.add_argument("--threads", type=int, default=2, help="the official side's torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bars = pd.read_csv(SAMPLE, parse_dates=["date"])
    history = bars.iloc[-LOOKBACK:].reset_index(drop=True)
    future = pd.Series(pd.bdate_range(history["date"].iloc[-1] + pd.Timedelta(days=1), periods=HORIZON))
    frame = history[["open", "high", "low", "close", "volume"]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tok, pred, _ = build("mini", 2048, tmp / "mini", "cpu")
        import model as official

        predictor = official.KronosPredictor(pred, tok, device="cpu", max_context=2048)

        def official_one_path() -> float:
            torch.manual_seed(0)
            started = time.perf_counter()
            predictor.predict(frame, history["date"], future, pred_len=HORIZON, T=1.0, top_k=0, top_p=args.top_p,
                              sample_count=1, verbose=False)
            return time.perf_counter() - started

        official_one_path()  # warm-up of the official side's process
        cli_seconds(tmp / "mini", tmp / "q.csv", args.top_p)  # warm-up: the page cache
        cli, ref = [], []
        for _ in range(args.rounds):
            cli.append(cli_seconds(tmp / "mini", tmp / "q.csv", args.top_p))
            ref.append(official_one_path())
    med_cli, med_ref = statistics.median(cli), statistics.median(ref)
    print(json.dumps({
        "case": f"kronos forecast, mini {LOOKBACK} + {HORIZON} x {PATHS} paths, from process start",
        "cli_s": round(med_cli, 3), "cli_min_s": round(min(cli), 3), "official_1path_s": round(med_ref, 3),
        "per_path_speedup": round(med_ref * PATHS / med_cli, 1),
        "per_path_speedup_by_round": [round(r * PATHS / c, 1) for c, r in zip(cli, ref)], "target": 40,
        "top_p": args.top_p, "rounds": args.rounds, "official_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
