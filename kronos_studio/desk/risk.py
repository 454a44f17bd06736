"""The desk's risk use cases (``Desk.risk``, ``Desk.risk_backtest``, ``Desk.served_risk``, ``Desk.risk_champion``
delegate here): value-at-risk, expected shortfall, the volatility forecast and the stylized-facts check of a
forecast's paths (``kronos_studio.risk``), the walk-forward risk backtest of a model beside the risk desk's standard
models, and the series' risk champion (``kronos_studio.risk.champion``): which risk model serves it (the champion,
else the default), its recalibrated reading from the state the ledger keeps, and the choice of a new one; each as a
result with its notices and as the one JSON body every face answers with (``risk_body``, ``backtest_body``,
``champion_body``).

A risk request that names no model is served by the series' risk champion (``served_risk``): its VaR and ES lead
the answer (``served``), named with why it serves, and the paths read beside it are that model's forecast; any model
can still be asked for, and is then read as before."""
from __future__ import annotations

import dataclasses
import hashlib
import math
from dataclasses import dataclass, field

from kronos.errors import Fix, InputError, Notice, UserError
from kronos.lazy import np, pd
from kronos.settings import Bounds, ForecastSettings, check_bounds, knob
from kronos_studio.bundled import CHRONOS2_NAME
from kronos_studio.catalog.choice import ModelChoice, model_of
from kronos_studio.catalog.resolve import ENSEMBLE, ModelRef
from kronos_studio.forecasters.window import history_window
from kronos_studio.risk.baselines import risk_baselines
from kronos_studio.risk.champion import (
    CHAMPION_CUTOFFS,
    CHAMPION_WARMUP,
    DEFAULT_RISK_MODEL,
    DEFAULT_WHY,
    RiskModel,
    ServedRisk,
    choose,
    record,
    serve,
)
from kronos_studio.risk.distribution import paths_return
from kronos_studio.risk.measures import PathRisk, RiskSettings, default_paths, path_risk
from kronos_studio.risk.registry import MEASURES
from kronos_studio.risk.stylized import stylized_check
from kronos_studio.risk.volatility import volatility_forecast
from kronos_studio.risk.walk import PROXIES, RECALIBRATED, RiskWalk, paths_variance
from kronos_studio.risk.walk import risk_backtest as backtest

from .cache import result_key
from .covariates import chronos2_alone, reads_covariates
from .requests import ForecastRequest, Gated

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
    the reading's, and whether the reading came from the cache; ``served``: when no model was asked, the reading
    of the risk model serving the series (``served_risk``), whose forecast ``forecast`` is."""

    forecast: object
    bars: object
    reading: RiskReading
    settings: ForecastSettings
    risk: RiskSettings
    notices: list[Notice]
    from_cache: bool = False
    served: object = None  # kronos_studio.risk.champion.ServedRisk


@dataclass
class RiskBacktested:
    """A walk-forward risk backtest (``kronos_studio.risk.walk.RiskBacktest``) of ``bars``, the bars' notices then
    the backtest's, and whether it was cached; ``served_key``: the row of the risk model serving the series (its
    champion's, else the default's, recalibrated as it serves), and why it serves."""

    backtest: object
    bars: object
    notices: list[Notice]
    model_key: str = MODEL_KEY  # the asked-for model's label among the backtest's models
    from_cache: bool = False
    served_key: str | None = None
    served_why: str | None = None


def risk_paths(risk: RiskSettings, paths: int | None = None) -> int:
    """The paths a risk request samples (a reading or a backtest, on every face): ``paths`` as asked, else enough
    for the highest level's ES (``measures.default_paths``: 2,000 for the default levels)."""
    return default_paths(risk.levels) if paths is None else paths


def check_risk(desk, settings: ForecastSettings, risk: RiskSettings, *, backtest: bool, cutoffs: int = 1,
               beside=(), baselines: bool = False) -> None:
    """A risk request's readings within the face's limits, before any forecast: the levels x positions x steps of a
    reading, or of a backtest each model's cut-offs (the asked model, those ``beside`` it, and the standard risk
    models when ``baselines``)."""
    if desk.limits is None:
        return

    models = 1 + len(beside or ()) + (len(risk_baselines()) if baselines else 0)
    desk.limits.check_risk(len(risk.levels), len(risk.positions),
                           settings.horizon if risk.per_step and not backtest else 1,
                           cutoffs * models if backtest else 1)


