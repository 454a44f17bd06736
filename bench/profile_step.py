"""Per-step cost of decoding, by operator: torch.profiler over the generation loop of one forecast.

Random weights at an official configuration (our own modules, no oracle needed); the forecast fits the
context, so every step is a cached decode step. Prints a table of the operators' self CPU time per step
(top ``--top``), the number of operator calls per step, and the mean step time.

    PYTHONPATH=. .venv/bin/python bench/profile_step.py --model mini --threads 2
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from kronos.generate import Prompt, generate  # noqa: E402
from kronos.model import Kronos  # noqa: E402
from kronos.sampling import SamplingConfig  # noqa: E402
from kronos.synthetic import MODEL_CONFIGS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mini", choices=["mini", "small"])
    parser.add_argument("--context", type=int, default=400)
    parser.add_argument("--horizon", type=int, default=120)
    parser.add_argument("--paths", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Kronos(MODEL_CONFIGS[args.model][0]).eval().to(getattr(torch, args.dtype))
    n, horizon = args.context, args.horizon
    g = torch.Generator().manual_seed(1)
    prompt = Prompt(torch.randint(0, 1024, (n,), generator=g), torch.randint(0, 1024, (n,), generator=g),
                    torch.zeros(n + horizon, 5))
    sampling = SamplingConfig(1.0, 0, 0.9)

    def run():
        return generate(model, [prompt], horizon, args.paths, 2048, sampling, torch.Generator().manual_seed(0))

    run()  # warm-up
    t0 = time.perf_counter()
    run()
    total = time.perf_counter() - t0
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    events = prof.key_averages()
    steps = horizon
    rows = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)
    calls = sum(e.count for e in events)
    self_total = sum(e.self_cpu_time_total for e in events)
    print(f"# {args.model} {n}+{horizon} x{args.paths}, {args.threads} threads, {args.dtype}: "
          f"{total:.3f} s per forecast unprofiled ({1e3 * total / steps:.2f} ms per step incl. prefill), "
          f"{calls / steps:.0f} operator calls per step, {self_total / 1e3 / steps:.2f} ms self CPU per step (profiled)")
    print("| operator | calls/step | self CPU ms/step |")
    print("|---|---|---|")
    for e in rows[: args.top]:
        print(f"| {e.key} | {e.count / steps:.1f} | {e.self_cpu_time_total / 1e3 / steps:.3f} |")


if __name__ == "__main__":
    main()
