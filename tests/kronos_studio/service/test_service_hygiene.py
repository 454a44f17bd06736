"""Issue 53 (items 10-16), the service as a security reviewer tries it: no server path in what it answers,
input the server cannot keep refused in one line, an ``--open`` server reachable by loopback names only, an
access log without tokens, the registry over HTTP (admins move it), and MCP tools as strict as the HTTP API."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import httpx
import pandas as pd
import pytest
from service_helpers import TEST_LIMITS, bearer, finished_job, running_server
from testkit import random_bars

from kronos_studio.service.access import ACCESS_LOGGER
from kronos_studio.service.app import ServiceConfig
from kronos_studio.service.keys import list_keys


def client(base, token):
    return httpx.Client(base_url=base, headers=bearer(token), timeout=300)


def hourly_text(n=120, seed=0) -> str:
    return random_bars(n, seed=seed, freq="1h").to_csv(index=False)


# --- 10: no server path in what the service answers ------------------------------------------------------------


def test_health_says_ok_and_versions_only(service, tiny_model):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:  # a model loaded by a workspace ...
        assert c.post("/v1/forecast", json={"bars_csv": hourly_text(), "model": tiny_model, "horizon": 2, "paths": 2,
                                            "record": False}).status_code == 200
    health = httpx.get(f"{base}/health").json()  # ... is not named to anyone without a key
    assert set(health) == {"status", "versions", "threads"} and health["status"] == "ok"  # threads: issue 54
    assert set(health["versions"]) == {"kronos_studio", "api"}
    assert tiny_model not in json.dumps(health)


def test_models_are_named_by_name_and_a_listed_folder_is_served_by_it(service, tiny_model, monkeypatch):
    from pathlib import Path

    base, _, tokens = service
    monkeypatch.setenv("KRONOS_STUDIO_MODELS", tiny_model)  # the server runs in this process
    with client(base, tokens["a"]) as c:
        models = c.get("/v1/models").json()["models"]
        local = {m["kind"]: m for m in models if m["kind"] in ("bundled", "folder")}
        assert {"bundled", "folder"} <= set(local)
        assert not [m for m in models if m["ref"].startswith("/") or ":/" in m["key"]]
        assert tiny_model not in json.dumps(models)
        folder = local["folder"]
        assert folder["ref"] == Path(tiny_model).name and folder["key"] == f"folder:{Path(tiny_model).name}"
        made = c.post("/v1/forecast", json={"bars_csv": hourly_text(), "model": folder["ref"], "horizon": 2,
                                            "paths": 2, "seed": 4, "record": False})
        direct = c.post("/v1/forecast", json={"bars_csv": hourly_text(), "model": tiny_model, "horizon": 2,
                                              "paths": 2, "seed": 4, "record": False})
    assert made.status_code == 200, made.text
    assert made.json()["quantiles"] == direct.json()["quantiles"]  # the same model, named by its name


def test_forecasts_evaluations_and_jobs_name_no_server_path(service, tiny_model):
    import io
    from pathlib import Path

    base, svc, tokens = service
    server_paths = [tiny_model, str(Path(tiny_model).parent), str(svc.jobs.root)]
    daily = random_bars(400, seed=4, freq="B", start="2020-01-02").to_csv(index=False)
    with client(base, tokens["a"]) as c:
        fc = c.post("/v1/forecast", json={"bars_csv": hourly_text(), "model": tiny_model, "horizon": 3, "paths": 3})
        ev = c.post("/v1/evaluate", json={"bars_csv": daily, "model": tiny_model, "horizon": 3, "paths": 3,
                                          "cutoffs": 2})
        job = c.post("/v1/batch", json={"series": [{"name": "x", "bars_csv": hourly_text()}], "model": tiny_model,
                                        "horizon": 3, "paths": 3})
        assert job.status_code == 202, job.text
        assert finished_job(c, job.json()["id"], 300)["status"] == "done"
        rows = c.get(f"/v1/jobs/{job.json()['id']}/result")
        table = c.get(f"/v1/jobs/{job.json()['id']}/result", params={"format": "parquet"})
        kept = c.get("/v1/ledger/predictions")
    assert kept.status_code == 200 and kept.json()["predictions"]
    assert fc.status_code == ev.status_code == rows.status_code == table.status_code == 200, (fc.text, ev.text)
    provenance = fc.json()["provenance"]
    assert provenance["predictor"] == "predictor" and provenance["predictor_revision"].startswith("local:")
    assert ev.json()["model"]["predictor_revision"] == provenance["predictor_revision"]
    assert rows.json()["rows"][0]["origin"] == "x.csv"
    parquet = pd.read_parquet(io.BytesIO(table.content))
    assert parquet["origin"].tolist() == ["x.csv"] and len(parquet) == 1
    for answer in (fc.text, ev.text, rows.text, table.content.decode("latin-1"), kept.text):
        assert not [p for p in server_paths if p in answer]


def test_the_command_line_keeps_its_local_paths(tiny_model, hourly_csv, tmp_path):
    """The provenance the command line writes stays on the user's machine: it names the folders it read."""
    from service_helpers import run_cli

    out = run_cli("forecast", hourly_csv, "--model", tiny_model, "--horizon", 2, "--paths", 2, "--out",
                  tmp_path / "q.csv", "--provenance-out", tmp_path / "p.json", "--no-ledger", "--quiet")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "p.json").read_text())["predictor"].startswith(tiny_model)