def read_risk(fc, risk: RiskSettings) -> RiskReading:
    """The risk reading of forecast ``fc``'s paths (the forecast on screen, whatever made it): one function for
    the desk and for the app's Risk panel, so both show the same numbers for the same paths."""
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


@dataclass(frozen=True)
class RiskRequest:
    """A risk reading asked for: ``bars`` (a ``BarsRequest``, ``Gated`` bars, or bars), the ``model`` (a
    ``ModelChoice``, or a reference taken with the resolver's defaults; None: the series' risk champion, else the
    default risk model, serves), the sampling ``settings``, the ``risk`` settings, the ledger ``workspace`` and the
    bar times to place the forecast at (``future``; None: the bars' calendar's)."""

    bars: object
    model: ModelChoice | None
    settings: ForecastSettings
    risk: RiskSettings = RiskSettings()
    workspace: str | None = None
    future: object = None

    def __post_init__(self):
        if self.model is not None:
            object.__setattr__(self, "model", ModelChoice.of(self.model))


def risk(desk, request: RiskRequest, *, ledger=None, ways: str | None = None) -> Risked:
    """``Desk.forecast`` of the same request (computed once, cached alike), then its risk reading, computed once
    per identical request. No model: the series' risk champion (or the default risk model) serves
    (``served_risk``), and the forecast read beside it is that model's. Within the face's limits (``check_risk``)
    before any bars are read."""
    settings, risk, workspace = request.settings, request.risk, request.workspace
    check_risk(desk, settings, risk, backtest=False)
    if settings.paths < 2:
        raise InputError(f"VaR and ES are read from the spread of the paths: {settings.paths} path has none",
                         {"paths": settings.paths}, Fix("sample at least {setting}", "paths", 100))
    served = None
    if request.model is None:
        gated = desk._gated(request.bars, ways)
        served, done = served_risk(desk, dataclasses.replace(request, bars=gated), ledger=ledger)
        done = dataclasses.replace(done, notices=gated.notices + done.notices)
    else:
        done = desk.forecast(ForecastRequest(request.bars, request.model, settings, workspace, request.future),
                             ledger=ledger, ways=ways)
    read, hit = reading(desk, done.forecast, done.bars, risk, workspace)
    said = [] if served is None else served.notices
    return Risked(done.forecast, done.bars, read, settings, risk, done.notices + said + read.notices, hit, served)


# --- the risk model serving a series (issue 66) ---------------------------------------------------------------
class _Opened:
    """``ledger`` as it is (a service's, scoped), or the default ledger of ``workspace`` opened for the call."""

    def __init__(self, ledger, workspace):
        self.ledger, self.workspace, self.opened = ledger, workspace, None

    def __enter__(self):
        if self.ledger is not None:
            return self.ledger
        from kronos_studio.ledger import Ledger

        self.opened = Ledger.open(workspace=self.workspace)
        return self.opened

    def __exit__(self, *exc):
        if self.opened is not None:
            self.opened.close()


def serving(ledger, bars):
    """(the risk model serving ``bars``' series: its champion's, else the default; the champion's registry entry or
    None)."""
    from kronos_studio.ledger.registry import RISK_CHAMPION, Registry, SeriesKey

    entry = Registry(ledger).champion(SeriesKey.of(bars), RISK_CHAMPION)
    return (DEFAULT_RISK_MODEL, None) if entry is None else (RiskModel.from_settings(entry.settings), entry)


def why_serving(entry) -> str:
    """Why the risk model serves, in words: the champion's decision with its date, or that it is the default."""
    if entry is None:
        return DEFAULT_WHY
    return f"risk champion since {entry.decided_at:%Y-%m-%d}: {entry.reason}"


def _standard_forecast(desk, bars, model, settings: ForecastSettings, workspace, future):
    """A standard risk model's forecast of ``bars`` (its paths, from its own history window), kept in the desk's
    cache as a forecast is: ``(Forecasted, the model)``."""
    f = risk_baselines()[model]
    own = dataclasses.replace(settings, lookback=None)
    return desk.forecast_by(f, {"model": f"risk:{model}", **f.identity()}, bars, own, workspace=workspace,
                            future=future), f


