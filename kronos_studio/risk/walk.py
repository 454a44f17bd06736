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
loss, exceptions of each level's VaR, the FZ0 loss of each level's (VaR, ES) and their mean; the variance forecast
(a sampled model's: the mean over paths of the summed squared close-to-close log-returns), the proxy the realized
one (``RiskWalk.proxy``: or both read by Garman–Klass, the paths' candles and the bars that happened alike).

Several horizons from one walk (``RiskWalk.horizons``): the models forecast the longest, each shorter horizon is
read from the same forecasts' first bars (a model reading its own distribution answers each). Cut-offs are
``RiskWalk.step`` bars apart (default the longest horizon: no two returns overlap). Closer ones overlap, k =
ceil(horizon / step) at a time: the VaR and ES tests (Kupiec, Christoffersen, DQ, Z2) then run on the
non-overlapping subsample, every k-th cut-off ending at the latest (said, with both counts), while the loss
comparisons (FZ0 and QLIKE: Diebold–Mariano and Mincer–Zarnowitz with at least k - 1 Newey–West lags, the model
confidence set in blocks of k) use every cut-off.

Recalibrated rows (``RiskWalk.recalibrate``: model keys): the same model's readings recalibrated online
(``recalibrate.walk``: each cut-off from the outcomes whose horizon had ended by then), labelled ``key+recal``;
``RiskWalk.warmup`` earlier cut-offs, forecast by those models only and never scored, seed their state.

Each model gets one verdict (``backtest.verdict``): its tests at every position and level, Holm-adjusted together.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace

from data_sources.quality import suspected_splits
from kronos.bars import bars_frame
from kronos.config import BAR_COLUMNS, CLOSE
from kronos.errors import Fix, InputError, Notice
from kronos.lazy import np, pd
from kronos.settings import ForecastSettings
from kronos_studio.evaluation.trust import guard_cutoffs
from kronos_studio.evaluation.walk_forward import WalkForward, last_cutoffs, walk_forward
from kronos_studio.forecasters.window import history_window

from .backtest import (
    ES_SIMULATIONS,
    UNTESTED,
    acerbi_szekely_z2,
    diebold_mariano,
    dynamic_quantile,
    fz0,
    mincer_zarnowitz,
    model_confidence_set,
    var_tests,
    verdict,
    volatility_losses,
)
from .distribution import HorizonReturn, paths_return, reads_own_distribution
from .measures import MIN_TAIL_PATHS, RiskSettings, paths_needed, position_losses
from .recalibrate import Recalibration, tag
from .recalibrate import walk as recalibrated_walk
from .registry import judged, read_more
from .volatility import bar_variances

PROXIES = ("close_to_close", "garman_klass")
TEST_COLUMNS = ("model", "position", "level", "test", "statistic", "p_value", "df", "counts")
REFERENCE = "garch"  # the model Diebold–Mariano compares every other with (the studio's GARCH-t member)
RECALIBRATED = "+recal"  # a recalibrated row's key after its model's


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
    step: int | None = None  # bars between cut-offs; None: the longest horizon (no two horizon returns overlap)
    horizons: tuple[int, ...] = ()  # more horizons read from the same forecasts (``risk_backtests``)
    warmup: int = 0  # earlier cut-offs the recalibrated models forecast to seed their state (never scored)
    recalibrate: tuple[str, ...] = ()  # model keys also scored recalibrated, as ``key+recal``
    recalibration: Recalibration = Recalibration()

    def __post_init__(self):
        if self.proxy not in PROXIES:
            raise InputError(f"the variance proxy must be one of {', '.join(PROXIES)}, got {self.proxy!r}",
                             {"proxy": self.proxy}, Fix(f"give {{setting}} {PROXIES[0]} or {PROXIES[1]}", "proxy"))
        if self.step is not None and self.step < 1:
            raise InputError(f"cut-offs are at least 1 bar apart, got {self.step}", {"step": self.step},
                             Fix("give {setting} of 1 or more", "step", 1))
        if any(int(h) < 1 for h in self.horizons) or self.warmup < 0:
            raise InputError(f"horizons of 1 bar or more and a warm-up of 0 or more cut-offs are needed, got "
                             f"{list(self.horizons)} and {self.warmup}", {"horizons": list(self.horizons)})


@dataclass
class ModelRisk:
    """One model's readings per scored cut-off (a row each)."""

    name: str
    frame: pd.DataFrame  # cutoff_time, realized_return, proxy, variance, var_/es_/exception_/fz0_{position}_{level}, fz0
    losses: dict[tuple[str, float], list[np.ndarray]]  # (position, level) -> each cut-off's loss draws
    paths: int | None = None  # paths per cut-off its VaR/ES were read from; None: its own distribution (no sampling)
    fallbacks: int = 0  # cut-offs where it could not be fitted and was read as the plain volatility random walk
    recalibrated: bool = False
    levels_used: pd.DataFrame | None = None  # a recalibrated model's tail probability per cut-off and (position, level)
    state: object = None  # a recalibrated model's ``RecalState`` once every outcome of the walk is learnt

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
    fz0: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per model: mean FZ0 per level, DM, MCS
    verdicts: dict = field(default_factory=dict)  # model -> backtest.verdict
    step: int = 0  # bars between cut-offs
    tested: list[int] = field(default_factory=list)  # the cut-offs (positions in ``cutoffs``) the VaR/ES tests ran on

    @property
    def overlap(self) -> int:
        """How many horizon returns overlap at a time: 1 when none."""
        return max(1, math.ceil(self.horizon / self.step)) if self.step else 1

    def summary(self, level: float = 0.99, position: str = "long") -> pd.DataFrame:
        """One row per model: exceptions, Kupiec, Christoffersen and DQ p-values, the zone, the ES test at ``level``
        for ``position``, its mean FZ0 there, its verdict, and the volatility columns."""
        rows = {}
        for key in self.models:
            t = self.tests[(self.tests.model == key) & (self.tests.position == position) & np.isclose(self.tests.level, level)]
            by = {r.test: r for r in t.itertuples()}
            pof = by.get("kupiec_pof")
            fz = self.models[key].frame.get(f"fz0_{tag(position, level)}")
            rows[key] = {
                "exceptions": None if pof is None else pof.counts["exceptions"],
                "observations": None if pof is None else pof.counts["observations"],
                "kupiec_p": None if pof is None else pof.p_value,
                "christoffersen_ind_p": by["christoffersen_independence"].p_value if "christoffersen_independence" in by else None,
                "christoffersen_cc_p": (by["christoffersen_conditional_coverage"].p_value
                                        if "christoffersen_conditional_coverage" in by else None),
                "dq_p": by["dynamic_quantile"].p_value if "dynamic_quantile" in by else None,
                "zone": by["basel_traffic_light"].counts["zone"] if "basel_traffic_light" in by else None,
                "es_z2": by["acerbi_szekely_z2"].statistic if "acerbi_szekely_z2" in by else None,
                "es_z2_p": by["acerbi_szekely_z2"].p_value if "acerbi_szekely_z2" in by else None,
                "fz0": None if fz is None else float(np.nanmean(fz)) if np.isfinite(fz).any() else None,
                **{f"{m.key}_p": by[m.key].p_value if m.key in by else None for m in judged()},
                "verdict": self.verdict_at(key, position, level),
                "paths": self.models[key].paths, "enough_paths": self.models[key].enough_paths(level)}
        out = pd.DataFrame.from_dict(rows, orient="index")
        return out.join(self.volatility, how="left")

    def verdict_at(self, key: str, position: str, level: float) -> str | None:
        """``key``'s verdict as a row at ``position`` and ``level`` shows it: ``untested`` where no test ran there,
        whatever the verdict on the other levels (a 0.95 VaR that passes says nothing of the 0.99 tail)."""
        v = self.verdicts.get(key, {})
        return UNTESTED if at_words(position, level) in v.get("untested", ()) else v.get("verdict")

    def to_dict(self) -> dict:
        """Plain JSON values: the tests, the volatility and FZ0 tables, the verdicts, each model's readings per
        cut-off, the notices."""
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
            "step": self.step, "overlap": self.overlap, "tested_cutoffs": len(self.tested),
            "tests": self.tests.to_dict("records"),
            "volatility": self.volatility.to_dict("index"), "fz0": self.fz0.to_dict("index"),
            "verdicts": self.verdicts,
            "models": {k: {"name": m.name, "paths": m.paths, "fallbacks": m.fallbacks, "recalibrated": m.recalibrated,
                           "per_cutoff": m.frame.to_dict("records")} for k, m in self.models.items()},
            "notices": [n.worded() for n in self.notices], "guard": self.guard})


