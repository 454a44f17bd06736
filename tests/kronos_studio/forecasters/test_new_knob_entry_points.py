"""Issue 46: a sampling knob is a field of ``ForecastSettings`` with its ``Knob`` and nothing else. A fresh
process whose ``ForecastSettings`` has one more knob (as if the class had been edited) offers it as a
command-line option, a sidebar control and an HTTP request field, and each hands it to the settings."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Both scripts' app, run as tests/app/conftest.py's pages_directory_fix runs it (a function: nothing is
# imported until the script calls it, after its knob is added).
APP_RUN = textwrap.dedent('''
    def app_run(app_file):
        from streamlit.runtime.pages_manager import PagesManager
        from streamlit.testing.v1 import AppTest, app_test

        class NavigationPagesManager(PagesManager):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                PagesManager.uses_pages_directory = False

        app_test.PagesManager = NavigationPagesManager
        return AppTest.from_file(app_file, default_timeout=120).run()
''')

# Runs in a fresh interpreter: the knob is added before anything but kronos.settings is imported, which is
# what an edit of the class is to every module that reads it.
SCRIPT = APP_RUN + textwrap.dedent('''
    import dataclasses
    import sys

    import kronos.settings as ks

    @dataclasses.dataclass(frozen=True)
    class ForecastSettings(ks.ForecastSettings):
        toy_knob: float = ks.knob(0.25, label="Toy knob", low=0.0, high=1.0, step=0.05, help="a test's knob")

    ks.ForecastSettings = ForecastSettings

    # the command line: an option with the knob's default, its value in the settings
    from kronos_studio.cli.common import sampling_settings
    from kronos_studio.cli.main import build_parser

    args = build_parser().parse_args(["forecast", "x.csv", "--out", "o.csv", "--horizon", "3", "--toy-knob", "0.5"])
    assert sampling_settings(args).toy_knob == 0.5, "cli"
    assert build_parser().parse_args(["forecast", "x.csv", "--out", "o.csv", "--horizon", "3"]).toy_knob == 0.25

    # the HTTP API: a request field, in the settings a request asks for and named as a field by errors
    from kronos_studio.service.errors import request_fields
    from kronos_studio.service.schemas import ForecastRequest, forecast_settings

    request = ForecastRequest(bars_csv="x", horizon=3, toy_knob=0.75)
    assert forecast_settings(request).toy_knob == 0.75, "http"
    assert "toy_knob" in request_fields()

    # the sidebar: a slider labelled from the Knob, its value in the page's settings
    at = app_run(sys.argv[1])
    assert not at.exception, at.exception
    slider = at.sidebar.slider(key="sb_toy_knob")
    assert slider.label == "Toy knob" and slider.value == 0.25, "sidebar"
    slider.set_value(0.4).run()
    assert at.session_state["studio_inputs"].settings().toy_knob == 0.4, "sidebar settings"
    print("all three entry points")
''')


def fresh_process_env(tiny, tmp_path) -> dict:
    """The environment of the fresh process each test runs its script in: this checkout and the test helpers
    first on the path, the tiny model listed, a cache and ledger of its own, the Hub offline."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
            "KRONOS_STUDIO_MODELS": str(tiny.folder), "KRONOS_STUDIO_CACHE": str(tmp_path / "cache"),
            "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "KRONOS_DEVICE": "cpu",
            "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf")}


def test_a_knob_with_its_metadata_reaches_every_entry_point_with_no_other_edit(tiny, tmp_path):
    env = fresh_process_env(tiny, tmp_path)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "app.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "all three entry points" in done.stdout