def served_risk(desk, request: RiskRequest, *, ledger=None):
    """The reading of the risk model serving the request's series (``serving``; its model is not read): its horizon return at the end of the
    bars (a standard model's own distribution, else its forecast's paths), recalibrated by what it has learnt (the
    ledger's ``risk_state`` for the workspace, series, model and horizon: the outcomes these bars now hold are learnt
    first, and this reading waits for its own), kept back in the ledger. (``ServedRisk``, the forecast read beside
    it: that model's)."""
    from kronos_studio.ledger.registry import SeriesKey
    from kronos_studio.ledger.risk_state import RiskStates

    settings, risk, workspace, future = request.settings, request.risk, request.workspace, request.future
    gated = desk._gated(request.bars, None)
    bars = gated.bars
    with _Opened(ledger, workspace) as led:
        model, entry = serving(led, bars)
        if model.standard:
            done, f = _standard_forecast(desk, bars, model.model, settings, workspace, future)
            own = dataclasses.replace(settings, lookback=None)
            history = history_window(f, bars.frame, own)
            base = f.horizon_return(history, done.forecast.timestamps, own, risk.levels)
            identity, name = f.identity(), f.name
        else:
            done = desk.forecast(ForecastRequest(bars, model.model, settings, workspace, future), ledger=led)
            last = float(bars.frame["close"].iloc[-1])
            base = paths_return(done.forecast.paths, last, paths_variance(done.forecast.paths, last, "close_to_close"))
            identity = desk._identity(model.model, bars, workspace, led)[1]
            name = str(done.forecast.provenance.get("model") or model.model)
        series, key = SeriesKey.of(bars), model.state_identity(identity)
        states = RiskStates(led)
        stored = states.get(series, key, settings.horizon) if model.recalibration is not None else None
        read, keep, learnt, notes = serve(model, base, None if stored is None else stored.state, bars.frame,
                                          settings.horizon, risk)
        if keep:
            through = keep.get("through")
            states.put(series, model.describe(name), key, settings.horizon, keep,
                       None if through is None else pd.Timestamp(through).to_pydatetime())
    readings = []
    for position in risk.positions:
        for level in risk.levels:
            var, es = read.tail(position, level)
            readings.append({"position": position, "level": level, "var": var, "es": es,
                             "tail_probability": round(read.tail_probability(position, level)
                                                       if model.recalibration is not None else 1 - level, 12)})
    notices = [Notice(n, kind="note") for n in notes]
    if model.recalibration is not None and not learnt.get("outcomes"):
        notices.append(Notice(f"{model.describe(name)} has learnt from no outcome of this series yet: it reads as the "
                              "model itself until readings' horizons end (choosing the series' risk champion learns "
                              "from its latest cut-offs at once)", kind="note"))
    served = ServedRisk(model, name, why_serving(entry), entry is not None,
                        None if entry is None else entry.decided_at.isoformat(), None if entry is None else entry.id,
                        settings.horizon, readings, float(read.variance), learnt, read.method, notices)
    return served, dataclasses.replace(done, notices=gated.notices + done.notices)


def id_of(fc) -> str:
    """The forecast a reading is of, by its paths' content: a reading is never reused for other paths."""
    return hashlib.sha256(np.ascontiguousarray(fc.paths).tobytes()).hexdigest()[:16]


def beside_offered() -> tuple[str, ...]:
    """The catalog's models a face offers to backtest beside the asked one: Chronos-2 and the ensemble."""
    return CHRONOS2_NAME, ENSEMBLE


