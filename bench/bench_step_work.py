"""What each decode step of a forecast costs, against ``kronos.generate.step_work``'s model of it (the app's ETA).

Times every step (the interval between two ``progress`` calls) of a bundled model's forecast of a bundled sample,
then fits ``SLIDING_TOKEN_WORK``: a step whose window slides costs 1 + k x (tokens each path runs through the trunk
again) cached steps; prints one JSON line per case with the cached step's mean time, the fitted k, the total, and
what an ETA said once the cached steps were done: the old linear one (elapsed / steps x steps left), the one
``step_work`` gives, and the seconds that really remained; then what the app's ETA (``app_support.runs.Eta``) says
once the first sliding step has run (the sliding steps left at that step's rate per unit of work).

    PYTHONPATH=. .venv/bin/python bench/bench_step_work.py                       # studio-tiny, 2,000 paths, 98 + 72
    PYTHONPATH=. .venv/bin/python bench/bench_step_work.py --model studio-small --paths 1000 --threads 2
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="studio-tiny")
    parser.add_argument("--sample", default=None, help="a bundled sample (default: the first)")
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--lookback", type=int, default=98)
    parser.add_argument("--horizon", type=int, default=72)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    from data_sources import list_samples, load_sample
    from kronos.checkpoints import load_pair
    from kronos.generate import SLIDING_TOKEN_WORK, cached_steps, step_work
    from kronos.pipeline import KronosPipeline
    from kronos.settings import ForecastSettings
    from kronos.threads import configure
    from kronos_studio.bundled import bundled_models

    configure(args.threads)
    pair = load_pair(bundled_models()[args.model], device="cpu")
    pipeline = KronosPipeline(pair)
    bars = load_sample(args.sample or list_samples()[0].name)
    settings = ForecastSettings(horizon=args.horizon, paths=args.paths, lookback=args.lookback, seed=1)
    n = min(len(bars), args.lookback)
    cached = cached_steps([n], args.horizon, pair.context)
    work = np.array(step_work([n], args.horizon, pair.context))
    for run in range(args.runs):
        stamps = []
        started = time.perf_counter()
        pipeline.predict(bars, settings=settings, progress=lambda i, total, _s=stamps: _s.append(time.perf_counter()))
        total = time.perf_counter() - started
        steps = np.diff([started, *stamps])
        unit = float(np.median(steps[1:cached])) if cached > 2 else float("nan")
        sliding = np.arange(args.horizon) >= cached
        tokens = np.minimum(np.arange(args.horizon), pair.context)[sliding]
        fitted = float(np.sum((steps[sliding] / unit - 1) * tokens) / np.sum(tokens ** 2)) if sliding.any() else None
        at = stamps[cached - 1] - started if cached else 0.0
        first = cached < args.horizon  # a sliding step has run: the app's Eta prices those left at its own rate
        after_first = (steps[cached] / work[cached] * work[cached + 1:].sum()) if first else None
        print(json.dumps({
            "model": args.model, "context": pair.context, "paths": args.paths, "lookback": n, "horizon": args.horizon,
            "threads": args.threads, "run": run, "cached_steps": cached, "cached_step_s": round(unit, 4),
            "sliding_token_work_fitted": None if fitted is None else round(fitted, 3),
            "sliding_token_work_used": SLIDING_TOKEN_WORK, "total_s": round(total, 2),
            "after_cached_steps": {"elapsed_s": round(at, 2),
                                   "linear_eta_s": round(at / max(cached, 1) * (args.horizon - cached), 2),
                                   "work_eta_s": round(at / work[:cached].sum() * work[cached:].sum(), 2) if cached else None,
                                   "really_left_s": round(stamps[-1] - started - at, 2)},
            "after_first_sliding_step": None if not first else {
                "eta_s": round(float(after_first), 2), "really_left_s": round(float(steps[cached + 1:].sum()), 2)}}))


if __name__ == "__main__":
    main()
