"""What a replay costs (``kronos watch --replay-from``): 250 trading days × 6 real daily series on the bundled
model, the total time and each stage's share (reading and cutting the bars, scoring, forecasting, recording,
drift and exceptions, retraining, alerts), and a second identical run (every tick found done).

The series: AAPL, MSFT, IBM, GOOG (bundled, 2000-2013) and the S&P 500 and NASDAQ Composite indices (arch),
replayed over the 250 NYSE sessions ending 2013-03-01: inside the bundled models' training period, run with the
switch (the time is what is measured). No retrain is due (the default policy), no alert channel is set; the rules
still run.

    .venv/bin/python bench/bench_watch.py                  # 250 days x 6 series, horizon 10, 30 paths
    .venv/bin/python bench/bench_watch.py --days 60 --series 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

SAMPLES = ("AAPL daily 2000-2013 (bundled)", "MSFT daily 2000-2013 (bundled)", "IBM daily 2000-2013 (bundled)",
           "GOOG daily 2004-2013 (bundled)", "S&P 500 index daily 1999-2018 (arch)",
           "NASDAQ Composite daily 1999-2018 (arch)")
END = "2013-03-01"


def watchlist(folder: Path, count: int) -> Path:
    """A folder of the first ``count`` samples as CSV downloads up to ``END`` (naive dates: New York's)."""
    from data_sources.samples import load_sample

    folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES[:count]:
        frame = load_sample(name).frame
        frame = frame[frame["timestamp"].dt.tz_localize(None) <= END].copy()
        frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
        frame.drop(columns="amount").to_csv(folder / f"{name.split()[0].replace('&', '')}.csv", index=False)
    return folder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=250)
    p.add_argument("--series", type=int, default=6, choices=range(1, 7))
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--paths", type=int, default=30)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    os.environ["KRONOS_STUDIO_CACHE"] = str(work / "storage")
    import exchange_calendars as xcals

    from kronos.settings import ForecastSettings
    from kronos_studio.batch.watchlist import read_watchlist
    from kronos_studio.desk import Desk
    from kronos_studio.desk.watch import STAGES, Replay, WatchRequest
    from kronos_studio.ledger import Ledger

    sessions = xcals.get_calendar("XNYS").sessions_window(END, -args.days)
    folder = watchlist(work / "watchlist", args.series)
    request = WatchRequest(name="bench", entries=tuple(read_watchlist(folder)), watchlist=str(folder),
                           settings=ForecastSettings(horizon=args.horizon, paths=args.paths),
                           replay=Replay(f"{sessions[0]:%Y-%m-%d}", END),  # (its first day 00:00 UTC, END]
                           include_training_period=True)
    with Ledger.open(f"sqlite:///{work / 'ledger.sqlite'}") as ledger:
        started = time.perf_counter()
        done = Desk().watch(request, ledger)
        total = time.perf_counter() - started
        again_started = time.perf_counter()
        again = Desk().watch(request, ledger)
        again_s = time.perf_counter() - again_started
        counts = ledger.replaying(done.replay).counts()
    stages = {s: sum(t.timings[s] for t in done.ticks) for s in STAGES}
    staged = sum(stages.values())
    print(json.dumps({
        "what": f"replay of {len(done.ticks)} trading days x {args.series} daily series, bundled model",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1m": os.getloadavg()[0]},
        "settings": {"horizon": args.horizon, "paths": args.paths, "model": "bundled default"},
        "ticks": len(done.ticks), "forecasts": counts["predictions"], "scored_steps": counts["evaluations"],
        "total_s": round(total, 1), "per_tick_s": round(total / max(1, len(done.ticks)), 3),
        "stages_s": {s: round(v, 1) for s, v in stages.items()},
        "stage_share": {s: round(v / total, 3) for s, v in stages.items()},
        "outside_stages_s": round(total - staged, 1),  # set-up: reading every file once, the model, the claims
        "second_identical_run_s": round(again_s, 1),
        "second_run_ticks_done_before": sum(t.status == "already" for t in again.ticks)}, indent=2))


if __name__ == "__main__":
    main()
