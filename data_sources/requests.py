"""A bars request: where one series' bars come from and how to read them, as every face hands it over (a
file, CSV text, or a source's symbol), defined once. Each field a person gives carries its ``Knob``, so the command
line's options, the HTTP requests' fields and the MCP tools' arguments that spell them are generated from this one
table (``FILE_KNOBS``, ``HTTP_KNOBS``, ``MCP_KNOBS``: which of them a face offers). ``kronos_studio.desk`` reads it through the reader and the
quality gate."""
from __future__ import annotations

from dataclasses import dataclass

from kronos.knobs import knob

SOURCE_BARS = 2000  # bars fetched for a symbol: more than any model's context, and a walk-forward's cut-offs


@dataclass(frozen=True)
class BarsRequest:
    """Exactly one of ``file`` (a path), ``csv_text`` (a CSV file's text) or ``source`` with ``symbol`` and
    ``interval``; ``symbol`` also picks the instrument of a file with a symbol column (and names the series of a
    file or CSV text). ``exchange``: the venue the bars come from (ccxt's exchange; for a file or CSV text, one the
    user knows), part of the series' name (``schema.series_symbol``). ``timezone``: of times without an offset;
    ``calendar``: the trading calendar (None: inferred); ``fixes``: the quality gate's fixes accepted; ``bars``: how
    many a source is asked for (the face's use case decides it: no knob)."""

    file: str | None = knob(None, label="Bar file", help="a CSV or Parquet file of bars (one series, or several "
                                                         "instruments told apart by a symbol column)")
    csv_text: str | None = knob(None, label="CSV text", setting="bars_csv",
                                help="CSV text with a timestamp column and open, high, low, close[, volume, amount], "
                                     "read like an uploaded file")
    source: str | None = knob(None, label="Source", help="a data source (yfinance, ccxt, sample) to fetch the symbol "
                                                         "from, instead of a file")
    symbol: str | None = knob(None, label="Instrument",
                              help="with a source: the symbol to fetch; with a file or CSV text: the series' name, the "
                                   "same for every download of it (default: its symbol column, else the file's name "
                                   "without a date that ends it), and in a file with a symbol/ticker column the "
                                   "instrument to read")
    interval: str | None = knob(None, label="Interval", help="with a source: the bar interval, e.g. 1d, 1h")
    exchange: str | None = knob(None, label="Exchange",
                                help="with source ccxt: the exchange; with a file or CSV text: the exchange (venue) the "
                                     "bars come from when known, part of the series' name, so two exchanges' bars of "
                                     "one symbol are two series (default: its exchange column, else none)")
    timezone: str | None = knob(None, label="Timezone", help="IANA timezone of times without a UTC offset, e.g. "
                                                             "America/New_York (default: UTC, warned)")
    calendar: str | None = knob(None, label="Calendar", help="trading calendar for gaps and future bar times: XNYS, "
                                                             "XLON, ..., 24/7, FX (default: inferred from the bar "
                                                             "times)")
    fixes: tuple[str, ...] = knob((), label="Accept fix", setting="fix",
                                  help="fixes the data-quality gate offers (e.g. adjust_splits, sort), accepted")
    bars: int = SOURCE_BARS

    def __post_init__(self):
        object.__setattr__(self, "fixes", tuple(self.fixes or ()))  # a face's list, as one value

    def given(self) -> int:
        """How many of the three ways the request gives its bars (exactly one is a request)."""
        return sum(x is not None for x in (self.file, self.csv_text, self.source))


# Which fields each face offers (the others it has no way to take): a person's command line reads a file and no
# source (``kronos forecast FILE``; a source's bars come through the cache), the HTTP service reads no file of its
# own (CSV text or a source), the MCP server a file under its allowed folders or a source.
FILE_KNOBS = ("symbol", "exchange", "timezone", "calendar", "fixes")  # the command line's, beside its FILE
HTTP_KNOBS = ("csv_text", "source", "symbol", "interval", "exchange", "timezone", "calendar", "fixes")
MCP_KNOBS = ("file", "source", "symbol", "interval", "exchange", "timezone", "calendar", "fixes")
