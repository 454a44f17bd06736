"""Many series at once: the watchlist screen (``run_batch``), the cross-sectional walk-forward of a ranking,
and a watchlist's gated retrains (``retrain_watchlist``) ([scale.md](../../docs/scale.md))."""
