"""The service's endpoints, one ``APIRouter`` per area: ``meta`` (health, the models), ``forecast``,
``evaluate``, ``batch`` (batch runs as jobs), ``ledger``. Each route is a function of its request and its
dependencies (``..deps``); ``..app.create_app`` includes them all."""