def realized(values: np.ndarray, c: int, horizon: int, proxy: str) -> tuple[float, float]:
    """(simple return of the close over the horizon after cut-off ``c``, its realized variance)."""
    last = values[c - 1, CLOSE]
    bars = values[c:c + horizon]
    v = bar_variances(bars, last).of(proxy)
    return float(bars[-1, CLOSE] / last - 1), float(np.sum(v)) if np.isfinite(v).all() else float("nan")


def paths_variance(paths: np.ndarray, last: float, proxy: str) -> float:
    """A sampled model's variance forecast: the mean over its paths [S, H, 6] of their summed bar variances."""
    return float(np.nanmean(np.nansum(bar_variances(np.asarray(paths, np.float64), last).of(proxy), axis=1)))


def model_risk(name: str, outcomes: pd.DataFrame, settings: RiskSettings, returns: list[HorizonReturn],
               paths: int | None = None, recalibrated: bool = False) -> ModelRisk:
    """The per-cut-off readings of one model from its horizon-return distribution at each cut-off (``returns``: its
    own, or its paths' ``distribution.paths_return``; ``paths`` the count behind them, None for its own), against
    ``outcomes`` (cutoff_time, realized_return, proxy per cut-off)."""
    rows, draws, used = [], {}, []
    for i, hr in enumerate(returns):
        o = outcomes.iloc[i]
        row = {"cutoff_time": o["cutoff_time"], "realized_return": o["realized_return"], "proxy": o["proxy"],
               "variance": hr.variance}
        fz = []
        alphas = {}
        for position in settings.positions:
            loss = float(position_losses(o["realized_return"], position))
            draw = hr.losses(position)
            row[f"loss_{position}"] = loss
            for level in settings.levels:
                key = tag(position, level)
                var, es = hr.tail(position, level)
                row |= {f"var_{key}": var, f"es_{key}": es, f"exception_{key}": loss > var,
                        f"fz0_{key}": float(fz0([loss], [var], [es], level)[0])}
                row |= {f"{m}_{key}": v for m, v in read_more(draw, level).items()}  # the registered measures'
                fz.append(row[f"fz0_{key}"])
                draws.setdefault((position, level), []).append(draw)  # one array per cut-off, shared by the levels
                if recalibrated:
                    alphas[key] = hr.tail_probability(position, level)
        row["fz0"] = float(np.mean(fz))  # NaN when any level has none: the cut-off is left out of FZ0 comparisons
        rows.append(row)
        used.append(alphas)
    return ModelRisk(name, pd.DataFrame(rows), draws, paths, sum(bool(getattr(r, "fallback", False)) for r in returns),
                     recalibrated, pd.DataFrame(used) if recalibrated else None)


