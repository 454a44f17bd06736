"""A forecast read for people (``ForecastReading``): what every face writes or shows of a forecast's paths beside
its fan, computed here once: the quantile table as the studio writes it (the command line's ``--out``, the HTTP and
MCP answers, the app's table and download), how its volume reads, what its candles and volume say, whether the fan
is fit to read against the history, the drawdown over its paths, and the odds of a price level (the Forecast page's
"Ask the paths"). Its modules import pandas, which a forecast's reader has loaded already."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kronos.errors import Notice
from kronos.quantiles import BAND
from kronos_studio.evaluation.path_stats import default_level, drawdown_summary, level_probabilities
from kronos_studio.evaluation.plausibility import check_fan
from kronos_studio.forecasters.bounds import notices as candle_notices
from kronos_studio.forecasters.bounds import quantile_table, volume_reading


@dataclass(frozen=True)
class ForecastReading:
    """The reading of ``forecast`` (a ``kronos.forecast.Forecast``: the fan shown, calibrated where it is)."""

    forecast: object

    def quantiles(self, levels: Sequence[float]):
        """Per-step quantiles of every field at ``levels`` with each step's share of paths whose volume was floored
        at 0 (``forecasters.bounds.quantile_table``: the one table every face writes)."""
        return quantile_table(self.forecast, levels)

    def volume(self) -> str:
        """'held' (the model forecasts no volume), 'unreliable' (half the paths or more floored at some step) or
        'forecast' (``forecasters.bounds.volume_reading``)."""
        return volume_reading(self.forecast.provenance)

    def notices(self) -> list[Notice]:
        """The candles repaired, a volume that is no forecast, the volumes floored (``forecasters.bounds.notices``)."""
        return candle_notices(self.forecast.provenance)

    def problems(self, history_close, band: tuple[float, float] = BAND) -> list:
        """Why the fan is not fit to read against the history's closes (``evaluation.plausibility.check_fan``:
        each with its ``code`` and ``message``; none: it is)."""
        return check_fan(self.forecast.paths, history_close, band)

    def drawdown(self) -> dict[str, float]:
        """The expected maximum drawdown close to close from the last close, and its p50 and p90 over the paths."""
        return drawdown_summary(self.forecast)

    def start_level(self) -> float:
        """The price level to ask about first: the top of the band of the close at the horizon."""
        return default_level(self.forecast)

    def odds(self, level: float):
        """The paths' odds about a price ``level``: above or below it at the horizon, touching it on the way
        (``evaluation.path_stats.LevelAnswer``)."""
        return level_probabilities(self.forecast, level)
