"""A watchlist's entries from what a person gives a face (the app's Screener, the MCP tool ``screen``): bundled samples
by name, a source's symbols (typed as free text or listed), uploaded files (bar files, one series each, or one per
instrument of a file of several; or one ``source,symbol,interval[,exchange]`` CSV). Each raises ``WatchlistError``
naming what to give instead; the entries are those ``Desk.watchlist`` reads (``batch.watchlist``)."""
from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from data_sources import DataSourceError, MultipleSymbolsError, list_samples, read_bars_file
from data_sources.sources import SAMPLE_PICKER, SOURCES, with_input
from data_sources.storage import atomic_write, storage_path
from kronos_studio.batch.watchlist import Entry, WatchlistError, read_watchlist, symbol_entries

UPLOADS = "screener_uploads"  # the storage root's folder of uploaded watchlist files
UPLOAD_SUFFIXES = ("csv", "parquet", "pq", "txt")
WATCHLIST_COLUMNS = {"source", "symbol", "interval"}


def sample_entries(names: list[str]) -> list[Entry]:
    """Entries for bundled samples by name (``data_sources.list_samples``)."""
    interval = {s.name: s.interval for s in list_samples()}
    unknown = [n for n in names if n not in interval]
    if unknown:
        raise WatchlistError(f"unknown samples {unknown}: choose from {list(interval)}")
    if not names:
        raise WatchlistError("no sample chosen: pick at least one bundled sample")
    return symbol_entries([(with_input(SAMPLE_PICKER)[0], n, interval[n], None) for n in names])


def parse_symbols(text: str) -> list[str]:
    """Tickers or pairs from free text: separated by commas, semicolons, spaces or new lines."""
    return list(dict.fromkeys(s for s in re.split(r"[\s,;]+", text or "") if s))


def symbol_entries_of(source: str, symbols: str | list[str], interval: str, exchange: str | None = None) -> list[Entry]:
    """Entries for symbols of a source (Yahoo tickers, exchange pairs, bundled samples by name): ``symbols`` listed,
    or as free text (``parse_symbols``); upper-cased where the source's symbols are."""
    if source not in SOURCES:
        raise WatchlistError(f"unknown source '{source}': use one of {list(SOURCES)}")
    origin = SOURCES[source]
    symbols = parse_symbols(symbols) if isinstance(symbols, str) else list(dict.fromkeys(symbols))
    if not symbols:
        raise WatchlistError("no ticker or pair given: type them separated by commas or new lines, e.g. AAPL, MSFT")
    if origin.needs_exchange and not (exchange or "").strip():
        raise WatchlistError(f"{origin.symbol_label.lower()}s need an exchange, e.g. {origin.exchanges[0]}")
    exchange = exchange.strip().lower() if origin.needs_exchange else None
    if origin.upper_case:
        symbols = list(dict.fromkeys(s.upper() for s in symbols))
    return symbol_entries([(source, s, interval, exchange) for s in symbols])


def upload_folder(files: list[tuple[str, bytes]]) -> Path:
    """A folder (under the storage root, named by the files' content) holding these files, written once."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    folder = storage_path(UPLOADS, digest.hexdigest()[:16])
    for name, data in files:
        path = folder / Path(name).name
        if not path.is_file() or path.stat().st_size != len(data):
            atomic_write(path, lambda tmp, data=data: Path(tmp).write_bytes(data))
    return folder


def upload_names(text):
    """``text`` with the server's upload folder left out of its paths: an uploaded file named as the user named
    it ("daily.csv (AAA)", not the folder it was stored in on the server). Anything not text is kept."""
    if not isinstance(text, str):
        return text
    return re.sub(re.escape(str(storage_path(UPLOADS))) + r"[\\/][0-9a-f]{16}[\\/]", "", text)


def _is_watchlist_csv(name: str, data: bytes) -> bool:
    if not name.lower().endswith((".csv", ".txt")):
        return False
    header = data[:4096].decode("utf-8", "replace").splitlines()[:1]
    columns = {c.strip().strip('"').lower() for c in header[0].split(",")} if header else set()
    return WATCHLIST_COLUMNS <= columns


def upload_entries(files: list[tuple[str, bytes]], chosen: dict[str, list[str]] | None = None) -> list[Entry]:
    """Entries for uploaded files: bar files (one series each, named by the file; a file of several
    instruments one series per instrument, those ``chosen`` for it by series name, else all), or one
    watchlist CSV with columns source,symbol,interval[,exchange]."""
    if not files:
        raise WatchlistError("no file uploaded: add CSV or Parquet bar files, or a watchlist CSV")
    names = [Path(n).name for n, _ in files]
    bad = [n for n in names if n.rsplit(".", 1)[-1].lower() not in UPLOAD_SUFFIXES]
    if bad:
        raise WatchlistError(f"{bad}: upload CSV or Parquet files")
    lists = [n for n, data in files if _is_watchlist_csv(n, data)]
    if lists and len(files) > 1:
        raise WatchlistError(f"{lists[0]} is a watchlist (source,symbol,interval): upload it alone, or upload bar "
                             "files only")
    folder = upload_folder(files)
    if lists:
        return read_watchlist(folder / names[0])
    return by_instrument(read_watchlist(folder), chosen or {})


def file_instruments(path: str) -> list[str]:
    """The instruments of a bar file that holds several (a symbol/ticker column, or side by side), else []
    (one series, or a file that cannot be read: its row says why); read once per content of the file."""
    stat = Path(path).stat()
    return list(_instruments(path, stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _instruments(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    try:
        read_bars_file(path)
    except MultipleSymbolsError as e:
        return tuple(e.symbols)
    except DataSourceError:
        pass
    return ()


def by_instrument(entries: list[Entry], chosen: dict[str, list[str]]) -> list[Entry]:
    """Each file of several instruments as one entry per instrument (those ``chosen`` for its series, else
    all), its row named by the instrument, or file:instrument where another file holds the same instrument (a
    row's name is unique; the ledger and the registry know the series by its instrument and, where known, its
    exchange: ``Bars.series_symbol``); rows of different instruments are never one series."""
    out: list[tuple[str, str | None, str | None]] = []  # (file's row name, file, instrument)
    for e in entries:
        found = file_instruments(e.file) if e.file is not None else []
        if not found:
            out.append((e.series, e.file, None))
            continue
        picked = [s for s in chosen.get(e.series, found) if s in found]
        if not picked:
            raise WatchlistError(f"no instrument of {Path(e.file).name} is chosen: pick at least one of "
                                 f"{', '.join(found)}, or leave the file out")
        out += [(e.series, e.file, s) for s in picked]
    names = [series if symbol is None else symbol for series, _, symbol in out]
    return [Entry(series=name if names.count(name) == 1 or symbol is None else f"{series}:{symbol}", file=file,
                  symbol=symbol) for name, (series, file, symbol) in zip(names, out)]
