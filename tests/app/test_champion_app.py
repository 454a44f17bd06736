"""The sidebar offers the model ``champion``: the Forecast page serves the series on screen by its promoted
adapter, else the base model, says which, and a promote or a rollback is never answered with a stored
forecast of the model before."""
from __future__ import annotations

import json
import os

from app_helpers import good_csv
from champion_kit import promote_champion


def upload(at, name, data):
    at.sidebar.selectbox(key="sb_source").set_value("file").run()
    at.sidebar.file_uploader(key="sb_upload").set_value((name, data, "text/csv")).run()
    return at


def shown(at) -> tuple[dict | None, str]:
    """(the export's provenance, or None before a forecast; the page's captions)."""
    captions = " | ".join(str(c.value) for c in at.caption)
    if not at.json:
        return None, captions
    export = at.json[0].value
    export = json.loads(export) if isinstance(export, str) else export
    return export["provenance"], captions


def test_champion_serves_the_series_on_screen_and_a_promote_or_rollback_is_a_new_forecast(new_app, tmp_path):
    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Registry

    at = upload(new_app().run(), "CHAMPX.csv", good_csv())
    assert any(o.startswith("champion (each series") for o in at.sidebar.selectbox(key="sb_model").options)
    at.sidebar.selectbox(key="sb_model").set_value("champion").run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.number_input(key="sb_paths").set_value(4).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    prov, captions = shown(at)
    assert prov["adapter_id"] is None and prov["champion"].startswith("no champion for file:CHAMPX:1d")
    assert "Model **champion**: no champion for file:CHAMPX:1d" in captions

    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        entry = promote_champion(read_bars(good_csv(), "CHAMPX.csv"), ledger, tmp_path / "adapter")
    at.run()  # the same bars and settings: not the base model's stored fan
    assert shown(at)[0] is None and "Run forecast" in " | ".join(str(i.value) for i in at.info)
    at.button(key="run_forecast").click().run()
    assert not at.exception, at.exception
    prov, captions = shown(at)
    assert prov["adapter_id"] == entry.id
    assert f"Model **champion**: champion adapter {entry.id} of file:CHAMPX:1d" in captions

    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        Registry(ledger).rollback(entry.series)
    at.run()  # the base model serves again: its stored fan is the one shown
    prov, _ = shown(at)
    assert prov is not None and prov["adapter_id"] is None
    assert {m.label: m for m in at.metric}["Sampling time"].delta == "from cache"


def test_champion_is_not_mixed_into_the_ensemble(new_app):
    at = new_app().run()
    at.sidebar.selectbox(key="sb_model").set_value("champion").run()
    at.sidebar.toggle(key="sb_ensemble").set_value(True).run()
    assert not at.exception, at.exception
    assert "not one to mix: it forecasts alone" in " | ".join(str(i.value) for i in at.sidebar.info)


def test_the_screener_serves_each_sample_by_its_own_champion(new_app, tmp_path):
    from app_support import screener
    from kronos_studio.batch.watchlist import load_entry
    from kronos_studio.desk.watchlists import sample_entries
    from kronos_studio.ledger import Ledger

    names = ["MSFT daily 2000-2013 (bundled)", "IBM daily 2000-2013 (bundled)"]
    [msft, _] = sample_entries(names)
    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        entry = promote_champion(load_entry(msft, 128).bars, ledger, tmp_path / "adapter")
    at = new_app().run()
    at.sidebar.selectbox(key="sb_model").set_value("champion").run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.sidebar.number_input(key="sb_paths").set_value(4).run()
    at.switch_page("pages/screener.py").run()
    at.multiselect(key="scr_samples").set_value(names).run()
    at.button(key="run_screener").click().run()
    assert not at.exception, at.exception
    rows = at.session_state[screener.RESULT_KEY].rows.set_index("series")
    assert list(rows["status"]) == ["ok", "ok"]
    assert rows.loc[names[0], "adapter_id"] == entry.id and rows.isna().loc[names[1], "adapter_id"]


def test_the_evaluate_page_walks_the_series_champion_forward_and_names_it(new_app, tmp_path):
    from testkit import random_bars

    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger

    later = random_bars(300, seed=3, freq="1h", start="2026-03-02")
    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        entry = promote_champion(read_bars(later.iloc[:200].to_csv(index=False).encode(), "CHAMPEV.csv"), ledger,
                                 tmp_path / "adapter")
    # the series with bars after those its champion learned from (the same 200 and 100 more)
    at = upload(new_app().run(), "CHAMPEV.csv", later.to_csv(index=False).encode())
    at.sidebar.selectbox(key="sb_model").set_value("champion").run()
    at.sidebar.number_input(key="sb_horizon").set_value(4).run()
    at.number_input(key="sb_paths").set_value(4).run()
    at.switch_page("pages/evaluate.py").run()
    at.number_input(key="ev_cutoffs").set_value(3).run()
    at.button(key="ev_run").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    captions = " | ".join(str(c.value) for c in at.caption)
    assert f"Model **champion**: champion adapter {entry.id} of file:CHAMPEV:1h" in captions
    assert {m.label for m in at.metric} >= {"CRPS skill vs random walk"}


def test_the_forecast_page_serves_a_champion_only_on_the_bars_it_learned_from_and_says_why_not(new_app, tmp_path):
    """Issue 62 item 1: Bitfinex's and Bitstamp's files of BTC name no exchange: one series, BTC. Its champion,
    trained on Bitfinex's bars, serves those; over Bitstamp's, whose bars over its window are others, the base
    model serves and the page says why, naming the Exchange box; given there, Bitstamp's BTC is another series."""
    from testkit import BITFINEX, BITSTAMP, exchange_files

    from kronos_studio.bars_input import read_bars
    from kronos_studio.ledger import Ledger

    files = exchange_files(tmp_path / "exchanges")
    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        entry = promote_champion(read_bars(files[BITFINEX], symbol="BTC"), ledger, tmp_path / "adapter")
    served, said = {}, {}
    for name, exchange in ((BITFINEX, ""), (BITSTAMP, ""), (BITSTAMP, "bitstamp")):
        at = upload(new_app().run(), name, files[name].read_bytes())
        at.sidebar.text_input(key="sb_file_exchange").set_value(exchange).run()
        next(s for s in at.selectbox if (s.key or "").startswith("file_symbol_")).set_value("BTC").run()
        at.sidebar.selectbox(key="sb_model").set_value("champion").run()
        at.sidebar.number_input(key="sb_horizon").set_value(4).run()
        at.number_input(key="sb_paths").set_value(4).run()
        at.button(key="run_forecast").click().run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
        served[name, exchange], said[name, exchange] = shown(at)
    assert served[BITFINEX, ""]["adapter_id"] == entry.id
    assert served[BITSTAMP, ""]["adapter_id"] is None
    assert served[BITSTAMP, ""]["champion"].startswith(f"champion adapter {entry.id} of file:BTC:1d learned from "
                                                       "other bars than these")
    assert "the series' champion does not serve these bars" in said[BITSTAMP, ""]
    assert "(**Exchange**)" in said[BITSTAMP, ""] and "does not serve" not in said[BITFINEX, ""]
    assert served[BITSTAMP, "bitstamp"]["champion"].startswith("no champion for file:bitstamp:BTC:1d")
    with Ledger.open(os.environ["KRONOS_STUDIO_DB"]) as ledger:
        rows = ledger.read(lambda conn: conn.exec_driver_sql("SELECT symbol, adapter_id FROM predictions ORDER BY id")
                           .all())
    assert [tuple(r) for r in rows] == [("BTC", entry.id), ("BTC", None), ("bitstamp:BTC", None)]
