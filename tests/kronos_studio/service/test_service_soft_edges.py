"""Issue 63 ("a service with no soft edges"): bounds on every list a request names, sets refused when a member
repeats, costs a limit counts, work that stops when its client leaves, job time budgets, covariate references that
never fall through to a file, and the studio's own words in every answer."""
from __future__ import annotations

import json
import threading
import time

import anyio
import httpx
import pytest
from mcp import Client
from service_helpers import TEST_LIMITS, bearer
from testkit import random_bars

from kronos_studio.service.mcp_server import create_server


def client(base, token, timeout=300):
    return httpx.Client(base_url=base, headers=bearer(token), timeout=timeout)


def csv_text(n=120, seed=0) -> str:
    return random_bars(n, seed=seed, freq="1h").to_csv(index=False)


# -- item 1: a set's repeated member is a 422 naming it, never a 500 -----------------------------------------------
@pytest.mark.parametrize("query", ["positions=long&positions=long", "levels=0.99&levels=0.99",
                                   "levels=0.95&levels=0.9500001"])
def test_a_repeated_level_or_position_of_the_track_record_is_refused_naming_it(service, query):
    base, _, tokens = service
    with client(base, tokens["b"]) as c:  # any workspace, even one with no scored rows
        r = c.get(f"/v1/ledger/track-record?{query}")
    assert r.status_code == 422, r.text
    body = r.json()
    assert "is named twice in" in body["detail"] and body["fix"][0]["field"] in ("levels", "positions")


def test_the_mcp_track_record_refuses_a_repeated_position_in_one_line(tmp_path):
    server = create_server([], ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")

    async def session():
        async with Client(server) as c:
            return await c.call_tool("track_record", {"positions": ["long", "long"]})

    made = anyio.run(session)
    assert made.is_error and "'long' is named twice in positions" in made.content[0].text, made.content
    assert "\n" not in made.content[0].text


# -- item 2: a huge list is refused by its count first, and never echoed back ------------------------------------
def test_a_huge_known_future_is_refused_by_its_count_without_being_echoed(service):
    base, _, tokens = service
    kinds = [str(i) for i in range(40_000)]  # distinct, unknown: the count is what is refused first
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": csv_text(), "model": "random_walk", "horizon": 3,
                                         "known_future": kinds})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["problem"] == "40000 scheduled event kinds given, at most 5"
    assert len(r.content) < 1_000  # the list is not echoed


def test_a_set_is_checked_in_one_pass_count_first():
    """The check never compares members pairwise (``list.count`` per value was 34 s for 40,000): a list one past
    its bound is refused without a member being looked at."""
    from kronos.errors import InputError
    from kronos.settings import Bounds, check_value

    class Untouchable(list):
        def __iter__(self):
            raise AssertionError("a member was looked at")

        def count(self, value):
            raise AssertionError("counted per value")

    with pytest.raises(InputError, match="6 things given, at most 5"):
        check_value("x", Bounds(max_items=5, unique=True, what="things"), Untouchable(range(6)))
    with pytest.raises(InputError, match="3 is named twice in x"):
        check_value("x", Bounds(unique=True), [1, 2, 3, 4, 3])


