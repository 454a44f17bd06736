"""What the watch's tests share: watchlist folders of daily bars, a watch request on them, the ledger's rows."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from testkit import nyse_daily_export

from kronos.settings import ForecastSettings
from kronos_studio.batch.watchlist import read_watchlist

# Real daily series held by the arch package (2018 is inside the bundled models' training period: replays of it run
# with the training-period switch, flagged).
REAL = {"SPX": "S&P 500 index daily 1999-2018 (arch)", "IXIC": "NASDAQ Composite daily 1999-2018 (arch)"}
FAST = ForecastSettings(horizon=3, paths=8, lookback=48)  # small: a tick of two series in well under a second


def real_folder(folder: Path) -> Path:
    """A watchlist folder of the two real daily series, as CSV downloads (naive dates: New York's)."""
    from data_sources.samples import load_sample

    folder.mkdir(parents=True, exist_ok=True)
    for name, sample in REAL.items():
        frame = load_sample(sample).frame.copy()
        frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
        frame.drop(columns="amount").to_csv(folder / f"{name}.csv", index=False)
    return folder


def synthetic_folder(folder: Path, end: str = "2026-06-30", names=("AAA", "BBB")) -> Path:
    """A watchlist folder of NYSE daily series after the bundled models' training period (2025)."""
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(names):
        nyse_daily_export(folder / f"{name}.csv", start="2025-06-02", end=end, seed=seed + 1, price=100.0 + 50 * seed)
    return folder


def request(folder: Path, name: str = "desk", settings: ForecastSettings = FAST, **options):
    from kronos_studio.desk.watch import WatchRequest

    return WatchRequest(name=name, entries=tuple(read_watchlist(folder, newest=True)), settings=settings,
                        watchlist=str(folder), **options)


def rows(ledger) -> pd.DataFrame:
    """Every forecast as made in the ledger (every label), by series, label and last bar."""
    from kronos_studio.ledger.schema import EVERY_REPLAY

    table = ledger.predictions_frame(replay=EVERY_REPLAY, member_rows=False)
    return table.sort_values(["replay", "symbol", "last_bar_at"]).reset_index(drop=True)
