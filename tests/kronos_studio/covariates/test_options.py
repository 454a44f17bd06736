"""What a forecast names as covariates (kronos_studio.covariates.options)."""
from __future__ import annotations

import dataclasses

import pytest

from kronos.errors import InputError
from kronos.settings import Knob, knobs
from kronos_studio.covariates.alignment import MAX_COVARIATES
from kronos_studio.covariates.options import CovariateOptions, load, parse_reference

SPX = "S&P 500 index daily 1999-2018 (arch)"


def test_references_name_samples_tickers_and_files(tmp_path):
    assert parse_reference(SPX).source == "sample"
    assert parse_reference(f"sample:{SPX}").symbol == SPX
    assert (parse_reference("yfinance:^GSPC").source, parse_reference("yfinance:^GSPC").symbol) == ("yfinance", "^GSPC")
    ref = parse_reference("ccxt:binance:BTC/USDT")
    assert (ref.source, ref.exchange, ref.symbol) == ("ccxt", "binance", "BTC/USDT")
    path = tmp_path / "eth.csv"
    path.write_text("date,open,high,low,close,volume\n2024-01-01,1,1,1,1,1\n")
    assert parse_reference(str(path)).source == "file" and parse_reference(f"file:{path}").symbol == str(path)
    with pytest.raises(InputError, match="neither a bundled sample"):
        parse_reference("no-such-thing.csv")
    with pytest.raises(InputError, match="no bundled sample named"):
        parse_reference("sample:Nope")


def test_a_sample_reference_loads_its_bars():
    bars = load(parse_reference(SPX), "1d")
    assert bars.symbol == "^GSPC" and bars.interval == "1d" and len(bars) > 4000


def test_options_are_frozen_knobs_and_refuse_what_cannot_be_read():
    opts = CovariateOptions(covariates=[SPX], known_future=["FOMC"])
    assert opts.covariates == (SPX,) and opts.known_future == ("fomc",) and opts
    assert not CovariateOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.covariates = ()
    listed = knobs(CovariateOptions)
    assert list(listed) == ["covariates", "known_future"]
    assert all(isinstance(k, Knob) and k.label and k.help for _, k in listed.values())
    with pytest.raises(InputError, match="at most"):
        CovariateOptions(covariates=[f"yfinance:S{i}" for i in range(MAX_COVARIATES + 1)])
    with pytest.raises(InputError, match="named twice"):
        CovariateOptions(covariates=[SPX, SPX])
    with pytest.raises(InputError, match="scheduled event kinds must be among") as e:
        CovariateOptions(known_future=["earnings"])
    assert e.value.fix[0].setting == "known_future"
