"""The forecast ledger's recorded forecasts judged as risk forecasts once their bars have arrived.

Every recorded forecast keeps its sampled paths (``prediction_paths``) and is scored step by step as its bars
arrive (``evaluations``), so its VaR and ES at any level are read from the stored paths as the Risk panel
reads a fresh forecast's (``measures.tail_risk`` of the horizon return's losses), and once the bar of its last
step has been scored its exception is known: the realized horizon return (that bar's close over the last
close the forecast saw, less 1) was a loss beyond the VaR (``backtest.exceptions``).

Per workspace, series and model, the exception count is set against the expected count and tested (Kupiec,
Christoffersen: ``backtest.var_tests``) on non-overlapping forecasts only: forecasts are taken in order of
their horizon's end, each starting at or after the previous one's horizon end (its last bar at or after the
bar that ended the previous one's horizon); the others overlap a forecast already counted, their returns are
not independent of its, and are left out of the tests and counted. Too few forecasts for a test is said with
how many it needs and how many there are, instead of a p-value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from kronos.errors import InputError, Notice
from kronos.lazy import np, pd

from .backtest import exceptions, var_tests
from .measures import RiskSettings, TailRisk, position_losses, tail_notices, tail_risk
from .registry import MEASURES, VAR, judged, read_more

SERIES_MODEL = ["workspace", "source", "symbol", "interval", "model"]  # a workspace keeps its own copies
TEST_COLUMNS = [*SERIES_MODEL, "position", "level", "scored", "used", "overlapping", "pending", "exceptions",
                "expected", "exceptions_all", "kupiec_p", "christoffersen_ind_p", "christoffersen_cc_p", "zone",
                "needed", "untested"]


def tag(position: str, level: float) -> str:
    """The column suffix of a position and level (as ``walk.model_risk`` names them): 'long_0.99'."""
    return f"{position}_{level:g}"


def reading_columns(settings: RiskSettings) -> list[str]:
    """The record's columns per forecast besides its realized return, as the registry names them: per position its
    loss, then per level each measure (with what the record keeps beside it) and the VaR's exception."""
    return [c for position in settings.positions for c in (
        f"loss_{position}", *[c for level in settings.levels for c in (
            *[c for m in MEASURES.values() for c in (m.tagged(position, level),
                                                      *[f"{d}_{tag(position, level)}" for d in m.record_details])],
            f"exception_{tag(position, level)}")])]


def non_overlapping(starts: pd.Series, ends: pd.Series) -> np.ndarray:
    """[n] bool: the forecasts kept so that none overlaps another: in order of their horizon's end (then start),
    each kept when it starts at or after the horizon end of the last one kept (the most forecasts that can be
    kept so)."""
    keep = np.zeros(len(starts), bool)
    order = np.lexsort((np.arange(len(starts)), starts.to_numpy(), ends.to_numpy()))
    end = None
    for i in order:
        if end is None or starts.iloc[i] >= end:
            keep[i] = True
            end = ends.iloc[i]
    return keep


@dataclass
class RiskRecord:
    """The ledger's forecasts as risk forecasts: ``forecasts`` one row per forecast scored at its horizon
    (prediction_id, the series and model, last_bar_at, horizon_bar_at, horizon, paths, last_close,
    realized_return, ``used``: in the non-overlapping subset the tests run on; per position ``loss_{position}``;
    per position and level ``var_``, ``es_``, ``tail_paths_``, ``exception_{position}_{level}``); ``tests`` one
    row per workspace, series, model, position and level (``TEST_COLUMNS``: scored forecasts, used, overlapping
    left out, pending (recorded, horizon bar not scored yet), exceptions among the used against the expected
    count, exceptions among all scored, the p-values, the Basel zone where it applies, and where a test could
    not run, how many forecasts it needs and why)."""

    forecasts: pd.DataFrame
    tests: pd.DataFrame
    settings: RiskSettings
    experiments_left_out: int = 0  # forecasts at non-default sampling settings, left out unless asked
    notices: list[Notice] = field(default_factory=list)


def _readings(table: pd.DataFrame, closes: dict, settings: RiskSettings) -> tuple[pd.DataFrame, list[TailRisk]]:
    """The scored forecasts with their realized return, each position's loss, and each level's VaR, ES and
    exception read from the stored paths' closes at the horizon."""
    rows, tails = [], []
    ids, horizons = table["prediction_id"].to_numpy(), table["horizon"].to_numpy()
    last, happened = table["last_close"].to_numpy(np.float64), table["horizon_close"].to_numpy(np.float64)
    for pid, horizon, last_close, close in zip(ids, horizons, last, happened):
        returns = closes[pid].astype(np.float64) / last_close - 1
        realized = close / last_close - 1
        row = {"realized_return": realized}
        for position in settings.positions:
            draws = position_losses(returns, position)
            loss = float(position_losses(realized, position))
            row[f"loss_{position}"] = loss
            for level in settings.levels:
                var, _, es, _, tail, _ = tail_risk(draws, level, errors=False)  # the record needs no Monte-Carlo error
                reading = TailRisk(position, level, int(horizon), var, math.nan, es, math.nan, tail, len(draws),
                                   more=read_more(draws, level))
                tails.append(reading)
                t = tag(position, level)
                for m in MEASURES.values():
                    row[m.tagged(position, level)] = m.value(reading)
                    row |= {f"{d}_{t}": getattr(reading, d) for d in m.record_details}
                row[f"exception_{t}"] = bool(exceptions(loss, VAR.value(reading)))
        rows.append(row)
    readings = pd.DataFrame(rows, index=table.index, columns=["realized_return", *reading_columns(settings)])
    return pd.concat([table, readings], axis=1), tails


