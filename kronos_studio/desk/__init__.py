"""The front desk (``desk.Desk``): one method per use case, which the command line, the HTTP service, the MCP
server and the app call and only translate; its result cache (``cache``)."""
from .cache import ResultCache, result_key
from .desk import Desk, Evaluated, Forecasted, Gated, Retraining

__all__ = ["Desk", "Evaluated", "Forecasted", "Gated", "Retraining", "ResultCache", "result_key"]
