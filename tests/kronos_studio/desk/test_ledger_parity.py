"""The ledger's use cases (issue 64), every face, the same numbers: recording a forecast, scoring newer bars, the
track record, its forecasts and steps, drift, and the adapter registry with its moves, each asked of the desk
directly, of the command line (``main(argv)`` in this process), of the HTTP service (FastAPI's test client), of the
MCP server where it offers the use case (the ``track_record`` tool) and of the app (its translation functions, and
the Track record page run by AppTest), on ledgers built alike; a refusal is the same problem on each face. And every
filter of the ledger's requests is an option, a query parameter and a tool argument with no face typing it."""
from __future__ import annotations

import dataclasses
import json
import sys

import anyio
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from testkit import ROOT, random_bars

from data_sources.requests import BarsRequest
from kronos.settings import ForecastSettings, knobs
from kronos_studio.cli.main import main
from kronos_studio.desk import (
    AdaptersRequest,
    Desk,
    DriftRequest,
    EntryRequest,
    LedgerQuery,
    RecordRequest,
    ScoreRequest,
    StepsRequest,
    TrackRecordRequest,
)
from kronos_studio.desk.ledger import open_ledger
from kronos_studio.service.app import ServiceConfig, create_app
from kronos_studio.service.mcp_server import create_server

sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
from ledger_helpers import CHANGE, HORIZON, calm_forecast, cut, forecast, regime_series  # noqa: E402

from kronos_studio.desk import ForecastRequest

ORIGINS = range(CHANGE - HORIZON, 400 - HORIZON, 2)  # the calm model's forecasts, a bar apart of two
EARLIER = range(300, 390, 6)  # another model's
SCORE_AT = 400


