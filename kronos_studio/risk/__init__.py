"""What the paths say about risk: value-at-risk and expected shortfall (``measures``), a volatility forecast
(``volatility``), the standard backtests of both (``backtest``), the stylized facts of sampled paths
(``stylized``) and a risk backtest over walk-forward cut-offs with its baselines (``walk``, ``baselines``).
No face: the CLI, HTTP, MCP and the app reach these through the application layer."""