def own_returns(model, frame: pd.DataFrame, settings: ForecastSettings, cutoffs: list[int], levels,
                progress: Callable[[int, int], None] | None = None) -> list[HorizonReturn]:
    """``model.horizon_return`` at each cut-off, from the history window a forecast there reads, seed + i at
    cut-off i (as the walk-forward samples)."""
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
        if m.recalibrated:
            continue  # its model's row says it
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


def non_overlapping(n: int, overlap: int) -> list[int]:
    """Positions of the cut-offs the VaR and ES tests read when ``overlap`` horizon returns overlap at a time: every
    ``overlap``-th, ending at the latest (all of them when none overlap)."""
    return list(range(n - 1, -1, -max(1, overlap)))[::-1]


def at_words(position: str, level: float) -> str:
    """A position and level as the backtest says them ("long 0.99"): in test labels, notices and a verdict's
    ``untested``, which ``RiskBacktest.verdict_at`` reads back."""
    return f"{position} {level:g}"


def _var_rows(key: str, risk: ModelRisk, settings: RiskSettings, walk: RiskWalk, one_step: bool, tested: list[int]
              ) -> tuple[list[dict], list[Notice], list[tuple[str, object]], list[str]]:
    rows, notices, family, untested = [], [], [], []
    f = risk.frame.iloc[tested]
    for position in settings.positions:
        for level in settings.levels:
            t = tag(position, level)
            tests, said = var_tests(f[f"exception_{t}"].to_numpy(bool), level, one_step)
            losses, var = f[f"loss_{position}"].to_numpy(np.float64), f[f"var_{t}"].to_numpy(np.float64)
            try:
                tests["dynamic_quantile"] = dynamic_quantile(losses, var, level, walk.seed)
            except InputError as e:
                said.append(Notice(e.problem, e.fix, values=e.values))
            except ValueError as e:  # a VaR below 0 at some cut-off (a forecast gain at that level): no DQ
                said.append(Notice(f"no dynamic quantile test for {risk.name} at {level:g} ({position}): {e}"))
            try:
                tests["acerbi_szekely_z2"] = acerbi_szekely_z2(losses, var, f[f"es_{t}"],
                                                               level, [risk.losses[(position, level)][i] for i in tested],
                                                               walk.es_simulations, walk.seed)
            except InputError as e:
                said.append(Notice(e.problem, e.fix, values=e.values))
            except ValueError as e:  # an ES of 0 or below, or a VaR below 0 (a forecast with no downside): no Z2
                said.append(Notice(f"no ES test for {risk.name} at {level:g} ({position}): {e}"))
            for m in judged():
                try:
                    tests[m.key] = replace(m.judge(losses, f[m.tagged(position, level)].to_numpy(np.float64), level),
                                           test=m.key)  # a registered measure's test is named by its key
                except InputError as e:
                    said.append(Notice(e.problem, e.fix, values=e.values))
                except ValueError as e:
                    said.append(Notice(f"no {m.title} test for {risk.name} at {level:g} ({position}): {e}"))
            if not tests:
                untested.append(at_words(position, level))
            rows += [{"model": key, "position": position, "level": level, **r.to_dict()} for r in tests.values()]
            family += [(f"{r.test} {at_words(position, level)}", r) for r in tests.values()
                       if r.test != "christoffersen_independence"]  # conditional coverage holds it
            notices += [Notice(n.problem, n.fix, n.kind, {**n.values, "model": risk.name, "at": (position, level)})
                        if _too_few(n) else  # said once for every model it concerns (``_too_few_once``)
                        Notice(f"{risk.name}, {at_words(position, level)}: {n.problem}", n.fix, n.kind, n.values)
                        for n in said]
    return rows, notices, family, untested


