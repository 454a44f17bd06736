"""What the recalibrated reading adds to a 1,000-path risk reading (issue 66): ``Desk.risk`` of the bundled default
Kronos (sampling 1,000 paths, horizon 10, then VaR/ES, the volatility forecast and the stylized facts: the whole
reading), against the same request served by a risk champion that is that Kronos recalibrated, its state learnt
from 250 outcomes and kept in a SQLite ledger: the forecast is the desk's cached one, so what is timed apart is the
recalibration (the state read from the ledger, the outcomes the bars now hold learnt, the recalibrated VaR/ES read at
each level's adapted tail, the state written back). Target: under 5% of the reading.

Prints one JSON object (medians over ``--repeats``).

    .venv/bin/python bench/bench_risk_recalibrated.py
    .venv/bin/python bench/bench_risk_recalibrated.py --horizon 1 --repeats 5
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time

from kronos_studio.desk import ForecastRequest, RiskRequest


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
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from data_sources import load_sample
    from kronos.settings import ForecastSettings
    from kronos_studio.bars_input import quality_gate
    from kronos_studio.bundled import bundled_models
    from kronos_studio.desk import Desk
    from kronos_studio.desk.cache import ResultCache
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import RISK_CHAMPION, Candidate, Registry, SeriesKey
    from kronos_studio.ledger.risk_state import RiskStates
    from kronos_studio.risk.champion import RiskModel
    from kronos_studio.risk.measures import RiskSettings
    from kronos_studio.risk.recalibrate import Recalibration, RecalState

    bars, _ = quality_gate(load_sample(args.sample), ["adjust_splits"])
    risk = RiskSettings(levels=(0.95, 0.99))
    settings = ForecastSettings(horizon=args.horizon, paths=args.paths, seed=0)
    name = next(iter(bundled_models()))
    model = RiskModel(name, Recalibration())
    desk = Desk(cache=ResultCache())
    Desk().forecast(ForecastRequest(bars, name, ForecastSettings(horizon=2, paths=8)))  # warm-up: first-call costs out of the timing
    # the whole reading, sampled each time (a desk without a cache)
    reading_s, done = timed(lambda: Desk().risk(RiskRequest(bars, name, settings, risk)), args.repeats)
    with tempfile.TemporaryDirectory() as folder, Ledger.open(f"sqlite:///{folder}/bench.sqlite") as ledger:
        ts = pd.DatetimeIndex(bars.frame["timestamp"])
        registry = Registry(ledger)
        identity = desk._identity(name, bars, None, ledger)[1]
        entry = registry.register(Candidate(SeriesKey.of(bars), model.label, model.state_identity(identity),
                                            ts[0].to_pydatetime(), ts[-1].to_pydatetime(), len(ts), "bench", "",
                                            model.to_settings(), "bench", kind=RISK_CHAMPION))
        registry.promote(entry.id, {}, "promoted for the benchmark")
        rng = np.random.default_rng(0)
        state = RecalState({f"{p}_{a:g}": (1 - a) * rng.uniform(0.5, 1.5) for p in risk.positions for a in risk.levels},
                           list(rng.uniform(0.5, 1.5, 250)), 250, {})
        RiskStates(ledger).put(SeriesKey.of(bars), model.describe(name), model.state_identity(identity),
                               args.horizon, {"state": state.to_dict(), "pending": [], "through": None}, None)
        desk.served_risk(RiskRequest(bars, None, settings,
                                     risk), ledger=ledger)  # samples once: the desk keeps the forecast
        recal_s, served = timed(lambda: desk.served_risk(RiskRequest(bars, None, settings,
                                                                     risk), ledger=ledger)[0], args.repeats)
    print(json.dumps({
        "model": name, "sample": args.sample, "paths": args.paths, "horizon": args.horizon,
        "machine": platform.processor() or platform.machine(), "threads": done.forecast.provenance.get("threads"),
        "risk_reading_s": round(reading_s, 3), "recalibrated_reading_added_s": round(recal_s, 4),
        "recalibrated_share_of_reading": round(recal_s / reading_s, 4),
        "served_model": served.model.label, "outcomes_learnt": served.learnt["outcomes"],
        "var99_long_raw": round(done.reading.path.get("long", 0.99).var, 5),
        "var99_long_recalibrated": round(served.get("long", 0.99)["var"], 5),
        "tail_probability_long_99": round(served.get("long", 0.99)["tail_probability"], 5),
        "target": "recalibrated_reading_added_s under 5% of risk_reading_s"}))


if __name__ == "__main__":
    main()
