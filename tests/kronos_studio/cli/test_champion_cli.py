"""The model ``champion`` on the command line is chosen per series: of two series, one with a promoted
champion and one without, ``kronos forecast`` and ``kronos batch`` serve the first by its adapter and the
second by the base model, and say which (provenance, ledger row, batch row); a promote since a batch makes
its rerun forecast that series again; the Ray engine refuses it in one line."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from champion_kit import LOOKBACK, promote_champion
from testkit import BITFINEX, BITSTAMP, exchange_files, random_bars

from kronos_studio.cli.main import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(folder of AAA.csv and BBB.csv, the ledger's URL, AAA's champion entry); BBB has none."""
    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger

    root = tmp_path_factory.mktemp("champion-cli")
    watchlist = root / "watchlist"
    watchlist.mkdir()
    for seed, name in enumerate(("AAA", "BBB")):
        # the first 200 of 300 bars: a later test reads all 300, the same bars and more
        random_bars(300, seed=seed, freq="1h", start="2026-03-02").iloc[:200].to_csv(watchlist / f"{name}.csv",
                                                                                     index=False)
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    with Ledger.open(url) as ledger:
        entry = promote_champion(read_bars(watchlist / "AAA.csv"), ledger, root / "adapter-aaa")
    yield watchlist, url, entry
    mp.undo()


def ledger_adapters(url: str) -> dict[str, int | None]:
    from kronos_studio.ledger import Ledger

    with Ledger.open(url) as ledger:
        rows = ledger.read(lambda conn: conn.exec_driver_sql("SELECT symbol, adapter_id FROM predictions").all())
    return {r.symbol: r.adapter_id for r in rows}


def test_forecast_serves_each_series_by_its_own_champion_or_the_base(world, tmp_path):
    watchlist, url, entry = world
    provenance = {}
    for name in ("AAA", "BBB"):
        out = tmp_path / f"{name}.json"
        assert main(["forecast", str(watchlist / f"{name}.csv"), "--horizon", "4", "--paths", "4", "--model",
                     "champion", "--out", str(tmp_path / f"{name}.csv"), "--provenance-out", str(out)]) == 0
        provenance[name] = json.loads(out.read_text())
    assert provenance["AAA"]["adapter_id"] == entry.id
    assert provenance["AAA"]["champion"].startswith(f"champion adapter {entry.id} of file:AAA:1h")
    assert provenance["AAA"]["bars_used"] == LOOKBACK  # the history it was trained with
    assert provenance["BBB"]["adapter_id"] is None
    assert provenance["BBB"]["champion"].startswith("no champion for file:BBB:1h: the base model")
    assert ledger_adapters(url) == {"AAA": entry.id, "BBB": None}


def test_batch_serves_each_series_by_its_own_champion_and_a_promote_is_forecast_again(world, tmp_path):
    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger

    watchlist, url, entry = world
    out = tmp_path / "rows.parquet"
    args = ["batch", str(watchlist), "--model", "champion", "--horizon", "4", "--paths", "4", "--out", str(out),
            "--quiet"]
    assert main(args) == 0
    rows = pd.read_parquet(out).set_index("series")
    assert (rows["status"] == "ok").all()
    assert rows.loc["AAA", "adapter_id"] == entry.id and pd.isna(rows.loc["BBB", "adapter_id"])
    assert rows.loc["AAA", "champion"].startswith(f"champion adapter {entry.id} of file:AAA:1h")
    assert rows.loc["BBB", "champion"].startswith("no champion for file:BBB:1h")
    assert rows.loc["AAA", "lookback"] == LOOKBACK and rows.loc["BBB", "lookback"] > LOOKBACK
    assert "+" in rows.loc["AAA", "model"] and "+" not in rows.loc["BBB", "model"]  # the adapted model, the base
    # a champion promoted for BBB since: the rerun forecasts BBB again with it, and keeps AAA's row
    with Ledger.open(url) as ledger:
        new = promote_champion(read_bars(watchlist / "BBB.csv"), ledger, tmp_path / "adapter-bbb")
    before = rows
    assert main(args) == 0
    rows = pd.read_parquet(out).set_index("series")
    assert rows.loc["BBB", "adapter_id"] == new.id and rows.loc["AAA", "adapter_id"] == entry.id
    assert rows.loc["AAA", "created_at"] == before.loc["AAA", "created_at"]  # kept, not forecast again


