"""The front desk: each use case written once, for every face. A face (the command line, the HTTP service, the
MCP server, the app) turns its input into request values (a ``BarsRequest``, a model reference,
``ForecastSettings``, the use case's options), calls one method here, and words what comes back: results, and
``kronos.errors.Notice``s (warnings as data) or a ``UserError`` whose fixes name settings.

The desk owns the process's model registry (one load per model), one result cache keyed by one function
(``cache.result_key``), and the faces' limits; the ledger a call reads champions from and records in is the
caller's (a service scopes it to the request's workspace)."""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike

from data_sources.requests import BarsRequest
from kronos.errors import Fix, InputError, Notice
from kronos.settings import ForecastSettings
from kronos_studio.bars_input import quality_gate, read_bars, read_csv_text
from kronos_studio.batch.watchlist import is_watchlist, read_watchlist, symbol_entries
from kronos_studio.catalog.champion import WITHHELD, series_retrainer, withheld_fixes
from kronos_studio.catalog.choice import model_of
from kronos_studio.catalog.identity import NOT_PER_SERIES, model_identity, served_champion
from kronos_studio.catalog.registry import shared_registry
from kronos_studio.catalog.resolve import ModelRef, offered
from kronos_studio.evaluation.plausibility import check_fan
from kronos_studio.evaluation.trust import TrustPlan
from kronos_studio.fair import asked_by
from kronos_studio.forecasters.bounds import notices
from kronos_studio.forecasters.window import lookback_note

from .adapters import adapter, adapters, promote, rollback
from .cache import ResultCache, result_key
from .compare import compare_backtest, kept_compare_backtest, window
from .covariates import conditioned
from .covariates import evaluate as conditioned_evaluate
from .covariates import forecast as conditioned_forecast
from .drift import drift
from .fine_tune import fine_tune
from .limits import Limits
from .models import models
from .notices import paths_notices
from .pretrain import pretrain
from .rank import rank
from .record import record
from .requests import EvaluateRequest, ForecastRequest, Gated, RetrainRequest
from .retrain_watchlist import check_size, retrain_watchlist
from .risk import kept_risk_backtest, reading, risk_champion, served_risk, served_rows
from .risk import risk as read
from .risk_record import risk_record
from .score import score
from .screen import check, recent_closes, screen, served_columns
from .track_record import predictions, steps, track_record
from .train_ensemble import gate_ensemble, train_ensemble
from .trust import TrustRequest, evaluated, kept_trust, trust
from .watch import watch


@dataclass
class Forecasted:
    """A forecast (``kronos_studio.forecasting.Forecast``) of ``bars``, what the user should know (the bars'
    notices, then the forecast's), and whether it came from the cache (computed before for the same bars, model
    now, settings and workspace)."""

    forecast: object
    bars: object
    notices: list[Notice]
    lookback: str = ""  # why it read the bars it read, in words ('' when the lookback was asked for)
    from_cache: bool = False


@dataclass
class Evaluated:
    """A walk-forward report (``evaluation.report.EvaluationReport``) of ``bars``, the bars' notices then the
    report's, and whether it was cached."""

    report: object
    bars: object
    notices: list[Notice]
    from_cache: bool = False


@dataclass
class Retraining:
    """A series' gated retrain with its decision points chosen: ``run(progress)`` decides at each (the
    ``training.retrain.Report``); ``bars`` and their ``notices`` as read."""

    retrainer: object
    points: list[int]
    bars: object
    notices: list[Notice]

    def run(self, progress=None):
        return self.retrainer.run(self.points, progress=progress)