# -- item 3: every list a request names is bounded --------------------------------------------------------------
def test_risk_levels_and_positions_are_bounded_sets(service):
    base, _, tokens = service
    body = {"bars_csv": csv_text(), "model": "random_walk", "horizon": 3, "paths": 20}
    with client(base, tokens["a"]) as c:
        many = c.post("/v1/risk", json={**body, "levels": [0.9 + i / 1000 for i in range(21)]})
        twice = c.post("/v1/risk", json={**body, "positions": ["long"] * 10_000})
        batch = c.post("/v1/batch", json={"series": [{"bars_csv": csv_text()}], "model": "random_walk", "horizon": 3,
                                          "paths": 5, "levels": [0.99, 0.99]})
        touch = c.post("/v1/batch", json={"series": [{"bars_csv": csv_text()}], "model": "random_walk", "horizon": 3,
                                          "paths": 5, "touch_levels": [i / 100 for i in range(1, 30)]})
        record = c.get("/v1/ledger/track-record", params={"levels": [0.9 + i / 1000 for i in range(21)]})
    assert many.status_code == 422 and many.json()["problem"] == "21 VaR/ES levels given, at most 20", many.text
    assert twice.status_code == 422 and twice.json()["problem"] == "10000 positions given, at most 2", twice.text
    assert batch.status_code == 422 and "0.99 is named twice in levels" in batch.json()["detail"], batch.text
    assert touch.status_code == 422 and touch.json()["problem"] == "29 touch levels given, at most 20", touch.text
    assert record.status_code == 422 and record.json()["problem"].startswith("21 VaR/ES levels given"), record.text


def test_the_command_line_refuses_the_same_set_in_the_same_words(tmp_path, capsys):
    from kronos_studio.cli import main as cli

    path = tmp_path / "bars.csv"
    random_bars(120, freq="1h").to_csv(path, index=False)
    code = cli.main(["risk", str(path), "--model", "random_walk", "--horizon", "3", "--positions", "long",
                     "--positions", "long"])
    assert code == 2 and "'long' is named twice in positions: name each once in --positions" in capsys.readouterr().err


def test_risk_readings_are_counted_against_their_limit(service):
    base, _, tokens = service
    levels = [0.9 + i / 1000 for i in range(20)]
    steps = TEST_LIMITS.risk_readings // (len(levels) * 2) + 1
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/risk", json={"bars_csv": csv_text(), "model": "random_walk", "horizon": steps, "paths": 2,
                                     "levels": levels})
        once = c.post("/v1/risk", json={"bars_csv": csv_text(), "model": "random_walk", "horizon": steps, "paths": 2,
                                        "levels": levels, "per_step": False})
    assert r.status_code == 413 and "max_risk_readings" in r.json()["detail"], r.text
    assert f"= 20 x 2 x {steps} x 1 = " in r.json()["problem"]
    assert once.status_code == 200, once.text  # the horizon's readings only: within the limit


# -- item 4: the horizon and a conditioned evaluation's alignment are counted -----------------------------------
def test_the_horizon_alone_is_bounded(service):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": csv_text(), "model": "random_walk", "horizon":
                                         TEST_LIMITS.horizon + 1, "paths": 1})
    assert r.status_code == 413 and "max_horizon" in r.json()["detail"], r.text


def test_a_conditioned_evaluation_counts_its_covariates_alignment(service):
    base, _, tokens = service
    bars = TEST_LIMITS.bars - 10
    asked = {"bars_csv": random_bars(bars, freq="1h").to_csv(index=False), "model": "chronos2-small", "horizon": 1,
             "paths": 1, "cutoffs": 2, "covariates": ["S&P 500 index daily 1999-2018 (arch)"]}
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/evaluate", json=asked)
    assert r.status_code == 413, r.text
    assert f"cut-offs x (paths x horizon + covariates x bars) = 2 x (1 x 1 + 1 x {bars})" in r.json()["detail"]


# -- item 5: work that outlives its asker --------------------------------------------------------------------------
@pytest.fixture
def slow_steps(monkeypatch):
    """Every sampling step (the progress callback each decode step calls, eager or static) sleeps 20 ms and is
    counted: the list of the steps' times."""
    from kronos_studio import fair

    taken: list[float] = []
    check = fair.check_asker

    def slow(*args):
        taken.append(time.monotonic())
        time.sleep(0.02)
        return check(*args)

    monkeypatch.setattr(fair, "check_asker", slow)
    return taken