@dataclass(frozen=True)
class RiskBacktestPlan:
    """What a risk backtest runs, beyond the forecast's and the risk settings: the latest ``cutoffs`` cut-offs,
    ``step`` bars apart (None: the horizon), the variance ``proxy``, the risk desk's standard models or not, the
    catalog's models backtested ``beside`` the one asked for on the same cut-offs (each under its own reference, each
    once) and the training-period switch. Each option carries its ``Knob``: ``kronos risk --backtest``'s and ``kronos
    evaluate --risk``'s options, ``POST /v1/risk``'s fields, the MCP ``risk`` tool's parameters and the Evaluate
    page's Risk backtest controls are generated from them.

    The default cut-offs, where the faces disagreed (250 on the command line, HTTP and MCP, 100 in the app): 250, the
    Basel traffic light's year of one-step VaRs."""

    cutoffs: int = knob(RiskWalk.n_cutoffs, Bounds(ge=1), label="Risk cut-offs", low=1, high=2000,
                        help="the latest cut-offs, one horizon apart (default 250: the traffic light's year of "
                             "one-step VaRs)")
    proxy: str = knob(RiskWalk.proxy, Bounds(choices=PROXIES), label="Variance proxy",
                      help="the realized variance a variance forecast is scored against")
    baselines: bool = knob(True, label="With the standard risk models",
                           help="also backtest the risk desk's standard models on the same cut-offs")
    beside: tuple[str, ...] = knob((), label="Beside it",
                                   help="the catalog's models (e.g. chronos2-small, ensemble) backtested on the same "
                                        "cut-offs beside the model (each samples at every one)")
    step: int | None = knob(None, Bounds(ge=1, unit="bar"), label="Bars between cut-offs", low=1, high=2000, more=True,
                            help="bars between cut-offs (default: the horizon, no two returns overlap); closer ones "
                                 "overlap: the VaR/ES tests then run on the non-overlapping ones, FZ0 and QLIKE compare "
                                 "all with the overlap allowed for")
    include_trained: bool = knob(False, label="Include cut-offs inside the model's training period",
                                 setting="include_training_period",
                                 help="also score cut-offs inside the model's training period (left out by default: "
                                      "such scores measure memory, not forecasting)")

    def __post_init__(self):
        object.__setattr__(self, "beside", tuple(dict.fromkeys(self.beside or ())))  # a model asked twice runs once
        object.__setattr__(self, "baselines", bool(self.baselines))
        check_bounds(self)  # each knob's Bounds: one rule, one message for every face

    def walk(self) -> RiskWalk:
        """The walk-forward this plan asks for (``risk.walk.RiskWalk``)."""
        return RiskWalk(n_cutoffs=self.cutoffs, include_trained=self.include_trained, proxy=self.proxy,
                        step=self.step)


@dataclass(frozen=True)
class RiskBacktestRequest:
    """A risk backtest: ``bars`` (a ``BarsRequest``, ``Gated`` bars, or bars), ``model`` (a ``ModelChoice``, or a
    reference taken with the resolver's defaults; None: the risk model serving the series), the sampling
    ``settings``, the ``risk`` settings, the ``plan`` and the ledger ``workspace`` whose risk champion serves."""

    bars: object
    model: ModelChoice | None
    settings: ForecastSettings
    risk: RiskSettings
    plan: RiskBacktestPlan = RiskBacktestPlan()
    workspace: str | None = None

    def __post_init__(self):
        if self.model is not None:
            object.__setattr__(self, "model", ModelChoice.of(self.model))


@dataclass
class _Backtested:
    """One catalog model of a backtest: its label, how its forecaster is made (on the registry's warm pair, or
    Chronos-2 alone), and its identity for the key (known before anything is loaded)."""

    label: str
    make: object  # () -> forecaster
    identity: dict


def _models(desk, bars, model, settings, workspace, ledger, plan: RiskBacktestPlan, asked: bool = True
            ) -> list[_Backtested]:
    """The asked model (a ``ModelChoice`` or a reference; unless not ``asked``: a standard risk model serving the
    series stands for it), then those beside it (each once)."""
    def one(label, choice: ModelChoice):
        if reads_covariates(choice) and not choice.ensemble:
            make, identity = chronos2_alone(desk, bars)  # a model of its own here, as an unconditioned conditioned request
            return _Backtested(label, make, identity)
        served, identity = desk._identity(choice, bars, workspace, ledger)
        return _Backtested(label, lambda: desk.forecaster(choice, bars, settings, workspace, served), identity)

    choice = ModelChoice.of(model)
    ref = choice.model.ref if isinstance(choice.model, ModelRef) else choice.model
    return [one(MODEL_KEY, choice)] * asked + [one(r, ModelChoice(r)) for r in plan.beside if r != ref]


