"""Watchlists: which series a batch forecasts, and loading their bars through ``data_sources``.

A watchlist is a folder of CSV/Parquet bar files (one series per file, named by the file without its
extension), or a CSV with one row per series: ``source,symbol,interval[,exchange]`` fetched through the
bar cache (cache first; only newer bars are downloaded). Loading never raises for one series: a series
that cannot be read comes back with the one-line reason, so one bad series never stops a batch.
"""
from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

from data_sources.files import name_of_file
from data_sources.sources import SOURCES, by_symbol
from kronos.errors import UserError, first_line
from kronos.lazy import pd
from kronos.threads import usable_cores

BAR_FILE_SUFFIXES = (".csv", ".parquet", ".pq")
LOAD_THREADS = 8  # downloads wait on the network: several at a time
PROCESS_POOL_FILES = 200  # from this many files on, parsing them in other processes outweighs starting those
MAX_READ_PROCESSES = 8


class WatchlistError(UserError, ValueError):
    """A watchlist that cannot be used as a whole (not a single series' problem)."""


@dataclass(frozen=True)
class Entry:
    """One series of a watchlist: a bar file, or a symbol to fetch from ``source``."""

    series: str  # the name of its result row
    file: str | None = None
    source: str | None = None
    symbol: str | None = None  # a bar file's: which instrument of a file of several (None: its only one)
    interval: str | None = None
    exchange: str | None = None

    @property
    def origin(self) -> str:
        """Where its bars come from, as the result row records it."""
        if self.file is not None:
            return self.file if self.symbol is None else f"{self.file} ({self.symbol})"
        where = f"{self.source}:{self.exchange}" if self.exchange else self.source
        return f"{where}:{self.symbol}:{self.interval}"


@dataclass
class Loaded:
    """An entry with its bars, their content hash and the gate's warnings; or with the one-line reason
    it has none to forecast (cannot be read, or refused by the data-quality gate)."""

    entry: Entry
    bars: object | None = None  # data_sources.Bars
    error: str | None = None
    data_sha256: str = ""
    warnings: str = ""


def read_watchlist(path: str | Path, *, newest: bool = False) -> list[Entry]:
    """The entries of a folder of bar files or of a ``source,symbol,interval[,exchange]`` CSV; ``newest``: a
    folder's series read from its newest file where several files hold it (``folder_entries``)."""
    p = Path(path)
    if p.is_dir():
        return folder_entries(p, newest=newest)
    if not p.is_file():
        raise WatchlistError(f"watchlist '{path}' does not exist: give a folder of CSV/Parquet bar files or a CSV "
                             "with columns source,symbol,interval[,exchange]")
    try:
        table = pd.read_csv(p, dtype=str, skipinitialspace=True)
    except Exception as e:
        raise WatchlistError(f"cannot read watchlist '{path}': {e}") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("source", "symbol", "interval") if c not in table.columns]
    if missing:
        raise WatchlistError(f"watchlist '{path}' lacks the columns {missing} (found {list(table.columns)}): a "
                             "watchlist CSV has one row per series, source,symbol,interval[,exchange]; to screen bar "
                             "files, put them in a folder and pass the folder")
    rows = []
    for i, row in enumerate(table.itertuples(index=False), start=2):  # line 1 is the header
        source, symbol, interval = (_cell(getattr(row, c)) for c in ("source", "symbol", "interval"))
        exchange = _cell(getattr(row, "exchange", None))
        if not (source and symbol and interval):
            raise WatchlistError(f"watchlist '{path}' line {i}: source, symbol and interval are all needed")
        if source not in by_symbol():
            raise WatchlistError(f"watchlist '{path}' line {i}: unknown source '{source}'; use one of {list(by_symbol())}")
        if SOURCES[source].needs_exchange and not exchange:
            raise WatchlistError(f"watchlist '{path}' line {i}: {source} needs an exchange (e.g. binance) in the exchange "
                                 "column")
        rows.append((source, symbol, interval, exchange))
    if not rows:
        raise WatchlistError(f"watchlist '{path}' has no rows")
    return symbol_entries(rows)


def is_watchlist(path: str | Path) -> bool:
    """Whether ``path`` is a watchlist rather than one series' bars: a folder, or a CSV whose header names
    source, symbol and interval."""
    p = Path(path)
    if p.is_dir():
        return True
    if not p.is_file() or p.suffix.lower() != ".csv":
        return False
    try:
        header = pd.read_csv(p, nrows=0, skipinitialspace=True).columns
    except Exception:  # not a CSV this reader takes: the bars reader says why
        return False
    return {"source", "symbol", "interval"} <= {str(c).strip().lower() for c in header}


def series_of_file(path: Path) -> str:
    """The series a bar file of a folder watchlist holds, by its name: the file's name as every reader names a
    series no one named (``data_sources.files.name_of_file``: a trailing date left out), so that a folder of a
    day's downloads of a series (``AAPL_2026-06-29.csv``, ``AAPL_2026-06-30.csv``) is one series."""
    return name_of_file(Path(path).name)[0]


