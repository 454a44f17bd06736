"""``kronos mcp`` through the SDK's own client: over stdio to the command in a subprocess, and in-process."""
from __future__ import annotations

import json
import os
import sys

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from testkit import random_bars

from kronos_studio.service.mcp_server import create_server

TOOLS = {"forecast", "evaluate", "screen", "retrain", "track_record"}


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mcp-bars")
    random_bars(120, seed=5, freq="1h").to_csv(folder / "aapl.csv", index=False)
    return folder


def result_json(result) -> dict:
    return json.loads(result.content[0].text)  # the tool's dict as JSON text


def test_the_mcp_command_lists_its_tools_and_forecasts_over_stdio(allowed, tiny_model, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
    params = StdioServerParameters(command=sys.executable, env=env,
                                   args=["-m", "kronos_studio.cli.main", "mcp", "--allow-dir", str(allowed),
                                         "--models-dir", tiny_model])

    async def session():
        async with Client(params, read_timeout_seconds=300) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            made = await client.call_tool("forecast", {"file": str(allowed / "aapl.csv"), "model": tiny_model,
                                                       "horizon": 4, "paths": 5})
            return tools, made

    tools, made = anyio.run(session)
    assert TOOLS <= set(tools)
    schema = tools["forecast"].input_schema
    assert {"horizon", "paths", "seed", "temperature", "top_p", "top_k", "lookback", "anchor"} <= set(schema["properties"])
    assert "horizon" in schema["required"]
    assert not made.is_error, made.content
    body = result_json(made)
    assert len(body["quantiles"]) == 4 and "close_p50" in body["quantiles"][0]


def test_tools_refuse_files_outside_the_allowed_directories(allowed, tiny_model, tmp_path):
    outside = tmp_path / "elsewhere.csv"
    random_bars(100, freq="1h").to_csv(outside, index=False)
    server = create_server([allowed], ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", models_dirs=(tiny_model,))

    async def session():
        async with Client(server) as client:
            refused = await client.call_tool("forecast", {"file": str(outside), "horizon": 3})
            screened = await client.call_tool("screen", {"files": [str(allowed / "aapl.csv")], "model": tiny_model,
                                                         "horizon": 3, "paths": 5, "levels": [0.9],
                                                         "positions": ["long"], "touch_levels": [-0.1]})
            badly = await client.call_tool("screen", {"files": [str(allowed / "aapl.csv")], "model": tiny_model,
                                                      "horizon": 3, "paths": 5, "levels": [1.5]})
            record = await client.call_tool("track_record", {})
            bad = await client.call_tool("forecast", {"file": str(allowed / "aapl.csv"), "horizon": 0})
            # symbols as the app's Screener reads them (desk.watchlists): an unknown source refused by name
            nowhere = await client.call_tool("screen", {"symbols": ["AAPL"], "source": "nope", "interval": "1d",
                                                        "horizon": 3})
            return refused, screened, badly, record, bad, nowhere

    refused, screened, badly, record, bad, nowhere = anyio.run(session)
    assert nowhere.is_error and "unknown source 'nope': use one of" in nowhere.content[0].text
    assert refused.is_error and "outside the directories" in refused.content[0].text
    assert not screened.is_error and result_json(screened)["rows"][0]["status"] == "ok"
    # the risk columns' settings reach the rows (issue 55): the levels and positions asked, no others
    risk = [k for k in result_json(screened)["rows"][0] if k.startswith(("var_", "es_"))]
    assert "var_long_90" in risk and "es_long_90_se" in risk and not [k for k in risk if "short" in k or "_99" in k]
    # the touch levels (BatchSettings' knob) reach the screen tool as they reach POST /v1/batch (issue 64)
    assert [k for k in result_json(screened)["rows"][0] if k.startswith("p_touch_")] == ["p_touch_-10%"]
    assert badly.is_error and 'give each of the field "levels" between 0.5 and 0.9999' in badly.content[0].text
    assert not record.is_error and result_json(record)["workspace"] == "default"
    # the SDK puts "Error executing tool forecast: " before the line the command line prints
    assert bad.is_error and bad.content[0].text.endswith(': horizon must be at least 1 bar, got 0: use at least 1 ("horizon": 1)')


def test_an_mcp_forecast_answers_as_the_http_one(tiny_model, tmp_path):
    """One function answers both (``compute.forecast_answer``); before it, the MCP forecast left out the
    too-few-paths warning, never scored the series' earlier forecasts on the newer bars it recorded
    (``kronos forecast`` and ``POST /v1/forecast`` do), and resolved the ensemble with the default
    workspace's fits instead of its own workspace's."""
    from kronos.checkpoints import load_pair
    from kronos_studio.catalog.registry import ModelRegistry
    from kronos_studio.ledger import Ledger

    class Recording(ModelRegistry):
        """Says in which workspace each forecaster was asked for."""

        def forecaster(self, ref, bars, settings, workspace=None):
            self.asked.append(workspace)
            return super().forecaster(ref, bars, settings, workspace)

    bars = random_bars(120, seed=7, freq="1h")
    for folder, n in (("first", 100), ("later", 120)):
        (tmp_path / folder).mkdir()
        bars.iloc[:n].to_csv(tmp_path / folder / "msft.csv", index=False)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    registry = Recording(load=lambda ref: load_pair(tiny_model, device="cpu"))
    registry.asked = []
    server = create_server([tmp_path], workspace="team-m", ledger_url=url, registry=registry, models_dirs=(tiny_model,))

    async def session():
        async with Client(server) as client:
            first = await client.call_tool("forecast", {"file": str(tmp_path / "first" / "msft.csv"),
                                                        "model": tiny_model, "horizon": 4, "paths": 1})
            later = await client.call_tool("forecast", {"file": str(tmp_path / "later" / "msft.csv"),
                                                        "model": tiny_model, "horizon": 4, "paths": 5})
            return first, later

    first, later = anyio.run(session)
    assert not first.is_error and not later.is_error, (first.content, later.content)
    assert any("too_few_paths" in w for w in result_json(first)["warnings"])
    assert registry.asked == ["team-m", "team-m"]
    ledger = Ledger.open(url)
    try:
        scored = ledger.scoped("team-m").evaluations_frame()
    finally:
        ledger.close()
    assert len(scored) == 4 and scored["prediction_id"].nunique() == 1
    from kronos_studio.service.public_ids import forecast_ids

    ledger = Ledger.open(url)
    try:  # the answer names the forecast by its public id
        assert forecast_ids(ledger, scored["prediction_id"]) == {scored["prediction_id"].iloc[0]:
                                                                 result_json(first)["ledger"]["id"]}
    finally:
        ledger.close()