def settled(taken: list, service, quiet_s: float = 3.0, within_s: float = 180.0) -> int:
    """The steps taken once the service has no request in flight and none was taken for ``quiet_s`` (``within_s``
    only turns a hang into a failure)."""
    deadline, since = time.monotonic() + within_s, time.monotonic()
    while time.monotonic() < deadline:
        if not service.askers.live and time.monotonic() - (taken[-1] if taken else since) > quiet_s:
            return len(taken)
        time.sleep(0.05)
    raise AssertionError(f"still sampling after {within_s} s ({len(taken)} steps)")


def test_a_forecast_stops_sampling_when_its_client_disconnects(service, tiny_model, slow_steps):
    base, svc, tokens = service
    horizon = TEST_LIMITS.horizon  # 300 steps of 20 ms: 6 s of sampling at least, the client leaves after 2
    with client(base, tokens["a"], timeout=2.0) as c, pytest.raises(httpx.TimeoutException):
        answered = c.post("/v1/forecast", json={"bars_csv": csv_text(), "model": tiny_model, "horizon": horizon,
                                                "paths": 1, "seed": 41, "record": False, "quantiles": [0.5]})
        pytest.fail(f"answered within two seconds: {answered.text[:300]}")
    steps = settled(slow_steps, svc)  # the request ended, and nothing samples any more
    assert steps < horizon - 1, (steps, horizon)  # it stopped short of its horizon (at once, if it had not begun)


def test_a_stopped_computation_is_computed_again_for_a_caller_who_waited(tmp_path):
    from kronos_studio.desk.cache import ResultCache
    from kronos_studio.fair import asked_by, check_asker

    cache, started, stop = ResultCache(), threading.Event(), threading.Event()
    answers = {}

    def leaving():
        with asked_by(stop):
            def compute():
                started.set()
                while True:
                    check_asker()
                    time.sleep(0.01)
            try:
                cache.get("k", compute)
            except Exception as e:
                answers["first"] = type(e).__name__

    first = threading.Thread(target=leaving)
    first.start()
    started.wait(10)
    second = threading.Thread(target=lambda: answers.setdefault("second", cache.get("k", lambda: 42)))
    second.start()
    time.sleep(0.1)
    stop.set()  # the first caller's client leaves: its computation stops, the waiter computes its own
    first.join(10)
    second.join(10)
    assert answers == {"first": "Cancelled", "second": (42, False)}


def test_a_job_past_its_time_fails_and_frees_its_thread(tmp_path):
    from service_helpers import wait_for

    from kronos_studio.desk import Limits
    from kronos_studio.fair import check_asker
    from kronos_studio.service.jobs import JobRunner, checkpoint
    from kronos_studio.service.keys import Identity

    runner = JobRunner(Limits(job_seconds=1, job_threads=1), tmp_path / "jobs")
    a, b = Identity("ka", "ws-a"), Identity("kb", "ws-b")

    def sampling_forever(folder, stop):  # a decode loop: its steps check the job's asker
        while True:
            check_asker()
            time.sleep(0.01)

    def checkpoints_forever(folder, stop):
        while True:
            checkpoint(stop)
            time.sleep(0.01)

    def quick(folder, stop):
        (folder / "r.txt").write_text("ok")
        return folder / "r.txt", {}

    try:
        long_a = runner.submit(a, "batch", sampling_forever)
        long_b = runner.submit(b, "batch", checkpoints_forever)
        after = runner.submit(a, "batch", quick)
        for job, who in ((long_a, a), (long_b, b)):
            failed = wait_for(runner, who, job.id, "failed", within_s=60)
            assert "ran past the limit of 1 seconds" in failed.error and "max_job_seconds" in failed.error
        assert wait_for(runner, a, after.id, "done", within_s=60).result.read_text() == "ok"
    finally:
        runner.shutdown()


# -- item 6: a covariate naming a source is never read as a file ---------------------------------------------------
@pytest.mark.parametrize("ref", ["yfinance:", "ccxt:binance", "ccxt:a:b:c"])
def test_a_malformed_source_covariate_is_refused_not_read_as_a_file(service, tmp_path, monkeypatch, ref):
    base, _, tokens = service
    monkeypatch.chdir(tmp_path)
    try:
        (tmp_path / ref).write_text(csv_text())  # a file of that very name in the server's working folder
    except OSError:
        pytest.skip("this file system takes no such name")
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": csv_text(), "model": "chronos2-small", "horizon": 3,
                                         "covariates": [ref], "record": False})
    assert r.status_code == 422 and "names the source" in r.json()["detail"], r.text


