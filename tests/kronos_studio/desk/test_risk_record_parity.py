"""The ledger's risk record (issue 55) through every face: ``Desk.risk_record`` itself, ``kronos ledger exceptions
--json`` (in process), the ``exceptions`` of ``GET /v1/ledger/track-record`` and of the MCP tool ``track_record``
give the same numbers for the same ledger; a bad level is the same refusal on each."""
from __future__ import annotations

import json
import sys

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from testkit import ROOT

from kronos.settings import ForecastSettings
from kronos_studio.cli import main as cli
from kronos_studio.desk import Desk
from kronos_studio.desk.risk_record import record_body
from kronos_studio.ledger import Ledger
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.service.app import ServiceConfig, create_app
from kronos_studio.service.mcp_server import create_server

sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
from ledger_helpers import cut  # noqa: E402

from kronos_studio.desk import ForecastRequest

NUMBERS = ("levels", "positions", "experiments_left_out", "tests", "forecasts")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    """A ledger holding the bundled Kronos model's forecasts of the bundled AAPL sample, a 2-bar horizon every
    bar (each overlaps the one before), scored on the bars that followed."""
    from data_sources import list_samples, load_sample

    bars = load_sample(next(s.name for s in list_samples() if s.name.startswith("AAPL daily 2000")))
    url = f"sqlite:///{tmp_path_factory.mktemp('risk-record') / 'ledger.sqlite'}"
    desk = Desk()
    with Ledger.open(url) as ledger:
        for at in range(300, 330):
            ledger.record(desk.forecast(ForecastRequest(cut(bars, at), None,
                                                        ForecastSettings(horizon=2, paths=30, seed=at))).forecast,
                          cut(bars, at))
        ledger.score(cut(bars, 340))
    return url


def mcp_call(url: str, arguments: dict):
    server = create_server([], ledger_url=url)

    async def call():
        async with Client(server) as client:
            return await client.call_tool("track_record", arguments)

    done = anyio.run(call)
    return done.is_error, done.content[0].text


def test_the_same_ledger_gives_the_same_exceptions_on_every_face(url, tmp_path, monkeypatch, capsys):
    risk = RiskSettings(levels=(0.8, 0.95), positions=("long",))
    with Ledger.open(url) as ledger:
        direct = Desk.risk_record(ledger, risk)
    desk = record_body(direct)
    assert desk["tests"][0]["scored"] == 30 and desk["tests"][0]["used"] == 15  # every other one overlaps

    monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    out = tmp_path / "exceptions.json"
    code = cli.main(["ledger", "exceptions", "--levels", "0.8", "--levels", "0.95", "--positions", "long",
                     "--json", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    by_line = json.loads(out.read_text())
    for row in desk["tests"]:
        assert (f"long {row['level']:g}: {row['exceptions']} exceptions in 15 forecasts (expected "
                f"{row['expected']:.2f})") in printed.out
        assert "15 left out for overlapping" in printed.out

    app = create_app(ServiceConfig(ledger_url=url, open_access=True))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        answer = http.get("/v1/ledger/track-record", params={"levels": [0.8, 0.95], "positions": ["long"]})
        without = http.get("/v1/ledger/track-record", params={"exceptions": False})
    assert answer.status_code == 200, answer.text
    # a client that polls the track record can leave out the exceptions (they read every scored forecast's paths)
    assert without.status_code == 200 and without.json()["exceptions"] is None
    assert without.json()["models"] == answer.json()["models"]
    failed, text = mcp_call(url, {"levels": [0.8, 0.95], "positions": ["long"]})
    assert not failed, text
    from kronos_studio.service.public_ids import forecast_ids

    with Ledger.open(url) as ledger:  # the service names forecasts by their public ids, the desk by the ledger's
        public = forecast_ids(ledger, [f["prediction_id"] for f in desk["forecasts"]])
    desk_public = {**desk, "forecasts": [{**f, "prediction_id": public[f["prediction_id"]]} for f in desk["forecasts"]]}
    for face, same in ((by_line, desk), (answer.json()["exceptions"], desk_public),
                       (json.loads(text)["exceptions"], desk_public)):
        assert {k: face[k] for k in NUMBERS} == {k: same[k] for k in NUMBERS}
    # 30 paths leave 1 or 2 beyond a 0.95 VaR: the same flag on every face, the fix naming paths its own way
    problem = next(n.problem for n in direct.notices if "0.95 ES rests on" in n.problem)
    assert f"{problem}: sample at least --paths 400" in printed.err
    assert f'{problem}: sample at least "paths": 400' in "\n".join(answer.json()["exceptions"]["warnings"])


def test_a_bad_level_is_the_same_refusal_on_every_face(url, monkeypatch, capsys):
    from kronos.errors import InputError

    with pytest.raises(InputError) as refused:
        RiskSettings(levels=(1.5,))
    problem = refused.value.problem
    monkeypatch.setenv("KRONOS_STUDIO_DB", url)
    assert cli.main(["ledger", "exceptions", "--levels", "1.5"]) == 2
    assert capsys.readouterr().err.startswith(f"kronos: error: {problem}: give each of --levels between 0.5 and 0.9999")
    app = create_app(ServiceConfig(ledger_url=url, open_access=True))
    with TestClient(app, base_url="http://127.0.0.1") as http:
        answer = http.get("/v1/ledger/track-record", params={"levels": [1.5]})
    assert answer.status_code == 422 and answer.json()["problem"] == problem
    failed, text = mcp_call(url, {"levels": [1.5]})
    assert failed and problem in text