def test_the_ray_engine_refuses_champion_in_one_line(world, tmp_path, capsys):
    watchlist, _, _ = world
    code = main(["batch", str(watchlist), "--model", "champion", "--horizon", "4", "--engine", "ray", "--out",
                 str(tmp_path / "rows.parquet"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'champion' is resolved per series" in err and "--engine local" in err and "Traceback" not in err


def test_a_ranking_evaluation_refuses_champion_in_one_line(world, capsys):
    watchlist, _, _ = world
    code = main(["batch", str(watchlist), "--model", "champion", "--horizon", "4", "--evaluate", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'champion' is chosen per series" in err and "choose one model with --model" in err


def test_the_output_line_says_a_champion_reads_the_lookback_it_was_gated_with(world, tmp_path, capsys):
    """Issue 51 item 15: "lookback 48 (default: context - horizon)" for a champion, whose lookback is its gate's."""
    watchlist, _, entry = world
    assert main(["forecast", str(watchlist / "AAA.csv"), "--horizon", "4", "--paths", "4", "--model", "champion",
                 "--out", str(tmp_path / "AAA.csv"), "--no-ledger"]) == 0
    said = capsys.readouterr().err.splitlines()[-1]
    assert f"lookback {LOOKBACK} (default: the lookback champion adapter {entry.id} was trained and gated with)" in said


def test_evaluate_walks_each_series_champion_or_its_base_forward_and_names_it(world, tmp_path, capsys):
    _, _, entry = world
    report = {}
    # AAA with bars after those its champion learned from; EVB, a series no test promotes a champion of
    for seed, name in ((0, "AAA"), (2, "EVB")):
        random_bars(300, seed=seed, freq="1h", start="2026-03-02").to_csv(tmp_path / f"{name}.csv", index=False)
        out = tmp_path / f"{name}.json"
        code = main(["evaluate", str(tmp_path / f"{name}.csv"), "--model", "champion", "--horizon", "4",
                     "--paths", "4", "--cutoffs", "3", "--json", str(out)])
        assert code == 0, capsys.readouterr().err
        report[name] = json.loads(out.read_text())
    assert report["AAA"]["model"]["adapter_id"] == entry.id
    assert report["AAA"]["model"]["champion"].startswith(f"champion adapter {entry.id} of file:AAA:1h")
    assert report["AAA"]["lookback"] == LOOKBACK  # the history its gate scored it with
    assert report["EVB"]["model"]["adapter_id"] is None
    assert report["EVB"]["model"]["champion"].startswith("no champion for file:EVB:1h: the base model")
    assert report["EVB"]["lookback"] > LOOKBACK


def test_a_champion_serves_only_bars_that_hold_the_window_it_learned_from_and_says_why_not(world, tmp_path,
                                                                                         capsys):
    """Issue 62 item 1: Bitfinex's and Bitstamp's files of BTC name no exchange, so both are the series BTC (a file's
    name is no part of it). Its champion, trained on Bitfinex's bars, serves them; Bitstamp's bars over its window
    are others, so the base model serves those and says why, the fix naming --exchange. Named, the exchanges are two
    series, and Bitstamp's has no champion."""
    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger

    _, url, _ = world
    files = exchange_files(tmp_path / "exchanges")
    with Ledger.open(url) as ledger:
        entry = promote_champion(read_bars(files[BITFINEX], symbol="BTC"), ledger, tmp_path / "adapter-bitfinex")
    assert str(entry.series) == "file:BTC:1d"

    def forecast(name, *more):
        out = tmp_path / f"{name}.json"
        assert main(["forecast", str(files[name]), "--symbol", "BTC", *more, "--horizon", "4", "--paths", "4",
                     "--model", "champion", "--out", str(tmp_path / "q.csv"), "--provenance-out", str(out)]) == 0
        return json.loads(out.read_text()), capsys.readouterr().err

    served, err = forecast(BITFINEX)
    assert served["adapter_id"] == entry.id and "champion_withheld" not in served and "learned from other" not in err
    withheld, err = forecast(BITSTAMP)
    assert withheld["adapter_id"] is None
    why = f"champion adapter {entry.id} of file:BTC:1d learned from other bars than these from 2026-01-01 00:00"
    assert withheld["champion"].startswith(why) and withheld["champion_withheld"].startswith(why)
    assert withheld["champion"].endswith("serves them")
    assert (f"kronos: warning: {why}" in err and "another exchange's bars of this name" in err
            and "the base model served them: if these bars come from another exchange, name it with --exchange"
            in err), err
    named, _ = forecast(BITSTAMP, "--exchange", "bitstamp")
    assert named["adapter_id"] is None and named["champion"].startswith("no champion for file:bitstamp:BTC:1d")
    with Ledger.open(url) as ledger:
        rows = ledger.read(lambda conn: conn.exec_driver_sql(
            "SELECT symbol, adapter_id FROM predictions WHERE symbol LIKE '%BTC' ORDER BY id").all())
    assert [tuple(r) for r in rows] == [("BTC", entry.id), ("BTC", None), ("bitstamp:BTC", None)]
