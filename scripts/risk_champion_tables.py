"""The tables of docs/risk.md's acceptance section from ``scripts/measure_risk_champion.py --cutoffs-out`` files: per
series and horizon, every model's exceptions, Kupiec, zone, QLIKE, mean FZ0, Diebold–Mariano against GJR-GARCH(1,1,1)-t
(QLIKE and FZ0) and the model confidence set over every model run on that series and horizon (all runs together),
then the acceptance of the default risk model.

    .venv/bin/python scripts/risk_champion_tables.py held_back_h1_cutoffs.json held_back_h1_sampled_cutoffs.json
    .venv/bin/python scripts/risk_champion_tables.py held_back_h510_cutoffs.json            # 5 and 10 bars
    .venv/bin/python scripts/risk_champion_tables.py --volatility held_back_h1_cutoffs.json held_back_h510_cutoffs.json

Runs of the same series and horizon in several files (the standard models' run, the sampled models' run) are one
table: the model confidence set is taken over every model of the series and horizon in them.

Rows of the same model from several recalibration variants are the same numbers; each model is kept once (its first
variant), and a recalibrated row is labelled by its variant.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
import pandas as pd

from kronos.errors import InputError
from kronos_studio.risk.backtest import basel_zone_of, diebold_mariano, kupiec, model_confidence_set, qlike
from kronos_studio.risk.champion import DEFAULT_RISK_MODEL

REFERENCE = "gjr_garch"
STANDARD = ("historical_simulation", "ewma_normal", "garch", "gjr_garch", "log_har", "filtered_historical_simulation")


def load(files) -> dict:
    """(series, horizon) -> label -> per-cut-off frame."""
    out = defaultdict(dict)
    for name in files:
        for line in open(name):
            d = json.loads(line)
            key = d["key"]
            label = key if not key.endswith("+recal") or d["variant"] == "aci" else f"{key} [{d['variant']}]"
            if label in out[(d["series"], d["horizon"])]:
                continue
            frame = pd.DataFrame({k: v for k, v in d.items() if isinstance(v, list)})
            frame.attrs["name"] = d["name"]
            out[(d["series"], d["horizon"])][label] = frame
    return out


def fmt(x, spec=".3f") -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def table(models: dict, horizon: int) -> tuple[pd.DataFrame, dict]:
    frames = list(models.values())
    n = min(len(f) for f in frames)
    models = {k: f.iloc[-n:].reset_index(drop=True) for k, f in models.items()}
    proxy = next(iter(models.values()))["proxy"].to_numpy(float)
    fz = pd.DataFrame({k: f["fz0"].to_numpy(float) for k, f in models.items()})
    keep = fz.notna().all(axis=1).to_numpy()  # FZ0: the cut-offs where every model's forecast is an ES
    positive = np.isfinite(proxy) & (proxy > 0)  # QLIKE: where the realized variance is above 0 (as the walk)
    ql = pd.DataFrame({k: qlike(proxy[positive], f["variance"].to_numpy(float)[positive]) for k, f in models.items()})
    fzk = fz[keep].reset_index(drop=True)
    overlap = horizon  # cut-offs one bar apart: h-bar returns overlap h at a time
    tested = list(range(n - 1, -1, -overlap))[::-1]
    rows = {}
    for k, f in models.items():
        hits95 = f["exception_long_0.95"].astype(bool).to_numpy()[tested]
        hits99 = f["exception_long_0.99"].astype(bool).to_numpy()[tested]
        row = {"name": f.attrs.get("name", k), "exc95": int(hits95.sum()), "exc99": int(hits99.sum()),
               "tested": len(tested), "exc95_all": int(f["exception_long_0.95"].astype(bool).sum()),
               "exc99_all": int(f["exception_long_0.99"].astype(bool).sum())}
        try:
            row["kupiec95"] = kupiec(hits95, 0.95).p_value
        except InputError:
            row["kupiec95"] = None
        try:
            row["kupiec99"] = kupiec(hits99, 0.99).p_value
        except InputError:
            row["kupiec99"] = None
        row["zone"] = basel_zone_of(int(hits99[-250:].sum())) if horizon == 1 and len(hits99) >= 250 else None
        row["qlike"], row["fz0"] = float(ql[k].mean()), float(fzk[k].mean())
        if k != REFERENCE and REFERENCE in models:
            row["dm_qlike"] = diebold_mariano(ql[k], ql[REFERENCE], overlap=overlap).p_value
            row["dm_fz0"] = diebold_mariano(fzk[k], fzk[REFERENCE], overlap=overlap).p_value
            row["dm_qlike_t"] = diebold_mariano(ql[k], ql[REFERENCE], overlap=overlap).statistic
            row["dm_fz0_t"] = diebold_mariano(fzk[k], fzk[REFERENCE], overlap=overlap).statistic
        rows[k] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    for name, losses in (("fz0", fzk), ("qlike", ql)):
        twin = {}
        for i, a in enumerate(losses.columns):
            twin[a] = next((b for b in losses.columns[:i] if twin.get(b) == b and np.allclose(losses[a], losses[b])), a)
        distinct = [c for c in losses.columns if twin[c] == c]
        mcs = model_confidence_set(losses[distinct], 0.1, block_size=overlap if overlap > 1 else None)
        out[f"mcs_{name}"] = [mcs.loc[twin[k], "mcs_pvalue"] for k in out.index]
    facts = {"cutoffs": n, "tested": len(tested), "first": str(next(iter(models.values()))["realized_return"].index[0]),
             "compared": int(keep.sum()), "qlike_compared": int(positive.sum())}
    return out, facts


VOLATILITY = ("kronos", "ensemble", "gjr_garch", "log_har", "garch")  # the paper task's rows (issue 66, item 4)


def volatility_table(models: dict, horizon: int) -> pd.DataFrame:
    """QLIKE and Mincer–Zarnowitz of each model's variance forecast against the realized variance (the summed squared
    close-to-close log-returns of the horizon), Diebold–Mariano of QLIKE against GJR-GARCH-t and log-HAR, the model
    confidence set on QLIKE; h-bar returns one bar apart overlap h at a time (HAC lags h - 1, MCS blocks of h)."""
    from kronos_studio.risk.backtest import mincer_zarnowitz

    models = {k: f for k, f in models.items() if k in VOLATILITY}
    n = min(len(f) for f in models.values())
    models = {k: f.iloc[-n:].reset_index(drop=True) for k, f in models.items()}
    proxy = next(iter(models.values()))["proxy"].to_numpy(float)
    keep = np.isfinite(proxy) & (proxy > 0)
    ql = pd.DataFrame({k: qlike(proxy[keep], f["variance"].to_numpy(float)[keep]) for k, f in models.items()})
    rows = {}
    for k, f in models.items():
        h = f["variance"].to_numpy(float)[keep]
        mz = mincer_zarnowitz(proxy[keep], h, overlap=horizon)
        row = {"qlike": float(ql[k].mean()), "mz_intercept": mz.intercept, "mz_slope": mz.slope, "r2": mz.r_squared,
               "mz_p": mz.joint.p_value, "mean_forecast": float(np.sqrt(h.mean())),
               "mean_realized": float(np.sqrt(proxy[keep].mean())), "n": int(keep.sum())}
        for ref in ("gjr_garch", "log_har"):
            if ref in ql and k != ref:
                dm = diebold_mariano(ql[k], ql[ref], overlap=horizon)
                row[f"dm_{ref}"] = f"{dm.statistic:+.2f} ({dm.p_value:.3f})"
        rows[k] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    mcs = model_confidence_set(ql, 0.1, block_size=horizon if horizon > 1 else None)
    out["mcs_qlike"] = mcs["mcs_pvalue"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--volatility", action="store_true", help="the volatility task's table (QLIKE, MZ) instead")
    args = parser.parse_args()
    data = load(args.files)
    if args.volatility:
        print("| series | horizon | model | QLIKE | MZ intercept | MZ slope | R² | MZ joint p | DM vs GJR-t (p) | "
              "DM vs log-HAR (p) | MCS p | mean forecast vol | realized vol |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for (series, horizon), models in data.items():
            out = volatility_table(models, horizon)
            for k, r in out.iterrows():
                print(f"| {series} | {horizon} | {k} | {r['qlike']:.3f} | {r['mz_intercept']:.2e} | {r['mz_slope']:.2f} | "
                      f"{r['r2']:.3f} | {r['mz_p']:.3f} | {r.get('dm_gjr_garch', '–') if isinstance(r.get('dm_gjr_garch'), str) else '–'} | "
                      f"{r.get('dm_log_har') if isinstance(r.get('dm_log_har'), str) else '–'} | {r['mcs_qlike']:.3f} | "
                      f"{r['mean_forecast']:.4f} | {r['mean_realized']:.4f} |")
        return
    default = DEFAULT_RISK_MODEL.label
    for (series, horizon), models in data.items():
        out, facts = table(models, horizon)
        print(f"\n### {series}, {horizon}-bar horizon ({facts['cutoffs']} cut-offs one bar apart; VaR tests on "
              f"{facts['tested']} non-overlapping; FZ0 compared on {facts['compared']}, QLIKE on "
              f"{facts['qlike_compared']})\n")
        print("| model | exc. 99% / 95% | Kupiec p 95% | Kupiec p 99% | zone | QLIKE | mean FZ0 | DM vs GJR-t: QLIKE (p) | "
              "FZ0 (p) | MCS p: FZ0 | QLIKE |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for k, r in out.iterrows():
            dm = (f"{r['dm_qlike_t']:+.2f} ({r['dm_qlike']:.3f})", f"{r['dm_fz0_t']:+.2f} ({r['dm_fz0']:.3f})") \
                if k != REFERENCE and "dm_qlike" in r and pd.notna(r.get("dm_qlike")) else ("–", "–")
            bold = "**" if k == default else ""
            print(f"| {bold}{k}{bold} | {r['exc99']} / {r['exc95']} | {fmt(r['kupiec95'])} | {fmt(r['kupiec99'])} | "
                  f"{r['zone'] or '–'} | {r['qlike']:.3f} | {r['fz0']:.4f} | {dm[0]} | {dm[1]} | {r['mcs_fz0']:.3f} | "
                  f"{r['mcs_qlike']:.3f} |")
        if default in out.index and REFERENCE in out.index:
            d, g = out.loc[default], out.loc[REFERENCE]
            best = out.loc[[k for k in STANDARD if k in out.index], "qlike"].min()
            print(f"\nacceptance of the default ({default}): 99% exceptions {d['exc99']} vs GJR-t {g['exc99']} "
                  f"({'met' if d['exc99'] <= g['exc99'] else 'missed'}); Kupiec p 95% {fmt(d['kupiec95'])} "
                  f"({'met' if (d['kupiec95'] or 0) >= 0.05 else 'missed'}); QLIKE {d['qlike']:.3f} vs the best standard "
                  f"{best:.3f} ({'met' if d['qlike'] <= best + 1e-12 else f'missed by {d.qlike - best:.3f}'})")


if __name__ == "__main__":
    main()
