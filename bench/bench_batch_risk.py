"""What the risk columns (VaR/ES at 95% and 99%, long and short, with their Monte-Carlo errors, and the paths'
realized volatility: ``kronos_studio.batch.summary.risk_summary``) add to a ``kronos batch`` run: ``--series``
series (windows of the bundled daily samples, each ending at another bar, so every series has its own history)
at 1,000 paths, horizon 10, the bundled default model, its default lookback, the local engine.

Timed: the batch's forecasting part with the risk columns, the risk columns alone inside that same run (each
series' ``risk_summary`` call, summed), and (unless ``--no-without``) the same batch again without them (the
risk reading replaced by nothing), ``--repeats`` times alternating. On a shared machine the with/without wall
times swing with its load by far more than the risk part; the in-run sum is the measurement that does not. Issue 55: "the Screener's risk columns for 100 series at 1,000 paths: measured
and reported".

Prints one JSON object.

    .venv/bin/python bench/bench_batch_risk.py                  # 100 series, with and without
    .venv/bin/python bench/bench_batch_risk.py --series 20 --repeats 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

DAILY = ("AAPL daily 2000-2013 (bundled)", "MSFT daily 2000-2013 (bundled)", "IBM daily 2000-2013 (bundled)",
         "GOOG daily 2004-2013 (bundled)", "S&P 500 index daily 1999-2018 (arch)",
         "NASDAQ Composite daily 1999-2018 (arch)")
BARS = 600  # bars of each series (the default lookback of the bundled model at horizon 10 is 502)
STRIDE = 23  # bars between two windows of one sample


def write_watchlist(folder: Path, count: int) -> None:
    """``count`` bar files: windows of the bundled daily samples, the i-th ending i // len(DAILY) strides before
    its sample's end."""
    from data_sources import load_sample

    frames = [load_sample(name).frame for name in DAILY]
    for i in range(count):
        frame = frames[i % len(frames)]
        end = len(frame) - (i // len(frames)) * STRIDE
        frame.iloc[end - BARS:end].to_csv(folder / f"S{i:03d}.csv", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--horizon", type=int, default=10)
    parser.add_argument("--no-without", action="store_true", help="skip the runs without the risk columns")
    parser.add_argument("--repeats", type=int, default=1, help="runs with and without, alternating (medians)")
    args = parser.parse_args()

    import torch

    from kronos.settings import ForecastSettings
    from kronos_studio.batch import forecaster as batch_forecaster
    from kronos_studio.batch.engine import BatchRun, run_batch
    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.batch.watchlist import read_watchlist

    settings = BatchSettings(ForecastSettings(horizon=args.horizon, paths=args.paths, seed=0))
    reading = batch_forecaster.risk_summary
    risk_s = [0.0]

    def timed_reading(fc, risk):
        started = time.perf_counter()
        try:
            return reading(fc, risk)
        finally:
            risk_s[0] += time.perf_counter() - started

    report = {"bench": "batch_risk", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "torch_threads": torch.get_num_threads(), "series": args.series,
              "settings": {"horizon": args.horizon, "paths": args.paths, "lookback": "model default",
                           "risk": {"levels": list(settings.risk.levels), "positions": list(settings.risk.positions)}}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "watchlist"
        folder.mkdir()
        write_watchlist(folder, args.series)
        entries = read_watchlist(folder)

        def batch(name: str) -> dict:
            started = time.perf_counter()
            result = run_batch(entries, settings, BatchRun(out=Path(tmp) / f"{name}.parquet"))
            elapsed = time.perf_counter() - started
            assert result.failed == 0, result.rows["status"].value_counts()
            return {"elapsed_s": round(elapsed, 2), "forecast_s": round(result.forecast_s, 2),
                    "forecast_s_per_series": round(result.forecast_s / result.forecast, 3),
                    "columns": len(result.rows.columns)}

        # warm-up: the model's loading and first-call costs out of the timed runs
        run_batch(entries[:1], BatchSettings(ForecastSettings(horizon=args.horizon, paths=8, seed=0)),
                  BatchRun(out=Path(tmp) / "warm.parquet"))
        with_runs, without_runs = [], []
        try:
            for i in range(args.repeats):  # alternating, so that a change in the machine's load touches both
                risk_s[0] = 0.0
                batch_forecaster.risk_summary = timed_reading
                with_runs.append({**batch(f"with{i}"), "risk_columns_s": round(risk_s[0], 3),
                                  "risk_columns_ms_per_series": round(1000 * risk_s[0] / args.series, 2)})
                if not args.no_without:
                    batch_forecaster.risk_summary = lambda fc, risk: {}
                    without_runs.append(batch(f"without{i}"))
        finally:
            batch_forecaster.risk_summary = reading
    median = statistics.median
    report["with_risk"] = with_runs
    report["risk_share_of_forecast"] = round(median(r["risk_columns_s"] / r["forecast_s"] for r in with_runs), 4)
    if without_runs:
        report["without_risk"] = without_runs
        report["with_over_without_forecast_median"] = round(median(r["forecast_s"] for r in with_runs)
                                                            / median(r["forecast_s"] for r in without_runs), 4)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
