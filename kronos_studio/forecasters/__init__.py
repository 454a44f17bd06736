"""The forecaster protocol: what "something that forecasts" is (``Forecaster``), the history a forecast reads
and its future bar times (``window``), and the one function that makes a forecast (``make_forecast``). The
catalog (``kronos_studio.catalog``) turns a model reference into a forecaster; everything below it, the
walk-forward, the ensemble, batch and the ledger, needs only this package."""
from .base import Forecaster, PathModel
from .make import make_forecast, make_forecasts

__all__ = ["Forecaster", "PathModel", "make_forecast", "make_forecasts"]