def _too_few(n: Notice) -> bool:
    """A test refused for too few observations (``backtest.too_few``)."""
    return {"test", "needed", "observations"} <= n.values.keys()


def _too_few_once(notices: list[Notice], models: list[str]) -> list[Notice]:
    """``notices`` with each test refused for too few observations said once, naming the models (of ``models``, all
    backtested) and the positions and levels it concerns: at 30 cut-offs, four tests of 12 models at two positions
    were 96 lines of the same words."""
    kept, grouped = [], {}
    for n in notices:
        if _too_few(n) and "at" in n.values:  # one model's, from ``_var_rows``
            first, where = grouped.setdefault((n.problem, n.fix, n.kind), (n, {}))
            where.setdefault(n.values["model"], []).append(tuple(n.values["at"]))
        else:
            kept.append(n)
    for first, where in grouped.values():
        pairs = list(where.values())
        if len(models) > 1 and list(where) == models and all(p == pairs[0] for p in pairs):
            said = f"every model ({len(models)}) at {_positions_levels(pairs[0])}"
        else:
            said = "; ".join(f"{name} at {_positions_levels(at)}" for name, at in where.items())
        values = {k: first.values[k] for k in ("test", "needed", "observations")}
        kept.append(Notice(f"{first.problem}, for {said}", first.fix, first.kind,
                           {**values, "models": list(where), "at": {m: [list(p) for p in at] for m, at in where.items()}}))
    return kept


def _positions_levels(pairs) -> str:
    return ", ".join(at_words(position, level) for position, level in pairs)


