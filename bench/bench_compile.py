"""Does torch.compile pay for the decode step? (issue 24: "only if it pays on the first forecast").

Compiles the static decoder's two steps (``kronos.static_decode.StaticDecoder.sample_step`` /
``trunk_step``: fixed shapes, no host sync, so inductor sees one graph per step) and times, in one
process on random weights at an official shape: the eager loop, the static loop run eagerly, and the
compiled static loop: its first forecast (compilation included) and its steady state. Run it twice with
the same ``--cache-dir`` to see what torch's on-disk compile caches (FX graph and AOTAutograd caches,
keyed by torch version, shapes and code) save a second process. Prints one JSON line.

    .venv/bin/python bench/bench_compile.py --threads 2 --cache-dir /tmp/inductor   # cold, then again: warm
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

CASE = ("mini", 2048, 400, 120, 30)  # model, context, lookback, horizon, paths (bench_forecast's mini case)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache-dir", default=None, help="TORCHINDUCTOR_CACHE_DIR (default: a fresh folder: cold)")
    parser.add_argument("--runs", type=int, default=3, help="timed forecasts per mode after the first")
    args = parser.parse_args()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = args.cache_dir or tempfile.mkdtemp(prefix="inductor-")
    if args.threads:
        torch.set_num_threads(args.threads)

    import kronos.static_decode as static_decode
    from kronos.checkpoints import load_pair, save_checkpoint
    from kronos.model import Kronos
    from kronos.pipeline import KronosPipeline
    from kronos.synthetic import MODEL_CONFIGS, random_bars
    from kronos.tokenizer import KronosTokenizer

    name, context, lookback, horizon, paths = CASE
    frame = random_bars(lookback + horizon, seed=1)
    history = frame.iloc[:lookback].reset_index(drop=True)
    future = pd.DatetimeIndex(frame["timestamp"].iloc[lookback:])
    report = {"case": f"{name}-{lookback}+{horizon}x{paths}", "threads": torch.get_num_threads(),
              "torch": torch.__version__, "cache_dir": os.environ["TORCHINDUCTOR_CACHE_DIR"]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pcfg, tcfg = MODEL_CONFIGS[name]
        torch.manual_seed(0)
        save_checkpoint(KronosTokenizer(tcfg).eval(), folder / "tokenizer", tcfg)
        save_checkpoint(Kronos(pcfg).eval(), folder / "predictor", pcfg)
        (folder / "bundle.json").write_text(json.dumps({"context": context, "name": name}))
        pair = load_pair(folder, device="cpu")

        def timed(pipeline) -> float:
            started = time.perf_counter()
            pipeline.predict(history, horizon, paths=paths, top_k=0, top_p=0.9, seed=0, future_timestamps=future,
                             lookback=lookback, anchor=False)
            return time.perf_counter() - started

        for mode in ("eager", "static"):
            pipeline = KronosPipeline(pair, decode=mode)
            report[f"{mode}_first_s"] = round(timed(pipeline), 3)
            report[f"{mode}_s"] = round(min(timed(pipeline) for _ in range(args.runs)), 3)

        plain_init = static_decode.StaticDecoder.__init__

        def compiled_init(self, *a, **k):
            plain_init(self, *a, **k)
            self.sample_step = torch.compile(self.sample_step, dynamic=False)
            self.trunk_step = torch.compile(self.trunk_step, dynamic=False)

        static_decode.StaticDecoder.__init__ = compiled_init
        pipeline = KronosPipeline(pair, decode="static")
        report["compiled_first_s"] = round(timed(pipeline), 3)  # compilation (or cache loading) included
        report["compiled_s"] = round(min(timed(pipeline) for _ in range(args.runs)), 3)
    report["compile_pays_after_forecasts"] = (
        None if report["compiled_s"] >= report["eager_s"] else
        round((report["compiled_first_s"] - report["eager_s"]) / (report["eager_s"] - report["compiled_s"]), 1))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
