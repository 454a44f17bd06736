"""The front desk (``desk.Desk``): one method per use case, which the command line, the HTTP service, the MCP
server and the app call and only translate; its result cache (``cache``).

The faces take from here, not from the packages below the desk, the request, option and result types of the use
cases they translate, the errors they word and the constants they show (``EXPORTS``: no logic to call). These are
imported when first named (PEP 562): they bring pandas, scipy and the batch engine, which a face's start (``kronos forecast
--help``, the app's first page) does not need. The requests and results of the ledger's use cases are light and
imported here; the ledger itself is opened through ``desk.ledger`` (``open_ledger``), which imports the database
layer."""
from .adapters import Adapters, AdapterShown, AdaptersRequest, EntryRequest, Promoted, RolledBack
from .cache import ResultCache, result_key
from .desk import Desk, Evaluated, EvaluateRequest, Forecasted, ForecastRequest, Gated, Retraining, RetrainRequest
from .drift import Drifted, DriftRequest, DriftThresholds
from .limits import LIMIT_PREFIX, Limits, TooLarge, limit_settings
from .record import Recorded, RecordRequest
from .score import Scored, ScoreRequest, SeriesScored
from .track_record import (
    ExperimentsOption,
    LedgerQuery,
    ModelsQuery,
    Predictions,
    SeriesQuery,
    Steps,
    StepsRequest,
    TrackRecord,
    TrackRecordRequest,
)