def _tests(key: tuple, group: pd.DataFrame, pending: int, settings: RiskSettings) -> list[dict]:
    """The rows of one workspace, series and model: per position and level, the counts and tests on the used
    forecasts."""
    used = group[group["used"].astype(bool)]
    one_step = bool(len(used)) and bool((used["horizon"] == 1).all())
    out = []
    for position in settings.positions:
        for level in settings.levels:
            t = tag(position, level)
            hits = used[f"exception_{t}"].to_numpy(bool)
            tests, said = var_tests(hits, level, one_step)
            refused = [n for n in said if n.kind == "warning"]
            pof, ind, cc = (tests.get(k) for k in ("kupiec_pof", "christoffersen_independence",
                                                   "christoffersen_conditional_coverage"))
            zone = tests.get("basel_traffic_light")
            needed = next((n.values.get("needed") for n in refused if n.values.get("test") in
                           ("Kupiec test", "Christoffersen test")), None)
            measured, unjudged = _judged(used, position, level)
            out.append({
                **dict(zip(SERIES_MODEL, key)), "position": position, "level": level, "scored": len(group),
                "used": len(used), "overlapping": len(group) - len(used), "pending": pending,
                "exceptions": int(hits.sum()), "expected": len(used) * (1 - level),
                "exceptions_all": int(group[f"exception_{t}"].astype(bool).sum()),
                "kupiec_p": None if pof is None else pof.p_value,
                "christoffersen_ind_p": None if ind is None else ind.p_value,
                "christoffersen_cc_p": None if cc is None else cc.p_value,
                "zone": None if zone is None else zone.counts["zone"], "needed": needed,
                "untested": "; ".join([*(f"{n.problem} (non-overlapping scored forecasts)" for n in refused),
                                       *unjudged]) or None, **measured})
    return out


def _judged(used: pd.DataFrame, position: str, level: float) -> tuple[dict[str, float | None], list[str]]:
    """Each judged measure's p-value on the non-overlapping forecasts (``{key}_p``), and why a judge could not
    run (too few forecasts, or values it does not hold)."""
    out, why = {}, []
    for m in judged():
        try:
            out[f"{m.key}_p"] = m.judge(used[f"loss_{position}"].to_numpy(np.float64),
                                        used[m.tagged(position, level)].to_numpy(np.float64), level).p_value
        except (InputError, ValueError) as e:
            out[f"{m.key}_p"] = None
            why.append(f"no {m.title} test: {e.problem if isinstance(e, InputError) else e}")
    return out, why


def risk_record(ledger, settings: RiskSettings = RiskSettings(), *, experiments: bool = False,
                member_rows: bool = False, **filters) -> RiskRecord:
    """The recorded forecasts of ``ledger`` (a ``kronos_studio.ledger.Ledger``, scoped to a workspace or not)
    matching ``filters`` (``source``, ``symbol``, ``interval``, ``models``, ``since``, ``workspace``, ...: the
    ledger's) judged as VaR/ES forecasts at ``settings``' levels and positions once their horizon's bar has
    been scored; those at non-default sampling settings only with ``experiments``, an ensemble's member rows only
    with ``member_rows``."""
    table, closes = ledger.horizon_outcomes(member_rows=member_rows, **filters)
    left_out = 0
    if not experiments:
        keep = table["non_default_settings"] == ""
        left_out = int((~keep).sum())
        table = table[keep]
    notices = []
    readable = np.isfinite(table["last_close"]) & (table["last_close"] > 0)
    if not readable.all():
        notices.append(Notice(f"{int((~readable).sum())} forecasts start from a last close that is not a positive "
                              "price: no return, left out", values={"left_out": int((~readable).sum())}))
        table = table[readable]
    no_prices = table["prediction_id"].map(lambda pid: pid in closes and bool((closes[pid] <= 0).any()))
    if no_prices.any():  # a loss beyond the position's whole value: no VaR is read from such paths (measures.no_prices)
        notices.append(Notice(f"{int(no_prices.sum())} forecasts have paths that end at a close of 0 or below (a "
                              "position cannot lose more than its value): no VaR or ES read from them, left out",
                              values={"left_out": int(no_prices.sum())}))
        table = table[~no_prices]
    scored_at_horizon = table["horizon_close"].notna()
    scored, tails = _readings(table[scored_at_horizon], closes, settings)
    scored["used"] = False
    for idx in scored.groupby(SERIES_MODEL).groups.values():
        scored.loc[idx, "used"] = non_overlapping(scored.loc[idx, "last_bar_at"], scored.loc[idx, "horizon_bar_at"])
    by = dict(list(scored.groupby(SERIES_MODEL)))
    pending = table[~scored_at_horizon].groupby(SERIES_MODEL).size()
    rows = []
    for key in sorted(table.groupby(SERIES_MODEL).groups):
        rows += _tests(key, by.get(key, scored.iloc[:0]), int(pending.get(key, 0)), settings)
    notices += [Notice(f"in the recorded forecasts' paths, {n.problem}", n.fix, n.kind, n.values)
                for n in tail_notices(tails)]
    forecasts = scored.drop(columns=["non_default_settings"]).reset_index(drop=True)
    columns = [*TEST_COLUMNS, *(f"{m.key}_p" for m in judged())]
    return RiskRecord(forecasts, pd.DataFrame(rows, columns=columns), settings, left_out, notices)
