"""Candles, volume and amount as they can be: a high at or above the open and close, a low at or below them,
volume never below 0, and the amount what the history's amount is of volume x price. Every forecast leaves its
forecaster through ``bounded`` (``make_forecast``, ``make_forecasts`` and the walk-forward call it), so Kronos,
its adapters, the champion, the ensemble (its members' paths too), Chronos-2, the statistical models, batch, the
walk-forward and the ledger show, score, store and export the same numbers.

Why: Kronos decodes each of a bar's six numbers from its own token bits and de-normalises every column as mean +
std x the sampled value, without a floor. So a sampled bar's high can fall below its open or close, or its low
above them (on AAPL minute bars, half of them do), a volume whose history is skewed (a minute series' opening bar
carries ten times the others) often samples below 0, and its amount is a column of its own, sampled apart from
volume and price. The model core (``kronos/``) keeps those official numbers (the equivalence tests compare them);
this is the studio's reading of them:

* candles: the high is the largest of the bar's sampled open, high, low and close and the low the smallest
  (``repair_candles``). The open and the close, which the fans, the scores and the risk read, stay as sampled,
  and every sampled price stays inside its bar (a high sampled below the low is read as the two swapped): of
  the repairs that make a valid candle, this one changes nothing that was valid and keeps every number the
  model drew within the bar. The provenance's ``candles`` counts the bars repaired;
* volume below 0 is set to 0 (each value so set is counted in the provenance, and per step); at a step where
  half the paths or more sampled a volume below 0 the volume's median is that floor, not a forecast, and the
  volume forecast is said to be unreliable there (``unreliable_steps``, ``notices``; the quantile tables carry
  each step's share of floored paths, ``FLOORED_COLUMN``);
* a volume the model does not forecast (Chronos-2 and the statistical models hold the history's recent median
  on every path) is recorded as held (``volume_held``), so no face reads it as a forecast;
* where the history's amount follows volume x mean(open, high, low, close) (its ratio's 10th and 90th percentiles
  within ``AMOUNT_RATIO_SPREAD`` of the median: an amount the data layer filled in, a quote volume, a turnover),
  the forecast's amount is re-derived as the path's volume x its mean price x that median ratio, so it stays
  coherent with the volume and prices shown beside it; otherwise the model's own amount is kept, set to 0
  where below. The provenance's ``volume_amount`` says which, with the counts.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kronos.config import BAR_COLUMNS
from kronos.errors import Notice
from kronos.forecast import Forecast
from kronos.lazy import np, pd

OPEN, HIGH, LOW, CLOSE = (BAR_COLUMNS.index(c) for c in ("open", "high", "low", "close"))
VOLUME, AMOUNT = BAR_COLUMNS.index("volume"), BAR_COLUMNS.index("amount")
PRICES = [OPEN, HIGH, LOW, CLOSE]
AMOUNT_RATIO_SPREAD = 0.25  # the history's amount follows volume x price when its ratio's 10th-90th percentiles lie within 25%
KEY = "volume_amount"  # the provenance's record of what was done to volume and amount
CANDLES = "candles"  # the provenance's record of the candles repaired
UNRELIABLE_SHARE = 0.5  # a step whose share of paths with a volume sampled below 0 is at least this has a median of 0
FLOORED_COLUMN = "volume_floored_share"  # the quantile tables' column: each step's share of paths floored at 0


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


def invalid_candles(values: np.ndarray) -> np.ndarray:
    """[...] True where a bar of ``values`` [..., 6] has a high below its open or close, or a low above them
    (a high below the low is one of the two)."""
    o, h, lo, c = (values[..., k] for k in PRICES)
    return (h < np.maximum(o, c)) | (lo > np.minimum(o, c))


def repair_candles(values: np.ndarray) -> tuple[np.ndarray, int]:
    """(``values`` [..., 6] with each bar's high the largest of its open, high, low and close and its low the
    smallest, the bars that were not valid candles as sampled): see the module docstring for why this repair."""
    out = np.array(values, copy=True)
    repaired = int(invalid_candles(out).sum())
    prices = out[..., PRICES]
    out[..., HIGH], out[..., LOW] = prices.max(axis=-1), prices.min(axis=-1)
    return out, repaired


def _bound(values: np.ndarray, ratio: float | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(``values`` [..., 6] with valid candles, volume floored and amount re-derived or floored; the volumes below
    0 as sampled (a mask like the volumes); the amounts below 0 as sampled)."""
    out, _ = repair_candles(values)
    volume, amount = out[..., VOLUME], out[..., AMOUNT]
    below, amounts_below = volume < 0, int((amount < 0).sum())
    out[..., VOLUME] = np.maximum(volume, 0)
    if ratio is None:
        out[..., AMOUNT] = np.maximum(amount, 0)
    else:  # a price below 0 is not a price: its amount is 0, like its volume would be
        out[..., AMOUNT] = np.maximum(out[..., VOLUME] * out[..., PRICES].mean(axis=-1) * ratio, 0)
    return out, below, amounts_below


def _held(volume: np.ndarray, floored: int) -> float | None:
    """The one volume every path holds at every step (a model that forecasts no volume), else None."""
    if floored or volume.size < 2 or not np.isfinite(volume).all():
        return None
    first = float(volume.flat[0])
    return first if bool((volume == first).all()) else None