# name -> the module it lives in (its one home); "module:attribute" where it is exported under another name
EXPORTS = {
    "ScreenRequest": "kronos_studio.desk.screen", "Screened": "kronos_studio.desk.screen",
    "Engine": "kronos_studio.desk.screen", "READING": "kronos_studio.desk.screen",
    "ScreenColumn": "kronos_studio.risk.registry",
    "RankRequest": "kronos_studio.desk.rank", "Ranked": "kronos_studio.desk.rank",
    "RetrainWatchlistRequest": "kronos_studio.desk.retrain_watchlist",
    **dict.fromkeys(("RiskBacktestPlan", "RiskBacktestRequest", "RiskBacktested", "RiskRequest", "Risked",
                     "RiskChampionRequest", "RiskChampionChosen"), "kronos_studio.desk.risk"),
    "ModelChoice": "kronos_studio.catalog.choice",
    "WatchlistRetrained": "kronos_studio.desk.retrain_watchlist",
    # the options and errors the requests compose, and the constants a face shows
    "BatchSettings": "kronos_studio.batch.forecaster", "RISK_KNOBS": "kronos_studio.batch.forecaster",
    "Entry": "kronos_studio.batch.watchlist", "WatchlistError": "kronos_studio.batch.watchlist",
    "RankPlan": "kronos_studio.batch.rank_plan", "LookAheadError": "kronos_studio.batch.cross_section",
    "RayEngineError": "kronos_studio.batch.ray_engine",
    "RiskSettings": "kronos_studio.risk.measures", "CovariateOptions": "kronos_studio.covariates.options",
    "RetrainSettings": "kronos_studio.training.retrain_settings",
    "RetrainError": "kronos_studio.training.retrain_settings", "SeriesLocked": "kronos_studio.training.retrain",
    "COVERAGE_TOLERANCE": "kronos_studio.training.gate", "NOMINAL_COVERAGE": "kronos_studio.training.gate",
    "INCLUDE_TRAINING_PERIOD": "kronos_studio.evaluation.training_period",
    "DECIDED": "kronos_studio.batch.retrain_watchlist", "REFUSED": "kronos_studio.batch.retrain_watchlist",
    "LOCKED": "kronos_studio.batch.retrain_watchlist",
    # the app's use cases: the trust report, Compare's backtest, the ensemble's fit, the LoRA fine-tune
    **dict.fromkeys(("TrainingPeriodError", "TrustPlan", "TrustReport"), "kronos_studio.evaluation.trust"),
    # the trust's kept record of a walk-forward (not the ledger's ``TrackRecord``, the desk's realized view)
    "TrustTrackRecord": "kronos_studio.evaluation.trust:TrackRecord",
    **dict.fromkeys(("TrustRequest", "Trusted"), "kronos_studio.desk.trust"),
    **dict.fromkeys(("MIN_NOISE_CUTOFFS", "CompareBacktested", "CompareBacktestRequest", "ComparePlan",
                     "CompareWindow"), "kronos_studio.desk.compare"),
    **dict.fromkeys(("EnsembleFitted", "FitEnsembleRequest"), "kronos_studio.desk.fit_ensemble"),
    **dict.fromkeys(("FineTunePlan", "FineTuneRequest", "FineTuned"), "kronos_studio.desk.fine_tune"),
    # training a model on your bars, the ensemble's meta-learner over several series or the ledger's forecasts
    **dict.fromkeys(("PretrainRequest", "Pretrained", "TrainingData", "TrainingOptions"), "kronos_studio.desk.pretrain"),
    **dict.fromkeys(("EnsembleGated", "EnsembleTrained", "GateEnsembleRequest", "TrainEnsembleRequest"),
                    "kronos_studio.desk.train_ensemble"),
    "MetaGateError": "kronos_studio.ensemble.gated",
    # the models a face offers and names: the catalog's types and words, the bundled names, the registry's class
    **dict.fromkeys(("ENSEMBLE", "STATISTICAL", "ModelRef", "UnknownModel"), "kronos_studio.catalog.resolve"),
    **dict.fromkeys(("CHAMPION", "WITHHELD"), "kronos_studio.catalog.champion"),
    "ModelRegistry": "kronos_studio.catalog.registry", "Chronos2Member": "kronos_studio.desk.models",
    **dict.fromkeys(("BUNDLED_NAMES", "CHRONOS2_NAME"), "kronos_studio.bundled"),
    "CHEAP_MEMBER_PATHS": "kronos_studio.ensemble.members",
    # the risk desk's words a face shows and the backtest's plan it builds
    "STANDARD_MODELS": "kronos_studio.risk", **dict.fromkeys(("PROXIES", "RiskWalk"), "kronos_studio.risk.walk"),
    "DEFAULT_RISK_MODEL": "kronos_studio.risk.champion", "MIN_TAIL_PATHS": "kronos_studio.risk.measures",
    # the errors a face catches or words, and the constants it shows
    "BarsInputError": "kronos_studio.bars_input", **dict.fromkeys(("EventError", "LEADERS"), "kronos_studio.events"),
    **dict.fromkeys(("Abandoned", "Cancelled", "FairSlots"), "kronos_studio.fair"),
    "ADAPTER_CONFIG": "kronos_studio.training.adapter_files",
    "VOLUME_KEY": "kronos_studio.forecasters.bounds:KEY", "FLOORED_COLUMN": "kronos_studio.forecasters.bounds",
    "BASELINE_PATHS": "kronos_studio.evaluation.baselines",
    "EvalResult": "kronos_studio.evaluation.walk_forward",
    # the learning loop (kronos watch, /v1/watches): its request, its options and the runner of one watch
    **dict.fromkeys(("AlertChannels", "AlertRules", "Replay", "RetrainPolicy", "WatchError", "WatchRequest",
                     "Watched", "Watcher"), "kronos_studio.desk.watch"),
}

__all__ = ["AdapterShown", "Adapters", "AdaptersRequest", "Desk", "DriftRequest", "DriftThresholds", "Drifted",
           "EntryRequest", "EvaluateRequest", "Evaluated", "ExperimentsOption", "ForecastRequest", "Forecasted", "Gated",
           "LIMIT_PREFIX", "Limits", "RetrainRequest", "TooLarge", "limit_settings", "LedgerQuery", "ModelsQuery",
           "Predictions", "Promoted", "RecordRequest", "Recorded", "Retraining", "ResultCache", "RolledBack",
           "ScoreRequest", "Scored", "SeriesQuery", "SeriesScored", "Steps", "StepsRequest", "TrackRecord",
           "TrackRecordRequest", "result_key", *EXPORTS]


def __getattr__(name: str):
    if name not in EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module, _, attribute = EXPORTS[name].partition(":")  # "module:attribute" where the name here differs
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value  # read once
    return value
