"""What a forecast names as covariates: ``CovariateOptions`` (each field a ``kronos.settings.Knob``, as the sampling
knobs are, for the faces to draw their inputs from) and the references it holds, read into bars by ``load``.

A reference is one of: a bundled sample's name (``S&P 500 index daily 1999-2018 (arch)``, or ``sample:<name>``), a
source and its ticker (``yfinance:^GSPC``, ``ccxt:binance:BTC/USDT``), or the path of a CSV/Parquet file. Past-only
covariates are series whose history is read up to the cut-off; known-future covariates are scheduled events whose
dates are public ahead (the bundled US macro calendar's kinds: ``fomc``, ``cpi``, ``nfp``, ``gdp``, ``pce``), read
for the history and the forecast's own bars.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data_sources.cache import load_bars
from data_sources.samples import list_samples
from data_sources.schema import Bars
from data_sources.sources import CCXT, FILE, SAMPLE, YFINANCE
from kronos.errors import Fix, InputError
from kronos.settings import Bounds, check_bounds, knob
from kronos_studio.events import KINDS

from .alignment import MAX_COVARIATES

SEPARATOR = ":"  # between a source and its ticker in a reference


@dataclass(frozen=True)
class CovariateRef:
    """One covariate reference, parsed: ``source`` (a ``data_sources.sources`` key), ``symbol`` (a sample's name, a
    ticker, or a file's path) and ``exchange`` (ccxt's)."""

    text: str
    source: str
    symbol: str
    exchange: str | None = None


def parse_reference(text: str) -> CovariateRef:
    """A reference as written (module docstring) -> ``CovariateRef``; ``InputError`` naming the forms otherwise."""
    text = str(text).strip()
    samples = {s.name for s in list_samples()}
    head, _, rest = text.partition(SEPARATOR)
    if text in samples:
        return CovariateRef(text, SAMPLE, text)
    if head == SAMPLE:
        if rest in samples:
            return CovariateRef(text, SAMPLE, rest)
        raise InputError(f"there is no bundled sample named {rest!r}", {"covariate": text},
                         Fix(f"name one of {sorted(samples)} in {{setting}}", "covariates"))
    if head == YFINANCE and rest:
        return CovariateRef(text, YFINANCE, rest)
    if head == CCXT and rest.count(SEPARATOR) == 1 and all(rest.split(SEPARATOR)):
        exchange, symbol = rest.split(SEPARATOR)
        return CovariateRef(text, CCXT, symbol, exchange)
    if head in (YFINANCE, CCXT):  # a source named, its ticker not: never read as a file of that name
        form = "yfinance:<ticker>" if head == YFINANCE else "ccxt:<exchange>:<symbol>"
        raise InputError(f"the covariate {text!r} names the source {head} but not as {form}", {"covariate": text},
                         Fix(f"write it as {form} (e.g. {'yfinance:^GSPC' if head == YFINANCE else 'ccxt:binance:BTC/USDT'})"
                             " in {setting}", "covariates"))
    path = rest if head == FILE and rest else text
    if path and Path(path).expanduser().is_file():
        return CovariateRef(text, FILE, str(Path(path).expanduser()))
    raise InputError(
        f"the covariate {text!r} is neither a bundled sample, a source and ticker, nor a file on this machine",
        {"covariate": text},
        Fix("name a sample ('S&P 500 index daily 1999-2018 (arch)'), a ticker ('yfinance:^GSPC', "
            "'ccxt:binance:BTC/USDT') or a CSV/Parquet file in {setting}", "covariates"))


def names_file(text: str) -> bool:
    """``text`` would be read as a file's path (neither a bundled sample nor a source and ticker), whether or not
    the file exists: what a service that reads no files of its own refuses without looking."""
    text = str(text).strip()
    head = text.partition(SEPARATOR)[0]
    return text not in {s.name for s in list_samples()} and head not in (SAMPLE, YFINANCE, CCXT)


@dataclass(frozen=True)
class CovariateOptions:
    """The covariates a forecast is conditioned on (references, module docstring) and the scheduled events it
    reads ahead. The empty default is a forecast of the target alone."""

    covariates: tuple[str, ...] = knob(
        (), Bounds(max_items=MAX_COVARIATES, unique=True), label="Condition on",
        help="other series read alongside the target, each up to the forecast's cut-off and aligned to the target's "
             "bar closes (a bundled sample, a source:ticker such as yfinance:^GSPC, or a file)")
    known_future: tuple[str, ...] = knob(
        (), Bounds(choices=KINDS, max_items=len(KINDS), unique=True, what="scheduled event kinds"),
        label="Scheduled events", more=True,
        help=f"event kinds whose dates are public ahead ({', '.join(KINDS)}), read over the history and the "
             "forecast's own bars")

    def __post_init__(self):
        object.__setattr__(self, "covariates", tuple(str(c).strip() for c in self.covariates))
        object.__setattr__(self, "known_future", tuple(str(k).strip().lower() for k in self.known_future))
        check_bounds(self)  # at most MAX_COVARIATES, each named once; known kinds, each once (linear, the count first)

    def file_references(self) -> tuple[str, ...]:
        """The covariates read as files' paths (``names_file``: neither a bundled sample nor a source and ticker),
        whether or not the files exist: what a service that reads no files of its own refuses without looking."""
        return tuple(c for c in self.covariates if names_file(c))

    def __bool__(self) -> bool:
        return bool(self.covariates or self.known_future)

    def references(self) -> tuple[CovariateRef, ...]:
        return tuple(parse_reference(c) for c in self.covariates)


def load(ref: CovariateRef, interval: str, *, lookback: int | None = None) -> Bars:
    """The bars a reference names: a sample as bundled, a ticker through the bar cache at ``interval`` (its last
    ``lookback`` bars when given), a file as the reader finds it. Each source's own errors pass through."""
    if ref.source == SAMPLE:
        from data_sources.samples import load_sample

        return load_sample(ref.symbol)
    if ref.source == FILE:
        from data_sources.files import read_bars_file

        return read_bars_file(ref.symbol)

    return load_bars(ref.source, ref.symbol, interval, lookback=lookback, exchange=ref.exchange)


def load_all(options: CovariateOptions, interval: str, *, lookback: int | None = None) -> list[Bars]:
    """The bars of every covariate ``options`` names, in order (``load``)."""
    return [load(ref, interval, lookback=lookback) for ref in options.references()]