def bounded(fc: Forecast) -> Forecast:
    """``fc`` with valid candles and volume and amount as they can be (see the module docstring) in its paths, its
    mean path and its members' paths (an ensemble's), and the provenance's records of what was done (``candles``,
    ``volume_amount``). A forecast bounded already is returned as it is."""
    if KEY in fc.provenance:
        return fc
    ratio, why = amount_ratio(fc.history)
    n_bars = int(np.prod(fc.paths.shape[:-1]))
    repaired = int(invalid_candles(fc.paths).sum())
    paths, below, amounts = _bound(fc.paths, ratio)
    by_step, n_paths = below.sum(axis=0), below.shape[0]  # paths [S, horizon, 6]
    record = {"values": int(paths[..., VOLUME].size), "volume_floored": int(below.sum()),
              "volume_floored_by_step": [int(x) for x in by_step], "paths": n_paths,
              "unreliable_steps": int((by_step >= UNRELIABLE_SHARE * n_paths).sum()),
              "volume_held": _held(fc.paths[..., VOLUME], int(below.sum())),
              "amount_below_zero": amounts, "amount": "derived" if ratio is not None else "sampled",
              "amount_ratio": ratio, "why": why}
    candles = {"bars": n_bars, "repaired": repaired,
               "rule": "high = max(open, high, low, close), low = min(open, high, low, close)"}
    changed = {"paths": paths, "mean": _bound(fc.mean, ratio)[0],
               "provenance": {**fc.provenance, CANDLES: candles, KEY: record}}
    if fc.members:
        changed["members"] = {k: _bound(p, ratio)[0] for k, p in fc.members.items()}
    return dataclasses.replace(fc, **changed)


def floored_share(provenance: dict) -> np.ndarray | None:
    """Each step's share of paths whose volume was sampled below 0 and is 0 here (None for a forecast without
    the record: one made before it was kept)."""
    record = provenance.get(KEY) or {}
    by_step = record.get("volume_floored_by_step")
    if by_step is None or not record.get("paths"):
        return None
    return np.asarray(by_step, np.float64) / record["paths"]


def unreliable_steps(provenance: dict) -> np.ndarray | None:
    """[horizon] True at a step where half the paths or more sampled a volume below 0 (its median is the floor,
    not a forecast); None for a forecast without the record."""
    share = floored_share(provenance)
    return None if share is None else share >= UNRELIABLE_SHARE


def volume_reading(provenance: dict) -> str:
    """How a forecast's volume reads: 'held' (the model forecasts none: every path holds one number),
    'unreliable' (at some step half the paths or more were floored at 0), or 'forecast'."""
    record = provenance.get(KEY) or {}
    if record.get("volume_held") is not None:
        return "held"
    return "unreliable" if record.get("unreliable_steps") else "forecast"


def quantile_table(fc: Forecast, levels: Sequence[float]) -> pd.DataFrame:
    """``fc.quantiles(levels)`` as the studio writes it (the command line's ``--out``, the app's download, the
    HTTP and MCP answers): with each step's share of paths whose volume was floored at 0 (``FLOORED_COLUMN``;
    half or more: that step's volume median is the floor, not a forecast)."""
    table = fc.quantiles(levels)
    share = floored_share(fc.provenance)
    if share is not None and len(share) == len(table):
        table[FLOORED_COLUMN] = share
    return table


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


def candles_note(provenance: dict) -> str | None:
    """The candles repaired, in words (None when every sampled bar was a valid candle)."""
    record = provenance.get(CANDLES)
    if not record or not record["repaired"]:
        return None
    return (f"{record['repaired']:,} of {record['bars']:,} sampled bars had a high below the open/close or a low above "
            "it; repaired (high/low widened to the bar's largest and smallest sampled price, open and close as "
            "sampled)")


def unreliable_note(provenance: dict) -> str | None:
    """The volume forecast's unreliability, in words (None where it is a forecast at every step)."""
    record = provenance.get(KEY) or {}
    if not record.get("unreliable_steps"):
        return None
    steps = len(record["volume_floored_by_step"])
    return (f"the volume forecast is unreliable: at {record['unreliable_steps']} of the {steps} steps half or more "
            f"of the {record['paths']} paths sampled a volume below 0 (the model de-normalises volume without a "
            "floor), so the volume median there is 0, the floor, not a forecast")


def held_note(provenance: dict) -> str | None:
    """A volume the model does not forecast, in words (None where it does)."""
    held = (provenance.get(KEY) or {}).get("volume_held")
    if held is None:
        return None
    return (f"this model forecasts no volume: every path holds the history's recent median volume ({held:,.0f}) at "
            "every step, so its volume quantiles are that one number, not a forecast")


def notices(provenance: dict) -> list[Notice]:
    """What a forecast's reader should know of its candles, volume and amount, as ``Notice``s (every face says
    them: ``desk.forecast_notices``): the candles repaired, a volume forecast that is unreliable or not a
    forecast, the volumes floored and the amount's rule."""
    out = []
    said = candles_note(provenance)
    if said:
        out.append(Notice(said, kind="note", values={"candles_repaired": provenance[CANDLES]["repaired"],
                                                     "bars": provenance[CANDLES]["bars"]}))
    said = unreliable_note(provenance)
    if said:
        out.append(Notice(said, values={"unreliable_steps": provenance[KEY]["unreliable_steps"]}))
    said = held_note(provenance)
    if said:
        out.append(Notice(said, kind="note", values={"volume_held": provenance[KEY]["volume_held"]}))
    said = note(provenance)
    if said:
        out.append(Notice(f"volume and amount: {said}", kind="note"))
    return out