# Issue 52: the same for a use case's options, the retrain's. A fresh process whose ``RetrainSettings`` has one more
# field with its Knob offers it as an option of `kronos retrain`, a field of POST /v1/retrain (in the OpenAPI
# schema) and a widget of the Fine-tune page's "Retrain settings", and each face hands its value to the Retrainer
# (here one that records the settings it is given and refuses, so that nothing is trained); each face's errors
# name it as that face offers it.
RETRAIN_SCRIPT = APP_RUN + textwrap.dedent('''
    import dataclasses
    import sys

    import kronos_studio.training.retrain as kr
    import kronos_studio.training.retrain_settings as home
    from kronos.settings import knob

    @dataclasses.dataclass(frozen=True)
    class RetrainSettings(home.RetrainSettings):
        toy_option: int = knob(7, label="Toy option", low=1, high=50, help="a test's retrain option")

    home.RetrainSettings = kr.RetrainSettings = RetrainSettings  # as if written in its home
    seen = []

    class Retrainer(kr.Retrainer):
        def __init__(self, pair, bars, ledger, settings, **kwargs):
            seen.append(settings)
            raise kr.RetrainError("stopped by the test")

    kr.Retrainer = Retrainer

    from testkit import random_bars

    bars_csv = random_bars(600, seed=1, freq="1h").to_csv(index=False)
    with open("TOY.csv", "w") as f:
        f.write(bars_csv)

    # the command line: an option with the knob's default, its value handed to the Retrainer
    from kronos_studio.cli.main import build_parser, main

    assert build_parser().parse_args(["retrain", "TOY.csv", "--horizon", "4"]).toy_option == 7
    assert main(["retrain", "TOY.csv", "--horizon", "4", "--toy-option", "12", "--include-training-period"]) == 2
    assert seen[-1].toy_option == 12 and seen[-1].horizon == 4, ("cli", seen)
    from kronos_studio.cli.errors import flag

    assert flag("toy_option", 3) == "--toy-option 3"  # and a fix naming it is worded with its option

    # the HTTP API: a field of POST /v1/retrain in the OpenAPI schema, its value handed to the Retrainer
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import create_app
    from kronos_studio.service.app import ServiceConfig
    from kronos_studio.service.errors import request_fields
    from kronos_studio.service.keys import create_key

    app = create_app(ServiceConfig(ledger_url=sys.argv[2], jobs_dir="jobs", models_dirs=(sys.argv[3],)))
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["RetrainRequest"]["properties"]
        assert schema["toy_option"]["default"] == 7 and "Toy option" in schema["toy_option"]["description"], schema
        assert "toy_option" in request_fields()
        token = create_key(app.state.service.ledger, "toy")[1]
        answer = client.post("/v1/retrain", headers={"Authorization": f"Bearer {token}"},
                             json={"bars_csv": bars_csv, "symbol": "TOY", "horizon": 4, "toy_option": 13})
        assert answer.status_code == 422 and "stopped by the test" in answer.text, answer.text
    assert seen[-1].toy_option == 13, ("http", seen)

    # MCP: an argument of the retrain tool, its value handed to the Retrainer
    import anyio
    from mcp import Client

    from kronos_studio.service.mcp_server import create_server

    async def mcp_retrain():
        async with Client(create_server(["."], ledger_url=sys.argv[2])) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            made = await client.call_tool("retrain", {"file": "TOY.csv", "horizon": 4, "toy_option": 9,
                                                      "include_training_period": True})
            return tools["retrain"].input_schema, made

    schema, made = anyio.run(mcp_retrain)
    assert schema["properties"]["toy_option"]["default"] == 7, schema
    assert made.is_error and "stopped by the test" in made.content[0].text, made.content
    assert seen[-1].toy_option == 9, ("mcp", seen)

    # the app: a number box in the Fine-tune page's Retrain settings, labelled from the Knob, its value handed on
    at = app_run(sys.argv[1])
    at.switch_page("pages/fine_tune.py").run()
    assert not at.exception, at.exception
    box = at.number_input(key="ft_retrain_toy_option")
    assert box.label == "Toy option" and box.value == 7, "app"
    box.set_value(14).run()
    at.button(key="ft_retrain").click().run()
    assert not at.exception, at.exception
    assert "stopped by the test" in " ".join(e.value for e in at.error), [e.value for e in at.error]
    assert seen[-1].toy_option == 14, ("app", seen)
    from app_support.errors import control

    assert control("toy_option") == "*Toy option*"  # and a fix naming it names its widget
    print("all four faces")
''')