class Desk:
    """One method per use case over one model registry and one result cache."""

    def __init__(self, registry=None, *, cache: ResultCache | None = None, limits: Limits | None = None,
                 models_dirs=()):
        """``registry``: a ``catalog.registry.ModelRegistry`` (default: the process's shared one); ``cache``:
        where results are kept (None: nowhere, for a one-shot command); ``limits``: what one request may ask
        (``limits.Limits``, a request past one refused as ``TooLarge``; None: none, as on the command line and in
        the app); ``models_dirs``: local models a request may name by name."""
        self.registry = registry if registry is not None else shared_registry()
        self.cache = cache
        self.limits = limits
        self.models_dirs = tuple(models_dirs)

    def over(self, registry) -> Desk:
        """This desk (its cache, limits and local models) over another model registry: a command's own loading
        options (``kronos forecast --device``), or the app's registry in its decode mode."""
        if registry is self.registry:
            return self
        view = copy.copy(self)
        view.registry = registry
        return view

    # -- bars --------------------------------------------------------------------------------------------------
    def bars(self, request: BarsRequest, ways: str = "a file, CSV text, or a source with a symbol and an "
                                                      "interval") -> Gated:
        """The request's bars, read (``read``) and passed through the quality gate (``gate``: its accepted fixes
        applied), within the limits. ``ways``: how the face's users give bars, for the message when they give none
        or two."""
        return self.gate(self.read(request, ways), request.fixes)

    def read(self, request: BarsRequest, ways: str = "a file, CSV text, or a source with a symbol and an "
                                                     "interval"):
        """The request's bars as read, before the quality gate (``data_sources.Bars``), within the limits."""
        if request.given() != 1:
            raise InputError(f"give the bars either as {ways}", {"ways_given": request.given()})
        if request.csv_text is not None:
            if self.limits is not None:
                self.limits.check_csv_lines(request.csv_text)  # before parsing: refused in one pass over the text
            bars = read_csv_text(request.csv_text, symbol=request.symbol, exchange=request.exchange,
                                 timezone=request.timezone, calendar=request.calendar)
        elif request.file is not None:
            bars = read_bars(request.file, timezone=request.timezone, calendar=request.calendar,
                             symbol=request.symbol, exchange=request.exchange)
        else:
            from data_sources import load_bars

            if not request.symbol or not request.interval:
                raise InputError(f"source '{request.source}' needs a symbol and an interval",
                                 {"source": request.source},
                                 (Fix("name the instrument in {setting}", "symbol"),
                                  Fix("name the bar interval (e.g. 1d) in {setting}", "interval")))
            bars = load_bars(request.source, request.symbol, request.interval, lookback=request.bars,
                             exchange=request.exchange)
        if self.limits is not None:
            self.limits.check_bars(len(bars.frame))
        return bars

    @staticmethod
    def gate(bars, fixes=()) -> Gated:
        """``bars`` through the quality gate with the ``fixes`` accepted, and what the gate noted."""
        gated, notices = quality_gate(bars, list(fixes or ()))
        return Gated(gated, list(notices))

    # -- models ------------------------------------------------------------------------------------------------
    def offered(self, ref: str | None) -> str | None:
        """``ref`` as the catalog names it (a service's request names a model of the catalog and nothing else);
        ``catalog.resolve.UnknownModel`` otherwise."""
        return offered(ref, self.models_dirs)

    def models(self) -> list:
        """The models a request may name, the desk's ``models_dirs`` among them: ``models.models``."""
        return models(self)

    def _identity(self, model, bars, workspace, ledger):
        """(the champion serving now for ``champion``, else ``NOT_PER_SERIES``; the model's identity for keys),
        read once per request so that a key and the result name the same adapter. ``model``: a ``ModelChoice`` or a
        reference."""
        served = served_champion(model, bars, workspace, ledger)
        return served, model_identity(model, bars, workspace, served)

    def identity(self, model, bars, workspace: str | None = None, ledger=None) -> dict:
        """What results of ``model`` (a ``ModelChoice`` or a reference) on ``bars`` depend on now besides the bars and
        the settings (``catalog.identity.model_identity``: for ``champion`` the adapter serving), for a face's keys."""
        return self._identity(model, bars, workspace, ledger)[1]

    def forecaster(self, model, bars, settings: ForecastSettings, workspace: str | None, served):
        """The forecaster of ``model`` (a ``ModelChoice`` or a reference) for ``bars`` on the registry's warm pairs:
        for ``champion`` the one ``served`` names."""
        if served is NOT_PER_SERIES:
            return self.registry.forecaster(model, bars, settings, workspace)
        return self.registry.champion(bars, served)

    @staticmethod
    def asked_by(stop):
        """A context in which this thread's desk calls work for an asker who may leave (a client, a job): once
        ``stop`` (a ``threading.Event``) is set, their sampling, a wait for a kept result or for a model's turn
        raises ``Cancelled`` (``fair.asked_by``)."""
        return asked_by(stop)

    def _kept(self, key: Callable[[], str], compute: Callable[[], object], waiting=None) -> tuple[object, bool]:
        """(``compute()``'s result, whether it came from the cache) kept by ``key()``: a desk without a cache (a
        one-shot command) neither computes the key (a hash of all the bars) nor keeps the result."""
        if self.cache is None:
            return compute(), False
        return self.cache.get(key(), compute, waiting)

    # -- use cases ---------------------------------------------------------------------------------------------
    def _gated(self, bars, ways: str | None) -> Gated:
        """Bars given as a ``BarsRequest`` (read here, once the request's size was checked) or already ``Gated``."""
        if isinstance(bars, BarsRequest):
            return self.bars(bars, *([ways] if ways else []))
        return bars if isinstance(bars, Gated) else Gated(bars)

    def forecast(self, request: ForecastRequest, *, ledger=None, progress=None, waiting=None,
                 ways: str | None = None) -> Forecasted:
        """``forecasters.make_forecast`` of a ``ForecastRequest``, computed once per identical request; ``ledger``:
        where a ``champion`` is read from; ``progress(i, n)``; ``waiting()``: entered while the same forecast is
        computed for another caller; ``ways``: how the face's users give bars (for the message when none are)."""
        from kronos_studio.forecasters import make_forecast  # read when called: tests patch it there

        model, settings, workspace, future = request.model, request.settings, request.workspace, request.future
        covariates = request.covariates
        if self.limits is not None:
            self.limits.check_path_steps(settings.paths, settings.horizon)
        gated = self._gated(request.bars, ways)
        if request.adapter is not None:
            from .adapted import forecast as adapted_forecast

            if covariates:
                raise InputError("an adapter reads other series as its leaders, not as covariates",
                                 {"covariates": list(covariates.covariates)},
                                 Fix("name them as leaders ({setting}, e.g. index=SPY.csv)", "leaders"))
            (fc, lookback), hit, notices = adapted_forecast(
                self, gated, model.model, request.adapter, settings, workspace=workspace, ledger=ledger,
                future=future, progress=progress, waiting=waiting)
            return Forecasted(fc, gated.bars, notices + forecast_notices(fc, gated.bars), lookback, hit)
        if conditioned(model, covariates):
            (fc, lookback), hit, notices = conditioned_forecast(
                self, gated, covariates, settings, workspace=workspace, future=future, stamps=_stamps(future),
                progress=progress, waiting=waiting, model=model)
            return Forecasted(fc, gated.bars, notices + forecast_notices(fc, gated.bars), lookback, hit)
        bars = gated.bars
        served, identity = self._identity(model, bars, workspace, ledger)

        def compute():

            forecaster = self.forecaster(model, bars, settings, workspace, served)
            with self.registry.sampling(identity["model"], workspace):
                fc = make_forecast(forecaster, bars, settings, future, progress=progress)
            return fc, lookback_note(forecaster, settings, len(fc.history))

        (fc, lookback), hit = self._kept(lambda: self.forecast_key(bars, identity, settings, workspace, future),
                                         compute, waiting)
        return Forecasted(fc, bars, gated.notices + forecast_notices(fc, bars), lookback, hit)

    def forecast_by(self, forecaster, identity: dict, bars, settings: ForecastSettings, *,
                    workspace: str | None = None, future=None) -> Forecasted:
        """A forecast of gated ``bars`` by ``forecaster``, a model the catalog does not name (a standard risk model
        serving a series' risk), kept as ``forecast`` keeps one under ``identity``."""
        from kronos_studio.forecasters import make_forecast  # read when called: tests patch it there

        fc, hit = self._kept(lambda: self.forecast_key(bars, identity, settings, workspace, future),
                             lambda: make_forecast(forecaster, bars, settings, future))
        return Forecasted(fc, bars, forecast_notices(fc, bars), None, hit)

    # -- a kept forecast, without computing one (a page draws it before any click) ----------------------------
    @staticmethod
    def forecast_key(bars, identity: dict, settings: ForecastSettings, workspace: str | None, future=None) -> str:
        """``forecast``'s cache key of gated ``bars`` by a model of ``identity`` (``catalog.identity``)."""
        return result_key("forecast", bars, identity, settings, workspace, future=_stamps(future))

    def kept_forecast(self, request: ForecastRequest, *, ledger=None) -> Forecasted | None:
        """What ``forecast`` would answer from the cache now for the request's gated bars (None: it would
        compute)."""
        if self.cache is None:
            return None
        bars, settings, workspace = request.bars, request.settings, request.workspace
        bars = bars.bars if isinstance(bars, Gated) else bars
        notices = []
        if request.adapter is not None:
            from .adapted import prepare

            ready = prepare(self, bars, request.model.model, request.adapter, workspace=workspace, ledger=ledger)
            identity, notices = ready.identity, ready.notices
        else:
            _, identity = self._identity(request.model, bars, workspace, ledger)
        kept = self.cache.peek(self.forecast_key(bars, identity, settings, workspace, request.future))
        if kept is None:
            return None
        fc, lookback = kept
        return Forecasted(fc, bars, notices + forecast_notices(fc, bars), lookback, True)

    def check_walk(self, settings: ForecastSettings, cutoffs: int) -> None:
        """A walk-forward's size, before any bars are read: at least one cut-off, within the face's limits."""
        if cutoffs < 1:
            raise InputError(f"cutoffs must be at least 1, got {cutoffs}", {"cutoffs": cutoffs},
                             Fix("set {setting} to 1 or more", "cutoffs"))
        if self.limits is not None:
            self.limits.check_evaluation(cutoffs, settings.paths, settings.horizon)

    def evaluate(self, request: EvaluateRequest, *, ledger=None, ways: str | None = None) -> Evaluated:
        """The ``kronos evaluate`` JSON of ``trust``'s walk of an ``EvaluateRequest``'s model and every naive
        baseline over its plan's cut-offs (one plan for every face, the Evaluate page's too: the same walk, kept
        once); ``ledger``: where a ``champion`` is read from."""
        model, settings, workspace, covariates = request.model, request.settings, request.workspace, request.covariates
        plan = request.plan or TrustPlan()
        self.check_walk(settings, plan.n_cutoffs)
        gated = self._gated(request.bars, ways)
        if covariates is not None and covariates.covariates and self.limits is not None:
            # each cut-off lays every covariate on the target's bars before it: counted with the sampling, one budget
            self.limits.check_evaluation(plan.n_cutoffs, settings.paths, settings.horizon, len(covariates.covariates),
                                         len(gated.bars))
        if conditioned(model, covariates):
            report, hit, notices = conditioned_evaluate(self, gated, covariates, settings, plan=plan,
                                                        file=request.file, workspace=workspace, model=model)
            return Evaluated(report, gated.bars, notices + list(report.warnings), hit)
        trusting = TrustRequest(gated, settings, model, plan, workspace)
        done = self.trust(trusting, ledger=ledger)
        return Evaluated(evaluated(done, trusting, request.file), done.bars, done.notices, done.from_cache)

    # -- the trust report (issue 64): written in .trust --------------------------------------------------------
    def trust(self, request, **callbacks):
        """The walk-forward report of one model beside the naive baselines, with the fan calibration and its
        held-out check (``trust.trust``; ``callbacks``: its ``ledger``, ``progress``, ``ways``)."""
        return trust(self, request, **callbacks)

    def kept_trust(self, request, ledger=None):
        """What ``trust`` would answer from the cache now (None: it would compute), no model loaded."""
        return kept_trust(self, request, ledger=ledger)

    # -- Compare's backtest (issue 64): written in .compare ---------------------------------------------------
    def compare_backtest(self, request, **callbacks):
        """Models walked forward over a cut-off and the ones before it beside the random walk
        (``compare.compare_backtest``; ``callbacks``: its ``ledger``, ``progress``, ``ways``)."""
        return compare_backtest(self, request, **callbacks)

    def compare_window(self, request):
        """The bars a compare backtest's models see and those they are scored on (``compare.window``)."""
        return window(self, request)

    def kept_compare_backtest(self, request, ledger=None):
        """What ``compare_backtest`` would answer from the cache now (None: it would compute), no model loaded."""
        return kept_compare_backtest(self, request, ledger=ledger)

    # -- the ensemble fitted to a series (issue 64): written in .fit_ensemble -----------------------------------
    def fit_ensemble(self, request, **callbacks):
        """Stacking weights of the ensemble fitted on a walk-forward of one series and stored by its key
        (``fit_ensemble.fit_ensemble``; ``callbacks``: its ``progress``, ``ways``)."""
        from .fit_ensemble import fit_ensemble

        return fit_ensemble(self, request, **callbacks)

    def fitted_ensemble(self, request):
        """The fit stored for the request's series, horizon and members, None when there is none."""
        from .fit_ensemble import fitted_ensemble

        return fitted_ensemble(self, request)

    # -- LoRA fine-tuning with events (issue 64): written in .fine_tune -------------------------------------------
    def fine_tune(self, request, **callbacks):
        """A LoRA event adapter trained on a base model, with its before/after walk-forward
        (``fine_tune.fine_tune``; ``callbacks``: its ``progress``, ``evaluation_progress``, ``log``)."""
        return fine_tune(self, request, **callbacks)

    # -- training a model on your bars, the ensemble's meta-learner: written in .pretrain, .train_ensemble ------
    def pretrain(self, request, **callbacks):
        """A Kronos tokenizer or predictor trained on a ``PretrainRequest``'s bars: ``pretrain.pretrain``
        (``callbacks``: its ``read``, ``log``)."""
        return pretrain(self, request, **callbacks)

    def train_ensemble(self, request, **callbacks):
        """The ensemble's meta-learner trained on the walk-forward of several series: ``train_ensemble.train_ensemble``
        (``callbacks``: its ``progress``)."""
        return train_ensemble(self, request, **callbacks)

    def gate_ensemble(self, request, *, ledger, **callbacks):
        """A challenger meta-learner fitted on the ledger's scored ensemble forecasts, promoted only when it beats the
        serving one on the newest: ``train_ensemble.gate_ensemble`` (``callbacks``: its ``log``)."""
        return gate_ensemble(self, request, ledger=ledger, **callbacks)

    def retrain(self, request: RetrainRequest, *, ledger, log=None, ways: str | None = None) -> Retraining:
        """The gated retrain of a ``RetrainRequest``'s series in ``ledger``'s registry on the base model it names
        (None: its champion's base; ``catalog.champion.series_retrainer``), on the registry's warm pairs; ``log``:
        the ``Retrainer``'s. Nothing is trained until ``Retraining.run``. Its size is checked within the face's
        limits (``retrain_watchlist.check_size``) before the bars are read and again once its decision points are
        known: a job's face refuses it before it starts."""
        check_size(self.limits, request.settings)
        gated = self._gated(request.bars, ways)
        model = model_of(request.model)
        ref = model.ref if isinstance(model, ModelRef) else model
        options = {k: v for k, v in (("log", log), ("made_by", request.made_by)) if v is not None}
        retrainer = series_retrainer(ref, gated.bars, ledger, request.settings, self.registry.loader(model), **options)
        points = retrainer.points(request.every, request.since)
        check_size(self.limits, request.settings, decisions=len(points))
        return Retraining(retrainer, points, gated.bars, gated.notices)

    # -- many series at once (issue 64): written in .screen, .rank and .retrain_watchlist -------------------------
    def screen(self, request, **kwargs):
        """Every series of a watchlist forecast with one model, one row each: ``screen.screen`` (``kwargs``:
        ``progress``, ``workspace``, ``ledger``)."""
        return screen(self, request, **kwargs)

    def check_screen(self, request) -> None:
        """What ``screen`` refuses before any series is read, for a job's face to ask before the job starts."""
        check(self, request)

    def rank(self, request, **kwargs):
        """Does the screen's ranking work on this watchlist? ``rank.rank`` (``kwargs``: ``progress``,
        ``workspace``)."""
        return rank(self, request, **kwargs)

    def check_rank(self, request) -> None:
        """What ``rank`` refuses before any series is read, for a job's face to ask before the job starts."""
        from .rank import check

        check(self, request)

    def retrain_watchlist(self, request, **kwargs):
        """Every series of a watchlist given its gated retrain: ``retrain_watchlist.retrain_watchlist``
        (``kwargs``: ``ledger``, ``log``, ``progress``)."""
        return retrain_watchlist(self, request, **kwargs)

    def check_retrain_watchlist(self, request) -> None:
        """What ``retrain_watchlist`` refuses before any series is read, for a job's face to ask before it starts."""
        from .retrain_watchlist import check

        check(self, request)

    def screen_served(self, entries, rows, settings: ForecastSettings, risk, **kwargs):
        """A screen's rows with each series' risk-champion columns (the Screener's): ``screen.served_columns``."""
        return served_columns(self, entries, rows, settings, risk, **kwargs)

    @staticmethod
    def screen_history(entries, rows, bars: int, **reading) -> dict:
        """The last ``bars`` closes before each forecast row of a screen: ``screen.recent_closes``."""
        return recent_closes(entries, rows, bars, **reading)

    @staticmethod
    def is_watchlist(path) -> bool:
        """Whether ``path`` names a watchlist (a folder, or a CSV whose header names source, symbol and interval)
        rather than one series' bars: ``batch.watchlist.is_watchlist``."""
        return is_watchlist(path)

    @staticmethod
    def watchlist(where, *, newest: bool = False) -> tuple:
        """A watchlist's entries: a folder of bar files or a ``source,symbol,interval[,exchange]`` CSV (a path), or
        ``(source, symbol, interval, exchange)`` rows (each named by its symbol, by ``source:symbol:interval`` where a
        symbol repeats): ``batch.watchlist``; ``WatchlistError`` for one that cannot be used. ``newest``: a folder's
        series read from its newest file where several files hold it (``read_watchlist``'s)."""
        if isinstance(where, (str, PathLike)):
            return tuple(read_watchlist(where, newest=newest))
        return tuple(symbol_entries(where))

    # -- risk (issue 55): written in .risk --------------------------------------------------------------------
    def risk(self, request, *, ledger=None, ways: str | None = None):
        """VaR/ES per level and position, the volatility forecast and the stylized-facts check of a ``RiskRequest``'s
        forecast (``forecast``'s, cached alike): ``risk.risk``."""
        return read(self, request, ledger=ledger, ways=ways)

    def risk_reading(self, fc, bars, risk, workspace: str | None = None):
        """(the risk reading of forecast ``fc``'s paths, whether it was kept): ``risk.reading`` (the app's Risk
        panel reads the fan on screen, calibrated or adapted, through it)."""
        return reading(self, fc, bars, risk, workspace)

    def served_risk(self, request, *, ledger=None):
        """(the reading of the risk model serving a ``RiskRequest``'s series, its champion's or the default's,
        recalibrated from the ledger's state; the forecast read beside it): ``risk.served_risk``."""
        return served_risk(self, request, ledger=ledger)

    def served_rows(self, series_bars, settings: ForecastSettings, risk, **kwargs):
        """The risk model serving each of many series and its VaR/ES (the Screener's columns): ``risk.served_rows``."""
        return served_rows(self, series_bars, settings, risk, **kwargs)

    def risk_champion(self, request, *, ledger=None, ways: str | None = None, progress=None):
        """Choose a ``RiskChampionRequest``'s series' risk champion through the gate and keep the decision:
        ``risk.risk_champion``."""
        return risk_champion(self, request, ledger=ledger, ways=ways, progress=progress)

    def risk_backtest(self, request, *, ledger=None, progress=None, ways: str | None = None):
        """The walk-forward risk backtest of a ``RiskBacktestRequest``'s model (and the catalog's models ``beside``
        it) next to the risk desk's standard models on its plan's latest non-overlapping cut-offs:
        ``risk.risk_backtest``."""
        from .risk import risk_backtest  # read when called: a test replaces it in its home

        return risk_backtest(self, request, ledger=ledger, progress=progress, ways=ways)

    def kept_risk_backtest(self, request, *, ledger=None):
        """What ``risk_backtest`` would answer from the cache now (None: it would compute), no model loaded."""
        return kept_risk_backtest(self, request, ledger=ledger)

    # -- the ledger (issue 64): its use cases written in .record, .score, .track_record, .drift, .adapters, .ledger;
    # ``ledger``: the caller's, opened with ``desk.ledger.open_ledger`` (a service scopes it to the workspace) -----
    def record(self, request, *, ledger):
        """Score ``ledger``'s earlier forecasts of the series, then keep this one (a ``RecordRequest``): ``record.record``."""
        return record(self, request, ledger=ledger)

    def score(self, request, *, ledger, ways: str | None = None):
        """Score the forecasts due on a ``ScoreRequest``'s bars (or every pending series'): ``score.score``."""
        return score(self, request, ledger=ledger, ways=ways)

    def track_record(self, request, *, ledger):
        """The realized track record a ``TrackRecordRequest`` reads: ``track_record.track_record``."""
        return track_record(self, request, ledger=ledger)

    def predictions(self, request, *, ledger):
        """The forecasts a ``LedgerQuery`` reads, with their realized scores: ``track_record.predictions``."""
        return predictions(self, request, ledger=ledger)

    def steps(self, request, *, ledger):
        """The (forecast, step) rows a ``StepsRequest`` reads (the export): ``track_record.steps``."""
        return steps(self, request, ledger=ledger)

    def drift(self, request, *, ledger):
        """Drift of each series and model a ``DriftRequest`` reads: ``drift.drift``."""
        return drift(self, request, ledger=ledger)

    def ledger_info(self, *, ledger):
        """Where ``ledger`` is and what it holds: ``ledger.ledger_info``."""
        from .ledger import ledger_info

        return ledger_info(self, ledger=ledger)

    def adapters(self, request, *, ledger):
        """The registry's entries an ``AdaptersRequest`` names, with their moves: ``adapters.adapters``."""
        return adapters(self, request, ledger=ledger)

    def adapter(self, request, *, ledger):
        """One registry entry (an ``EntryRequest``) with its moves: ``adapters.adapter``."""
        return adapter(self, request, ledger=ledger)

    def promote(self, request, *, ledger):
        """Make an entry (an ``EntryRequest``) its series' champion by hand: ``adapters.promote``."""
        return promote(self, request, ledger=ledger)

    def rollback(self, request, *, ledger):
        """Retire the champion of an entry's series (an ``EntryRequest``): ``adapters.rollback``."""
        return rollback(self, request, ledger=ledger)

    # -- the watch (issue 65): written in .watch ------------------------------------------------------------------
    def watch(self, request, ledger, **options):
        """The learning loop over a watchlist (``watch.WatchRequest``): a replay's every tick, or live ticks at each
        bar close (``once``: one), each forecasting, scoring, judging drift and exceptions, retraining where due and
        alerting, kept in ``ledger`` (a replay's rows under its label): ``watch.watch``."""
        return watch(self, request, ledger, **options)

    # -- the ledger's risk record (issue 55): written in .risk_record --------------------------------------------
    @staticmethod
    def risk_record(ledger, risk, **filters):
        """The forecasts ``ledger`` keeps, judged as VaR/ES forecasts at ``risk``'s levels once their horizon's
        bar has arrived, tested per series and model on non-overlapping ones: ``risk_record.risk_record``."""
        return risk_record(ledger, risk, **filters)


def forecast_notices(fc, bars) -> list[Notice]:
    """What a forecast's reader should know: a series' champion that did not serve these bars, too few paths for a
    band, an implausible fan, the sampled candles repaired, a volume that is unreliable or not forecast, volumes
    floored (``forecasters.bounds.notices``)."""
    withheld = fc.provenance.get(WITHHELD)
    champion = [Notice(f"{withheld}: the base model served them", withheld_fixes())] if withheld else []
    return (champion + paths_notices(fc.paths.shape[0])
            + [Notice(f"{p.code}: {p.message}") for p in check_fan(fc.paths, bars.frame["close"].to_numpy())]
            + notices(fc.provenance))


def _stamps(future) -> str | None:
    """The bar times a forecast is placed at, for its key (None: the bars' calendar's)."""
    if future is None:
        return None

    return hashlib.sha256(",".join(map(str, future)).encode()).hexdigest()[:16]