def _comparisons(losses: pd.DataFrame, name: str, walk: RiskWalk, overlap: int, prefix: str
                 ) -> tuple[pd.DataFrame, list[Notice]]:
    """Diebold–Mariano of each model's ``losses`` against the reference's and the model confidence set over them:
    columns ``dm_{prefix}vs_reference``, ``dm_{prefix}p``, ``mcs_{prefix}p``, ``in_mcs{suffix}``."""
    out, notices = pd.DataFrame(index=losses.columns), []
    if walk.reference in losses:
        for key in losses:
            if key == walk.reference:
                continue
            try:
                dm = diebold_mariano(losses[key], losses[walk.reference], overlap=overlap)
                out.loc[key, [f"dm_{prefix}vs_reference", f"dm_{prefix}p"]] = dm.statistic, dm.p_value
            except InputError as e:
                notices.append(Notice(e.problem, e.fix, values=e.values))
                break
    else:
        notices.append(Notice(f"no Diebold–Mariano comparison of {name}: the reference model {walk.reference!r} was "
                              "not run", kind="note"))
    # a model scoring the very losses of another (a recalibration that moves only the level, on QLIKE) is that
    # model to the set: it runs once and shares its twin's answer
    twin = {}
    for i, a in enumerate(losses.columns):
        twin[a] = next((b for b in losses.columns[:i] if twin.get(b) == b and
                        np.allclose(losses[a], losses[b], equal_nan=True)), a)
    distinct = [k for k in losses.columns if twin[k] == k]
    if len(distinct) > 1:
        try:
            mcs = model_confidence_set(losses[distinct], walk.mcs_size, block_size=overlap if overlap > 1 else None,
                                       seed=walk.seed)
            out[f"mcs_{prefix}p"] = [mcs.loc[twin[k], "mcs_pvalue"] for k in losses.columns]
            out["in_mcs" + ("" if not prefix else "_" + prefix.rstrip("_"))] = \
                [bool(mcs.loc[twin[k], "included"]) for k in losses.columns]
        except InputError as e:
            notices.append(Notice(e.problem, e.fix, values=e.values))
    return out, notices


def _volatility(models: dict[str, ModelRisk], walk: RiskWalk, overlap: int) -> tuple[pd.DataFrame, list[Notice]]:
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
            mz = mincer_zarnowitz(proxy[keep], h[keep], overlap=overlap)
            out.loc[key, ["mz_intercept", "mz_slope", "mz_joint_p"]] = mz.intercept, mz.slope, mz.joint.p_value
        except InputError as e:
            notices.append(Notice(e.problem, e.fix, values=e.values))
            break
    compared, said = _comparisons(qlike, "QLIKE", walk, overlap, "")
    compared = compared.rename(columns={"dm_vs_reference": "dm_qlike_vs_reference", "dm_p": "dm_p", "mcs_p": "mcs_p"})
    return out.join(compared), notices + said


def _fz0_table(models: dict[str, ModelRisk], settings: RiskSettings, walk: RiskWalk, overlap: int
               ) -> tuple[pd.DataFrame, list[Notice]]:
    """Mean FZ0 per model and (position, level), the mean over them (``fz0``), and Diebold–Mariano and the model
    confidence set on the per-cut-off mean; cut-offs where a model's forecast is no ES are left out of every model
    alike, and said."""
    joint = pd.DataFrame({k: m.frame["fz0"].to_numpy() for k, m in models.items()})
    keep = joint.notna().all(axis=1).to_numpy()
    notices = []
    if not keep.all():
        notices.append(Notice(f"{int((~keep).sum())} of {len(keep)} cut-offs have a forecast that is no ES (an ES at or "
                              "below 0, or a VaR below 0) for some model, and are left out of the FZ0 comparison",
                              values={"left_out": int((~keep).sum())}))
    out = pd.DataFrame({f"fz0_{tag(p, a)}": {k: float(m.frame[f"fz0_{tag(p, a)}"][keep].mean()) for k, m in models.items()}
                        for p in settings.positions for a in settings.levels})
    out["fz0"] = joint[keep].mean()
    compared, said = _comparisons(joint[keep].reset_index(drop=True), "FZ0", walk, overlap, "fz0_")
    return out.join(compared), notices + said


def risk_cutoffs(frame: pd.DataFrame, forecasters: Mapping, horizon: int, n_cutoffs: int,
                 lookback: int | None, own_window: Collection[str] = (), step: int | None = None) -> list[int]:
    """The latest ``n_cutoffs`` cut-offs ``step`` bars apart (default one horizon), each with every model's full
    lookback before it (the models of ``own_window``: their own, whatever ``lookback``)."""
    need = max([(None if k in own_window else lookback) or f.lookback(horizon) for k, f in forecasters.items()] + [2])
    return last_cutoffs(len(frame), horizon, n_cutoffs, step or horizon, min_history=need)


