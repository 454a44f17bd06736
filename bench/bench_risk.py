"""What reading risk from the paths adds to a forecast: VaR/ES at 95% and 99% (horizon and every step, long and
short, with their Monte-Carlo errors) from 1,000 paths, horizon 10, the bundled default model on the bundled
MSFT daily sample, against the time the paths took to sample. Also timed apart: the volatility forecast from
the paths alone and with its models (GARCH, GJR-GARCH, HAR, EWMA fitted on the history), and the stylized-facts
check. Target (issue 55): the risk numbers add under 5% to the sampling.

Prints one JSON object (medians over ``--repeats``).

    .venv/bin/python bench/bench_risk.py
    .venv/bin/python bench/bench_risk.py --paths 2000 --repeats 5 --model studio-small
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", default="MSFT daily 2000-2013 (bundled)")
    parser.add_argument("--model", default=None, help="a model reference (default: the bundled default model)")
    args = parser.parse_args()

    from data_sources import load_sample
    from kronos.settings import ForecastSettings
    from kronos_studio.catalog.resolve import resolve
    from kronos_studio.forecasters.make import make_forecast
    from kronos_studio.risk.measures import RiskSettings, path_risk
    from kronos_studio.risk.stylized import stylized_check
    from kronos_studio.risk.volatility import volatility_forecast

    bars = load_sample(args.sample)
    forecaster = resolve(args.model)
    settings = ForecastSettings(horizon=args.horizon, paths=args.paths, seed=0)
    make_forecast(forecaster, bars, ForecastSettings(horizon=2, paths=8))  # warm-up: first-call costs out of the timing
    sampling_s, fc = timed(lambda: make_forecast(forecaster, bars, settings), args.repeats)
    risk = RiskSettings(levels=(0.95, 0.99))
    risk_s, read = timed(lambda: path_risk(fc, risk), args.repeats)
    horizon_only_s, _ = timed(lambda: path_risk(fc, RiskSettings(levels=(0.95, 0.99), per_step=False)), args.repeats)
    vol_paths_s, _ = timed(lambda: volatility_forecast(fc, risk, models=False), args.repeats)
    vol_models_s, _ = timed(lambda: volatility_forecast(fc, risk, models=True), args.repeats)
    stylized_s, _ = timed(lambda: stylized_check(fc), args.repeats)
    var99 = read.get("long", 0.99)
    print(json.dumps({
        "model": fc.provenance.get("model") or forecaster.name, "sample": args.sample, "paths": args.paths,
        "horizon": args.horizon, "machine": platform.processor() or platform.machine(),
        "threads": fc.provenance.get("threads"),
        "sampling_s": round(sampling_s, 3),
        "risk_var_es_s": round(risk_s, 4), "risk_share_of_sampling": round(risk_s / sampling_s, 4),
        "risk_horizon_only_s": round(horizon_only_s, 4),
        "volatility_paths_s": round(vol_paths_s, 4), "volatility_with_models_s": round(vol_models_s, 4),
        "stylized_s": round(stylized_s, 4),
        "all_risk_panel_share_of_sampling": round((risk_s + vol_models_s + stylized_s) / sampling_s, 4),
        "var99_long": round(var99.var, 5), "var99_se": round(var99.var_se, 5), "es99_long": round(var99.es, 5),
        "es99_se": round(var99.es_se, 5), "notices": [n.worded() for n in read.notices],
        "target": "risk_var_es_s under 5% of sampling_s"}))


if __name__ == "__main__":
    main()