def backtest_key(bars, identities: dict, settings: ForecastSettings, risk: RiskSettings, plan: RiskBacktestPlan,
                 workspace) -> str:
    return result_key("risk_backtest", bars, identities, settings, workspace, risk=dataclasses.asdict(risk),
                      plan={**dataclasses.asdict(plan), "walk": dataclasses.asdict(plan.walk())})


def backtest_models(desk, rows: list[_Backtested], workspace, plan: RiskBacktestPlan) -> tuple[dict, list[str]]:
    """(label -> forecaster: the asked-for model, then those beside it, each sampling in the workspace's turn on
    the registry's warm pair, then the risk desk's standard models; the standard ones' labels). A model that is
    one of the standard ones (garch, gjr_garch) is that one, read from its own distribution as it is, and runs
    once, under its own key."""
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


def _serving_plan(desk, bars, model, workspace, ledger):
    """(the model a backtest asks: ``model``, or with none the catalog model serving the series; whether a model is
    asked of the catalog; the risk model serving; its entry; its identity for the key)."""
    with _Opened(ledger, workspace) as led:
        served, entry = serving(led, bars)
    if model is None and not served.standard:
        model = served.model
    identity = {"risk_model": served.to_settings(), "entry": None if entry is None else entry.id}
    return model, model is not None, served, entry, identity


def risk_backtest(desk, request: RiskBacktestRequest, *, ledger=None, ways: str | None = None,
                  progress=None) -> RiskBacktested:
    """The walk-forward risk backtest of the request's model (and of each catalog model ``beside`` it, and with
    ``baselines`` the risk desk's standard models, ``kronos_studio.risk.STANDARD_MODELS``, each read from its own
    distribution) over the plan's latest ``cutoffs`` cut-offs of the bars: VaR tests, the ES test, the volatility
    losses and comparisons; computed once per identical request. The sampled models draw ``settings.paths`` a cut-off
    (every face asks ``measures.default_paths`` when the user names none), flagged at each level they cannot hold.
    The risk model serving the series (``serving``) is one of the rows, recalibrated as it serves (from outcomes
    before each cut-off only, seeded on as many earlier cut-offs as are scored, at most
    ``champion.CHAMPION_WARMUP``): no model asked backtests it as the asked model. Within the face's limits
    (``check_risk``, ``Desk.check_walk``) before any bars are read."""
    settings, risk, plan, workspace = request.settings, request.risk, request.plan, request.workspace
    check_risk(desk, settings, risk, backtest=True, cutoffs=plan.cutoffs, beside=plan.beside, baselines=plan.baselines)
    desk.check_walk(settings, plan.cutoffs)
    gated = desk._gated(request.bars, ways)
    bars = gated.bars
    asked_served = request.model is None
    model, asked, served, entry, serving_identity = _serving_plan(desk, bars, request.model, workspace, ledger)
    rows = _models(desk, bars, model, settings, workspace, ledger, plan, asked)
    identities = {row.label: row.identity for row in rows} | {"served": serving_identity}

    def compute():
        models, standard = backtest_models(desk, rows, workspace, plan)
        if served.standard:
            own_model = risk_baselines()[served.model]
            models = ({served.model: own_model, **models} if asked_served else {**models, served.model: own_model}
                      if served.model not in models else models)
            recal = served.model
        else:
            recal = MODEL_KEY if asked_served or model_of(model) == served.model else None
        label = next(iter(models))
        # the standard models read their own history windows (what defines them); the catalog's models beside
        # the asked one read what it reads; a standard model serving the series reads its own, as it serves
        own = [k for k in standard if k != label] + ([served.model] if served.standard and asked_served else [])
        w = plan.walk()
        if recal is not None and served.recalibration is not None:
            w = dataclasses.replace(w, recalibrate=(recal,), recalibration=served.recalibration,
                                    warmup=min(CHAMPION_WARMUP, w.n_cutoffs))
        served_key = None if recal is None else recal + (RECALIBRATED if served.recalibration is not None else "")
        return backtest(models, bars, settings, risk, w, progress, own), \
            (served_key if asked_served and served_key else label), served_key

    (result, label, served_key), hit = desk._kept(
        lambda: backtest_key(bars, identities, settings, risk, plan, workspace), compute)
    notices = _said(result, settings, label) + _not_served(served, served_key)
    return RiskBacktested(result, bars, gated.notices + notices + list(result.notices), label, hit, served_key,
                          why_serving(entry))


