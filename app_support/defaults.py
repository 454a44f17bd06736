"""What the Forecast page asks of a Kronos model before anything is changed: the sidebar starts from these
values, and the app's warm-up (``app_support.models.WarmUp``) forecasts with them so that, with compiled
decoding, the first forecast finds its decode steps compiled."""
from __future__ import annotations

from kronos.config import default_lookback
from kronos.settings import DEFAULT_HORIZON, ForecastSettings

DEFAULT_LOOKBACK = 256


def start_lookback(context: int, horizon: int) -> int:
    """The lookback the sidebar offers first for a Kronos model of ``context`` bars: at most
    DEFAULT_LOOKBACK, and room left for the horizon in the model's window, so every sampling step reuses
    the KV cache."""
    return min(DEFAULT_LOOKBACK, default_lookback(context, horizon))


def start_settings(context: int) -> ForecastSettings:
    """The settings of the Forecast page's first forecast with a Kronos model of ``context`` bars."""
    return ForecastSettings(horizon=DEFAULT_HORIZON, lookback=start_lookback(context, DEFAULT_HORIZON))
