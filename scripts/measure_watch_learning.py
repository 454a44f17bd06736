"""Does the loop learn? A replay with learning (``kronos watch --replay-from ... --learn``) of the ensemble on a
series from a market the bundled meta-learner never saw, then the ensemble's CRPS against its best member on the
walk-forward cut-offs after the replay: with the bundled meta-learner (before) and with the meta-learner the
replay's gate promoted, if it promoted one (after).

The series: WTI crude oil, daily spot closes 1986-2019 (the arch package's ``arch.data.wti``, from FRED): a
commodity, where the bundled meta-learner learned from US equities, US indices and one currency pair. Only closes
are published: each bar opens at the previous close, its high and low are the larger and smaller of the two, its
volume a constant (what the members read of the range is so the day's move). The studio's models record a
training period to 2025-12-31, so these 2016-2018 cut-offs run with the training-period switch, flagged; the bundled
studio-tiny never trained on oil either (docs/model.md).

    .venv/bin/python scripts/measure_watch_learning.py [--replay-ticks 250] [--cutoffs 30] [--horizon 10]

Prints JSON: the setup, the replay's meta-learner decisions in time order, and before/after per member and model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def wti_bars_csv(folder: Path, end: str) -> Path:
    """The WTI daily closes as a bar file (up to ``end``), bars built from closes as the module says."""
    import arch.data.wti

    close = arch.data.wti.load()["DCOILWTICO"].dropna()
    close = close[close.index <= end]
    open_ = close.shift(1).fillna(close.iloc[0])
    frame = pd.DataFrame({"timestamp": close.index.strftime("%Y-%m-%d"), "open": open_.to_numpy(),
                          "high": pd.concat([open_, close], axis=1).max(axis=1).to_numpy(),
                          "low": pd.concat([open_, close], axis=1).min(axis=1).to_numpy(), "close": close.to_numpy(),
                          "volume": 1.0})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "WTI.csv"
    frame.to_csv(path, index=False)
    return path


def versus(report: dict) -> dict:
    """Each member's and the ensemble's CRPS (% of price) and the ensemble's skill against its best member."""
    models = report["models"]
    out = {key.removeprefix("member_"): round(v["crps_pct"], 4) for key, v in models.items()
           if key.startswith("member_")}
    out["ensemble"] = round(models["model"]["crps_pct"], 4)
    best = models["model"]["vs_best_member"]
    out["best_member"] = best["member"].removeprefix("member_")
    out["vs_best_member"] = {"crps_skill": round(best["crps_skill"], 4), "ci95": [round(x, 4) for x in best["ci95"]]}
    out["ensemble_vs_best_pct"] = round(100 * (out["ensemble"] / out[out["best_member"]] - 1), 2)
    meta = report["model"].get("meta_learner") or {}
    out["meta_learner"] = {k: meta.get(k) for k in ("method", "spread", "files_sha256", "registry_id") if k in meta}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replay-ticks", type=int, default=250, help="sessions replayed before the first cut-off")
    p.add_argument("--cutoffs", type=int, default=30)
    p.add_argument("--horizon", type=int, default=10)
    p.add_argument("--learn-every", type=int, default=25)
    p.add_argument("--end", default="2018-12-31", help="the last bar of the evaluation")
    p.add_argument("--work", default=None, help="a folder to keep the ledger and files in (default: a temporary one)")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="watch-learning-"))
    os.environ["KRONOS_STUDIO_CACHE"] = str(work / "storage")  # the replay's meta-learners live there
    from kronos.settings import ForecastSettings
    from kronos_studio.bars_input import read_bars
    from kronos_studio.batch.watchlist import read_watchlist
    from kronos_studio.desk import Desk
    from kronos_studio.desk.watch import Replay, RetrainPolicy, WatchRequest
    from kronos_studio.ensemble.bundled import ENSEMBLE_DIR
    from kronos_studio.ensemble.gated import champion_meta
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import META_LEARNER, Registry

    path = wti_bars_csv(work / "watchlist", args.end)
    bars = read_bars(path.read_bytes(), path.name)
    settings = ForecastSettings(horizon=args.horizon)
    desk = Desk()
    started = time.perf_counter()
    before = desk.evaluate(bars, "ensemble", settings, cutoffs=args.cutoffs, include_training_period=True,
                           meta=str(ENSEMBLE_DIR)).report.out
    first_cutoff = pd.Timestamp(before["first_cutoff"])
    stamps = bars.timestamps.tz_localize(None) if bars.timestamps.tz is not None else bars.timestamps
    at = int(stamps.searchsorted(first_cutoff.tz_localize(None) if first_cutoff.tzinfo else first_cutoff))
    start = stamps[max(0, at - args.replay_ticks - 1)]
    end = stamps[at - 1]  # the replay ends the session before the first cut-off: nothing it learns is after
    request = WatchRequest(name="wti learning", entries=tuple(read_watchlist(path.parent)), settings=settings,
                           model="ensemble", watchlist=str(path.parent),
                           replay=Replay(f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"), learn=True,
                           retrain=RetrainPolicy(learn_every=args.learn_every), include_training_period=True)
    replay_started = time.perf_counter()
    with Ledger.open(f"sqlite:///{work / 'ledger.sqlite'}") as ledger:
        done = desk.watch(request, ledger, progress=lambda i, n, t: print(
            f"[{i}/{n}] {t.tick_at:%Y-%m-%d} {t.status} " + "; ".join(
                n.worded() for n in t.notices if "meta-learner" in n.problem), file=sys.stderr, flush=True))
        replay_s = time.perf_counter() - replay_started
        past = ledger.replaying(done.replay)
        registry = Registry(past)
        decisions = [{"id": e.id, "status": e.status, "trained_on_forecasts": e.window_bars,
                      "decided": None if e.decided_at is None else e.decided_at.isoformat(),
                      "held_out_from": (e.scores or {}).get("held_out_from"),
                      "crps": (e.scores or {}).get("crps"), "reason": e.reason}
                     for e in registry.entries(kind=META_LEARNER)]
        champion = champion_meta(registry)
    after = None
    if champion is not None:
        after = desk.evaluate(bars, "ensemble", settings, cutoffs=args.cutoffs, include_training_period=True,
                              meta=champion.path).report.out
    print(json.dumps({
        "series": "WTI crude oil daily closes (arch.data.wti)", "horizon": args.horizon, "cutoffs": before["cutoffs"],
        "first_cutoff": before["first_cutoff"], "last_cutoff": before["last_cutoff"],
        "replay": {"from": f"{start:%Y-%m-%d}", "to": f"{end:%Y-%m-%d}", "ticks": len(done.ticks),
                   "label": done.replay, "seconds": round(replay_s, 1), "learn_every": args.learn_every},
        "meta_learner_decisions": decisions,
        "before": versus(before), "after": None if after is None else versus(after),
        "after_note": None if after is not None else "the replay's gate promoted no meta-learner: the ensemble "
                                                     "served after the replay is the bundled one (before = after)",
        "seconds": round(time.perf_counter() - started, 1), "work": str(work)}, indent=2, default=str))


if __name__ == "__main__":
    main()
