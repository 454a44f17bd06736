"""The desk's risk use cases (``Desk.risk``, ``Desk.risk_backtest`` delegate here): value-at-risk, expected
shortfall, the volatility forecast and the stylized-facts check of a forecast's paths (``kronos_studio.risk``),
and the walk-forward risk backtest of a model beside the risk desk's standard models; each as a result with its
notices and as the one JSON body every face answers with (``risk_body``, ``backtest_body``)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from kronos.errors import Fix, InputError, Notice
from kronos.settings import ForecastSettings
from kronos_studio.risk.measures import PathRisk, RiskSettings
from kronos_studio.risk.walk import RiskWalk

from .cache import result_key

MODEL_KEY = "model"  # the asked-for model's label in a risk backtest (the baselines keep their own keys)


@dataclass
class RiskReading:
    """What a forecast's paths say of risk: VaR/ES (``path``), the volatility forecast, the stylized-facts check
    and its verdict in words, and what the reader should know."""

    path: PathRisk
    volatility: object  # kronos_studio.risk.volatility.VolatilityForecast
    stylized: object  # kronos_studio.risk.stylized.StylizedCheck
    verdict: list[str]
    notices: list[Notice] = field(default_factory=list)
    horizon_end: object = None  # pd.Timestamp: the time of the horizon's last bar (the forecast's last future bar)


@dataclass
class Risked:
    """The risk reading of ``forecast`` (``Desk.forecast``'s, cached alike), the bars' and forecast's notices then
    the reading's, and whether the reading came from the cache."""

    forecast: object
    bars: object
    reading: RiskReading
    settings: ForecastSettings
    risk: RiskSettings
    notices: list[Notice]
    from_cache: bool = False


@dataclass
class RiskBacktested:
    """A walk-forward risk backtest (``kronos_studio.risk.walk.RiskBacktest``) of ``bars``, the bars' notices then
    the backtest's, and whether it was cached."""

    backtest: object
    bars: object
    notices: list[Notice]
    model_key: str = MODEL_KEY  # the asked-for model's label among the backtest's models
    from_cache: bool = False


def read_risk(fc, risk: RiskSettings) -> RiskReading:
    """The risk reading of forecast ``fc``'s paths (the forecast on screen, whatever made it): one function for
    the desk and for the app's Risk panel, so both show the same numbers for the same paths."""
    from kronos_studio.risk.measures import path_risk
    from kronos_studio.risk.stylized import stylized_check
    from kronos_studio.risk.volatility import volatility_forecast

    path = path_risk(fc, risk)
    vol = volatility_forecast(fc, risk)
    check = stylized_check(fc)
    return RiskReading(path, vol, check, stylized_verdict(check), path.notices + vol.notices + check.notices,
                       fc.timestamps[-1])


def _worded(x: float | None, spec: str = "+.2f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, spec)


def stylized_verdict(check) -> list[str]:
    """The stylized facts of the paths against the history's, one line each, said as comparisons (no threshold
    of what is 'close enough' is invented here: the numbers stand beside each other)."""
    h, p = check.history, check.paths
    lines = [f"valid candles (high ≥ open, close ≥ low): {p.ohlc_valid:.1%} of sampled bars, {h.ohlc_valid:.1%} of "
             f"the history's"]
    if p.excess_kurtosis is not None and h.excess_kurtosis is not None:
        side = "fatter" if p.excess_kurtosis > h.excess_kurtosis else "thinner"
        lines.append(f"tails: excess kurtosis {_worded(p.excess_kurtosis)} in the paths, {_worded(h.excess_kurtosis)} "
                     f"in the history ({side} tails in the paths)")
    lags = sorted(set(p.abs_acf) & set(h.abs_acf))
    if lags:
        mp, mh = (float(np.mean([f.abs_acf[k] for k in lags])) for f in (p, h))
        side = "more" if mp > mh else "less"
        lines.append(f"volatility clustering: mean |return| autocorrelation at lags {lags[0]}–{lags[-1]} "
                     f"{mp:+.3f} in the paths, {mh:+.3f} in the history ({side} clustering in the paths)")
    if p.leverage is not None and h.leverage is not None:
        lines.append(f"leverage corr(r, next |r|): {p.leverage:+.3f} in the paths, {h.leverage:+.3f} in the history")
    return lines


def reading(desk, fc, bars, risk: RiskSettings, workspace: str | None = None) -> tuple[RiskReading, bool]:
    """(``read_risk`` of forecast ``fc``'s paths, whether it was kept): keyed by the paths' content, so a reading is
    never reused for other paths (whatever made them: the desk's forecast, or the app's calibrated fan)."""
    return desk._kept(lambda: result_key("risk", bars, id_of(fc), risk, workspace), lambda: read_risk(fc, risk))


def risk(desk, bars, model, settings: ForecastSettings, risk: RiskSettings, *, workspace: str | None = None,
         ledger=None, ways: str | None = None, **kwargs) -> Risked:
    """``Desk.forecast`` of the same request (computed once, cached alike), then its risk reading, computed once
    per identical request."""
    if settings.paths < 2:
        raise InputError(f"VaR and ES are read from the spread of the paths: {settings.paths} path has none",
                         {"paths": settings.paths}, Fix("sample at least {setting}", "paths", 100))
    done = desk.forecast(bars, model, settings, workspace=workspace, ledger=ledger, ways=ways, **kwargs)
    read, hit = reading(desk, done.forecast, done.bars, risk, workspace)
    return Risked(done.forecast, done.bars, read, settings, risk, done.notices + read.notices, hit)


def id_of(fc) -> str:
    """The forecast a reading is of, by its paths' content: a reading is never reused for other paths."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(fc.paths).tobytes()).hexdigest()[:16]


def beside_offered() -> tuple[str, ...]:
    """The catalog's models a face offers to backtest beside the asked one: Chronos-2 and the ensemble."""
    from kronos_studio.bundled import CHRONOS2_NAME
    from kronos_studio.catalog.resolve import ENSEMBLE

    return CHRONOS2_NAME, ENSEMBLE


@dataclass(frozen=True)
class BacktestPlan:
    """What a risk backtest runs, beyond the forecast's and the risk settings: the walk (``RiskWalk``: its cut-off
    count and training-period switch included), the risk desk's standard models or not, and the catalog's models
    backtested ``beside`` the one asked for on the same cut-offs (each under its own reference)."""

    walk: RiskWalk = RiskWalk()
    baselines: bool = True
    beside: tuple[str, ...] = ()


def backtest_plan(cutoffs: int, walk: RiskWalk | None, include_training_period: bool, baselines: bool,
                  beside) -> BacktestPlan:
    """The plan a face's options ask for; a model asked beside twice runs once."""
    walk = dataclasses.replace(walk or RiskWalk(), n_cutoffs=cutoffs, include_trained=include_training_period)
    return BacktestPlan(walk, bool(baselines), tuple(dict.fromkeys(beside or ())))


@dataclass
class _Backtested:
    """One catalog model of a backtest: its label, how its forecaster is made (on the registry's warm pair, or
    Chronos-2 alone), and its identity for the key (known before anything is loaded)."""

    label: str
    make: object  # () -> forecaster
    identity: dict


def _models(desk, bars, model, settings, workspace, ledger, plan: BacktestPlan, choices) -> list[_Backtested]:
    """The asked model, then those beside it (each once)."""
    from kronos_studio.catalog.resolve import ModelRef

    from .covariates import chronos2_alone, reads_covariates

    def one(label, ref, asked_choices):
        if reads_covariates(ref) and not asked_choices.get("ensemble"):
            make, identity = chronos2_alone(bars)  # a model of its own here, as an unconditioned conditioned request
            return _Backtested(label, make, identity)
        served, identity = desk._identity(ref, bars, workspace, ledger, asked_choices)
        return _Backtested(label, lambda: desk.forecaster(ref, bars, settings, workspace, served, asked_choices),
                           identity)

    asked = model.ref if isinstance(model, ModelRef) else model
    return [one(MODEL_KEY, model, choices)] + [one(ref, ref, {}) for ref in plan.beside if ref != asked]


def backtest_key(bars, identities: dict, settings: ForecastSettings, risk: RiskSettings, plan: BacktestPlan,
                 workspace) -> str:
    return result_key("risk_backtest", bars, identities, settings, workspace, risk=dataclasses.asdict(risk),
                      plan=dataclasses.asdict(plan))


def backtest_models(desk, rows: list[_Backtested], workspace, plan: BacktestPlan) -> tuple[dict, list[str]]:
    """(label -> forecaster: the asked-for model, then those beside it, each sampling in the workspace's turn on
    the registry's warm pair, then the risk desk's standard models; the standard ones' labels). A model that is
    one of the standard ones (garch, gjr_garch) is that one, read from its own distribution as it is, and runs
    once, under its own key."""
    from kronos_studio.risk.baselines import risk_baselines

    known = risk_baselines()
    standard = known if plan.baselines else {}
    models = {}
    for row in rows:
        forecaster = row.make()
        if forecaster.key in known:
            models.setdefault(forecaster.key, known[forecaster.key])
        else:
            models.setdefault(row.label, desk.registry.in_turn(forecaster, row.identity["model"], workspace))
    return models | {k: m for k, m in standard.items() if k not in models}, list(standard)


def risk_backtest(desk, bars, model, settings: ForecastSettings, risk: RiskSettings, *, cutoffs: int,
                  walk: RiskWalk | None = None, include_training_period: bool = False, baselines: bool = True,
                  beside=(), workspace: str | None = None, ledger=None,
                  ways: str | None = None, progress=None, **choices) -> RiskBacktested:
    """The walk-forward risk backtest of ``model`` (and of each catalog model ``beside`` it, and with ``baselines``
    the risk desk's standard models, ``kronos_studio.risk.STANDARD_MODELS``, each read from its own distribution)
    over the latest ``cutoffs`` non-overlapping cut-offs of ``bars``: VaR tests, the ES test, the volatility losses
    and comparisons; computed once per identical request. The sampled models draw ``settings.paths`` a cut-off (every
    face asks ``measures.default_paths`` when the user names none), flagged at each level they cannot hold.
    ``walk``: the backtest's other choices (its cut-off count is ``cutoffs``, its training-period switch
    ``include_training_period``)."""
    from kronos_studio.risk.walk import risk_backtest as backtest

    desk.check_walk(settings, cutoffs)
    plan = backtest_plan(cutoffs, walk, include_training_period, baselines, beside)
    gated = desk._gated(bars, ways)
    bars = gated.bars
    rows = _models(desk, bars, model, settings, workspace, ledger, plan, choices)
    identities = {row.label: row.identity for row in rows}

    def compute():
        models, standard = backtest_models(desk, rows, workspace, plan)
        label = next(iter(models))
        # the standard models read their own history windows (what defines them); the catalog's models beside
        # the asked one read what it reads
        own = [k for k in standard if k != label]
        return backtest(models, bars, settings, risk, plan.walk, progress, own), label

    (result, label), hit = desk._kept(lambda: backtest_key(bars, identities, settings, risk, plan, workspace),
                                      compute)
    return RiskBacktested(result, bars, gated.notices + _said(result, settings, label) + list(result.notices), label,
                          hit)


def _said(result, settings: ForecastSettings, label: str) -> list[Notice]:
    from kronos_studio.risk.baselines import risk_baselines

    others = [k for k in result.models if k != label and k in risk_baselines()]
    return [Notice(f"the standard risk models read their own history windows, not the lookback of {settings.lookback} "
                   "bars asked for the model", kind="note")] if others and settings.lookback else []


def kept_risk_backtest(desk, bars, model, settings: ForecastSettings, risk: RiskSettings, *, cutoffs: int,
                       walk: RiskWalk | None = None, include_training_period: bool = False, baselines: bool = True,
                       beside=(), workspace: str | None = None, ledger=None, **choices) -> RiskBacktested | None:
    """What ``risk_backtest`` would answer from the cache now for gated ``bars`` (None: it would compute); no
    model is loaded."""
    if desk.cache is None:
        return None
    plan = backtest_plan(cutoffs, walk, include_training_period, baselines, beside)
    identities = {row.label: row.identity for row in _models(desk, bars, model, settings, workspace, ledger, plan,
                                                             choices)}
    kept = desk.cache.peek(backtest_key(bars, identities, settings, risk, plan, workspace))
    if kept is None:
        return None
    result, label = kept
    return RiskBacktested(result, bars, _said(result, settings, label) + list(result.notices), label, True)


def plain(x):
    """JSON values: NaN and infinities as None, numpy numbers as Python's, times as text."""
    import pandas as pd

    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, pd.Timestamp):
        return x.isoformat()
    return x


def risk_body(done: Risked) -> dict:
    """The one JSON answer of a risk request (``kronos risk --json``, ``POST /v1/risk``, the MCP tool ``risk``):
    VaR/ES per position and level at the horizon (``horizon_end``: its last bar's time) and per step when asked, the volatility forecast, the
    stylized facts and their verdict, what was asked. The notices are each face's to word."""
    r = done.reading
    fc = done.forecast
    path = {k: v for k, v in r.path.to_dict().items() if k != "notices"}
    return plain({
        "model": fc.provenance.get("model"), "horizon": done.settings.horizon, "horizon_end": r.horizon_end,
        "paths": path.pop("paths"),
        "last_close": path.pop("last_close"), "settings": dataclasses.asdict(done.settings),
        "risk_settings": dataclasses.asdict(done.risk), **{"var_es": path["horizon"], "var_es_steps": path["steps"]},
        "volatility": {k: v for k, v in r.volatility.to_dict().items() if k != "notices"},
        "stylized": {k: v for k, v in r.stylized.to_dict().items() if k != "notices"},
        "verdict": r.verdict})


def backtest_body(done: RiskBacktested) -> dict:
    """The one JSON answer of a risk backtest: the tests, the volatility table, each model's readings per
    cut-off, the summary at each level for each position. The notices are each face's to word."""
    bt = done.backtest
    out = {"model_key": done.model_key, **{k: v for k, v in bt.to_dict().items() if k != "notices"}}
    out["summary"] = {f"{position}_{level:g}": bt.summary(level, position).to_dict("index")
                      for position in bt.settings.positions for level in bt.settings.levels}
    return plain(out)