def test_an_mcp_covariate_naming_a_source_badly_is_refused_inside_an_allowed_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "yfinance:").write_text(csv_text())
    (tmp_path / "bars.csv").write_text(csv_text())
    server = create_server([tmp_path], ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")

    async def session():
        async with Client(server) as c:
            return await c.call_tool("forecast", {"file": str(tmp_path / "bars.csv"), "model": "chronos2-small",
                                                  "horizon": 3, "covariates": ["yfinance:"], "record": False})

    made = anyio.run(session)
    assert made.is_error and "names the source yfinance but not as yfinance:<ticker>" in made.content[0].text


# -- item 7: the studio's words ----------------------------------------------------------------------------------
def test_an_unreachable_source_is_said_without_its_http_client_s_words(service):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"source": "yfinance", "symbol": "NOPE-63", "interval": "1d", "horizon": 3})
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert "curl" not in detail.lower() and "Error:" not in detail and "resolve" not in detail.lower(), detail


def test_a_library_message_with_a_line_break_is_answered_whole_on_one_line():
    from kronos.errors import InputError
    from kronos_studio.service.errors import refused

    answer = refused(422, InputError("no bars for symbol 'A\nB' at 1d"))
    assert answer.detail == answer.problem == "no bars for symbol 'A\\nB' at 1d"


def test_a_non_finite_level_is_refused_as_such(service):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.get("/v1/ledger/track-record", params={"levels": "nan"})
    assert r.status_code == 422 and "finite" in r.json()["detail"], r.text


def test_an_mcp_file_outside_the_allowed_folders_names_the_fix_in_words(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    server = create_server([allowed], ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}")

    async def session():
        async with Client(server) as c:
            return await c.call_tool("forecast", {"file": str(tmp_path / "x.csv"), "horizon": 3})

    text = anyio.run(session).content[0].text
    assert "move the file there, or add its folder to the server's allow_dir" in text, text


def test_chronos2_with_no_covariates_serves_chronos2_alone(service):
    from testkit import needs_bundled_chronos2

    needs_bundled_chronos2()
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": csv_text(), "model": "chronos2-small", "horizon": 3,
                                         "paths": 5, "covariates": [], "record": False})
    assert r.status_code == 200, r.text
    assert r.json()["provenance"]["conditioned_on"] == []


def test_error_bodies_are_json_whatever_their_values():
    from kronos.errors import InputError
    from kronos_studio.service.errors import refused

    body = refused(422, InputError("levels out of range", {"levels": [float("nan"), float("inf")]})).body()
    assert json.loads(json.dumps(body, allow_nan=False))["values"] == {"levels": ["nan", "inf"]}


def test_forecast_ids_are_opaque_and_tell_nothing_of_other_workspaces(service):
    base, _, tokens = service
    made = {}
    for name, seeds in (("a", (601, 602, 603)), ("b", (604,))):
        with client(base, tokens[name]) as c:
            made[name] = [c.post("/v1/forecast", json={"bars_csv": csv_text(), "model": "random_walk", "horizon": 3,
                                                       "paths": 5, "seed": s}).json()["ledger"]["id"] for s in seeds]
    ids = made["a"] + made["b"]
    assert all(isinstance(i, str) and len(i) == 16 and int(i, 16) >= 0 for i in ids) and len(set(ids)) == 4
    with client(base, tokens["b"]) as c:
        listed = {p["prediction_id"] for p in c.get("/v1/ledger/predictions").json()["predictions"]}
        assert made["b"][0] in listed and not listed & set(made["a"])
        assert c.delete(f"/v1/ledger/predictions/{made['a'][0]}").status_code == 404  # another's: not said
        assert c.delete(f"/v1/ledger/predictions/{made['b'][0]}").json() == {"deleted": made["b"][0]}


