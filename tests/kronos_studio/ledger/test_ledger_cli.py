"""``kronos forecast`` records under the series' name (``--no-ledger`` opts out) and ``kronos ledger``
scores, exports and locates: run as a user would (``testkit.run_cli``), offline, on a ledger of the test's own."""
from __future__ import annotations

import pandas as pd
import pytest
from ledger_helpers import cut, forecast, series
from testkit import run_cli

from kronos_studio.ledger import Ledger
from kronos_studio.ledger.schema import HEAD


def kronos(*args, url: str, cwd=None):
    return run_cli(*args, env={"KRONOS_STUDIO_DB": url, "KRONOS_DEVICE": "cpu"}, cwd=cwd)


@pytest.fixture
def model(random_model):
    folder = random_model("tiny").folder
    (folder / "bundle.json").write_text('{"context": 64, "name": "tiny-cli"}')
    return folder


def test_forecast_is_recorded_under_the_series_name_then_scored_and_exported(ledger_url, model, tmp_path):
    bars = series(160, seed=2)
    early, full = tmp_path / "early", tmp_path / "later"
    early.mkdir(), full.mkdir()
    cut(bars, 120).frame.to_csv(early / "EURX.csv", index=False)  # the file's name is the series' name
    bars.frame.to_csv(full / "EURX.csv", index=False)
    common = ("--model", model, "--horizon", 6, "--paths", 8, "--lookback", 50, "--device", "cpu", "--quiet",
              "--out", tmp_path / "q.csv", "--calendar", "24/7")
    r = kronos("forecast", early / "EURX.csv", *common, url=ledger_url)
    assert r.returncode == 0, r.stderr
    assert "recorded in the ledger as forecast 1 of EURX 1h" in r.stderr
    r = kronos("forecast", early / "EURX.csv", *common, url=ledger_url)  # the same forecast again: kept once
    assert "already recorded in the ledger as forecast 1" in r.stderr
    r = kronos("forecast", early / "EURX.csv", *common, "--symbol", "EUR-test", "--seed", 1, url=ledger_url)
    assert "as forecast 2 of EUR-test 1h" in r.stderr  # the series named EUR-test, whatever its file
    r = kronos("forecast", early / "EURX.csv", *common, "--seed", 2, "--no-ledger", url=ledger_url)
    assert r.returncode == 0 and "ledger" not in r.stderr

    r = kronos("ledger", "score", full / "EURX.csv", url=ledger_url)
    assert r.returncode == 0, r.stderr
    assert "EURX.csv (EURX 1h): scored 6 steps of 1 forecast (1 now scored on every step)" in r.stderr
    r = kronos("ledger", "score", full / "EURX.csv", "--symbol", "EUR-test", url=ledger_url)
    assert "EURX.csv (EUR-test 1h): scored 6 steps" in r.stderr
    assert "nothing to score" in kronos("ledger", "score", full / "EURX.csv", url=ledger_url).stderr

    out = tmp_path / "track.parquet"
    r = kronos("ledger", "export", "--out", out, "--symbol", "EURX", url=ledger_url)
    assert r.returncode == 0 and "wrote 6 rows (1 forecast, 6 steps scored)" in r.stderr, r.stderr
    table = pd.read_parquet(out)
    assert set(table["symbol"]) == {"EURX"} and table["model"].iloc[0] == "tiny-cli" and table["crps"].notna().all()
    assert list(table["actual_close"]) == list(bars.frame["close"].iloc[120:126])
    r = kronos("ledger", "export", "--out", out, "--since", "2999-01-01", url=ledger_url)
    assert r.returncode == 0 and len(pd.read_parquet(out)) == 0
    info = kronos("ledger", "info", url=ledger_url).stdout
    assert "2 forecasts of 2 series, 12 steps scored" in info and f"schema {HEAD}" in info
    # A forecast from newer bars of a series scores its earlier forecasts first.
    kronos("forecast", early / "EURX.csv", *common, "--symbol", "EUR-late", url=ledger_url)
    r = kronos("forecast", full / "EURX.csv", *common, "--symbol", "EUR-late", url=ledger_url)
    assert r.returncode == 0 and "; these bars scored 6 steps of 1 earlier forecast" in r.stderr, r.stderr


def test_scoring_without_files_uses_the_bundled_samples_and_says_what_it_cannot_fetch(tmp_path):
    from data_sources import load_sample

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    msft = load_sample("MSFT daily 2000-2013 (bundled)")
    with Ledger.open(url) as ledger:
        ledger.record(forecast(msft, len(msft) - 20, horizon=5), cut(msft, len(msft) - 20))
        ledger.record(forecast(series(100), 90, horizon=5), cut(series(100), 90))  # from a file
    r = kronos("ledger", "score", url=url)
    assert r.returncode == 0, r.stderr
    assert "MSFT 1d (sample): scored 5 steps of 1 forecast" in r.stderr
    assert ("kronos: warning: TEST 1h (file): 1 forecast from a file: score them with the file's newer bars "
            "(kronos ledger score FILE)") in r.stderr
    r = kronos("ledger", "score", "--symbol", "MSFT", url=url)
    assert "nothing to score: every recorded forecast of MSFT is scored" in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("ledger", "export", "--out", "x.csv"), "--out must name a Parquet file (.parquet), got 'x.csv'"),
    (("ledger", "export", "--out", "x.parquet", "--since", "someday"),
     "since must be a date or time, got 'someday': give --since as a date or time like 2024-06-01"),
    (("ledger", "score", "missing.csv"), "input file 'missing.csv' does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    r = kronos(*args, url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == f"kronos: error: {message}", r.stderr


def test_a_ledger_that_cannot_open_stops_the_forecast_with_the_fix(model, tmp_path):
    series(100).frame.to_csv(tmp_path / "b.csv", index=False)
    r = kronos("forecast", tmp_path / "b.csv", "--model", model, "--horizon", 3, "--paths", 2, "--out",
               tmp_path / "q.csv", "--quiet", url="no-such-scheme-url")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "KRONOS_STUDIO_DB='no-such-scheme-url' is not a database URL" in r.stderr and "--no-ledger" in r.stderr
    assert not (tmp_path / "q.csv").exists()  # nothing half done
