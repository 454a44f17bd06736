"""Recording a forecast in the ledger (``Desk.record``), for every face that keeps what it shows (``kronos forecast``,
``POST /v1/forecast`` and the MCP tool ``forecast`` unless told not to, the app's Forecast and Compare pages): the
series' earlier forecasts that these bars can score are scored first, then the forecast is kept under the series'
name, once however often it is shown."""
from __future__ import annotations

from dataclasses import dataclass, field

from kronos.errors import Notice


@dataclass(frozen=True)
class RecordRequest:
    """A forecast to keep: ``forecast`` (a ``Forecasted``'s) of ``bars`` (the gated bars it read, newer bars of the
    series maybe), the conformal ``calibration`` its fan was drawn with (None: none), and the ``exchange`` its bars
    came from where they do not say (the venue a source's bars are fetched again from, to score it)."""

    forecast: object
    bars: object
    calibration: object = None
    exchange: str | None = None


@dataclass
class Recorded:
    """The forecast as the ledger keeps it: its id in the ledger, whether it is ``new`` (False: the same forecast was
    kept before), the series it is kept under (``symbol``, ``interval``), and what these bars scored of the series'
    earlier forecasts (``scored_steps`` of ``scored_forecasts``; ``waiting``: why some could not be)."""

    id: int
    new: bool
    symbol: str
    interval: str
    scored_steps: int = 0
    scored_forecasts: int = 0
    waiting: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


def record(desk, request: RecordRequest, *, ledger) -> Recorded:
    """Score ``ledger``'s earlier forecasts of the series with ``request.bars``, then keep ``request.forecast``
    there (in the ledger's workspace: the caller scoped it)."""
    bars = request.bars
    scored = ledger.score(bars)
    kept = ledger.record(request.forecast, bars, calibration=request.calibration, exchange=request.exchange)
    return Recorded(kept.id, kept.new, bars.series_symbol, bars.interval, scored.steps, scored.predictions,
                    list(scored.skipped))
