"""The risk champion (issue 66, item 2): chosen through the gate and kept with its lineage in the ledger; a risk request
that names no model is served by it (or the default risk model), named with why; its recalibration learns the outcomes
as bars arrive and never one after the bars' end; and every face (the desk, ``kronos risk``, ``POST /v1/risk``, the MCP
tool, the app's Risk panel and its backtest, the Screener's columns) reads the same one."""
from __future__ import annotations

import json
import math

import anyio
import numpy as np
import pandas as pd
import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.bars_input import quality_gate, read_bars
from kronos_studio.desk import (
    Desk,
    ForecastRequest,
    RiskBacktestPlan,
    RiskBacktestRequest,
    RiskChampionRequest,
    RiskRequest,
)
from kronos_studio.desk.risk import backtest_body, risk_body
from kronos_studio.ledger import Ledger
from kronos_studio.ledger.registry import RISK_CHAMPION, Candidate, Registry, SeriesKey
from kronos_studio.risk.champion import DEFAULT_RISK_MODEL, RiskModel
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.recalibrate import Recalibration

RISK = RiskSettings(levels=(0.95, 0.99), positions=("long", "short"))
SETTINGS = ForecastSettings(horizon=1, paths=200, seed=3)


def promote_by_hand(ledger, bars, model: RiskModel, reason: str = "chosen by hand for the test"):
    """A risk champion entry for ``bars``' series, promoted by hand (the registry's manual move)."""
    ts = pd.DatetimeIndex(bars.frame["timestamp"])
    registry = Registry(ledger)
    entry = registry.register(Candidate(SeriesKey.of(bars), model.label, model.state_identity({}),
                                        ts[0].to_pydatetime(), ts[-1].to_pydatetime(), len(ts), "test-window", "",
                                        model.to_settings(), "test", kind=RISK_CHAMPION))
    return registry.promote(entry.id, {"fz0": {}}, reason)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(the bars file, the ledger URL, an HTTP client, an MCP call): the series has a risk champion, EWMA-normal
    recalibrated, promoted by hand in the default workspace, where every face acts."""
    from fastapi.testclient import TestClient
    from mcp import Client

    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.mcp_server import create_server

    root = tmp_path_factory.mktemp("risk-champion")
    file = root / "RSK.csv"
    random_bars(700, seed=21, freq="1d", start="2020-01-02").to_csv(file, index=False)
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    gated, _ = quality_gate(read_bars(str(file)), [])
    with Ledger.open(url) as ledger:
        promote_by_hand(ledger, gated, RiskModel("ewma_normal", Recalibration()))
    server = create_server([root], ledger_url=url)

    def mcp(arguments: dict) -> dict:
        async def call():
            async with Client(server) as client:
                return await client.call_tool("risk", arguments)

        done = anyio.run(call)
        assert not done.is_error, done.content
        return json.loads(done.content[0].text)

    app = create_app(ServiceConfig(ledger_url=url, open_access=True))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        yield {"file": file, "url": url, "http": http, "mcp": mcp, "gated": gated}
    mp.undo()


def test_every_face_reads_the_same_risk_champion(world, tmp_path):
    from app_support import risk as app_risk
    from app_support import screener
    from kronos_studio.batch.watchlist import Entry
    from kronos_studio.cli import main as cli

    file, gated = world["file"], world["gated"]
    direct = risk_body(Desk().risk(RiskRequest(gated, None, SETTINGS, RISK)))["served"]
    assert direct["model"] == "ewma_normal+recal" and direct["champion"]
    assert direct["why"].startswith("risk champion since ") and "chosen by hand for the test" in direct["why"]
    assert [(t["position"], t["level"]) for t in direct["var_es"]] == [("long", 0.95), ("long", 0.99),
                                                                      ("short", 0.95), ("short", 0.99)]
    out = tmp_path / "risk.json"
    assert cli.main(["risk", str(file), "--horizon", "1", "--paths", "200", "--seed", "3", "--json", str(out)]) == 0
    by_line = json.loads(out.read_text())["served"]
    asked = {"horizon": 1, "paths": 200, "seed": 3}
    answer = world["http"].post("/v1/risk", json={"bars_csv": file.read_text(), "symbol": "RSK", **asked})
    assert answer.status_code == 200, answer.text
    by_mcp = world["mcp"]({"file": str(file), **asked})["served"]
    fc = Desk().forecast(ForecastRequest(gated, "garch",
                                         SETTINGS)).forecast  # the app's fan: any model; the panel serves the champion
    by_app = app_risk.served(fc, gated, RISK).to_dict()
    for face in (by_line, answer.json()["served"], by_mcp, by_app):
        assert face["model"] == direct["model"] and face["why"] == direct["why"]
        for a, b in zip(face["var_es"], direct["var_es"]):
            assert a["position"] == b["position"] and math.isclose(a["var"], b["var"], rel_tol=1e-9)
            assert math.isclose(a["es"], b["es"], rel_tol=1e-9)
    # the Screener's columns: the same model and numbers for the series
    rows = pd.DataFrame({"series": ["RSK"], "status": ["ok"], "history_end": [gated.frame["timestamp"].iloc[-1]]})
    run = screener.RunSettings("garch", "GARCH", "garch", 512, SETTINGS, RISK)
    got = screener.with_served(rows, [Entry(series="RSK", file=str(file))], run).iloc[0]
    assert got["risk_model"].startswith("EWMA-normal") and "recalibrated" in got["risk_model"]
    assert math.isclose(got["served_var_long_99"], direct["var_es"][1]["var"], rel_tol=1e-9)
    # the backtest of a request without a model is the serving model's, named as such, on every face
    bt = backtest_body(Desk().risk_backtest(RiskBacktestRequest(gated, None, SETTINGS, RiskSettings(levels=(0.95,)),
                                                                RiskBacktestPlan(cutoffs=25, baselines=False))))
    assert bt["served_key"] == bt["model_key"] == "ewma_normal+recal" and "risk champion since" in bt["served_why"]
    assert list(bt["summary"]["long_0.95"]) == ["ewma_normal", "ewma_normal+recal"]
    answer = world["http"].post("/v1/risk", json={"bars_csv": file.read_text(), "symbol": "RSK", "horizon": 1,
                                                  "levels": [0.95], "backtest": True, "cutoffs": 25,
                                                  "baselines": False})
    assert answer.status_code == 200, answer.text
    assert answer.json()["served_key"] == "ewma_normal+recal"
    assert answer.json()["summary"]["long_0.95"]["ewma_normal+recal"]["exceptions"] == \
        bt["summary"]["long_0.95"]["ewma_normal+recal"]["exceptions"]


def test_any_model_can_still_be_asked_for_and_is_read_as_before(world):
    gated = world["gated"]
    asked = Desk().risk(RiskRequest(gated, "garch", SETTINGS, RISK))
    assert asked.served is None and risk_body(asked)["served"] is None
    assert asked.forecast.provenance["model"] == "garch"


def test_a_series_without_a_champion_is_served_by_the_default_and_says_so(tmp_path):
    bars, _ = quality_gate(read_bars_of(tmp_path, "DEF", seed=4), [])
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        done = Desk().risk(RiskRequest(bars, None, SETTINGS, RISK), ledger=ledger)
    assert done.served.model == DEFAULT_RISK_MODEL and not done.served.champion
    assert done.served.why.startswith("the default risk model")
    assert done.forecast.provenance["model"] == DEFAULT_RISK_MODEL.model  # the paths beside it are that model's
    if DEFAULT_RISK_MODEL.recalibration is not None:
        assert any("has learnt from no outcome" in n.problem for n in done.notices)


def read_bars_of(tmp_path, name: str, seed: int, n: int = 700, frame: pd.DataFrame | None = None):
    file = tmp_path / f"{name}.csv"
    (random_bars(n, seed=seed, freq="1d", start="2020-01-02") if frame is None else frame).to_csv(file, index=False)
    return read_bars(str(file))


def test_the_recalibration_learns_outcomes_as_bars_arrive_and_never_one_after_the_bars_end(tmp_path):
    """A reading waits for its outcome; the next reading, with the bar after it, learns it (the level moves, the
    state says through which bar); a reading of older bars than the state has learnt from reads without it."""
    full, _ = quality_gate(read_bars_of(tmp_path, "LRN", seed=6), [])
    frame = full.frame

    def upto(n):
        import dataclasses

        return dataclasses.replace(full, frame=frame.iloc[:n].reset_index(drop=True))

    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        promote_by_hand(ledger, full, RiskModel("ewma_normal", Recalibration()))
        desk = Desk()
        first = desk.served_risk(RiskRequest(upto(650), None, SETTINGS, RISK), ledger=ledger)[0]
        assert first.learnt["outcomes"] == 0 and first.learnt["waiting"] == 1
        second = desk.served_risk(RiskRequest(upto(651), None, SETTINGS, RISK), ledger=ledger)[0]
        assert second.learnt["outcomes"] == 1 and second.learnt["waiting"] == 1
        assert pd.Timestamp(second.learnt["through"]) == pd.Timestamp(frame["timestamp"].iloc[650]).tz_convert("UTC")
        loss = 1 - frame["close"].iloc[650] / frame["close"].iloc[649]
        hit = loss > first.get("long", 0.95)["var"]
        assert second.learnt["exceptions"].get("long_0.95", 0) == int(hit)
        moved = second.learnt["tail_probability"]["long_0.95"]
        assert (moved < 0.05) if hit else (moved > 0.05)
        older = desk.served_risk(RiskRequest(upto(600), None, SETTINGS, RISK), ledger=ledger)
        assert older[0].learnt["outcomes"] == 0  # read from nothing learnt: the state knows later outcomes
        assert any("after these bars' last bar" in n.problem for n in older[0].notices)
        again = desk.served_risk(RiskRequest(upto(651), None, SETTINGS, RISK), ledger=ledger)[0]
        assert again.learnt["outcomes"] == 1  # the older reading left the state as it was


@pytest.mark.slow
def test_a_challenger_is_promoted_only_through_the_gate_and_its_lineage_is_kept(tmp_path):
    """A series whose volatility falls to a third: historical simulation (its 250-bar window, still holding the loud
    months, reads its VaR far too wide) set as the champion by hand; the
    choice backtests the standard models, and the best by FZ0 replaces it only because the interval of its FZ0
    difference lies below 0; the entry names its parent, the learnt states are kept, and the next reading is served
    by it, from those states."""
    rng = np.random.default_rng(7)
    n = 900
    sigma = np.where(np.arange(n) < 700, 0.025, 0.008)
    close = 100 * np.exp(np.cumsum(sigma * rng.standard_t(6, n) / math.sqrt(1.5)))
    open_ = np.r_[100.0, close[:-1]]
    frame = pd.DataFrame({"timestamp": pd.date_range("2015-01-02", periods=n, freq="B"), "open": open_,
                          "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
                          "close": close, "volume": rng.lognormal(10, 0.2, n)})
    bars, _ = quality_gate(read_bars_of(tmp_path, "JMP", seed=0, frame=frame), [])
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}") as ledger:
        old = promote_by_hand(ledger, bars, RiskModel("historical_simulation"))
        done = Desk().risk_champion(RiskChampionRequest(bars, SETTINGS, RISK, cutoffs=60, warmup=60,
                                                        sampled=()), ledger=ledger)
        d = done.decision
        assert d.champion == "historical_simulation" and d.challenger != d.champion
        assert d.decision == "promoted", d.reason
        lo, hi = d.scores["diff_ci95"]
        assert hi < 0 and d.scores["fz0"][d.challenger] < d.scores["fz0"]["historical_simulation"]
        assert "FZ0 difference" in d.reason and "excludes 0" in d.reason
        entry = Registry(ledger).champion(SeriesKey.of(bars), RISK_CHAMPION)
        assert entry.id == done.entry.id and entry.base_model == d.challenger and entry.parent_id == old.id
        assert Registry(ledger).get(old.id).status == "retired"
        served = Desk().risk(RiskRequest(bars, None, SETTINGS, RISK), ledger=ledger).served
        assert served.model.label == d.challenger and served.why.startswith("risk champion since")
        if served.model.recalibration is not None:  # its state was learnt on the choice's cut-offs
            assert served.learnt["outcomes"] >= 60
        # the next choice is set against the new champion (a short one: whom it is set against is the point)
        again = Desk().risk_champion(RiskChampionRequest(bars, SETTINGS, RISK, cutoffs=20, warmup=60,
                                                         sampled=()), ledger=ledger)
        assert again.decision.champion == d.challenger
