"""Forecasting one market in the light of others: covariate series aligned to a target's bars as of each bar's
close (``alignment``), what a forecast names as covariates (``options``), and the models that read them
(``chronos2``: Chronos-2's past and known-future covariates; ``kronos``: the event encoder's leader channels).
No face here: the command line, the HTTP API and the app reach these through the application layer."""
