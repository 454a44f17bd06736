"""Throughput of ``kronos batch`` (the watchlist screener) with the bundled default model.

Writes a folder of synthetic hourly bar files (a geometric random walk, 200 bars each), then times:

* the local engine end to end (model load, reading and gating every file, forecasting, writing) and its
  forecasting part alone;
* the Ray engine on a local Ray instance with ``--workers`` actors (start-up of Ray and the actors
  reported apart);
* a loop of single forecasts of the same series (one ``predict`` per series, the same gate and row
  statistics), end to end and forecasting alone, over ``--loop-series`` of them.

Prints one JSON object. Settings follow issue 15: lookback 96, horizon 10, 30 paths.

    .venv/bin/python bench/bench_batch.py                 # 600 series, local + Ray (2 workers) + loop
    .venv/bin/python bench/bench_batch.py --series 2000 --no-ray
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def write_watchlist(folder: Path, count: int, bars: int = 200) -> None:
    rng = np.random.default_rng(0)
    stamps = pd.date_range("2025-01-06", periods=bars, freq="h", tz="UTC")
    for i in range(count):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.004, bars)))
        open_ = np.r_[close[0], close[:-1]]
        frame = pd.DataFrame({"timestamp": stamps, "open": open_, "high": np.maximum(open_, close) * 1.001,
                              "low": np.minimum(open_, close) * 0.999, "close": close,
                              "volume": rng.uniform(1e3, 5e3, bars)})
        frame.to_csv(folder / f"S{i:05d}.csv", index=False)


def loop_of_single_forecasts(entries, settings) -> dict:
    """What forecasting one series at a time gives: read, gate, one predict and one row per series."""
    from kronos_studio.batch.forecaster import ChunkForecaster, SeriesJob
    from kronos_studio.batch.watchlist import load_entry

    started = time.perf_counter()
    forecaster = ChunkForecaster(None, settings)
    forecast_s = 0.0
    for entry in entries:
        loaded = load_entry(entry, forecaster.forecast_settings.lookback)
        job = SeriesJob(entry.series, entry.origin, loaded.bars, loaded.data_sha256, loaded.warnings)
        t = time.perf_counter()
        forecaster.forecast([job])
        forecast_s += time.perf_counter() - t
    elapsed = time.perf_counter() - started
    return {"series": len(entries), "series_per_min": round(60 * len(entries) / elapsed, 1),
            "forecast_series_per_min": round(60 * len(entries) / forecast_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=600)
    parser.add_argument("--loop-series", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()

    import torch

    from kronos.settings import ForecastSettings
    from kronos_studio.batch.engine import BatchRun, run_batch
    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.batch.watchlist import read_watchlist

    settings = BatchSettings(ForecastSettings(horizon=10, paths=30, seed=0, lookback=96))
    report = {"bench": "batch", "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "torch_threads": torch.get_num_threads(), "settings": {"lookback": 96, "horizon": 10, "paths": 30}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "watchlist"
        folder.mkdir()
        write_watchlist(folder, args.series)
        entries = read_watchlist(folder)

        def engine_run(engine: str, **kw) -> dict:
            started = time.perf_counter()
            result = run_batch(entries, settings, BatchRun(out=Path(tmp) / f"{engine}.parquet", engine=engine, **kw))
            elapsed = time.perf_counter() - started
            assert result.failed == 0, result.rows["status"].value_counts()
            return {"series": result.forecast, "elapsed_s": round(elapsed, 2),
                    "series_per_min": round(60 * result.forecast / elapsed, 1),
                    "forecast_s": round(result.forecast_s, 2),
                    "forecast_series_per_min": round(result.series_per_minute, 1)}

        report["local"] = engine_run("local")
        if not args.no_ray:
            report["ray"] = {"workers": args.workers, **engine_run("ray", workers=args.workers)}
            report["ray_vs_local_forecast"] = round(report["ray"]["forecast_series_per_min"]
                                                    / report["local"]["forecast_series_per_min"], 3)
            report["ray_vs_local_end_to_end"] = round(report["ray"]["series_per_min"]
                                                      / report["local"]["series_per_min"], 3)
        torch.set_num_threads(report["torch_threads"])  # Ray's driver may have changed it
        report["loop_of_single_forecasts"] = loop_of_single_forecasts(entries[: args.loop_series], settings)
    loop = report["loop_of_single_forecasts"]
    report["batch_vs_loop_forecast"] = round(report["local"]["forecast_series_per_min"]
                                             / loop["forecast_series_per_min"], 2)
    report["batch_vs_loop_end_to_end"] = round(report["local"]["series_per_min"] / loop["series_per_min"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