def newest_file(files: list[Path]) -> Path:
    """Of several files of one series, the one written last (then the one whose name sorts last: a dated name's
    later date): what a watch reads at each tick as that day's download."""
    return max(files, key=lambda f: (f.stat().st_mtime_ns, f.name))


def folder_entries(folder: Path, *, newest: bool = False) -> list[Entry]:
    """One entry per series of the folder's bar files (``series_of_file``), named by it. Several files of one
    series are refused, or with ``newest`` read from the newest (``newest_file``)."""
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in BAR_FILE_SUFFIXES)
    if not files:
        raise WatchlistError(f"folder '{folder}' holds no CSV or Parquet files")
    by_name: dict[str, list[Path]] = {}
    for f in files:
        by_name.setdefault(series_of_file(f), []).append(f)
    clashes = [", ".join(f.name for f in fs) for fs in by_name.values() if len(fs) > 1]
    if clashes and not newest:
        raise WatchlistError(f"files in '{folder}' share a series name: {'; '.join(clashes)}; rename or remove one")
    return [Entry(series=name, file=str(newest_file(fs).resolve())) for name, fs in sorted(by_name.items())]


def symbol_entries(rows: Iterable[tuple[str, str, str, str | None]]) -> list[Entry]:
    """Entries for (source, symbol, interval, exchange) rows, named by the symbol where that is unique
    and by source:symbol:interval where it is not."""
    rows = list(dict.fromkeys(rows))  # a row listed twice is one series
    count: dict[str, int] = {}
    for _, symbol, _, _ in rows:
        count[symbol] = count.get(symbol, 0) + 1
    return [Entry(series=symbol if count[symbol] == 1 else f"{source}:{symbol}:{interval}", source=source,
                  symbol=symbol, interval=interval, exchange=exchange)
            for source, symbol, interval, exchange in rows]


def _cell(value) -> str | None:
    if value is None or pd.isna(value):
        return None
    return str(value).strip() or None


def load_entry(entry: Entry, history: int, cache=None, fixes: tuple[str, ...] = (), calendar: str | None = None) -> Loaded:
    """Read or fetch one entry's bars (``history`` bars are asked for on a first download), apply the
    gate's ``fixes`` the user accepted (names or finding codes, as ``kronos forecast --fix``) and pass
    them through the data-quality gate for a forecast from ``history`` bars. ``calendar``: the trading
    calendar of bar files (None: inferred from the bar times, as for a single forecast); fetched series
    come with their source's calendar."""
    from data_sources import load_bars, read_bars_file

    try:
        if entry.file is not None:
            bars = read_bars_file(entry.file, calendar=calendar, symbol=entry.symbol)
        else:
            bars = load_bars(entry.source, entry.symbol, entry.interval, lookback=history, exchange=entry.exchange,
                             cache=cache)
    except Exception as e:  # any reason a series has no bars is that row's status, not the batch's end
        return Loaded(entry, error=f"cannot load: {first_line(e)}")
    return gate_entry(entry, bars, history, fixes)


def gate_entry(entry: Entry, bars, history: int, fixes: tuple[str, ...] = ()) -> Loaded:
    """``entry``'s ``bars`` with the gate's accepted ``fixes`` applied, through the data-quality gate for a
    forecast from ``history`` bars: ``load_entry``'s second half (a replay gates each day's cut of the bars)."""
    from data_sources import apply_fixes, check_bars

    if fixes:
        try:
            bars = apply_fixes(bars, list(fixes))
        except ValueError as e:
            return Loaded(entry, error=f"cannot apply the fixes {', '.join(fixes)}: {first_line(e)}")
    findings = check_bars(bars, lookback=history)
    blocking = [f for f in findings if f.severity == "error"]
    if blocking:
        return Loaded(entry, error="data-quality gate: " + "; ".join(
            f"{f.code}: {f.message}" + (f" (accept the fix '{f.fix}')" if f.fix else "") for f in blocking))
    warnings = [f.code for f in findings if f.severity == "warning"]
    if getattr(bars, "stale", False):
        warnings.append(f"stale: source unreachable, cached bars {bars.age} old")
    return Loaded(entry, bars, data_sha256=bars.content_hash(), warnings="; ".join(warnings))


def load_entries(entries: list[Entry], history: int, cache=None, fixes: tuple[str, ...] = (),
                 calendar: str | None = None) -> Iterator[Loaded]:
    """``load_entry`` for every entry, yielded in watchlist order. Downloads wait on the network, so they
    run in threads; parsing files is interpreter-bound, so many files are read by a pool of processes."""
    files = sum(e.file is not None for e in entries)
    processes = min(usable_cores().count, MAX_READ_PROCESSES)  # the cores this process may use (affinity, quota)
    fixes = tuple(fixes)
    if files >= PROCESS_POOL_FILES and processes > 1:
        # spawn, not fork: the parent may hold torch's or Ray's threads, which a forked child inherits broken
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield from pool.map(load_entry, entries, repeat(history), repeat(cache), repeat(fixes), repeat(calendar),
                                chunksize=16)
        return
    with ThreadPoolExecutor(max_workers=max(1, min(LOAD_THREADS, len(entries)))) as pool:
        yield from pool.map(lambda e: load_entry(e, history, cache, fixes, calendar), entries)
