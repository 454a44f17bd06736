"""The model catalog: which model a reference names (``resolve``, ``catalog``, over the registry of model kinds
``kinds``: the only places that know the kinds of model), the models of every kind kept warm per process
(``registry.ModelRegistry``), the model ``champion``
(``champion``: a series' champion adapter or its base) and the start-up forecast (``warm_up_forecast``). It
sits above the features (the ensemble, training, the ledger) whose forecasters it builds, and below the faces."""
from .resolve import ENSEMBLE, STATISTICAL, ModelRef, catalog, resolve
from .warm_up import warm_up_forecast

__all__ = ["ENSEMBLE", "STATISTICAL", "ModelRef", "catalog", "resolve", "warm_up_forecast"]
