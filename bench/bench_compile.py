"""Does torch.compile pay for the decode step? (issue 24: "only if it pays on the first forecast").

``KronosPipeline(decode="compiled")`` (``kronos.accel.static_decode.CompiledDecoder``: the static decoder's two
steps, each compiled whole, built on a background thread) against the eager loop and the static loop run
eagerly, in one process on random weights at an official shape: the first forecast of each, how long
until the compiled steps are ready, then alternated forecasts of all three (median and range). Run it
twice with the same ``--cache-dir`` to see what torch's on-disk compile caches (keyed by torch version,
shapes and code) save a second process. Prints one JSON line.

    .venv/bin/python bench/bench_compile.py --threads 2 --cache-dir /tmp/inductor   # cold, then again: warm
    .venv/bin/python bench/bench_compile.py --model small                           # small at 392 + 120
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

CASES = {  # model: (context, lookback, horizon, paths): bench_forecast's mini case, small at its default lookback
    "tiny": (512, 392, 120, 30), "mini": (2048, 400, 120, 30), "small": (512, 392, 120, 30)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache-dir", default=None, help="TORCHINDUCTOR_CACHE_DIR (default: a fresh folder: cold)")
    parser.add_argument("--runs", type=int, default=5, help="timed forecasts per mode after the first (alternated)")
    parser.add_argument("--model", default="mini", choices=["tiny", "mini", "small"])
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus (default 1.0, the studio's default)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="the predictor's (kronos.device)")
    args = parser.parse_args()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = args.cache_dir or tempfile.mkdtemp(prefix="inductor-")
    if args.threads:
        torch.set_num_threads(args.threads)

    from kronos.checkpoints import load_pair, save_checkpoint
    from kronos.model import Kronos
    from kronos.pipeline import KronosPipeline
    from kronos.synthetic import MODEL_CONFIGS, random_bars
    from kronos.tokenizer import KronosTokenizer

    name = args.model
    context, lookback, horizon, paths = CASES[name]
    frame = random_bars(lookback + horizon, seed=1)
    history = frame.iloc[:lookback].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[lookback:])
    report = {"case": f"{name}-{lookback}+{horizon}x{paths}", "precision": args.precision, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "cache_dir": os.environ["TORCHINDUCTOR_CACHE_DIR"]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pcfg, tcfg = MODEL_CONFIGS[name]
        torch.manual_seed(0)
        save_checkpoint(KronosTokenizer(tcfg).eval(), folder / "tokenizer", tcfg)
        save_checkpoint(Kronos(pcfg).eval(), folder / "predictor", pcfg)
        (folder / "bundle.json").write_text(json.dumps({"context": context, "name": name}))
        pair = load_pair(folder, device="cpu", precision=args.precision)

        def timed(pipeline) -> float:
            started = time.perf_counter()
            pipeline.predict(history, horizon, paths=paths, top_k=0, top_p=args.top_p, seed=0,
                             future_timestamps=future, lookback=lookback, anchor=False)
            return time.perf_counter() - started

        pipelines = {mode: KronosPipeline(pair, decode=mode) for mode in ("eager", "static")}
        for mode, pipeline in pipelines.items():
            report[f"{mode}_first_s"] = round(timed(pipeline), 3)
        # decode='compiled' as the product runs it: the first forecast runs the eager steps, then compiling
        # starts on a background thread; the time until the compiled steps are ready is what a
        # long-running process pays once per shape (with torch's on-disk caches warm: less).
        compiled = pipelines["compiled"] = KronosPipeline(pair, decode="compiled")
        started = time.perf_counter()
        report["compiled_first_s"] = round(timed(compiled), 3)
        compiled.wait_for_compilation()
        report["compile_ready_after_s"] = round(time.perf_counter() - started, 1)
        report["compile_failures"] = compiled.compile_failures()
        runs = {mode: [] for mode in pipelines}
        for _ in range(args.runs):  # alternated, so that the machine's load changes hit every mode alike
            for mode, pipeline in pipelines.items():
                runs[mode].append(timed(pipeline))
        for mode, times in runs.items():
            report[f"{mode}_s"] = round(float(np.median(times)), 3)
            report[f"{mode}_range_s"] = [round(min(times), 3), round(max(times), 3)]
    report["compiled_vs_eager"] = round(report["eager_s"] / report["compiled_s"], 2)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