def _not_served(served, served_key) -> list[Notice]:
    if served_key is not None:
        return []
    return [Notice(f"the risk model serving this series, {served.label}, is not in this backtest: ask it without a "
                   "model to backtest what serves", kind="note")]


def _said(result, settings: ForecastSettings, label: str) -> list[Notice]:
    others = [k for k in result.models if k != label and k in risk_baselines()]
    return [Notice(f"the standard risk models read their own history windows, not the lookback of {settings.lookback} "
                   "bars asked for the model", kind="note")] if others and settings.lookback else []


def kept_risk_backtest(desk, request: RiskBacktestRequest, *, ledger=None) -> RiskBacktested | None:
    """What ``risk_backtest`` would answer from the cache now for the request's gated bars (None: it would compute);
    no model is loaded."""
    if desk.cache is None:
        return None
    bars, settings, risk, plan, workspace = request.bars, request.settings, request.risk, request.plan, request.workspace
    bars = bars.bars if isinstance(bars, Gated) else bars
    model, asked, served, entry, serving_identity = _serving_plan(desk, bars, request.model, workspace, ledger)
    identities = {row.label: row.identity for row in _models(desk, bars, model, settings, workspace, ledger, plan,
                                                             asked)} | {"served": serving_identity}
    kept = desk.cache.peek(backtest_key(bars, identities, settings, risk, plan, workspace))
    if kept is None:
        return None
    result, label, served_key = kept
    return RiskBacktested(result, bars, _said(result, settings, label) + _not_served(served, served_key) +
                          list(result.notices), label, True, served_key, why_serving(entry))


def plain(x):
    """JSON values: NaN and infinities as None, numpy numbers as Python's, times as text."""
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
        "verdict": r.verdict, "served": None if done.served is None else done.served.to_dict()})


def backtest_body(done: RiskBacktested) -> dict:
    """The one JSON answer of a risk backtest: the tests, the volatility table, each model's readings per
    cut-off, the summary at each level for each position. The notices are each face's to word."""
    bt = done.backtest
    out = {"model_key": done.model_key, "served_key": done.served_key, "served_why": done.served_why,
           **{k: v for k, v in bt.to_dict().items() if k != "notices"}}
    out["summary"] = {f"{position}_{level:g}": bt.summary(level, position).to_dict("index")
                      for position in bt.settings.positions for level in bt.settings.levels}
    return plain(out)


# --- choosing the risk champion (issue 66) ------------------------------------------------------------------------
SAMPLED_CANDIDATES = ("bundled", "ensemble")  # beside the standard models: the bundled default Kronos, the ensemble


@dataclass
class RiskChampionChosen:
    """A risk champion decision (``kronos_studio.risk.champion.RiskChampionDecision``), the entry serving afterwards
    (None: the default), the bars and the notices."""

    decision: object
    entry: object
    bars: object
    notices: list[Notice]


def sampled_references(sampled) -> list[str]:
    """The catalog references of the sampled candidates asked (``bundled``: the bundled default Kronos by name)."""
    from kronos_studio.bundled import bundled_models  # read when called: a test patches it in kronos_studio.bundled

    out = []
    for ref in sampled:
        out.append(next(iter(bundled_models()), None) if ref == "bundled" else ref)
    return [r for r in out if r]


@dataclass(frozen=True)
class RiskChampionRequest:
    """A choice of a series' risk champion asked for: ``bars``, the sampling ``settings`` and the ``risk`` settings,
    the latest ``cutoffs`` cut-offs one horizon apart (None: ``champion.CHAMPION_CUTOFFS``), the earlier ones
    seeding the recalibrated candidates (``warmup``; None: ``champion.CHAMPION_WARMUP``), the ``sampled`` catalog
    candidates beside the standard models, the training-period switch, the ledger ``workspace`` and who chose
    (``made_by``, kept with the decision)."""

    bars: object
    settings: ForecastSettings
    risk: RiskSettings = RiskSettings()
    cutoffs: int | None = None
    warmup: int | None = None
    sampled: tuple[str, ...] = SAMPLED_CANDIDATES
    include_training_period: bool = False
    workspace: str | None = None
    made_by: str = "risk champion choice"


