"""A bars request: where one series' bars come from and how to read them, as every face hands it over (a
file, CSV text, or a source's symbol), defined once. ``kronos_studio.desk`` reads it through the reader and
the quality gate."""
from __future__ import annotations

from dataclasses import dataclass

SOURCE_BARS = 2000  # bars fetched for a symbol: more than any model's context, and a walk-forward's cut-offs


@dataclass(frozen=True)
class BarsRequest:
    """Exactly one of ``file`` (a path), ``csv_text`` (a CSV file's text) or ``source`` with ``symbol`` and
    ``interval``; ``symbol`` also picks the instrument of a file with a symbol column (and names the series of a
    file or CSV text). ``exchange``: the venue the bars come from (ccxt's exchange; for a file or CSV text, one the
    user knows), part of the series' name (``schema.series_symbol``). ``timezone``: of times without an offset;
    ``calendar``: the trading calendar (None: inferred); ``fixes``: the quality gate's fixes accepted; ``bars``: how
    many a source is asked for."""

    file: str | None = None
    csv_text: str | None = None
    source: str | None = None
    symbol: str | None = None
    interval: str | None = None
    exchange: str | None = None
    timezone: str | None = None
    calendar: str | None = None
    fixes: tuple[str, ...] = ()
    bars: int = SOURCE_BARS

    def given(self) -> int:
        """How many of the three ways the request gives its bars (exactly one is a request)."""
        return sum(x is not None for x in (self.file, self.csv_text, self.source))
