"""The front desk (``desk.Desk``): one method per use case, which the command line, the HTTP service, the MCP
server and the app call and only translate; its result cache (``cache``). The request, option and result types a
face builds or reads are exported here, with the errors and constants a face words or shows (types only: the
logic is the desk's methods)."""
from importlib import import_module

from .cache import ResultCache, result_key
from .desk import Desk, Evaluated, Forecasted, Gated, Retraining

# The use cases' types, each loaded from the module that defines it when a face first names it: those modules load
# pandas, and the ensemble's scipy, which ``import kronos_studio.desk`` (``kronos --help``, the app's first page)
# does not pay for.
LAZY = {
    **dict.fromkeys(("TrackRecord", "TrainingPeriodError", "TrustPlan", "TrustReport"), "kronos_studio.evaluation.trust"),
    **dict.fromkeys(("TrustRequest", "Trusted"), "kronos_studio.desk.trust"),
    **dict.fromkeys(("MIN_NOISE_CUTOFFS", "CompareBacktested", "CompareBacktestRequest", "ComparePlan",
                     "CompareWindow"), "kronos_studio.desk.compare"),
    **dict.fromkeys(("EnsembleFitted", "FitEnsembleRequest"), "kronos_studio.desk.fit_ensemble"),
    **dict.fromkeys(("FineTunePlan", "FineTuneRequest", "FineTuned"), "kronos_studio.desk.fine_tune"),
}


def __getattr__(name: str):
    if name in LAZY:
        return getattr(import_module(LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Desk", "Evaluated", "Forecasted", "Gated", "Retraining", "ResultCache", "result_key", *LAZY]