# --- 11: the server's own words never reach a client -----------------------------------------------------------


def test_a_seed_out_of_range_is_refused_naming_the_range(service, tiny_model):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        huge = c.post("/v1/forecast", json={"bars_csv": hourly_text(), "model": tiny_model, "horizon": 2,
                                            "seed": 2**80})
        negative = c.post("/v1/forecast", json={"bars_csv": hourly_text(), "model": "random_walk", "horizon": 2,
                                                "seed": -1})
    for answer in (huge, negative):
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"].startswith("seed must be a whole number from 0 to 9007199254740991, got ")
    assert "long long" not in huge.text and "non-negative" not in negative.text


@pytest.mark.parametrize("raw", ['"symbol": "AB\\ud800"', '"\\udfff": 1'])
def test_an_unpaired_surrogate_is_refused_in_one_line(service, raw):
    base, _, tokens = service
    text = '{"bars_csv": ' + json.dumps(hourly_text()) + ', "horizon": 2, ' + raw + "}"
    with client(base, tokens["a"]) as c:
        answer = c.post("/v1/forecast", content=text.encode(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "codec" not in detail and "\n" not in detail
    assert ("surrogate" in detail) if "symbol" in raw else detail.startswith("invalid request: ")


def test_a_nul_in_a_symbol_is_refused_by_request_filter_and_file(service):
    import io

    from kronos_studio.bars_input import read_bars

    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        body = c.post("/v1/forecast", json={"bars_csv": hourly_text(), "symbol": "A\x00B", "horizon": 2})
        query = c.get("/v1/ledger/predictions", params={"symbol": "A\x00B"})
    assert body.status_code == 422 and "control character '\\x00'" in body.json()["detail"]
    assert query.status_code == 422 and query.json()["detail"].startswith("symbol contains the control character")
    parquet = io.BytesIO()  # a CSV with a NUL is refused as binary; a Parquet file's symbol column is not text
    random_bars(60, freq="1h").assign(symbol="A\x00B").to_parquet(parquet)
    with pytest.raises(ValueError, match=r"cannot read 'bars.parquet': the symbol 'A\\x00B' contains the control "
                                         r"character '\\x00': give symbol") as refused:
        read_bars(parquet.getvalue(), "bars.parquet")
    assert [f.setting for f in refused.value.fix] == ["symbol"]


def test_what_the_fuzzer_found_is_answered_in_one_line(service):
    """An empty ``since`` read as no time (NaT) was a 500; an id echoed with its newline made a two-line error."""
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        since = c.get("/v1/ledger/predictions", params={"since": ""})
        job = c.get("/v1/jobs/a%0Ab")
    assert since.status_code == 422 and since.json()["detail"] == ("since must be a date or time, got '': give the "
                                                                    'field "since" as a date or time like 2024-06-01')
    assert job.status_code == 404 and job.json()["detail"] == "no job 'a\\nb' in workspace 'team-a'"


# --- 13: an --open server answers loopback names only ----------------------------------------------------------


def test_an_open_server_answers_only_requests_to_loopback_names(tmp_path):
    config = ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", open_access=True,
                           limits=TEST_LIMITS, jobs_dir=str(tmp_path / "jobs"))
    with running_server(config) as (base, _):
        port = base.rsplit(":", 1)[1]
        answers = {host: httpx.get(f"{base}/v1/ledger/predictions", headers={"Host": host})
                   for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost",
                                f"rebound.example.com:{port}", "127.0.0.1.nip.io")}
    assert {h: a.status_code for h, a in answers.items()} == {
        f"localhost:{port}": 200, f"127.0.0.1:{port}": 200, f"[::1]:{port}": 200, "localhost": 200,
        f"rebound.example.com:{port}": 421, "127.0.0.1.nip.io": 421}
    refused = answers[f"rebound.example.com:{port}"].json()["detail"]
    assert "for this machine only" in refused and "rebound.example.com" in refused


