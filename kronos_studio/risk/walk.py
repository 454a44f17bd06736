"""A risk backtest over walk-forward cut-offs: every model forecasts from the same cut-offs with the same
seeds (``kronos_studio.evaluation.walk_forward``), each cut-off's VaR, ES and variance are read and set against
what happened, then the tests of ``backtest`` run on them.

Cut-offs are the latest ``RiskWalk.n_cutoffs``, one horizon apart (each horizon's return is its own: overlapping
horizon returns are dependent and are never scored as independent), each with a full lookback of history for
every model; cut-offs whose forecast starts inside a model's training period are left out for every model
unless asked (the trust report's guard, ``trust.guard_cutoffs``). A split inside the bars the backtest reads
refuses it (its jump would be scored as a loss of every model), as the quality gate's blocking checks refuse a
forecast: adjusted prices (the gate's ``adjust_splits`` fix) are backtested.

How a model's readings are made:

* a model that answers its own distribution of the horizon return (the standard risk models of ``baselines``:
  ``distribution.reads_own_distribution``) is read from it: closed-form or empirical VaR and ES, its own variance
  forecast; no sampling noise. Under the Garman–Klass proxy its variance is read from its paths' candles (the
  only candles it has), as a sampled model's is.
* any other model (Kronos, the ensemble, Chronos-2) is read from its paths (``measures.tail_risk``), ``settings.paths``
  of them per cut-off; a level whose ES that many paths cannot hold (fewer than ``measures.paths_needed``) is flagged
  for that model, in a notice and in the summary's ``enough_paths``.

Per cut-off: the realized return of the close over the horizon (simple, from the last close), each position's
loss, exceptions of each level's VaR; the variance forecast (a sampled model's: the mean over paths of the summed
squared close-to-close log-returns), the proxy the realized one (``RiskWalk.proxy``: or both read by Garman–Klass,
the paths' candles and the bars that happened alike).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from kronos.bars import bars_frame
from kronos.config import BAR_COLUMNS, CLOSE
from kronos.errors import Fix, InputError, Notice
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.trust import guard_cutoffs
from kronos_studio.evaluation.walk_forward import WalkForward, last_cutoffs, walk_forward

from .backtest import (
    ES_SIMULATIONS,
    acerbi_szekely_z2,
    diebold_mariano,
    mincer_zarnowitz,
    model_confidence_set,
    var_tests,
    volatility_losses,
)
from .distribution import HorizonReturn, reads_own_distribution
from .measures import MIN_TAIL_PATHS, RiskSettings, paths_needed, position_losses, tail_risk
from .volatility import bar_variances

PROXIES = ("close_to_close", "garman_klass")
TEST_COLUMNS = ("model", "position", "level", "test", "statistic", "p_value", "df", "counts")
REFERENCE = "garch"  # the model Diebold–Mariano compares every other with (the studio's GARCH-t member)


@dataclass(frozen=True)
class RiskWalk:
    """What a risk backtest decides beyond the forecast's and the risk settings."""

    n_cutoffs: int = 250  # the latest cut-offs, one horizon apart (250: the traffic light's year at horizon 1)
    include_trained: bool = False  # also score cut-offs inside a model's training period (flagged)
    proxy: str = "close_to_close"  # the realized variance a variance forecast is scored against
    reference: str = REFERENCE  # the model each other one is compared with (Diebold–Mariano)
    es_simulations: int = ES_SIMULATIONS
    mcs_size: float = 0.1  # the model confidence set's size (a 90% set)
    seed: int = 0  # of the ES test's simulation and the MCS bootstrap

    def __post_init__(self):
        if self.proxy not in PROXIES:
            raise InputError(f"the variance proxy must be one of {', '.join(PROXIES)}, got {self.proxy!r}",
                             {"proxy": self.proxy}, Fix(f"give {{setting}} {PROXIES[0]} or {PROXIES[1]}", "proxy"))