def risk_champion(desk, request: RiskChampionRequest, *, ledger=None, ways: str | None = None,
                  progress=None) -> RiskChampionChosen:
    """Choose the request's series' risk champion (``kronos_studio.risk.champion.choose``): the standard risk models
    and the ``sampled`` catalog models (each also recalibrated) on the latest ``cutoffs`` cut-offs one horizon apart,
    the best by FZ0 set against the risk model serving now through the gate; the decision, the entry and every
    recalibrated candidate's learnt state kept in the ledger (``record``)."""
    settings, risk, workspace, cutoffs = request.settings, request.risk, request.workspace, request.cutoffs
    sampled, warmup = request.sampled, request.warmup
    desk.check_walk(settings, cutoffs or CHAMPION_CUTOFFS)
    gated = desk._gated(request.bars, ways)
    bars = gated.bars
    with _Opened(ledger, workspace) as led:
        current, entry = serving(led, bars)
        standard = risk_baselines()
        forecasters, identities = dict(standard), {k: f.identity() for k, f in standard.items()}
        refs = sampled_references(sampled) + ([] if current.standard or current.model in sampled else [current.model])
        for ref in dict.fromkeys(refs):
            served, identity = desk._identity(ref, bars, workspace, led)
            forecasters[ref] = desk.registry.in_turn(desk.forecaster(ref, bars, settings, workspace, served),
                                                     identity["model"], workspace)
            identities[ref] = identity
        decision = choose(forecasters, bars, settings, risk, current, cutoffs=cutoffs or CHAMPION_CUTOFFS,
                          warmup=CHAMPION_WARMUP if warmup is None else warmup,
                          include_trained=request.include_training_period, own_window=tuple(standard),
                          progress=progress)
        after = record(led, bars, decision, request.made_by, entry, identities)
    return RiskChampionChosen(decision, after, bars, gated.notices + list(decision.backtest.notices))


def champion_body(done: RiskChampionChosen) -> dict:
    """The one JSON answer of a risk champion choice: the decision (what serves now and why), the entry, and per
    candidate its mean FZ0, QLIKE, exceptions and verdict on the cut-offs it was chosen on."""
    d = done.decision
    bt = d.backtest
    candidates = {}
    for key, m in bt.models.items():
        candidates[key] = {"name": m.name, "fz0": d.scores["fz0"].get(key), "qlike": d.scores["qlike"].get(key),
                           "verdict": bt.verdicts[key]["verdict"], "untested": bt.verdicts[key]["untested"],
                           **{f"exceptions_{p}_{a:g}": int(m.frame[f"exception_{p}_{a:g}"].sum())
                              for p in bt.settings.positions for a in bt.settings.levels}}
    return plain({**d.to_dict(), "entry": None if done.entry is None else done.entry.to_dict(),
                  "candidates": candidates, "cutoffs": len(bt.cutoffs), "horizon": bt.horizon})


def served_rows(desk, series_bars, settings: ForecastSettings, risk: RiskSettings, *, workspace: str | None = None,
                ledger=None) -> pd.DataFrame:
    """One row per (series name, gated bars) of ``series_bars``: the risk model serving it (``risk_model``, and
    ``risk_model_why``) and its VaR and ES per position and level (``served_var_long_99``, ...): ``served_risk`` of
    each, the Screener's risk-champion columns. A series that cannot be read says why in ``risk_model_why``."""
    rows = []
    with _Opened(ledger, workspace) as led:
        for name, bars in series_bars:
            row = {"series": name}
            try:
                served, _ = served_risk(desk, RiskRequest(bars, None, settings, risk, workspace), ledger=led)
            except UserError as e:
                rows.append(row | {"risk_model": None, "risk_model_why": str(e)})
                continue
            row |= {"risk_model": served.model.describe(served.name), "risk_model_why": served.why}
            for t in served.readings:  # the measures a risk model serves (VaR, ES) by the registry's names
                row |= {m.column(t["position"], t["level"], served=True): t[m.key] for m in MEASURES.values()
                        if m.served}
            rows.append(row)
    return pd.DataFrame(rows)