def test_a_retrain_option_with_its_knob_reaches_every_face_and_the_retrainer_with_no_other_edit(tiny, tmp_path):
    env = fresh_process_env(tiny, tmp_path)
    done = subprocess.run([sys.executable, "-c", RETRAIN_SCRIPT, str(ROOT / "app.py"),
                           f"sqlite:///{tmp_path / 'service.sqlite'}", str(tiny.folder)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "all four faces" in done.stdout


# Issue 64: the same for the rank plan (``RankPlan``, rank evaluation's options). A fresh process whose ``RankPlan``
# has one more field with its Knob offers it as an option of `kronos batch --evaluate`, a field of POST /v1/batch's
# ``evaluate`` (in the OpenAPI schema) and a widget of the Screener's "Does the ranking work?", and each face hands
# its value to the cross-sectional walk-forward (here one that records the plan it is given and refuses, so that
# nothing is forecast). The MCP server offers no rank evaluation (its tools: forecast, evaluate, risk, screen,
# retrain, track_record), so there is no fourth face to reach.
RANK_SCRIPT = APP_RUN + textwrap.dedent('''
    import dataclasses
    import sys
    import time
    from pathlib import Path

    import kronos_studio.batch.rank_plan as home
    from kronos.settings import knob

    @dataclasses.dataclass(frozen=True)
    class RankPlan(home.RankPlan):
        toy_option: int = knob(7, label="Toy option", low=1, high=50, help="a test's rank option")

    home.RankPlan = RankPlan  # as if written in its home
    seen = []

    import kronos_studio.batch.rank_run as rank_run
    from kronos_studio.evaluation.rank_skill import RankSkillError

    def cross_section(forecaster, series, settings, plan, progress=None):
        seen.append(plan)
        raise RankSkillError("stopped by the test")

    rank_run.cross_section = cross_section

    from testkit import random_bars

    Path("watch").mkdir()
    texts = {}
    for i in range(3):
        texts[f"S{i}"] = random_bars(160, seed=i, freq="1h", start="2026-03-02").to_csv(index=False)
        Path("watch", f"S{i}.csv").write_text(texts[f"S{i}"])

    # the command line: an option with the knob's default, its value handed to the walk-forward
    from kronos_studio.cli.main import build_parser, main

    assert build_parser().parse_args(["batch", "watch", "--evaluate", "--horizon", "3"]).toy_option == 7
    assert main(["batch", "watch", "--evaluate", "--horizon", "3", "--lookback", "48", "--toy-option", "12",
                 "--quiet"]) == 2
    assert seen[-1].toy_option == 12 and seen[-1].costs_bps == 5.0, ("cli", seen)
    from kronos_studio.cli.errors import flag

    assert flag("toy_option", 3) == "--toy-option 3"  # and a fix naming it is worded with its option

    # the HTTP API: a field of POST /v1/batch's evaluate in the OpenAPI schema, its value handed to the walk-forward
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.errors import request_fields
    from kronos_studio.service.keys import create_key

    app = create_app(ServiceConfig(ledger_url=sys.argv[2], jobs_dir="jobs", models_dirs=(sys.argv[3],)))
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["BatchEvaluate"]["properties"]
        assert schema["toy_option"]["default"] == 7 and "Toy option" in schema["toy_option"]["description"], schema
        assert "toy_option" in request_fields()
        headers = {"Authorization": f"Bearer {create_key(app.state.service.ledger, 'toy')[1]}"}
        series = [{"name": name, "bars_csv": text} for name, text in texts.items()]
        answer = client.post("/v1/batch", headers=headers, json={"series": series, "horizon": 3, "lookback": 48,
                                                                  "evaluate": {"toy_option": 13}})
        assert answer.status_code == 202, answer.text
        job = answer.json()["id"]
        while (status := client.get(f"/v1/jobs/{job}", headers=headers).json())["status"] in ("queued", "running"):
            time.sleep(0.1)
        assert status["status"] == "failed" and "stopped by the test" in status["error"], status
    assert seen[-1].toy_option == 13, ("http", seen)

    # the app: a number box in the Screener's "Does the ranking work?", labelled from the Knob, its value handed on
    at = app_run(sys.argv[1])
    at.switch_page("pages/screener.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="scr_samples").set_value([s for s in at.multiselect(key="scr_samples").options
                                                 if "daily" in s][:3]).run()
    box = at.number_input(key="rk_toy_option")
    assert box.label == "Toy option" and box.value == 7, "app"
    box.set_value(14).run()
    at.button(key="rk_run").click().run()
    assert not at.exception, at.exception
    assert "stopped by the test" in " ".join(e.value for e in at.error), [e.value for e in at.error]
    assert seen[-1].toy_option == 14, ("app", seen)
    print("all three faces that offer it")
''')


def test_a_rank_plan_option_with_its_knob_reaches_every_face_and_the_walk_forward_with_no_other_edit(tiny, tmp_path):
    env = fresh_process_env(tiny, tmp_path)
    done = subprocess.run([sys.executable, "-c", RANK_SCRIPT, str(ROOT / "app.py"),
                           f"sqlite:///{tmp_path / 'service.sqlite'}", str(tiny.folder)],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "all three faces that offer it" in done.stdout


# Issue 64, wave 2: the same for the risk backtest's plan (``RiskBacktestPlan``). A fresh process whose plan has one
# more field with its Knob offers it as an option of `kronos risk --backtest`, a field of POST /v1/risk (in the
# OpenAPI schema), a parameter of the MCP ``risk`` tool and a widget of the Evaluate page's Risk backtest, and each
# face hands its value to the desk's risk backtest (here one that records the request it is given and refuses, so
# that nothing is backtested).
RISK_SCRIPT = APP_RUN + textwrap.dedent('''
    import dataclasses
    import json
    import sys
    from pathlib import Path

    import kronos_studio.desk.risk as home
    from kronos.errors import InputError
    from kronos.settings import knob

    @dataclasses.dataclass(frozen=True)
    class RiskBacktestPlan(home.RiskBacktestPlan):
        toy_option: int = knob(7, label="Toy option", low=1, high=50, help="a test's risk backtest option")

    home.RiskBacktestPlan = RiskBacktestPlan  # as if written in its home
    seen = []

    def risk_backtest(desk, request, **callbacks):
        seen.append(request.plan)
        raise InputError("stopped by the test")

    home.risk_backtest = risk_backtest

    from testkit import random_bars

    random_bars(300, seed=4, freq="1d").to_csv("bars.csv", index=False)

    # the command line: an option with the knob's default, its value handed to the backtest
    from kronos_studio.cli.main import build_parser, main

    assert build_parser().parse_args(["risk", "bars.csv", "--horizon", "1", "--backtest"]).toy_option == 7
    assert main(["risk", "bars.csv", "--model", "garch", "--horizon", "1", "--backtest", "--toy-option", "12"]) != 0
    assert seen[-1].toy_option == 12 and seen[-1].cutoffs == 250, ("cli", seen)
    from kronos_studio.cli.errors import flag

    assert flag("toy_option", 3) == "--toy-option 3"  # and a fix naming it is worded with its option

    # the HTTP API: a field of POST /v1/risk in the OpenAPI schema, its value handed to the backtest
    from fastapi.testclient import TestClient

    from kronos_studio.service.app import ServiceConfig, create_app
    from kronos_studio.service.errors import request_fields

    app = create_app(ServiceConfig(ledger_url=sys.argv[2], open_access=True))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["RiskRequest"]["properties"]
        assert schema["toy_option"]["default"] == 7 and "Toy option" in schema["toy_option"]["description"], schema
        assert "toy_option" in request_fields()
        answer = client.post("/v1/risk", json={"bars_csv": Path("bars.csv").read_text(), "model": "garch",
                                               "horizon": 1, "backtest": True, "toy_option": 13})
        assert 400 <= answer.status_code < 500 and "stopped by the test" in answer.text, answer.text
    assert seen[-1].toy_option == 13, ("http", seen)

    # MCP: a parameter of the risk tool, its value handed to the backtest
    import anyio
    from mcp import Client

    from kronos_studio.service.mcp_server import create_server

    server = create_server([str(Path.cwd())], ledger_url=sys.argv[3])

    async def call():
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert tools["risk"].input_schema["properties"]["toy_option"]["default"] == 7
            return await client.call_tool("risk", {"file": str(Path("bars.csv").resolve()), "model": "garch",
                                                   "horizon": 1, "backtest": True, "toy_option": 15})

    done = anyio.run(call)
    assert done.is_error and "stopped by the test" in done.content[0].text, done.content[0].text
    assert seen[-1].toy_option == 15, ("mcp", seen)

    # the app: a number box in the Evaluate page's Risk backtest, labelled from the Knob, its value handed on
    at = app_run(sys.argv[1])
    at.sidebar.number_input(key="sb_horizon").set_value(1).run()
    at.switch_page("pages/evaluate.py").run()
    assert not at.exception, at.exception
    box = at.number_input(key="rb_toy_option")
    assert box.label == "Toy option" and box.value == 7, "app"
    box.set_value(14).run()
    at.button(key="rb_run").click().run()
    assert not at.exception, at.exception
    assert "stopped by the test" in " ".join(e.value for e in at.error), [e.value for e in at.error]
    assert seen[-1].toy_option == 14 and seen[-1].cutoffs == 250, ("app", seen)
    print("all four faces")
''')


def test_a_risk_backtest_plan_option_with_its_knob_reaches_every_face_and_the_backtest_with_no_other_edit(tiny,
                                                                                                          tmp_path):
    env = fresh_process_env(tiny, tmp_path)
    done = subprocess.run([sys.executable, "-c", RISK_SCRIPT, str(ROOT / "app.py"),
                           f"sqlite:///{tmp_path / 'service.sqlite'}", f"sqlite:///{tmp_path / 'mcp.sqlite'}"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "all four faces" in done.stdout