# --- 14: an access log of every request, without tokens --------------------------------------------------------


def test_each_request_is_logged_in_one_line_without_its_token(service, caplog):
    base, svc, tokens = service
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    before = datetime.now(timezone.utc)
    with client(base, tokens["b"]) as c:
        c.get("/v1/jobs/0123456789abcdef")
        c.get("/v1/ledger/predictions", headers={"X-Kronos-Workspace": "team-a"})
    httpx.get(f"{base}/v1/models", headers=bearer("kst_nothere_secret"))
    deadline = time.monotonic() + 10  # the server's thread logs after the answer is sent
    while len([r for r in caplog.records if r.name == ACCESS_LOGGER]) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(lines) == 3 and all("\n" not in line for line in lines)
    logged = [json.loads(line) for line in lines]
    key_b = next(k["key_id"] for k in list_keys(svc.ledger) if k["workspace"] == "team-b")
    assert [(e["key_id"], e["workspace"], e["method"], e["route"], e["status"]) for e in logged] == [
        (key_b, "team-b", "GET", "/v1/jobs/{job_id}", 404),
        (key_b, "team-b", "GET", "/v1/ledger/predictions", 403),
        (None, None, "GET", "/v1/models", 401)]
    assert all(e["duration_s"] >= 0 and datetime.fromisoformat(e["time"]) >= before.replace(microsecond=0)
               for e in logged)
    assert not [line for line in lines if tokens["b"] in line or "secret" in line or "Bearer" in line]


# --- 16: the adapter registry over HTTP ------------------------------------------------------------------------


@pytest.fixture
def registry_entries(service, tmp_path):
    """Two entries of one series in team-a (the second the champion), their folders under ``tmp_path``."""
    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey

    _, svc, _ = service
    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    registry = Registry(svc.ledger.scoped("team-a"))
    series = SeriesKey("file", f"REG{time.monotonic_ns()}", "1h")
    made = [registry.register(Candidate(series, "tiny", "local:abc", t0, t0, 10, window,
                                        str(tmp_path / "adapters" / window), {}, "kronos retrain"))
            for window in ("w1", "w2")]
    registry.promote(made[0].id, {"crps": {"challenger": 1.0}}, "beat the base")
    registry.promote(made[1].id, {"crps": {"challenger": 0.9}}, "beat the champion")
    return series, made


