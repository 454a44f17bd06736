"""The forecaster seam: what "something that forecasts" is (``Forecaster``), the one function that makes
a forecast (``make_forecast``), and the resolver that turns a model reference into a forecaster
(``resolve``). The CLI, ``kronos batch``, the walk-forward, the ledger and the app all go through here."""
from .base import Forecaster, PathModel
from .make import make_forecast, make_forecasts
from .resolve import ENSEMBLE, STATISTICAL, ModelRef, catalog, resolve
from .warm_up import warm_up_forecast

__all__ = ["ENSEMBLE", "STATISTICAL", "Forecaster", "ModelRef", "PathModel", "catalog", "make_forecast",
           "make_forecasts", "resolve", "warm_up_forecast"]
