"""The tokenizer's decode of a forecast's paths in passes of DECODE_CHUNK_TOKENS tokens, against one pass.

Mini 400 + 120 x 30 on random weights at the official configuration (eager or compiled decode), in one
process: forecasts alternated between the two settings (so that the machine's changes of pace hit both),
each timed whole and in its tokenizer decode, with the page faults it took (``ru_minflt``). The bars are
the same either way (rows are independent). Prints one JSON line.

    .venv/bin/python bench/bench_decode_chunks.py --threads 2 --rounds 8
    .venv/bin/python bench/bench_decode_chunks.py --threads 2 --decode compiled
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

import kronos.tokenizer as tokenizer_module
from kronos.checkpoints import load_pair, save_checkpoint
from kronos.model import Kronos
from kronos.pipeline import KronosPipeline
from kronos.synthetic import MODEL_CONFIGS, random_bars
from kronos.tokenizer import KronosTokenizer

CONTEXT, LOOKBACK, HORIZON, PATHS = 2048, 400, 120, 30  # bench_forecast's mini case
ONE_PASS = 10 ** 9  # chunk tokens: the whole continuation in one pass, as before the chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=8, help="forecasts per setting, alternated")
    parser.add_argument("--decode", default="eager", choices=["eager", "compiled"])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    frame = random_bars(LOOKBACK + HORIZON, seed=1)
    history = frame.iloc[:LOOKBACK].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[LOOKBACK:])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pcfg, tcfg = MODEL_CONFIGS["mini"]
        torch.manual_seed(0)
        save_checkpoint(KronosTokenizer(tcfg).eval(), folder / "tokenizer", tcfg)
        save_checkpoint(Kronos(pcfg).eval(), folder / "predictor", pcfg)
        (folder / "bundle.json").write_text(json.dumps({"context": CONTEXT, "name": "mini"}))
        pair = load_pair(folder, device="cpu")
        pipeline = KronosPipeline(pair, decode=args.decode)
        decode, spent = pair.tokenizer.decode_continuations, []

        def timed_decode(*a, **kw):
            started = time.perf_counter()
            out = decode(*a, **kw)
            spent.append(time.perf_counter() - started)
            return out

        pair.tokenizer.decode_continuations = timed_decode

        def forecast():
            return pipeline.predict(history, HORIZON, paths=PATHS, top_k=0, top_p=1.0, seed=0,
                                    future_timestamps=future, lookback=LOOKBACK, anchor=False)

        forecast()
        pipeline.wait_for_compilation()
        settings = {"chunked": tokenizer_module.DECODE_CHUNK_TOKENS, "one_pass": ONE_PASS}
        runs = {name: {"forecast_s": [], "decode_s": [], "page_faults": []} for name in settings}
        paths = {}
        for _ in range(args.rounds):
            for name, tokens in settings.items():
                tokenizer_module.DECODE_CHUNK_TOKENS = tokens
                forecast()  # the allocator settles to this setting first
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                started = time.perf_counter()
                paths[name] = forecast().paths
                runs[name]["forecast_s"].append(time.perf_counter() - started)
                runs[name]["decode_s"].append(spent[-1])
                runs[name]["page_faults"].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults)
    report = {"case": f"mini-{LOOKBACK}+{HORIZON}x{PATHS}", "decode": args.decode, "threads": torch.get_num_threads(),
              "chunk_tokens": settings["chunked"], "rounds": args.rounds, "same_paths": bool((paths["chunked"] == paths["one_pass"]).all())}
    for name, r in runs.items():
        for key, values in r.items():
            median = statistics.median(values)
            report[f"{name}_{key}"] = int(median) if key == "page_faults" else round(float(median), 4)
    report["decode_speedup"] = round(report["one_pass_decode_s"] / report["chunked_decode_s"], 3)
    report["forecast_speedup"] = round(report["one_pass_forecast_s"] / report["chunked_forecast_s"], 3)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
