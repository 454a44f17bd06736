"""Value-at-risk and expected shortfall read from a forecast's sample paths, with their Monte-Carlo errors.

A position's return to step k is its value's simple return from the last observed close: close_k / last - 1
for a long position, its negative for a short one; its loss is minus that. At level a (0.99), from S draws:

* VaR: the a-quantile of the loss over the paths (read as every studio quantile is, ``kronos.quantiles``).
* ES: the mean of the worst S (1 - a) losses, the draw at the edge weighted by the fraction of it that lies
  inside (Acerbi & Tasche 2002): with the losses sorted from the worst, k = S (1 - a), m = floor(k),
  ES = (L_(1) + ... + L_(m) + (k - m) L_(m+1)) / k. Draws tied at the VaR (Kronos' paths take a few dozen
  distinct values at a step: its tokenizer's bins) count only as far as they fill the tail; "the mean of the
  losses at or beyond the VaR" averages every tied draw and reads the ES too low.
* VaR's standard error: the sample quantile's asymptotic one, sqrt(a (1 - a) / S) / f(VaR), the loss density f
  at the VaR from a Gaussian kernel estimate (``scipy.stats.gaussian_kde``).
* ES's standard error: the tail mean's asymptotic one, sqrt((Var(tail) + a (ES - VaR)^2) / (S (1 - a))), Var(tail)
  the weighted variance of the same worst S (1 - a) draws; the second term is what the VaR's own sampling error
  adds to the tail's.

An error that cannot be estimated is NaN (None in JSON, "–" on screen) with the reason in ``error_note``: an ES
resting on less than 2 paths' worth of tail, draws without spread; an error larger than its reading is flagged
there too. An ES rests on S (1 - a) paths beyond the VaR (``tail_paths``): fewer than ``MIN_TAIL_PATHS`` is
flagged with the path count that gives enough (a 99% ES needs 2,000 paths), and a risk request samples that many
unless asked otherwise (``default_paths``). Paths that reach a close of 0 or below are no prices (a long would
lose more than its value): no VaR or ES is read from them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from kronos.config import CLOSE
from kronos.errors import Fix, InputError, Notice
from kronos.lazy import np, pd
from kronos.quantiles import path_quantiles
from kronos.settings import Bounds, check_bounds, knob

from .registry import read_more

LEVEL_RANGE = (0.5, 0.9999)  # open interval a VaR level must lie in
MAX_LEVELS = 20  # VaR/ES levels of one reading: each is read per position (and per step), so their count is bounded
POSITIONS = ("long", "short")
MIN_TAIL_PATHS = 20  # paths beyond the VaR an ES is read from at least (fewer: flagged)
MIN_ERROR_TAIL = 2  # paths' worth of tail an ES's error is estimated from at least (its spread needs two)
RISKMETRICS_LAMBDA = 0.94  # RiskMetrics' (1996) decay for daily returns


@dataclass(frozen=True)
class RiskSettings:
    """What a risk reading is asked for beyond the forecast's settings; each field's ``Knob`` is how a face
    offers it (as ``kronos.settings.ForecastSettings``' knobs are)."""

    levels: tuple[float, ...] = knob((0.95, 0.99), Bounds(gt=LEVEL_RANGE[0], lt=LEVEL_RANGE[1], min_items=1,
                                                          max_items=MAX_LEVELS, unique=True, what="VaR/ES levels"),
                                     label="VaR/ES levels", low=LEVEL_RANGE[0], high=LEVEL_RANGE[1], step=0.005, help="confidence levels of value-at-risk and expected shortfall: "
                                                      "0.99 is the loss exceeded on 1 path in 100")
    positions: tuple[str, ...] = knob(POSITIONS, Bounds(choices=POSITIONS, min_items=1, max_items=len(POSITIONS),
                                                        unique=True), label="Positions",
                                      help="long (a loss when the price falls) and/or short (a loss when it rises)")
    per_step: bool = knob(True, label="VaR/ES at every step", more=True,
                          help="also read VaR and ES of the return to each bar of the horizon, not only to its end")
    vol_interval: float = knob(0.9, Bounds(gt=0, lt=1, what="the volatility interval"), label="Volatility interval", low=0.5, high=0.99, step=0.01, more=True,
                               help="central share of paths the realized-volatility interval holds")
    history_window: int = knob(20, Bounds(ge=2, unit="bar", what="the history volatility window"),
                               label="History volatility window (bars)", low=5, high=1000, more=True,
                               help="bars of history whose realized volatility is shown beside the forecast")
    ewma_lambda: float = knob(RISKMETRICS_LAMBDA, Bounds(gt=0, lt=1, what="the EWMA decay"), label="EWMA decay (lambda)", low=0.8, high=0.999, step=0.001,
                              more=True, help="RiskMetrics' exponential weight of past squared returns (0.94 daily)")

    def __post_init__(self):
        object.__setattr__(self, "levels", tuple(float(a) for a in np.atleast_1d(self.levels)))
        object.__setattr__(self, "positions", tuple(np.atleast_1d(self.positions).tolist()))
        check_bounds(self)  # each field's Bounds: one rule for every face


def paths_needed(level: float, tail: int = MIN_TAIL_PATHS) -> int:
    """Paths that leave ``tail`` of them beyond the ``level`` VaR: 2,000 for 99%, 400 for 95%."""
    return math.ceil(round(tail / (1 - level), 9))


def default_paths(levels) -> int:
    """The paths a risk request (a reading or a backtest, on every face) samples when none are asked: enough for its
    highest level's ES (``paths_needed``): 2,000 for the default levels (0.95, 0.99)."""
    return paths_needed(max(np.atleast_1d(levels)))


def tail_paths_of(draws: int, level: float) -> float:
    """The draws' worth of tail an ES at ``level`` is the mean of: S (1 - a), 0.3 for a 99% ES of 30 paths."""
    return round(draws * (1 - level), 9)


@dataclass(frozen=True)
class TailRisk:
    """VaR and ES of one position's return to one step, as positive fractions of the position's value."""

    position: str
    level: float
    step: int  # 1 .. horizon: the return from the last close to that bar's close
    var: float
    var_se: float
    es: float
    es_se: float
    tail_paths: float  # the paths' worth of tail the ES is the mean of: paths x (1 - level)
    paths: int
    error_note: str | None = None  # why an error is missing (NaN), or that it exceeds its reading
    more: dict[str, float] = field(default_factory=dict)  # the registered measures besides VaR and ES, by key

    @property
    def enough_paths(self) -> bool:
        return self.tail_paths >= MIN_TAIL_PATHS

    def fields(self) -> dict:
        """Its numbers and notes flat, the other registered measures' beside VaR's and ES's."""
        return {**{k: v for k, v in self.__dict__.items() if k != "more"}, **self.more}


def position_losses(returns: np.ndarray, position: str) -> np.ndarray:
    """Losses (positive = money lost, as a fraction of the position) of a long or short position."""
    return -np.asarray(returns, np.float64) if position == "long" else np.asarray(returns, np.float64)


class TailEstimate(NamedTuple):
    """VaR and ES of draws of a loss, their Monte-Carlo errors, the draws' worth of tail the ES is the mean of,
    and why an error is missing or is larger than its reading (None: nothing to say)."""

    var: float
    var_se: float
    es: float
    es_se: float
    tail_paths: float
    error_note: str | None


def tail_mean(losses: np.ndarray, level: float) -> tuple[float, np.ndarray, np.ndarray]:
    """(ES, the tail's draws, their weights) of finite ``losses`` at ``level``: the mean of the worst n (1 - a)
    draws, the draw at the edge weighted by the fraction of it inside (Acerbi–Tasche; ties at the VaR count only as
    far as they fill the tail)."""
    k = tail_paths_of(len(losses), level)
    whole = int(math.floor(k))
    worst = -np.sort(-np.partition(losses, len(losses) - whole - 1)[len(losses) - whole - 1:])  # the worst m + 1
    weights = np.r_[np.ones(whole), k - whole]
    return float(weights @ worst / k), worst, weights


def _pct(x: float) -> str:
    return f"{x:.2%}"


def tail_risk(losses: np.ndarray, level: float, errors: bool = True) -> TailEstimate:
    """VaR, ES (``tail_mean``) and their errors of the draws ``losses`` at ``level``; without ``errors`` the errors
    are NaN, not estimated (the kernel density costs two thirds of the call), and nothing is noted of them."""
    from scipy.stats import gaussian_kde, norm

    x = np.asarray(losses, np.float64)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return TailEstimate(math.nan, math.nan, math.nan, math.nan, 0.0, "no path has a readable loss")
    var = float(path_quantiles(x, level))
    es, tail, weights = tail_mean(x, level)
    k = tail_paths_of(n, level)
    if not errors:
        return TailEstimate(var, math.nan, es, math.nan, k, None)
    notes, var_se, es_se = [], math.nan, math.nan
    if np.ptp(x) == 0:
        notes.append(f"all {n} paths lose the same: no spread to estimate the errors from")
    else:
        try:  # the kernel estimate at one point, read as the mean of its kernels (gaussian_kde's own evaluate
            # goes through a BLAS triangular solve that costs ~10 ms on a busy machine, 100x this)
            bandwidth = math.sqrt(float(gaussian_kde(x).covariance[0, 0]))
            density = float(norm.pdf(var, loc=x, scale=bandwidth).mean())
        except (np.linalg.LinAlgError, ValueError):  # degenerate draws (nearly all equal): no density to read
            density = 0.0
        if density > 0:
            var_se = math.sqrt(level * (1 - level) / n) / density
        else:
            notes.append("no loss density at the VaR to read its error from")
        if k < MIN_ERROR_TAIL:
            notes.append(f"the ES rests on {k:g} of {n} paths beyond the VaR (fewer than {MIN_ERROR_TAIL}): its error "
                         "cannot be estimated")
        else:
            spread = float(weights @ (tail - es) ** 2 / (k - 1))
            es_se = math.sqrt((spread + level * (es - var) ** 2) / k)
    for name, value, se in (("VaR", var, var_se), ("ES", es, es_se)):
        if se > abs(value):
            notes.append(f"the {name}'s error ({_pct(se)}) exceeds the {name} itself ({_pct(value)}): the reading is "
                         "within its sampling noise")
    return TailEstimate(var, var_se, es, es_se, k, "; ".join(notes) or None)


def path_returns(paths: np.ndarray, last_close: float) -> np.ndarray:
    """[S, H] simple return of the close to each step from ``last_close``. Refused when a path reaches a close of 0
    or below (``no_prices``)."""
    if not np.isfinite(last_close) or last_close <= 0:
        raise InputError(f"risk is read as a return from the last close, which is {last_close}",
                         {"last_close": last_close}, Fix("give bars whose last close is a positive price"))
    close = np.asarray(paths, np.float64)[:, :, CLOSE]
    no_prices(close)
    return close / float(last_close) - 1


def no_prices(close: np.ndarray) -> None:
    """Refuse closes [S, H] of which some are 0 or below: a position's loss read from them would exceed its whole
    value (a long losing 134%), which no cash position can; the usual cause is a split in the history (a 4-for-1
    split read as a 75% crash) or a fan too wide for its price."""
    with np.errstate(invalid="ignore"):
        below = np.isfinite(close) & (close <= 0)
    if not below.any():
        return
    hit = np.flatnonzero(below.any(axis=1))
    first = int(np.argmax(below.any(axis=0))) + 1
    raise InputError(f"{len(hit)} of {len(close)} paths reach a close of 0 or below (the lowest {np.nanmin(close):.4g}, "
                     f"first at step {first}): a position cannot lose more than its value, so no VaR or ES is read "
                     "from these paths",
                     {"paths_at_or_below_zero": len(hit), "paths": len(close), "first_step": first},
                     (Fix("adjust the history's splits ({setting}) if it holds one", "fix", "adjust_splits"),
                      Fix("narrow the fan ({setting})", "temperature")))


@dataclass
class PathRisk:
    """VaR and ES of a forecast: at the horizon (``horizon``) and, when asked, to every step (``steps``)."""

    horizon: list[TailRisk]
    steps: list[TailRisk]
    paths: int
    last_close: float
    settings: RiskSettings
    notices: list[Notice] = field(default_factory=list)

    def table(self, per_step: bool = False) -> pd.DataFrame:
        """One row per (position, level[, step]) with VaR, ES, their errors and the paths behind the ES."""
        rows = self.steps if per_step else self.horizon
        return pd.DataFrame([{**r.fields(), "enough_paths": r.enough_paths} for r in rows])

    def get(self, position: str, level: float, step: int | None = None) -> TailRisk:
        """The reading for ``position`` at ``level`` (``step`` None: the horizon's)."""
        rows = self.horizon if step is None else self.steps
        for r in rows:
            if r.position == position and math.isclose(r.level, level) and (step is None or r.step == step):
                return r
        raise KeyError((position, level, step))

    def to_dict(self) -> dict:
        return {"paths": self.paths, "last_close": self.last_close, "levels": list(self.settings.levels),
                "horizon": [r.fields() for r in self.horizon], "steps": [r.fields() for r in self.steps],
                "notices": [n.worded() for n in self.notices]}


def tail_notices(readings: list[TailRisk]) -> list[Notice]:
    """A flag for each level whose ES rests on fewer than ``MIN_TAIL_PATHS`` paths, with the count to ask for; then
    one for each reading whose error is missing or exceeds it (``TailRisk.error_note``)."""
    out, said = [], set()
    for r in readings:
        if r.enough_paths or r.level in said:
            continue
        said.add(r.level)
        need = paths_needed(r.level)
        out.append(Notice(f"the {r.level:.4g} ES rests on {r.tail_paths:g} of {r.paths} paths beyond the VaR (fewer "
                          f"than {MIN_TAIL_PATHS}): it is a rough reading",
                          (Fix("sample at least {setting}", "paths", need),),
                          values={"level": r.level, "tail_paths": r.tail_paths, "paths": r.paths, "needed": need}))
    noted: dict[tuple[float, str], list[TailRisk]] = {}  # one notice per level and note, naming its positions
    for r in readings:
        if r.error_note:
            noted.setdefault((r.level, r.error_note), []).append(r)
    for (level, note), rs in noted.items():
        fix = () if rs[0].enough_paths else (Fix("sample at least {setting}", "paths", paths_needed(level)),)
        positions = [r.position for r in rs]
        out.append(Notice(f"{' and '.join(positions)} {level:.4g}: {note}", fix,
                          values={"positions": positions, "level": level, "error_note": note}))
    return out


def path_risk(forecast, settings: RiskSettings = RiskSettings()) -> PathRisk:
    """VaR and ES of ``forecast`` (a ``kronos.forecast.Forecast``: its paths and history) per
    ``settings``: at the horizon, and to every step when ``settings.per_step``."""
    paths = np.asarray(forecast.paths)
    last = float(forecast.history["close"].iloc[-1])
    returns = path_returns(paths, last)
    horizon = returns.shape[1]
    steps = range(1, horizon + 1) if settings.per_step else (horizon,)
    readings = {}
    for position in settings.positions:
        losses = position_losses(returns, position)
        for step in steps:
            for level in settings.levels:
                t = tail_risk(losses[:, step - 1], level)
                readings[(position, level, step)] = TailRisk(position, level, step, t.var, t.var_se, t.es, t.es_se,
                                                             t.tail_paths, len(losses), t.error_note,
                                                             read_more(losses[:, step - 1], level))
    at_end = [v for (_, _, s), v in readings.items() if s == horizon]
    notices = tail_notices(at_end)
    bad = int((~np.isfinite(returns[:, -1])).sum())
    if bad:
        notices.append(Notice(f"{bad} of {len(returns)} paths end without a readable close and are left out",
                              values={"paths_left_out": bad}))
    return PathRisk(at_end, list(readings.values()) if settings.per_step else [], len(returns), last, settings, notices)
