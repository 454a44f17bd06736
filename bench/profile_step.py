"""Per-step cost of decoding, by operator: torch.profiler over the generation loop of one forecast.

Random weights at an official configuration (our own modules, no oracle needed); the forecast fits the
context, so every step is a cached decode step. Prints a table of the operators' self CPU time per step
(top ``--top``), the number of operator calls per step, and the mean step time. ``--phases`` instead
times the parts of the loop by wall clock, unprofiled (prefill, the two samplings, s2 logits, embedding,
trunk, s1 head, cache writes) and the tokenizer's decode of the sampled paths after the context, as
``KronosPipeline`` runs it.

    PYTHONPATH=. .venv/bin/python bench/profile_step.py --model mini --threads 2
    PYTHONPATH=. .venv/bin/python bench/profile_step.py --model mini --threads 2 --phases --top-p 1.0
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from kronos.generate import Generation, Prompt, generate, rope_at  # noqa: E402
from kronos.model import Kronos  # noqa: E402
from kronos.sampling import SamplingConfig, sample  # noqa: E402
from kronos.synthetic import MODEL_CONFIGS  # noqa: E402
from kronos.tokenizer import KronosTokenizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mini", choices=["mini", "small"])
    parser.add_argument("--context", type=int, default=400)
    parser.add_argument("--horizon", type=int, default=120)
    parser.add_argument("--paths", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--phases", action="store_true", help="wall-clock time by part of the loop, unprofiled")
    parser.add_argument("--runs", type=int, default=3, help="--phases: forecasts averaged (after a warm-up)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Kronos(MODEL_CONFIGS[args.model][0]).eval().to(getattr(torch, args.dtype))
    n, horizon = args.context, args.horizon
    g = torch.Generator().manual_seed(1)
    prompt = Prompt(torch.randint(0, 1024, (n,), generator=g), torch.randint(0, 1024, (n,), generator=g),
                    torch.zeros(n + horizon, 5))
    sampling = SamplingConfig(1.0, 0, args.top_p)
    if args.phases:
        tokenizer = KronosTokenizer(MODEL_CONFIGS[args.model][1]).eval().to(getattr(torch, args.dtype))
        print_phases(model, tokenizer, prompt, horizon, args.paths, sampling, args.runs,
                     f"# {args.model} {n}+{horizon} x{args.paths}, {args.threads} threads, {args.dtype}, "
                     f"top-p {args.top_p}")
        return

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


def print_phases(model, tokenizer, prompt: Prompt, horizon: int, paths: int, sampling: SamplingConfig,
                 runs: int, title: str) -> None:
    """Generation's loop (``generate``) with a clock read between its parts, and the tokenizer's decode of
    the paths (``decode_continuations``): mean seconds per forecast by part."""
    totals: dict[str, float] = {}

    def forecast() -> None:
        clock = [time.perf_counter()]

        def lap(part: str) -> None:
            now = time.perf_counter()
            totals[part] = totals.get(part, 0.0) + now - clock[0]
            clock[0] = now

        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            state = Generation(model, [prompt], horizon, paths, 2048)
            logits = state.prefill()
            lap("prefill")
            for step in range(horizon):
                s1 = sample(logits, sampling, generator)
                lap("sample s1")
                s2_logits = state.s2_logits(s1)
                lap("s2 logits")
                s2 = sample(s2_logits, sampling, generator)
                lap("sample s2")
                state.append(s1, s2)
                lap("append")
                if step + 1 == horizon:
                    break
                newest = (state.known - 1)[:, None]
                x = state.seqs.embed(model, state.rows, newest)
                lap("embed")
                ropes = rope_at(state.rope_tables, newest)
                h = model.trunk_decode(x, state.caches.layers, state.generated - 1, ropes)
                lap("trunk")
                logits, k, v = model.s1_logits_and_dependency(h)
                lap("s1 head + dependency keys")
                state.caches.dependency.update(state.generated - 1, k, v)
                state.h, logits = h, logits[:, 0].float()
                lap("dependency cache write")
            (s1_ids, s2_ids), = state.tokens(horizon)
            n = len(prompt.s1)
            tokenizer.decode_continuations(s1_ids[:1, :n], s2_ids[:1, :n], s1_ids[:, n:], s2_ids[:, n:])
            lap("tokenizer decode")

    forecast()  # warm-up
    totals.clear()
    for _ in range(runs):
        forecast()
    whole = sum(totals.values()) / runs
    print(f"{title}: {whole:.3f} s per forecast (mean of {runs})")
    print("| part | s per forecast | share |")
    print("|---|---|---|")
    for part, seconds in totals.items():
        print(f"| {part} | {seconds / runs:.3f} | {seconds / runs / whole:.0%} |")


if __name__ == "__main__":
    main()