def no_split_inside(frame: pd.DataFrame, cutoffs: list[int], forecasters: Mapping, settings: ForecastSettings,
                    own_window: Collection[str] = ()) -> None:
    """Refuse a backtest whose bars (the first cut-off's longest history to the last one's horizon) hold a jump the
    quality gate reads as a split (``data_sources.quality.suspected_splits``): every model would score its jump as a
    loss (a 4-for-1 split as a 75% fall) and read it in its history as a crash."""
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


def _readings(key: str, f, frame: pd.DataFrame, values: np.ndarray, settings: ForecastSettings, cutoffs: list[int],
              horizons: list[int], levels, proxy: str, progress) -> tuple[dict[int, list[HorizonReturn]], int | None]:
    """(horizon -> the model's horizon return at each cut-off, the paths per cut-off or None for its own)."""
    H = max(horizons)
    if reads_own_distribution(f):
        own = {h: own_returns(f, frame, replace(settings, horizon=h), cutoffs, levels, progress) for h in horizons}
        if proxy != "close_to_close":  # its variance from its paths' candles (its only candles)
            paths = walk_forward(f, frame, replace(settings, horizon=H), cutoffs, WalkForward(keep_paths=True)).paths
            own = {h: [replace(r, variance=paths_variance(p[:, :h], values[c - 1, CLOSE], proxy))
                       for r, p, c in zip(rs, paths, cutoffs)] for h, rs in own.items()}
        return own, None
    result = walk_forward(f, frame, replace(settings, horizon=H), cutoffs, WalkForward(keep_paths=True), progress)
    out = {}
    for h in horizons:
        out[h] = [paths_return(p[:, :h], values[c - 1, CLOSE], paths_variance(p[:, :h], values[c - 1, CLOSE], proxy))
                  for p, c in zip(result.paths, result.cutoffs)]
    return out, int(np.asarray(result.paths[-1]).shape[0])


def risk_backtest(forecasters: Mapping, bars, settings: ForecastSettings, risk: RiskSettings = RiskSettings(),
                  walk: RiskWalk = RiskWalk(), progress: Callable[[str, int, int], None] | None = None,
                  own_window: Collection[str] = ()) -> RiskBacktest:
    """Backtest the VaR, ES and variance forecasts of ``forecasters`` (label -> ``Forecaster``; their paths)
    on the same cut-offs of ``bars`` at ``settings.horizon``, sampling with ``settings`` (its seed + i at cut-off i).
    ``own_window``: the labels of models that read their own history window whatever ``settings.lookback`` (the
    standard risk models of ``baselines``: historical simulation's 250 bars is what it is)."""
    return risk_backtests(forecasters, bars, settings, risk, replace(walk, horizons=(settings.horizon,)), progress,
                          own_window)[settings.horizon]