def populate(url: str, scored: bool = True) -> None:
    """A ledger of the regime series' forecasts: the calm model's (drifting once the regime changes), another
    model's, and one experiment (temperature 2.0); scored on the bars up to ``SCORE_AT`` when ``scored``."""
    bars = regime_series()
    with open_ledger(url) as ledger:
        for at in ORIGINS:
            ledger.record(calm_forecast(bars, at), cut(bars, at))
        for at in EARLIER:
            ledger.record(forecast(bars, at, horizon=HORIZON, seed=at, model="earlier"), cut(bars, at))
        experiment = forecast(bars, 350, horizon=HORIZON, seed=7, model="calm")
        experiment.settings = dataclasses.replace(experiment.settings, temperature=2.0)
        ledger.record(experiment, cut(bars, 350))
        if scored:
            ledger.score(cut(bars, SCORE_AT))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(a scored ledger's URL, the HTTP client on it, the MCP server on it, the bars file up to ``SCORE_AT``)."""
    root = tmp_path_factory.mktemp("ledger-parity")
    url = f"sqlite:///{root / 'ledger.sqlite'}"
    populate(url)
    file = root / "REGIME.csv"
    cut(regime_series(), SCORE_AT).frame.to_csv(file, index=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_DB", url)
    mp.setenv("KRONOS_STUDIO_CACHE", str(root / "cache"))
    app = create_app(ServiceConfig(ledger_url=url, open_access=True, jobs_dir=str(root / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        yield {"url": url, "http": http, "mcp": create_server([root], ledger_url=url), "file": file, "root": root}
    mp.undo()


def desk_call(url: str, use_case: str, request, workspace: str | None = "default"):
    with open_ledger(url, workspace) as ledger:
        return getattr(Desk(), use_case)(request, ledger=ledger)


def mcp_call(server, tool: str, arguments: dict) -> tuple[bool, str]:
    from mcp import Client

    async def call():
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    done = anyio.run(call)
    return done.is_error, done.content[0].text


def answered(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def frame_of(records: list[dict], columns) -> pd.DataFrame:
    return pd.DataFrame(records)[list(columns)].reset_index(drop=True)


def same(got: pd.DataFrame, expected: pd.DataFrame, columns, face: str) -> None:
    """Two tables' ``columns`` equal, rows in the same order (numbers to float precision)."""
    assert len(got) == len(expected), face
    for c in columns:
        a, b = got[c].reset_index(drop=True), expected[c].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(b):
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-7, err_msg=f"{face} {c}")
        else:
            assert list(a) == list(b), f"{face} {c}"


# --- the track record, its forecasts, its steps ---------------------------------------------------------------

REALIZED = ["model", "forecasts", "scored", "steps", "coverage", "crps_pct", "direction_hit"]


@pytest.mark.parametrize("asked", [{}, {"models": ("calm",)}, {"include_experiments": True}],
                         ids=["every-model", "one-model", "experiments"])
def test_the_track_record_is_the_same_through_every_face(world, asked):
    request = TrackRecordRequest(symbol="REGIME", **asked)
    desk = desk_call(world["url"], "track_record", request)
    assert desk.experiments_left_out == (0 if asked.get("include_experiments") else 1)
    assert set(desk.models["model"]) == set(asked.get("models", ("calm", "earlier")))

    query = {"symbol": "REGIME", "exceptions": False, **({"model": list(asked["models"])} if "models" in asked else {}),
             **({"include_experiments": True} if "include_experiments" in asked else {})}
    http = answered(world["http"].get("/v1/ledger/track-record", params=query))
    failed, text = mcp_call(world["mcp"], "track_record", {**query, **({"model": list(asked["models"])}
                                                                       if "models" in asked else {})})
    assert not failed, text
    mcp = json.loads(text)
    for face, body in (("http", http), ("mcp", mcp)):
        assert body["experiments_left_out"] == desk.experiments_left_out, face
        same(frame_of(body["models"], REALIZED), desk.models, REALIZED, face)
        assert [s["symbol"] for s in body["series"]] == list(desk.series["symbol"]), face

    # the app: the realized track record under the badge and on the Evaluate page (its translation functions)
    from app_support import ledger as app_ledger

    bars = cut(regime_series(), SCORE_AT)
    for model in desk.models["model"]:
        realized = app_ledger.realized(bars, model)
        row = desk.models.set_index("model").loc[model] if not asked.get("include_experiments") else None
        if row is not None:
            assert realized["scored"] == row["scored"] and realized["crps_pct"] == pytest.approx(row["crps_pct"])


def test_the_track_record_page_shows_the_desks_numbers(world, monkeypatch):
    """The Track record page (AppTest) on the same ledger: its pooled summary, its table and its drift table are
    the desk's for the same request (the page's forecasts as made, at the default settings unless switched)."""
    at = app_test(monkeypatch, world)
    at.switch_page("pages/track_record.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.selectbox(key="tr_series").set_value(("file", "REGIME", "1h")).run()
    desk = desk_call(world["url"], "track_record", TrackRecordRequest(symbol="REGIME", source="file", interval="1h",
                                                                       member_rows=False))
    pooled = desk.pooled.iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Forecasts"] == f"{len(desk.predictions):,}"
    assert metrics["CRPS, % of price"] == f"{pooled['crps_pct']:.3f}"
    assert metrics["p10–p90 coverage"] == f"{pooled['coverage']:.0%}"
    assert list(at.dataframe[0].value["prediction_id"]) == list(desk.predictions["prediction_id"])
    drift = desk_call(world["url"], "drift", DriftRequest(source="file", symbol="REGIME", interval="1h",
                                                          models=tuple(desk.predictions["model"].unique())))
    shown = next(d.value for d in at.dataframe if "coverage_p_value" in d.value.columns).set_index("model")
    for d in drift.drifts:
        assert shown.loc[d.model, "scored"] == d.scored
        assert shown.loc[d.model, "coverage"] == pytest.approx(d.coverage, nan_ok=True)

    at.multiselect(key="tr_models").set_value(["earlier"]).run()  # a model chosen: the desk's request for it
    one = desk_call(world["url"], "track_record", TrackRecordRequest(symbol="REGIME", source="file", interval="1h",
                                                                      models=("earlier",), member_rows=False))
    assert {m.label: m.value for m in at.metric}["CRPS, % of price"] == f"{one.pooled.iloc[0]['crps_pct']:.3f}"


def app_test(monkeypatch, world):
    """The app (AppTest) on the world's ledger, its pages run through ``st.navigation`` as a live server does."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest, app_test

    class NavigationPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)
    monkeypatch.setenv("KRONOS_STUDIO_DB", world["url"])
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()


STEP_COLUMNS = ["step", "close_p10", "close_p50", "close_p90", "actual_close", "crps", "covered", "pit"]


def test_the_forecasts_and_their_steps_are_the_same_through_every_face(world, tmp_path, capsys):
    query = {"symbol": "REGIME", "models": ("earlier",)}
    predictions = desk_call(world["url"], "predictions", LedgerQuery(**query)).predictions
    steps = desk_call(world["url"], "steps", StepsRequest(**query, scored_only=True))
    assert len(predictions) == len(EARLIER) and steps.forecasts == len(EARLIER) and steps.scored == len(steps.steps)

    params = {"symbol": "REGIME", "model": ["earlier"]}
    http_predictions = answered(world["http"].get("/v1/ledger/predictions", params=params))["predictions"]
    same(frame_of(http_predictions, ["crps", "coverage", "scored_steps"]), predictions,
         ["crps", "coverage", "scored_steps"], "http predictions")
    http_steps = answered(world["http"].get("/v1/ledger/evaluations", params=params))["evaluations"]
    same(frame_of(http_steps, STEP_COLUMNS), steps.steps, STEP_COLUMNS, "http evaluations")

    out = tmp_path / "steps.parquet"
    assert main(["ledger", "export", "--out", str(out), "--symbol", "REGIME", "--model", "earlier",
                 "--scored-only"]) == 0
    assert f"({len(EARLIER)} forecasts, {steps.scored} steps scored)" in capsys.readouterr().err
    same(pd.read_parquet(out), steps.steps, STEP_COLUMNS, "cli export")


# --- drift ------------------------------------------------------------------------------------------------------

def test_drift_is_the_same_through_every_face(world, tmp_path, capsys):
    request = DriftRequest(symbol="REGIME", last=25)
    desk = [d.to_dict() for d in desk_call(world["url"], "drift", request, workspace=None).drifts]
    assert {d["model"] for d in desk} == {"calm", "earlier"} and any(d["state"] == "drifting" for d in desk)

    out = tmp_path / "drift.json"
    assert main(["ledger", "drift", "--symbol", "REGIME", "--last", "25", "--json", str(out)]) == 0
    capsys.readouterr()
    http = answered(world["http"].get("/v1/ledger/drift", params={"symbol": "REGIME", "last": 25}))
    assert http["last"] == 25
    from app_support.drift import series_drift

    with open_ledger(world["url"], "default") as book:
        app = [d.to_dict() for d in series_drift(book, ("file", "REGIME", "1h"), ("calm", "earlier")).drifts]
    for face, got in (("cli", json.loads(out.read_text())), ("http", http["drift"])):
        assert got == desk, face
    # the app judges the newest DRIFT_LAST (its page offers no window): the desk's, asked the same
    expected = desk_call(world["url"], "drift", DriftRequest(source="file", symbol="REGIME", interval="1h",
                                                             models=("calm", "earlier"))).drifts
    assert app == [d.to_dict() for d in expected]


# --- scoring newer bars -----------------------------------------------------------------------------------------

def scored_steps(url: str) -> pd.DataFrame:
    with open_ledger(url) as ledger:
        table = ledger.steps_frame(scored_only=True)
    return table.sort_values(["prediction_id", "step"]).reset_index(drop=True)


def test_scoring_newer_bars_is_the_same_through_every_face(world, tmp_path, monkeypatch, capsys):
    """The same unscored ledger, one copy per face, scored with the same newer bars: the same report and the same
    scores (each face reads the bars through the quality gate)."""
    file = world["file"]
    urls = {face: f"sqlite:///{tmp_path / face}.sqlite" for face in ("desk", "cli", "http", "app")}
    for url in urls.values():
        populate(url, scored=False)

    done = desk_call(urls["desk"], "score", ScoreRequest(BarsRequest(file=str(file))))
    [desk] = done.series
    assert desk.steps > 0 and desk.predictions == len(ORIGINS) + len(EARLIER) + 1

    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["cli"])
    assert main(["ledger", "score", str(file)]) == 0
    assert (f"REGIME.csv (REGIME 1h): scored {desk.steps:,} steps of {desk.predictions} forecasts "
            f"({desk.completed} now scored on every step)") in capsys.readouterr().err

    app = create_app(ServiceConfig(ledger_url=urls["http"], open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        body = answered(http.post("/v1/ledger/score", json={"bars_csv": file.read_text(), "symbol": "REGIME"}))
    assert (body["predictions"], body["steps"], body["completed"]) == (desk.predictions, desk.steps, desk.completed)

    from app_support import ledger as app_ledger
    from kronos_studio.bars_input import quality_gate, read_bars

    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["app"])
    app_ledger.score(quality_gate(read_bars(file))[0])  # as a page loads the bars

    expected = scored_steps(urls["desk"])
    for face in ("cli", "http", "app"):
        same(scored_steps(urls[face]), expected, ["prediction_id", *STEP_COLUMNS], face)


# --- recording a forecast ---------------------------------------------------------------------------------------

SETTINGS = {"horizon": 3, "paths": 8, "seed": 11}
EARLY = 160


def recorded(url: str) -> pd.DataFrame:
    with open_ledger(url) as ledger:
        table = ledger.steps_frame()
    return table.sort_values(["prediction_id", "step"]).reset_index(drop=True)  # the early forecast first


@pytest.mark.slow
def test_recording_is_the_same_through_every_face(tmp_path, monkeypatch, capsys):
    """Each face forecasts a series' early bars, then its newer bars, with the bundled model, into a ledger of its
    own: the same two forecasts kept under the series' name, and the second's bars scored the first the same way
    before it was kept (``Desk.record``)."""
    from kronos_studio.bars_input import quality_gate, read_bars

    frame = random_bars(200, seed=8, freq="1h", start="2026-03-02")
    early, full = tmp_path / "early" / "PAR.csv", tmp_path / "full" / "PAR.csv"
    for path, rows in ((early, frame.head(EARLY)), (full, frame)):
        path.parent.mkdir()
        rows.to_csv(path, index=False)
    urls = {face: f"sqlite:///{tmp_path / face}.sqlite" for face in ("desk", "cli", "http", "mcp", "app")}
    settings = ForecastSettings(**SETTINGS)

    desk = Desk()
    with open_ledger(urls["desk"], "default") as ledger:
        lines = []
        for path in (early, full):
            made = desk.forecast(ForecastRequest(BarsRequest(file=str(path)), None, settings), ledger=ledger)
            lines.append(desk.record(RecordRequest(made.forecast, made.bars), ledger=ledger))
    assert [r.new for r in lines] == [True, True] and lines[1].scored_forecasts == 1
    assert lines[1].scored_steps == SETTINGS["horizon"] and lines[0].symbol == "PAR"

    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["cli"])
    for path in (early, full):
        assert main(["forecast", str(path), "--out", str(tmp_path / "q.csv"), "--quiet",
                     *[x for k, v in SETTINGS.items() for x in (f"--{k}", str(v))]]) == 0
    assert (f"; these bars scored {SETTINGS['horizon']} steps of 1 earlier forecast"
            in capsys.readouterr().err)

    app = create_app(ServiceConfig(ledger_url=urls["http"], open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        for path in (early, full):
            answered(http.post("/v1/forecast", json={"bars_csv": path.read_text(), "symbol": "PAR", **SETTINGS}))
    server = create_server([tmp_path], ledger_url=urls["mcp"])
    for path in (early, full):
        failed, text = mcp_call(server, "forecast", {"file": str(path), "symbol": "PAR", **SETTINGS})
        assert not failed, text

    from app_support import forecasts
    from app_support import ledger as app_ledger
    from kronos_studio.bundled import default_model_path
    from kronos_studio.catalog import catalog

    choice = next(c for c in catalog() if c.ref == str(default_model_path()))
    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["app"])
    for path in (early, full):
        bars, _ = quality_gate(read_bars(path))
        fc, _ = forecasts.run(bars, choice, settings)
        assert app_ledger.record(fc, bars) is not None

    expected = recorded(urls["desk"])
    assert set(expected["symbol"]) == {"PAR"} and expected["crps"].notna().sum() == SETTINGS["horizon"]
    for face in ("cli", "http", "mcp", "app"):
        same(recorded(urls[face]), expected, ["symbol", "model", *STEP_COLUMNS], face)


# --- the adapter registry and its moves -----------------------------------------------------------------------

def registry_of(url: str) -> None:
    """Two adapters of the regime series and one of another, the second the series' champion."""
    from datetime import datetime, timedelta, timezone

    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey

    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    with open_ledger(url, "default") as ledger:
        registry = Registry(ledger)
        for i, symbol in enumerate(("REGIME", "REGIME", "OTHER")):
            entry = registry.register(Candidate(SeriesKey("file", symbol, "1h"), "studio-tiny", "local:abc", t0,
                                                t0 + timedelta(hours=99 + i), 100 + i, f"w{i}", f"/adapters/w{i}",
                                                {"steps": 2}, "tests"))
            if i == 1:
                registry.promote(entry.id, {"crps": {"challenger": 1.0}}, "beat the base")


ENTRY = ["status", "symbol", "window_bars", "reason"]


def test_the_registry_and_its_moves_are_the_same_through_every_face(tmp_path, monkeypatch, capsys):
    urls = {face: f"sqlite:///{tmp_path / face}.sqlite" for face in ("desk", "cli", "http")}
    for url in urls.values():
        registry_of(url)
    desk = desk_call(urls["desk"], "adapters", AdaptersRequest(symbol="REGIME"))
    listed = pd.DataFrame([e.to_dict() for e in desk.entries])
    assert list(listed["status"]) == ["challenger", "champion"] and len(desk.events) == 3

    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["cli"])
    assert main(["adapters", "list", "--symbol", "REGIME", "--json"]) == 0
    same(pd.DataFrame(json.loads(capsys.readouterr().out)), listed, ENTRY, "cli list")
    app = create_app(ServiceConfig(ledger_url=urls["http"], open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        body = answered(http.get("/v1/adapters", params={"symbol": "REGIME"}))
        same(pd.DataFrame(body["adapters"]), listed, ENTRY, "http list")
        first = body["adapters"][0]["id"]  # the workspace's number of the first entry: 1
        shown = answered(http.get(f"/v1/adapters/{first}"))
        promoted = answered(http.post(f"/v1/adapters/{first}/promote"))
        rolled = answered(http.post(f"/v1/adapters/{first}/rollback"))

    from app_support.lineage import lineage

    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["desk"])
    app_rows = lineage(cut(regime_series(), SCORE_AT))  # newest first, as the Fine-tune page shows them
    assert list(app_rows["status"]) == list(listed["status"])[::-1]
    assert list(app_rows["reason"]) == list(listed["reason"])[::-1]

    entry = int(listed["id"].iloc[0])
    one = desk_call(urls["desk"], "adapter", EntryRequest(entry))
    assert [e["event"] for e in shown["events"]] == [e.event for e in one.events] == ["registered"]
    made = desk_call(urls["desk"], "promote", EntryRequest(entry))
    back = desk_call(urls["desk"], "rollback", EntryRequest(entry))
    monkeypatch.setenv("KRONOS_STUDIO_DB", urls["cli"])
    assert main(["adapters", "promote", str(entry)]) == 0
    assert main(["adapters", "rollback", str(entry)]) == 0
    said = capsys.readouterr().out
    assert f"adapter {made.entry.id} is the champion of {made.entry.series}" in said
    assert f"rolled back adapter {back.retired.id} of {back.retired.series}: adapter {back.restored.id} serves" in said
    assert promoted["promoted"]["status"] == made.entry.status == "champion" and promoted["bypassed_gate"]
    assert rolled["restored"]["status"] == back.restored.status == "champion"
    after = {face: [e.to_dict()["status"] for e in desk_call(url, "adapters", AdaptersRequest()).entries]
             for face, url in urls.items()}
    assert after["cli"] == after["http"] == after["desk"] == ["retired", "champion", "challenger"]


# --- a refusal is the same problem through every face ----------------------------------------------------------

def test_a_ledger_refusal_is_the_same_problem_through_every_face(world, tmp_path, monkeypatch, capsys):
    from kronos.errors import UserError

    cases = [  # (the desk's request, the CLI's argv, the HTTP GET, the MCP tool's arguments or None)
        (lambda: LedgerQuery(since="someday"), ["ledger", "export", "--out", str(tmp_path / "x.parquet"), "--since",
                                                 "someday"],
         ("/v1/ledger/predictions", {"since": "someday"}), {"since": "someday"}),
        (lambda: desk_call(world["url"], "drift", DriftRequest(last=5)), ["ledger", "drift", "--last", "5"],
         ("/v1/ledger/drift", {"last": 5}), None),
        (lambda: TrackRecordRequest(models=("calm", "calm")), ["ledger", "drift", "--model", "calm", "--model", "calm"],
         ("/v1/ledger/track-record", {"model": ["calm", "calm"]}), {"model": ["calm", "calm"]}),
        # the ledger's word for every replay's rows names no one replay: a view would mix them with the live ones
        (lambda: LedgerQuery(replay="*"), ["ledger", "exceptions", "--replay", "*"],
         ("/v1/ledger/predictions", {"replay": "*"}), {"replay": "*"}),
    ]
    for make, argv, (path, params), tool in cases:
        with pytest.raises(UserError) as refused:
            make()
        problem = refused.value.problem
        assert main(argv) == 2
        assert f"kronos: error: {problem}" in capsys.readouterr().err, argv
        answer = world["http"].get(path, params=params)
        assert answer.status_code == 422 and answer.json()["problem"] == problem, answer.text
        if tool is not None:
            failed, text = mcp_call(world["mcp"], "track_record", tool)
            assert failed and problem in text, text

    # a rollback of a series without a champion: the registry's refusal on each face that offers it
    registry_of(url := f"sqlite:///{tmp_path / 'moves.sqlite'}")
    [first] = [e.id for e in desk_call(url, "adapters", AdaptersRequest(symbol="OTHER")).entries]
    with pytest.raises(UserError) as refused:
        desk_call(url, "rollback", EntryRequest(first))
    monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    assert main(["adapters", "rollback", str(first)]) == 2
    assert refused.value.problem in capsys.readouterr().err
    app = create_app(ServiceConfig(ledger_url=url, open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        answer = http.post("/v1/adapters/3/rollback")
    assert answer.status_code == 409 and refused.value.problem in answer.json()["detail"]


# --- every filter reaches every face ---------------------------------------------------------------------------

SAMPLE = {"since": "2024-06-01", "last": "25", "model": "calm"}  # a value each option takes (others: any text)


@pytest.mark.parametrize("cls, argv, path", [
    (StepsRequest, ["ledger", "export", "--out", "x.parquet"], "/v1/ledger/evaluations"),
    (DriftRequest, ["ledger", "drift"], "/v1/ledger/drift"),
    (AdaptersRequest, ["adapters", "list"], "/v1/adapters"),
    (TrackRecordRequest, None, "/v1/ledger/track-record"),
], ids=lambda x: getattr(x, "__name__", None))
def test_every_filter_of_a_ledger_request_is_an_option_a_query_parameter_and_a_tool_argument(world, cls, argv, path):
    """Each knob of the request is drawn by each face from its one home: the command line's option (given, it
    reaches the request), the HTTP endpoint's query parameter (in the OpenAPI document), the MCP tool's argument."""
    from kronos.settings import knob_values
    from kronos_studio.cli.errors import FLAGS, knob_flag
    from kronos_studio.cli.main import build_parser

    settings = {knob.name(name): (name, default) for name, (default, knob) in knobs(cls).items()}
    assert cls is AdaptersRequest or "replay" in settings  # every view of forecasts reads one replay's rows or asks
    documented = {p["name"] for p in world["http"].get("/openapi.json").json()["paths"][path]["get"]["parameters"]}
    offered = set(settings) - ({"scored_only"} if path == "/v1/ledger/evaluations" else set())  # scored: by its path
    assert offered <= documented, offered - documented
    if argv is not None:
        parser = build_parser(argv[0])
        for setting, (name, default) in settings.items():
            flag = FLAGS.get(setting) or knob_flag(setting, default)
            given = [] if isinstance(default, bool) else [SAMPLE.get(setting, "x")]
            request = cls(**knob_values(parser.parse_args([*argv, flag, *given]), cls))
            value = getattr(request, name)
            assert value != default and (value is not None), (setting, value)
    if cls is TrackRecordRequest:
        from mcp import Client

        async def tools():
            async with Client(world["mcp"]) as client:
                return await client.list_tools()

        schema = next(t for t in anyio.run(tools).tools if t.name == "track_record").input_schema
        assert set(settings) <= set(schema["properties"])


# --- a replay's rows, read apart through every face -------------------------------------------------------------

REPLAY = "regime replay"


def test_a_replays_rows_are_read_apart_through_every_face(tmp_path, monkeypatch, capsys):
    """The calm model's forecasts kept under a replay's label (``kronos watch --replay-from``), another model's live:
    the ``replay`` knob reads the replay's alone on every face (track record, its exceptions, forecasts, drift, the
    export), unset the live ones; the export alone writes every row unset, each with its label."""
    url = f"sqlite:///{tmp_path / 'replay.sqlite'}"
    bars = regime_series()
    with open_ledger(url) as ledger:
        replayed = ledger.replaying(REPLAY)
        for at in EARLIER:
            ledger.record(forecast(bars, at, horizon=HORIZON, seed=at, model="earlier"), cut(bars, at))
        for at in ORIGINS:
            replayed.record(calm_forecast(bars, at), cut(bars, at))
        ledger.score(cut(bars, SCORE_AT))
        replayed.score(cut(bars, SCORE_AT))
    monkeypatch.setenv("KRONOS_STUDIO_DB", url)

    desk = desk_call(url, "track_record", TrackRecordRequest(symbol="REGIME", replay=REPLAY))
    live = desk_call(url, "track_record", TrackRecordRequest(symbol="REGIME"))
    assert list(desk.models["model"]) == ["calm"] and list(live.models["model"]) == ["earlier"]
    assert len(desk.predictions) == len(ORIGINS) and list(desk.series["predictions"]) == [len(ORIGINS)]
    drift = [d.to_dict() for d in desk_call(url, "drift", DriftRequest(symbol="REGIME", replay=REPLAY, last=25),
                                            workspace=None).drifts]
    assert [d["model"] for d in drift] == ["calm"]

    query = {"symbol": "REGIME", "replay": REPLAY}
    app = create_app(ServiceConfig(ledger_url=url, open_access=True, jobs_dir=str(tmp_path / "jobs")))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        body = answered(http.get("/v1/ledger/track-record", params=query))
        predictions = answered(http.get("/v1/ledger/predictions", params=query))["predictions"]
        http_drift = answered(http.get("/v1/ledger/drift", params={**query, "last": 25}))["drift"]
    same(frame_of(body["models"], REALIZED), desk.models, REALIZED, "http")
    assert {t["model"] for t in body["exceptions"]["tests"]} == {"calm"}
    assert len(body["exceptions"]["forecasts"]) > 0 and len(predictions) == len(ORIGINS)
    assert http_drift == drift
    failed, text = mcp_call(create_server([tmp_path], ledger_url=url), "track_record", {**query, "exceptions": False})
    assert not failed, text
    same(frame_of(json.loads(text)["models"], REALIZED), desk.models, REALIZED, "mcp")

    out = tmp_path / "drift.json"
    assert main(["ledger", "drift", "--symbol", "REGIME", "--replay", REPLAY, "--last", "25", "--json", str(out)]) == 0
    assert json.loads(out.read_text()) == drift
    for replay, models in ((REPLAY, {"calm"}), (None, {"earlier"})):
        assert main(["ledger", "exceptions", "--symbol", "REGIME", "--json", str(out),
                     *(["--replay", replay] if replay else [])]) == 0
        assert {t["model"] for t in json.loads(out.read_text())["tests"]} == models
    every, one = tmp_path / "every.parquet", tmp_path / "one.parquet"
    assert main(["ledger", "export", "--out", str(every)]) == 0
    assert main(["ledger", "export", "--out", str(one), "--replay", REPLAY]) == 0
    capsys.readouterr()
    exported = pd.read_parquet(every)
    assert exported.groupby("replay")["prediction_id"].nunique().to_dict() == {"": len(EARLIER), REPLAY: len(ORIGINS)}
    assert set(pd.read_parquet(one)["replay"]) == {REPLAY}
