"""Volume and amount as they can be: never below 0, and the amount what the history's amount is of volume x
price. Every forecast leaves its forecaster through ``bounded`` (``make_forecast``, ``make_forecasts`` and the
walk-forward call it), so Kronos, its adapters, the champion, the ensemble (its members' paths too), batch, the
walk-forward and the ledger show, score, store and export the same numbers.

Why: Kronos de-normalises every column as mean + std x the sampled value, without a floor, so a volume whose
history is skewed (a minute series' opening bar carries ten times the others) often samples below 0; its amount
is a column of its own, sampled apart from volume and price. The model core (``kronos/``) keeps those official
numbers (the equivalence tests compare them); this is the studio's reading of them:

* volume below 0 is set to 0 (each value so set is counted in the provenance);
* where the history's amount follows volume x mean(open, high, low, close) (its ratio's 10th and 90th percentiles within
  ``AMOUNT_RATIO_SPREAD`` of the median: an amount the data layer filled in, a quote volume, a turnover),
  the forecast's amount is re-derived as the path's volume x its mean price x that median ratio, so it stays
  coherent with the volume and prices shown beside it; otherwise the model's own amount is kept, set to 0
  where below. The provenance's ``volume_amount`` says which, with the counts.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from kronos.config import BAR_COLUMNS
from kronos.forecast import Forecast

VOLUME, AMOUNT = BAR_COLUMNS.index("volume"), BAR_COLUMNS.index("amount")
PRICES = [BAR_COLUMNS.index(c) for c in ("open", "high", "low", "close")]
AMOUNT_RATIO_SPREAD = 0.25  # the history's amount follows volume x price when its ratio's 10th-90th percentiles lie within 25%
KEY = "volume_amount"  # the provenance's record of what was done


def amount_ratio(history: pd.DataFrame) -> tuple[float | None, str]:
    """(the history's median amount / (volume x mean(open, high, low, close)) over the bars where both are above
    0, or None when the amount does not follow volume x price; why, in words)."""
    prices = history[["open", "high", "low", "close"]].to_numpy(np.float64).mean(axis=1)
    volume, amount = (history[c].to_numpy(np.float64) for c in ("volume", "amount"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = amount / (volume * prices)
    ratio = ratio[np.isfinite(ratio) & (volume > 0) & (amount > 0) & (prices > 0)]
    if len(ratio) < 2:
        return None, f"only {len(ratio)} bars of the history have a volume and an amount above 0"
    low, mid, high = np.percentile(ratio, [10, 50, 90])
    if low < (1 - AMOUNT_RATIO_SPREAD) * mid or high > (1 + AMOUNT_RATIO_SPREAD) * mid:
        return None, (f"the history's amount is not volume x price: its ratio to volume x mean(open, high, low, "
                      f"close) runs from {low:.3g} (10th percentile) to {high:.3g} (90th)")
    return float(mid), (f"the history's amount is {mid:.4g} x volume x mean(open, high, low, close) "
                        f"(10th to 90th percentile {low:.4g} to {high:.4g})")


def _bound(values: np.ndarray, ratio: float | None) -> tuple[np.ndarray, int, int]:
    """(``values`` [..., 6] with volume floored and amount re-derived or floored, volumes below 0, amounts
    below 0 as sampled)."""
    out = np.array(values, copy=True)
    volume, amount = out[..., VOLUME], out[..., AMOUNT]
    below = (int((volume < 0).sum()), int((amount < 0).sum()))
    out[..., VOLUME] = np.maximum(volume, 0)
    if ratio is None:
        out[..., AMOUNT] = np.maximum(amount, 0)
    else:  # a price below 0 is not a price: its amount is 0, like its volume would be
        out[..., AMOUNT] = np.maximum(out[..., VOLUME] * out[..., PRICES].mean(axis=-1) * ratio, 0)
    return out, *below


def bounded(fc: Forecast) -> Forecast:
    """``fc`` with volume and amount as they can be (see the module docstring) in its paths, its mean path and
    its members' paths (an ensemble's), and the provenance's ``volume_amount`` record of what was done. A
    forecast bounded already is returned as it is."""
    if KEY in fc.provenance:
        return fc
    ratio, why = amount_ratio(fc.history)
    paths, volumes, amounts = _bound(fc.paths, ratio)
    record = {"values": int(paths[..., VOLUME].size), "volume_floored": volumes, "amount_below_zero": amounts,
              "amount": "derived" if ratio is not None else "sampled", "amount_ratio": ratio, "why": why}
    changed = {"paths": paths, "mean": _bound(fc.mean, ratio)[0], "provenance": {**fc.provenance, KEY: record}}
    if fc.members:
        changed["members"] = {k: _bound(p, ratio)[0] for k, p in fc.members.items()}
    return dataclasses.replace(fc, **changed)


def note(provenance: dict) -> str | None:
    """One line for a page or a command's output when the forecast's volume or amount is not the model's sampled
    number read as it is (None when nothing was floored and the amount is the model's own)."""
    record = provenance.get(KEY)
    if not record:
        return None
    parts = []
    if record["volume_floored"]:
        parts.append(f"{record['volume_floored']:,} of the {record['values']:,} sampled volumes were below 0 (the "
                     "model de-normalises volume without a floor) and are 0 here")
    if record["amount"] == "derived":
        parts.append(f"amount is volume x mean(open, high, low, close) x {record['amount_ratio']:.4g}, the history's "
                     "ratio, not the model's own amount column")
    elif record["amount_below_zero"]:
        parts.append(f"{record['amount_below_zero']:,} sampled amounts were below 0 and are 0 here ({record['why']})")
    if not record["volume_floored"] and record["amount"] == "derived" and not record["amount_below_zero"]:
        return None  # the amount's rule is in the provenance and the docs; nothing on this forecast to flag
    return "; ".join(parts)