def test_a_workspace_reads_its_registry_and_an_admin_moves_it(service, registry_entries, tmp_path):
    from kronos_studio.service.public_ids import AdapterNumbers

    base, svc, tokens = service
    series, entries = registry_entries
    numbers = AdapterNumbers(svc.ledger.scoped("team-a"))
    first, second = (numbers.number(e.id) for e in entries)  # their numbers in team-a's registry
    with client(base, tokens["a"]) as c:
        listed = c.get("/v1/adapters", params={"symbol": series.symbol})
        shown = c.get(f"/v1/adapters/{first}")
        plain = c.post(f"/v1/adapters/{first}/promote")
    with client(base, tokens["b"]) as c:
        other = (c.get(f"/v1/adapters/{first}"), c.get("/v1/adapters", params={"symbol": series.symbol}))
    admin = {"X-Kronos-Workspace": "team-a"}
    with client(base, tokens["admin"]) as c:
        rolled = c.post(f"/v1/adapters/{second}/rollback", headers=admin)
        promoted = c.post(f"/v1/adapters/{second}/promote", headers=admin)
        missing = c.post("/v1/adapters/999999999/promote", headers=admin)
        huge = c.get(f"/v1/adapters/{2**70}", headers=admin)
    assert listed.status_code == 200 and [a["id"] for a in listed.json()["adapters"]] == [first, second]
    assert [a["status"] for a in listed.json()["adapters"]] == ["retired", "champion"]
    assert shown.json()["path"] == "w1" and str(tmp_path) not in listed.text + shown.text
    assert [e["event"] for e in shown.json()["events"]] == ["registered", "promoted", "retired"]
    assert plain.status_code == 403 and "only an admin key" in plain.json()["detail"]
    assert other[0].status_code == 404 and other[1].json()["adapters"] == []  # another workspace's: not said
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["retired"]["id"] == second and rolled.json()["restored"]["id"] == first
    assert promoted.status_code == 200 and promoted.json()["bypassed_gate"] is True
    assert promoted.json()["promoted"]["status"] == "champion"
    from kronos_studio.ledger.registry import MANUAL, Registry

    assert Registry(svc.ledger.scoped("team-a")).champion(series).id == entries[1].id
    assert promoted.json()["promoted"]["reason"] == MANUAL
    assert missing.status_code == 404 and "no adapter 999999999 in workspace 'team-a'" in missing.json()["detail"]
    assert huge.status_code == 422


# --- 15: MCP tools as strict as the HTTP API, with the timezone their warning asks for ---------------------------


def test_mcp_tools_refuse_unknown_arguments_and_take_a_timezone(tmp_path, tiny_model):
    import anyio
    from mcp import Client

    from kronos_studio.service.mcp_server import create_server

    random_bars(120, seed=5, freq="1h").to_csv(tmp_path / "bars.csv", index=False)
    server = create_server([tmp_path], ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", models_dirs=(tiny_model,))
    file = str(tmp_path / "bars.csv")

    async def session():
        async with Client(server) as c:
            schema = {t.name: t.input_schema for t in (await c.list_tools()).tools}
            typo = await c.call_tool("forecast", {"file": file, "horizon": 2, "horzion": 3})
            typed = await c.call_tool("evaluate", {"file": file, "horizon": "two"})
            utc = await c.call_tool("forecast", {"file": file, "model": tiny_model, "horizon": 2, "paths": 2})
            local = await c.call_tool("forecast", {"file": file, "model": tiny_model, "horizon": 2, "paths": 2,
                                                   "timezone": "America/New_York"})
            return schema, typo, typed, utc, local

    schema, typo, typed, utc, local = anyio.run(session)
    assert "timezone" in schema["forecast"]["properties"] and "timezone" in schema["evaluate"]["properties"]
    assert typo.is_error and typo.content[0].text.endswith(
        "unknown argument 'horzion' (did you mean 'horizon'?): it takes " + ", ".join(sorted(schema["forecast"]["properties"])))
    assert typed.is_error and "\n" not in typed.content[0].text
    assert typed.content[0].text.endswith("horizon: Input should be a valid integer, unable to parse string as an integer")
    utc_body, local_body = (json.loads(r.content[0].text) for r in (utc, local))
    assert any("timezone_assumed" in w for w in utc_body["warnings"])
    assert not any("timezone_assumed" in w for w in local_body["warnings"])
    first = [pd.Timestamp(b["quantiles"][0]["timestamp"]) for b in (utc_body, local_body)]
    assert first[0].tz_convert("UTC") != first[1].tz_convert("UTC")  # the bars' times were read in New York
