"""Scoring the ledger's forecasts on the bars that arrived since (``Desk.score``), for every face: the bars of one
series (a ``BarsRequest``, read through the quality gate as a forecast's are, or bars already gated: the app's,
scored whenever a page loads them) score that series' forecasts that are due; a request without bars scores every
series with forecasts due whose bars can be fetched again (a source's, brought up to date) or are bundled.

A series' forecasts are scored only by bars that continue the history they read (``kronos_studio.ledger``); why
others wait is each series' ``waiting``. The data layer (pandas, the bar cache) is imported when bars are fetched."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from data_sources.intervals import parse_interval
from data_sources.requests import BarsRequest
from data_sources.schema import instrument_symbol
from data_sources.sources import SOURCES
from kronos.errors import Fix, InputError, Notice, UserError
from kronos.lazy import pd
from kronos_studio.bars_input import quality_gate

from .limits import TooLarge

# Series fetched again for scoring (no bars given): at most this many bars back, enough for years of daily bars;
# older forecasts of an intraday series are scored from a file instead.
MAX_FETCH_BARS = 5000


@dataclass(frozen=True)
class ScoreRequest:
    """Newer bars of a series (``bars``: a ``BarsRequest``, or bars already gated: ``Gated`` or bare), or None: every series with
    forecasts due whose bars can be fetched (``symbol``: only this series, as the ledger names it)."""

    bars: BarsRequest | object | None = None
    symbol: str | None = None


@dataclass
class SeriesScored:
    """What one series' bars scored: ``steps`` of ``predictions`` forecasts (``completed``: now scored on every step),
    ``waiting``: why some due forecasts could not be scored with these bars; ``refused``: why its bars could not be
    had (nothing scored), for the face to word."""

    source: str
    symbol: str
    interval: str
    predictions: int = 0
    steps: int = 0
    completed: int = 0
    waiting: list[str] = field(default_factory=list)
    refused: UserError | None = None


@dataclass
class Scored:
    """Each series scored (``series``), and the bars' notices (what the reader and the quality gate noted)."""

    series: list[SeriesScored]
    notices: list[Notice] = field(default_factory=list)


def score(desk, request: ScoreRequest, *, ledger, ways: str | None = None) -> Scored:
    """Score ``ledger``'s (the caller's workspace's) due forecasts with ``request``'s bars, or with every pending
    series' fetched again; ``ways``: how the face's users give bars (``Desk.bars``)."""
    if request.bars is None:
        return Scored([_pending(desk, row, ledger) for row in _due(ledger, request.symbol)])
    gated = desk._gated(request.bars, ways)
    return Scored([_scored(ledger, gated.bars)], list(gated.notices))


def _scored(ledger, bars) -> SeriesScored:
    report = ledger.score(bars)
    return SeriesScored(bars.source, bars.series_symbol, bars.interval, report.predictions, report.steps,
                        report.completed, list(report.skipped))


def _due(ledger, symbol: str | None) -> list:
    pending = ledger.pending_series()
    if symbol is not None:
        pending = pending[pending["symbol"] == symbol]
    return list(pending.itertuples(index=False))


def _pending(desk, row, ledger) -> SeriesScored:
    try:
        gated = desk._gated(_fetched(desk, row), None)
    except TooLarge:
        raise  # past the desk's limits: the request is refused whole, not each series
    except UserError as e:
        return SeriesScored(row.source, row.symbol, row.interval, refused=e)
    return _scored(ledger, gated.bars)


def _fetched(desk, row) -> BarsRequest | object:
    """The bars of a pending series: its bundled sample's (through the gate), or a ``BarsRequest`` of its source's bars
    back to the oldest bar its forecasts need (cached bars brought up to date). A ``UserError`` saying what to do
    instead: score a file's forecasts with the file."""
    origin = SOURCES.get(row.source)
    if origin is None or not origin.by_symbol:
        n = int(row.predictions)
        raise InputError(f"{n} forecast{'' if n == 1 else 's'} from a file", {"forecasts": n},
                         Fix("score them with the file's newer bars ({setting} FILE)", "score"))
    if origin.frozen:  # a sample's series is found by its symbol and interval, not its display name
        from data_sources import list_samples, load_sample

        for sample in list_samples():
            bars = load_sample(sample.name)
            if (bars.symbol, bars.interval) == (row.symbol, row.interval):
                return quality_gate(bars)[0]
        raise InputError("no bundled sample of this series", {"symbol": row.symbol, "interval": row.interval})
    if origin.needs_exchange and not row.exchange:
        raise InputError(f"the exchange of these {row.source} bars was not recorded", {"source": row.source},
                         Fix("score them with a file of their bars ({setting})", "score"))
    since = pd.Timestamp(row.oldest_last_bar_at)
    since = since.tz_localize("UTC") if since.tzinfo is None else since
    try:
        step = parse_interval(row.interval)
    except ValueError as e:
        raise InputError(str(e), {"interval": row.interval}) from None
    needed = math.ceil((pd.Timestamp.now(tz="UTC") - since) / step) + int(row.longest_horizon) + 2
    return BarsRequest(source=row.source, symbol=instrument_symbol(row.symbol, row.exchange), interval=row.interval,
                       exchange=row.exchange, bars=min(needed, MAX_FETCH_BARS))
