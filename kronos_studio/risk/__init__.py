"""What the paths say about risk: value-at-risk and expected shortfall (``measures``), a volatility forecast
(``volatility``), the standard backtests of both (``backtest``), the stylized facts of sampled paths
(``stylized``), a risk backtest over walk-forward cut-offs with its standard models, each read from its own
distribution (``walk``, ``baselines``, ``distribution``), a recalibration that learns from a model's exceptions
(``recalibrate``) and the risk champion a series is served by (``champion``).
No face: the CLI, HTTP, MCP and the app reach these through the application layer."""

# The risk desk's standard models (``baselines.risk_baselines``) in words, for the faces' help and captions.
STANDARD_MODELS = ("historical simulation, EWMA-normal, GARCH(1,1)-t, GJR-GARCH(1,1,1)-t, log-HAR and filtered "
                   "historical simulation")