def test_adapters_are_numbered_within_their_workspace(service, tmp_path):
    from datetime import datetime, timezone

    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey

    base, svc, tokens = service
    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    stamp = time.monotonic_ns()
    for workspace, windows in ((f"ids-x{stamp}", ("w1", "w2", "w3")), (f"ids-y{stamp}", ("w1",))):
        registry = Registry(svc.ledger.scoped(workspace))
        series = SeriesKey("file", "NUM", "1h")
        made = [registry.register(Candidate(series, "tiny", "local:abc", t0, t0, 10, w, str(tmp_path / w), {},
                                            "kronos retrain")) for w in windows]
        registry.promote(made[-1].id, {"challenger": made[-1].id, "champion": None}, "beat the base")
    with client(base, tokens["admin"]) as c:
        x = c.get("/v1/adapters", headers={"X-Kronos-Workspace": f"ids-x{stamp}"}).json()["adapters"]
        y = c.get("/v1/adapters", headers={"X-Kronos-Workspace": f"ids-y{stamp}"}).json()["adapters"]
        shown = c.get("/v1/adapters/1", headers={"X-Kronos-Workspace": f"ids-y{stamp}"}).json()
    assert [a["id"] for a in x] == [1, 2, 3] and [a["id"] for a in y] == [1]  # nothing of the other's count
    assert y[0]["scores"]["challenger"] == 1 and x[2]["scores"]["challenger"] == 3
    assert all("id" not in e and e["adapter_id"] == 1 for e in shown["events"])


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_the_server_stops_its_work_and_exits_on_a_signal(tiny_model, tmp_path, sig):
    """A forecast that would sample for minutes (a 1,000-step horizon of 200 paths), cut by the signal: the
    server answers it 503 and exits, as the work stops at its next step instead of running to its end."""
    import os
    import signal
    import subprocess
    import sys

    from service_helpers import free_port

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
    server = subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", "serve", "--open", "--port", str(port),
                               "--models-dir", tiny_model, "--max-path-steps", "10000000", "--jobs-dir",
                               str(tmp_path / "jobs")], env=env, stderr=subprocess.PIPE, text=True)
    base, answer = f"http://127.0.0.1:{port}", {}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            time.sleep(0.2)

        warm = httpx.post(f"{base}/v1/forecast", timeout=600, json={  # the model loaded, torch imported
            "bars_csv": csv_text(), "model": tiny_model, "horizon": 3, "paths": 2, "record": False})
        assert warm.status_code == 200, warm.text

        def long_forecast():
            try:
                answer["r"] = httpx.post(f"{base}/v1/forecast", timeout=600, json={
                    "bars_csv": csv_text(), "model": tiny_model, "horizon": 1000, "paths": 200, "quantiles": [0.5],
                    "record": False})
            except httpx.TransportError as e:
                answer["r"] = e

        asking = threading.Thread(target=long_forecast)
        asking.start()
        time.sleep(3)  # sampling by now (or about to: a request arriving while the server stops is stopped too)
        server.send_signal(getattr(signal, sig))
        server.wait(timeout=60)  # only turns a hang into a failure: the forecast alone samples for many minutes
        asking.join(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    r = answer["r"]
    assert isinstance(r, httpx.Response) and r.status_code == 503, r
    assert "shutting down" in r.json()["detail"]


def test_an_unknown_query_parameter_is_refused_as_an_unknown_field_is(service):
    """Found by the fuzz under every check: a misspelt filter was ignored, so the track record of every series came
    back for 'simbol=X'."""
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.get("/v1/ledger/track-record", params={"simbol": "X"})
    assert r.status_code == 422 and "unknown query parameter 'simbol' (did you mean 'symbol'?)" in r.json()["detail"]
