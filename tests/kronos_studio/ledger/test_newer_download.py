"""Issue 62 item 1: the README's flow with a new file per day. A forecast made from one day's download is scored
by the next day's, whose file has another name and more bars, and ``kronos ledger export --symbol`` shows it: on
the command line (in process) and over HTTP (the FastAPI TestClient); the app's is in
``tests/app/test_track_record.py``. Bars of the series' name that are not its bars (another exchange's, whose
venue no one named) do not score it, and say why; with the venues named they are another series."""
from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from ledger_helpers import cut, forecast
from testkit import BITFINEX, BITSTAMP, exchange_files, random_bars

from kronos_studio.cli.main import main

HORIZON, CUT = 5, 140
COMMON = ["--horizon", str(HORIZON), "--paths", "8", "--lookback", "64", "--calendar", "24/7"]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A ledger of the test's own and two days' downloads of one series: the second holds 20 bars more."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    bars = random_bars(CUT + 20, seed=3, freq="1D", start="2026-01-01")
    return url, bars


def exported(tmp_path, capsys, symbol: str) -> pd.DataFrame:
    out = tmp_path / f"{symbol}.parquet"
    assert main(["ledger", "export", "--out", str(out), "--symbol", symbol]) == 0
    capsys.readouterr()
    return pd.read_parquet(out)


@pytest.mark.parametrize(("day1", "day2", "named"), [
    ("AAPL_2026-05-20.csv", "AAPL_2026-05-21.csv", []),  # a dated download each day: the date is left out
    ("X_day1.csv", "X_day2.csv", ["--symbol", "AAPL"])])  # any other file names: the series named by the user
def test_a_forecast_from_one_days_file_is_scored_by_the_next_days_and_exported(world, tmp_path, capsys, day1, day2,
                                                                               named):
    url, bars = world
    bars.iloc[:CUT].to_csv(tmp_path / day1, index=False)
    bars.to_csv(tmp_path / day2, index=False)
    assert main(["forecast", str(tmp_path / day1), *COMMON, *named, "--out", str(tmp_path / "q.csv")]) == 0
    err = capsys.readouterr().err
    assert "recorded in the ledger as forecast 1 of AAPL 1d" in err
    if not named:  # a name made from a file's name is said, with the option that gives one
        assert (f"note: the series is named 'AAPL' after the file's name {day1}, the date ending it left out (its "
                "forecasts, scores and champion are kept under this name): name it yourself with --symbol") in err

    assert main(["ledger", "score", str(tmp_path / day2), *named]) == 0
    err = capsys.readouterr().err
    assert f"{day2} (AAPL 1d): scored {HORIZON} steps of 1 forecast (1 now scored on every step)" in err
    table = exported(tmp_path, capsys, "AAPL")
    assert len(table) == HORIZON and table["crps"].notna().all() and set(table["symbol"]) == {"AAPL"}
    assert list(table["actual_close"]) == list(bars["close"].iloc[CUT:CUT + HORIZON])


def test_the_same_flow_over_http_scores_the_forecast_and_the_command_line_exports_it(world, tmp_path, capsys):
    from kronos_studio.service.app import ServiceConfig, create_app

    url, bars = world
    app = create_app(ServiceConfig(ledger_url=url, open_access=True))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        made = http.post("/v1/forecast", json={"bars_csv": bars.iloc[:CUT].to_csv(index=False), "symbol": "AAPL",
                                               "horizon": HORIZON, "paths": 8, "lookback": 64, "calendar": "24/7"})
        assert made.status_code == 200, made.text
        assert made.json()["ledger"]["new"]
        scored = http.post("/v1/ledger/score", json={"bars_csv": bars.to_csv(index=False), "symbol": "AAPL"})
        assert scored.status_code == 200, scored.text
        assert scored.json()["steps"] == HORIZON and scored.json()["completed"] == 1
        shown = http.get("/v1/ledger/evaluations", params={"symbol": "AAPL"}).json()["evaluations"]
    assert len(shown) == HORIZON
    table = exported(tmp_path, capsys, "AAPL")
    assert len(table) == HORIZON and table["crps"].notna().all()


