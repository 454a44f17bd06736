"""Whether the compiled attention over each path's own tokens is bound by memory: ``attend_paths`` compiled
as the static decode step runs it (mini's shapes: 30 paths, 4 heads of 64, a 400-bar context in 448 slots, 128
generated slots), for 1 layer and for the 5 attention caches of a mini step (4 layers and the s2 dependency
layer), at several counts of written slots.

One layer's caches (~8.8 MB) stay in this host's L3; five (~44 MB, beside ~16 MB of weights in a real step) do
not. The cost of one more written slot per layer (the least-squares slope over 8 ... 120 slots) is the
own-token part; prints one JSON object.

    PYTHONPATH=. .venv/bin/python bench/bench_own_attention.py --threads 2
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from kronos.layers import PathKVCache, attend_paths

PATHS, HEADS, HEAD_DIM, CONTEXT, CONTEXT_SLOTS, GENERATED_SLOTS = 30, 4, 64, 400, 448, 128
MINI_CACHES = 5  # attention caches a mini step reads: 4 layers and the dependency layer


def per_layer_seconds(layers: int, reaches: list[int], calls: int) -> dict[int, float]:
    """Best-of-7 mean seconds of one layer's compiled attention at each reach, ``layers`` caches in a chain."""
    caches = []
    for _ in range(layers):
        cache = PathKVCache.empty([CONTEXT], PATHS, GENERATED_SLOTS, HEADS, HEAD_DIM, torch.zeros(1),
                                  context_capacity=CONTEXT_SLOTS)
        for t in (cache.context.k, cache.context.v, cache.generated.k, cache.generated.v):
            t.normal_()
        caches.append(cache)

    def step(q, span, length):
        for cache in caches:  # each layer's query is the previous output, as in the trunk
            q = attend_paths(q, dataclasses.replace(cache, reach=span.shape[0]), length)
        return q

    compiled = torch.compile(step, fullgraph=True, options={"cpp_wrapper": True})
    q, slots = torch.randn(PATHS, HEADS, 1, HEAD_DIM), torch.zeros(GENERATED_SLOTS)
    inputs = {}
    with torch.no_grad():
        for reach in reaches:
            span, length = slots[:reach], torch.tensor([reach - 1])
            torch._dynamo.mark_dynamic(span, 0)
            inputs[reach] = (q, span, length)
            for _ in range(50):  # compiles once, then warms the thread pool and the caches
                compiled(*inputs[reach])
        best = dict.fromkeys(reaches, float("inf"))
        for _ in range(7):  # the reaches in turn, best of 7: a drift of the host's speed hits them all alike
            for reach in reaches:
                t0 = time.perf_counter()
                for _ in range(calls):
                    compiled(*inputs[reach])
                best[reach] = min(best[reach], (time.perf_counter() - t0) / calls)
    return {reach: t / layers for reach, t in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reaches = [8, 32, 64, 96, 120]
    report = {"threads": args.threads, "torch": torch.__version__}
    per_slot_bytes = 2 * PATHS * HEADS * HEAD_DIM * 4  # a slot's keys and values, every path
    for layers in (1, MINI_CACHES):
        times = per_layer_seconds(layers, reaches, args.calls)
        slope = float(np.polyfit(reaches, [times[r] for r in reaches], 1)[0])  # least squares over the reaches
        report[f"{layers}_layers"] = {
            "us_per_layer": {str(r): round(t * 1e6, 1) for r, t in times.items()},
            "us_per_written_slot": round(slope * 1e6, 2),
            "own_tokens_GB_per_s": round(per_slot_bytes / slope / 1e9, 1) if slope > 0 else None,
            "caches_MB": round(layers * (2 * PATHS * HEADS * GENERATED_SLOTS + 2 * HEADS * CONTEXT_SLOTS) * HEAD_DIM * 4 / 1e6, 1),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