def risk_backtests(forecasters: Mapping, bars, settings: ForecastSettings, risk: RiskSettings = RiskSettings(),
                   walk: RiskWalk = RiskWalk(), progress: Callable[[str, int, int], None] | None = None,
                   own_window: Collection[str] = ()) -> dict[int, RiskBacktest]:
    """``risk_backtest`` at each of ``walk.horizons`` (none: ``settings.horizon``) from one walk: the models forecast
    the longest horizon at every cut-off, ``walk.step`` bars apart (default that horizon); horizon -> its backtest."""
    frame = bars_frame(bars)
    horizons = sorted({int(h) for h in (walk.horizons or (settings.horizon,))})
    H = max(horizons)
    step = walk.step or H
    asked_cutoffs = walk.n_cutoffs + walk.warmup
    cutoffs = risk_cutoffs(frame, forecasters, H, asked_cutoffs, settings.lookback, own_window, step)
    notices = []
    if len(cutoffs) < asked_cutoffs:
        notices.append(Notice(f"only {len(cutoffs)} of the {asked_cutoffs} cut-offs asked for fit these {len(frame)} "
                              f"bars {step} bars apart with a {H}-bar horizon and every model's history before them",
                              values={"cutoffs": len(cutoffs), "asked": asked_cutoffs}))
    guard = {}
    for f in forecasters.values():  # one set of cut-offs for every model: those no model has seen
        cutoffs, seen = guard_cutoffs(frame, cutoffs, f.training_period(), walk.include_trained, asked_cutoffs)
        if seen["training_period"] is not None:
            guard = seen
            if seen["in_training_period"]:
                kept = "included" if walk.include_trained else "left out"
                notices.append(Notice(f"{seen['in_training_period']} cut-offs forecast bars inside {f.name}'s training "
                                      f"period ({seen['training_period']}): {kept}", values=seen))
    values = frame[list(BAR_COLUMNS)].to_numpy(np.float64)
    ts = pd.DatetimeIndex(frame["timestamp"])
    no_split_inside(frame, cutoffs, forecasters, replace(settings, horizon=H), own_window)
    warm = max(0, len(cutoffs) - walk.n_cutoffs) if walk.recalibrate else 0
    scored = cutoffs[warm:]
    if walk.warmup and walk.recalibrate:
        notices.append(Notice(f"the recalibrated models' state was seeded on {warm} earlier cut-offs, forecast but not "
                              "scored", kind="note", values={"warmup": warm}))
    readings, n_paths = {}, {}
    for key, f in forecasters.items():
        asked = replace(settings, lookback=None) if key in own_window else settings
        tick = (lambda i, n, _k=key: progress(_k, i, n)) if progress else None
        at = cutoffs if key in walk.recalibrate else scored
        readings[key], n_paths[key] = _readings(key, f, frame, values, asked, at, horizons, risk.levels, walk.proxy,
                                                tick)
    out = {}
    for h in horizons:
        outcomes = pd.DataFrame([{"cutoff_time": ts[c - 1], **dict(zip(("realized_return", "proxy"),
                                                                        realized(values, c, h, walk.proxy)))}
                                 for c in cutoffs])
        models = {}
        for key, f in forecasters.items():
            got = readings[key][h]
            models[key] = model_risk(f.name, outcomes.iloc[-len(scored):].reset_index(drop=True), risk,
                                     got[-len(scored):], n_paths[key])
            if key in walk.recalibrate:
                served, state = recalibrated_walk(got, cutoffs, h, outcomes["realized_return"].to_numpy(),
                                                  outcomes["proxy"].to_numpy(), walk.recalibration, risk.positions,
                                                  risk.levels)
                models[key + RECALIBRATED] = model_risk(f"{f.name}, recalibrated", outcomes.iloc[-len(scored):]
                                                        .reset_index(drop=True), risk, served[-len(scored):],
                                                        n_paths[key], recalibrated=True)
                models[key + RECALIBRATED].state = state
        out[h] = _backtest(models, h, scored, risk, walk, step, guard, notices)
    return out


def _backtest(models: dict[str, ModelRisk], horizon: int, cutoffs: list[int], risk: RiskSettings, walk: RiskWalk,
              step: int, guard: dict, notices: list[Notice]) -> RiskBacktest:
    overlap = max(1, math.ceil(horizon / step))
    tested = non_overlapping(len(cutoffs), overlap)
    notices = list(notices) + sampling_notices(models, risk.levels)
    if overlap > 1:
        notices.append(Notice(f"the {len(cutoffs)} cut-offs are {step} bar{'s' if step > 1 else ''} apart and their "
                              f"{horizon}-bar returns overlap {overlap} at a time: the VaR and ES tests run on the "
                              f"{len(tested)} non-overlapping ones (every {overlap}th, ending at the latest); FZ0 and QLIKE "
                              f"compare all {len(cutoffs)}, Diebold–Mariano with at least {overlap - 1} Newey–West lags "
                              f"and the model confidence set in blocks of {overlap}", kind="note",
                              values={"cutoffs": len(cutoffs), "tested": len(tested), "overlap": overlap}))
    rows, verdicts = [], {}
    for key, m in models.items():
        got, said, family, untested = _var_rows(key, m, risk, walk, horizon == 1 and overlap == 1, tested)
        rows += got
        notices += said
        verdicts[key] = verdict(family, untested=untested)
    vol, said = _volatility(models, walk, overlap)
    fz, said_fz = _fz0_table(models, risk, walk, overlap)
    return RiskBacktest(models, pd.DataFrame(rows, columns=list(TEST_COLUMNS)), vol, horizon, list(cutoffs), risk,
                        walk, _too_few_once(notices, [m.name for m in models.values()]) + said + said_fz, guard, fz,
                        verdicts, step, tested)