def test_another_exchanges_file_of_the_symbol_does_not_score_it_and_says_why_named_it_is_another_series(
        world, tmp_path, capsys):
    """Bitfinex's and Bitstamp's files of BTC name no exchange: both are the series BTC, and Bitstamp's bars, which
    are not the history the forecast read, leave it waiting with the reason. Given their exchanges, they are two
    series: Bitstamp's bars are not even a candidate, and Bitfinex's score the forecast of its own."""
    files = exchange_files(tmp_path / "exchanges")
    for name in (BITFINEX, BITSTAMP):  # one day's download: the last 20 days not yet in it
        frame = pd.read_csv(files[name])
        frame.groupby("symbol").head(180).to_csv(tmp_path / f"early-{name}", index=False)
    common = [*COMMON, "--symbol", "BTC", "--out", str(tmp_path / "q.csv")]
    assert main(["forecast", str(tmp_path / f"early-{BITFINEX}"), *common]) == 0
    assert "as forecast 1 of BTC 1d" in capsys.readouterr().err
    assert main(["ledger", "score", str(files[BITSTAMP]), "--symbol", "BTC"]) == 0
    err = capsys.readouterr().err
    assert f"{BITSTAMP} (BTC 1d): nothing to score" in err
    assert "kronos: warning: prediction 1: the bars' close at its last bar is" in err  # not the bars it read
    assert "another source's bars): not scored" in err
    assert main(["ledger", "score", str(files[BITFINEX]), "--symbol", "BTC"]) == 0
    assert f"{BITFINEX} (BTC 1d): scored {HORIZON} steps" in capsys.readouterr().err

    assert main(["forecast", str(tmp_path / f"early-{BITFINEX}"), *common, "--exchange", "bitfinex"]) == 0
    assert "as forecast 2 of bitfinex:BTC 1d" in capsys.readouterr().err
    assert main(["ledger", "score", str(files[BITSTAMP]), "--symbol", "BTC", "--exchange", "bitstamp"]) == 0
    err = capsys.readouterr().err
    assert f"{BITSTAMP} (bitstamp:BTC 1d): nothing to score" in err and "warning: prediction" not in err
    assert main(["ledger", "score", str(files[BITFINEX]), "--symbol", "BTC", "--exchange", "Bitfinex"]) == 0
    assert f"{BITFINEX} (bitfinex:BTC 1d): scored {HORIZON} steps of 1 forecast" in capsys.readouterr().err
    assert len(exported(tmp_path, capsys, "bitfinex:BTC")) == HORIZON


def test_a_ccxt_series_is_named_with_its_exchange_and_fetched_again_by_its_own_symbol(world, monkeypatch, capsys):
    """A source's exchange is part of its series' name (binance:BTC/USDT, kept beside it as the row's exchange):
    ``kronos ledger score`` without files fetches that series again as ccxt's BTC/USDT on binance, and scores it."""
    import data_sources
    from data_sources import Bars
    from kronos_studio.ledger import Ledger

    url, frame = world
    bars = Bars.from_frame(frame.assign(timestamp=pd.DatetimeIndex(frame["timestamp"]).tz_localize("UTC")),
                           source="ccxt", symbol="BTC/USDT", interval="1d", venue="binance")
    assert bars.series_symbol == "binance:BTC/USDT"
    with Ledger.open(url) as ledger:
        ledger.record(forecast(bars, CUT, horizon=HORIZON), cut(bars, CUT))
        assert ledger.predictions_frame()[["symbol"]].iloc[0, 0] == "binance:BTC/USDT"
    asked = []

    def load_bars(source, symbol, interval, lookback=None, exchange=None, **_):
        asked.append((source, symbol, interval, exchange))
        return bars

    monkeypatch.setattr(data_sources, "load_bars", load_bars)
    assert main(["ledger", "score"]) == 0
    assert asked == [("ccxt", "BTC/USDT", "1d", "binance")]
    assert f"binance:BTC/USDT 1d (ccxt): scored {HORIZON} steps of 1 forecast" in capsys.readouterr().err