@dataclass
class ModelRisk:
    """One model's readings per cut-off (a row each)."""

    name: str
    frame: pd.DataFrame  # cutoff_time, realized_return, proxy, variance, var_/es_/exception_{position}_{level}
    losses: dict[tuple[str, float], list[np.ndarray]]  # (position, level) -> each cut-off's loss draws
    paths: int | None = None  # paths per cut-off its VaR/ES were read from; None: its own distribution (no sampling)
    fallbacks: int = 0  # cut-offs where it could not be fitted and was read as the plain volatility random walk

    def enough_paths(self, level: float) -> bool:
        """Whether its ``level`` VaR/ES were read from its own distribution or from paths enough for that ES."""
        return self.paths is None or self.paths >= paths_needed(level)


@dataclass
class RiskBacktest:
    models: dict[str, ModelRisk]
    tests: pd.DataFrame  # one row per (model, position, level, test)
    volatility: pd.DataFrame  # one row per model: losses, Mincer–Zarnowitz, Diebold–Mariano, MCS
    horizon: int
    cutoffs: list[int]
    settings: RiskSettings
    walk: RiskWalk
    notices: list[Notice] = field(default_factory=list)
    guard: dict = field(default_factory=dict)

    def summary(self, level: float = 0.99, position: str = "long") -> pd.DataFrame:
        """One row per model: exceptions, Kupiec and Christoffersen p-values, the zone, the ES test at ``level``
        for ``position``, and the volatility columns."""
        rows = {}
        for key in self.models:
            t = self.tests[(self.tests.model == key) & (self.tests.position == position) & np.isclose(self.tests.level, level)]
            by = {r.test: r for r in t.itertuples()}
            pof = by.get("kupiec_pof")
            rows[key] = {
                "exceptions": None if pof is None else pof.counts["exceptions"],
                "observations": None if pof is None else pof.counts["observations"],
                "kupiec_p": None if pof is None else pof.p_value,
                "christoffersen_ind_p": by["christoffersen_independence"].p_value if "christoffersen_independence" in by else None,
                "christoffersen_cc_p": (by["christoffersen_conditional_coverage"].p_value
                                        if "christoffersen_conditional_coverage" in by else None),
                "zone": by["basel_traffic_light"].counts["zone"] if "basel_traffic_light" in by else None,
                "es_z2": by["acerbi_szekely_z2"].statistic if "acerbi_szekely_z2" in by else None,
                "es_z2_p": by["acerbi_szekely_z2"].p_value if "acerbi_szekely_z2" in by else None,
                "paths": self.models[key].paths, "enough_paths": self.models[key].enough_paths(level)}
        out = pd.DataFrame.from_dict(rows, orient="index")
        return out.join(self.volatility, how="left")

    def to_dict(self) -> dict:
        """Plain JSON values: the tests, the volatility table, each model's readings per cut-off, the notices."""
        def plain(x):
            if isinstance(x, dict):
                return {str(k): plain(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [plain(v) for v in x]
            if isinstance(x, (np.generic,)):
                x = x.item()
            if isinstance(x, float) and not np.isfinite(x):
                return None
            if isinstance(x, pd.Timestamp):
                return str(x)
            return x

        return plain({
            "horizon": self.horizon, "cutoffs": len(self.cutoffs), "levels": list(self.settings.levels),
            "positions": list(self.settings.positions), "proxy": self.walk.proxy, "reference": self.walk.reference,
            "tests": self.tests.to_dict("records"),
            "volatility": self.volatility.to_dict("index"),
            "models": {k: {"name": m.name, "paths": m.paths, "fallbacks": m.fallbacks,
                           "per_cutoff": m.frame.to_dict("records")} for k, m in self.models.items()},
            "notices": [n.worded() for n in self.notices], "guard": self.guard})


def _realized(values: np.ndarray, c: int, horizon: int, proxy: str) -> tuple[float, float]:
    """(simple return of the close over the horizon after cut-off ``c``, its realized variance)."""
    last = values[c - 1, CLOSE]
    bars = values[c:c + horizon]
    v = bar_variances(bars, last).of(proxy)
    return float(bars[-1, CLOSE] / last - 1), float(np.sum(v)) if np.isfinite(v).all() else float("nan")


def model_risk(name: str, values: np.ndarray, cutoffs: list[int], cutoff_times, horizon: int, settings: RiskSettings,
               proxy: str, paths=None, own: list[HorizonReturn] | None = None) -> ModelRisk:
    """The per-cut-off readings of one model: from its ``own`` distributions (one per cut-off) when it answers them,
    else from its ``paths`` ([S, horizon, 6] per cut-off); a model read from its own distributions takes its
    variance from ``paths`` only under a proxy other than close-to-close (their candles)."""
    rows, draws = [], {}
    for i, c in enumerate(cutoffs):
        last = values[c - 1, CLOSE]
        realized, realized_var = _realized(values, c, horizon, proxy)
        row = {"cutoff_time": cutoff_times[i], "realized_return": realized, "proxy": realized_var}
        if paths is not None:
            p = np.asarray(paths[i], np.float64)
            row["variance"] = float(np.nanmean(np.nansum(bar_variances(p, last).of(proxy), axis=1)))
        if own is not None and (paths is None or proxy == "close_to_close"):
            row["variance"] = own[i].variance
        for position in settings.positions:
            loss = float(position_losses(realized, position))
            if own is not None:
                draw = own[i].losses(position)
                read = {level: own[i].tail(position, level) for level in settings.levels}
            else:
                draw = position_losses(p[:, -1, CLOSE] / last - 1, position)
                draw = draw[np.isfinite(draw)]
                read = {level: _var_es(draw, level) for level in settings.levels}
            for level, (var, es) in read.items():
                tag = f"{position}_{level:g}"
                row |= {f"var_{tag}": var, f"es_{tag}": es, f"exception_{tag}": loss > var, f"loss_{position}": loss}
                draws.setdefault((position, level), []).append(draw)  # one array per cut-off, shared by the levels
        rows.append(row)
    n_paths = None if own is not None else int(np.asarray(paths[-1]).shape[0])
    return ModelRisk(name, pd.DataFrame(rows), draws, n_paths, sum(bool(o.fallback) for o in own or ()))


def _var_es(draws: np.ndarray, level: float) -> tuple[float, float]:
    t = tail_risk(draws, level, errors=False)  # a backtest reads no Monte-Carlo errors
    return t.var, t.es


def own_returns(model, frame: pd.DataFrame, settings: ForecastSettings, cutoffs: list[int], levels,
                progress: Callable[[int, int], None] | None = None) -> list[HorizonReturn]:
    """``model.horizon_return`` at each cut-off, from the history window a forecast there reads, seed + i at
    cut-off i (as the walk-forward samples)."""
    from kronos_studio.forecasters.window import history_window

    ts = pd.DatetimeIndex(frame["timestamp"])
    out = []
    for i, c in enumerate(cutoffs):
        at = replace(settings, seed=int(settings.seed) + i)
        out.append(model.horizon_return(history_window(model, frame.iloc[:c], at), ts[c:c + settings.horizon], at,
                                        levels))
        if progress:
            progress(i + 1, len(cutoffs))
    return out


def sampling_notices(models: dict[str, ModelRisk], levels) -> list[Notice]:
    """A flag per sampled model and level whose ES its paths cannot hold (fewer than ``paths_needed``), and per
    model fitted as the random walk at some cut-offs."""
    out = []
    for m in models.values():
        for level in levels:
            if not m.enough_paths(level):
                need = paths_needed(level)
                out.append(Notice(f"{m.name} reads its {level:g} VaR and ES from {m.paths} paths a cut-off, fewer than "
                                  f"the {need:,} that leave {MIN_TAIL_PATHS} beyond the VaR: its exceptions, zone and ES "
                                  f"test at {level:g} depend on the sample count",
                                  (Fix("sample at least {setting}", "paths", need),),
                                  values={"model": m.name, "level": level, "paths": m.paths, "needed": need}))
        if m.fallbacks:
            out.append(Notice(f"{m.name} could not be fitted at {m.fallbacks} of {len(m.frame)} cut-offs: read there as "
                              "the plain volatility random walk (normal, its last 60 bars' volatility)", kind="note",
                              values={"model": m.name, "fallbacks": m.fallbacks}))
    return out


def _var_rows(key: str, risk: ModelRisk, settings: RiskSettings, walk: RiskWalk, horizon: int
              ) -> tuple[list[dict], list[Notice]]:
    rows, notices = [], []
    f = risk.frame
    for position in settings.positions:
        for level in settings.levels:
            tag = f"{position}_{level:g}"
            tests, said = var_tests(f[f"exception_{tag}"].to_numpy(bool), level, horizon == 1)
            try:
                tests["acerbi_szekely_z2"] = acerbi_szekely_z2(f[f"loss_{position}"], f[f"var_{tag}"], f[f"es_{tag}"],
                                                               level, risk.losses[(position, level)],
                                                               walk.es_simulations, walk.seed)
            except InputError as e:
                said.append(Notice(e.problem, e.fix, values=e.values))
            except ValueError as e:  # an ES of 0 or below (a forecast with no downside): no Z2
                said.append(Notice(f"no ES test for {risk.name} at {level:g} ({position}): {e}"))
            rows += [{"model": key, "position": position, "level": level, **t.to_dict()} for t in tests.values()]
            notices += [Notice(f"{risk.name}, {position} {level:g}: {n.problem}", n.fix, n.kind, n.values) for n in said]
    return rows, notices


def _volatility(models: dict[str, ModelRisk], walk: RiskWalk) -> tuple[pd.DataFrame, list[Notice]]:
    proxy = next(iter(models.values())).frame["proxy"].to_numpy()
    forecasts = {k: m.frame["variance"].to_numpy() for k, m in models.items()}
    notices = []
    qlike, said = volatility_losses(proxy, forecasts, "qlike")
    notices += said
    mse, _ = volatility_losses(proxy, forecasts, "mse")
    out = pd.DataFrame({"qlike": qlike.mean(), "mse": mse.mean()})
    keep = np.isfinite(proxy)
    for key, h in forecasts.items():
        try:
            mz = mincer_zarnowitz(proxy[keep], h[keep])
            out.loc[key, ["mz_intercept", "mz_slope", "mz_joint_p"]] = mz.intercept, mz.slope, mz.joint.p_value
        except InputError as e:
            notices.append(Notice(e.problem, e.fix, values=e.values))
            break
    if walk.reference in forecasts:
        for key in forecasts:
            if key == walk.reference:
                continue
            try:
                dm = diebold_mariano(qlike[key], qlike[walk.reference])
                out.loc[key, ["dm_qlike_vs_reference", "dm_p"]] = dm.statistic, dm.p_value
            except InputError as e:
                notices.append(Notice(e.problem, e.fix, values=e.values))
                break
    else:
        notices.append(Notice(f"no Diebold–Mariano comparison: the reference model {walk.reference!r} was not run",
                              kind="note"))
    if len(forecasts) > 1:
        try:
            mcs = model_confidence_set(qlike, walk.mcs_size, seed=walk.seed)
            out["mcs_p"], out["in_mcs"] = mcs["mcs_pvalue"], mcs["included"]
        except InputError as e:
            notices.append(Notice(e.problem, e.fix, values=e.values))
    return out, notices


def risk_cutoffs(frame: pd.DataFrame, forecasters: Mapping, horizon: int, n_cutoffs: int,
                 lookback: int | None, own_window: Collection[str] = ()) -> list[int]:
    """The latest ``n_cutoffs`` cut-offs one horizon apart, each with every model's full lookback before it (the
    models of ``own_window``: their own, whatever ``lookback``)."""
    need = max([(None if k in own_window else lookback) or f.lookback(horizon) for k, f in forecasters.items()] + [2])
    return last_cutoffs(len(frame), horizon, n_cutoffs, horizon, min_history=need)


def no_split_inside(frame: pd.DataFrame, cutoffs: list[int], forecasters: Mapping, settings: ForecastSettings,
                    own_window: Collection[str] = ()) -> None:
    """Refuse a backtest whose bars (the first cut-off's longest history to the last one's horizon) hold a jump the
    quality gate reads as a split (``data_sources.quality.suspected_splits``): every model would score its jump as a
    loss (a 4-for-1 split as a 75% fall) and read it in its history as a crash."""
    from data_sources.quality import suspected_splits

    horizon = settings.horizon
    reach = max((None if k in own_window else settings.lookback) or f.lookback(horizon) for k, f in forecasters.items())
    first, last = max(0, cutoffs[0] - reach), cutoffs[-1] + horizon - 1
    ts = pd.DatetimeIndex(frame["timestamp"])
    inside = [(t, words) for t, words in suspected_splits(frame) if ts[first] < t <= ts[last]]
    if inside:
        said = "; ".join(f"{t.date()}: {words}" for t, words in inside)
        raise InputError(f"{len(inside)} overnight price jumps inside the bars this backtest reads ({ts[first].date()} to "
                         f"{ts[last].date()}) look like stock splits ({said}): every model would score the jump as a "
                         "loss (or a gain) of the position and read it in its history as a crash or a rally",
                         {"splits": [str(t) for t, _ in inside]},
                         (Fix("adjust the prices for them ({setting})", "fix", "adjust_splits"),
                          Fix("backtest bars after the last of them")))


def risk_backtest(forecasters: Mapping, bars, settings: ForecastSettings, risk: RiskSettings = RiskSettings(),
                  walk: RiskWalk = RiskWalk(), progress: Callable[[str, int, int], None] | None = None,
                  own_window: Collection[str] = ()) -> RiskBacktest:
    """Backtest the VaR, ES and variance forecasts of ``forecasters`` (label -> ``Forecaster``; their paths)
    on the same non-overlapping cut-offs of ``bars``, sampling with ``settings`` (its seed + i at cut-off i).
    ``own_window``: the labels of models that read their own history window whatever ``settings.lookback`` (the
    standard risk models of ``baselines``: historical simulation's 250 bars is what it is)."""
    frame = bars_frame(bars)
    horizon = settings.horizon
    cutoffs = risk_cutoffs(frame, forecasters, horizon, walk.n_cutoffs, settings.lookback, own_window)
    notices = []
    if len(cutoffs) < walk.n_cutoffs:
        notices.append(Notice(f"only {len(cutoffs)} of the {walk.n_cutoffs} cut-offs asked for fit these {len(frame)} "
                              f"bars one {horizon}-bar horizon apart with every model's history before them",
                              values={"cutoffs": len(cutoffs), "asked": walk.n_cutoffs}))
    guard = {}
    for f in forecasters.values():  # one set of cut-offs for every model: those no model has seen
        cutoffs, seen = guard_cutoffs(frame, cutoffs, f.training_period(), walk.include_trained, walk.n_cutoffs)
        if seen["training_period"] is not None:
            guard = seen
            if seen["in_training_period"]:
                kept = "included" if walk.include_trained else "left out"
                notices.append(Notice(f"{seen['in_training_period']} cut-offs forecast bars inside {f.name}'s training "
                                      f"period ({seen['training_period']}): {kept}", values=seen))
    values = frame[list(BAR_COLUMNS)].to_numpy(np.float64)
    ts = pd.DatetimeIndex(frame["timestamp"])
    no_split_inside(frame, cutoffs, forecasters, settings, own_window)
    models = {}
    for key, f in forecasters.items():
        asked = replace(settings, lookback=None) if key in own_window else settings
        tick = (lambda i, n, _k=key: progress(_k, i, n)) if progress else None
        if reads_own_distribution(f):
            own = own_returns(f, frame, asked, cutoffs, risk.levels, tick)
            paths = None if walk.proxy == "close_to_close" else \
                walk_forward(f, frame, asked, cutoffs, WalkForward(keep_paths=True)).paths
            models[key] = model_risk(f.name, values, cutoffs, ts[[c - 1 for c in cutoffs]], horizon, risk,
                                     walk.proxy, paths, own)
        else:
            result = walk_forward(f, frame, asked, cutoffs, WalkForward(keep_paths=True), tick)
            models[key] = model_risk(f.name, values, result.cutoffs, result.cutoff_times, horizon, risk, walk.proxy,
                                     result.paths)
    notices += sampling_notices(models, risk.levels)
    rows = []
    for key, m in models.items():
        got, said = _var_rows(key, m, risk, walk, horizon)
        rows += got
        notices += said
    vol, said = _volatility(models, walk)
    return RiskBacktest(models, pd.DataFrame(rows, columns=list(TEST_COLUMNS)), vol, horizon, list(cutoffs), risk, walk, notices + said, guard)
