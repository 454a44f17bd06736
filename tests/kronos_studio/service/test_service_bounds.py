"""Issue 53 ("a service a team can trust"): what a request may name and ask for. A model is a catalog entry
and nothing else; numbers are finite; ids, quantile levels, cut-offs, series, bars and job settings are
bounded, each refused before any work (and before anything is recorded) with the limit named."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from service_helpers import TEST_LIMITS, bearer
from testkit import random_bars

from kronos_studio.service.mcp_server import create_server


def client(base, token):
    return httpx.Client(base_url=base, headers=bearer(token), timeout=300)


def forecast_body(csv: str, model: str, **extra) -> dict:
    return {"bars_csv": csv, "model": model, "horizon": 3, "paths": 2, **extra}


@pytest.fixture(scope="module")
def outside_model(tiny_model, tmp_path_factory):
    """A real model folder (the tiny model's copy) that no catalog lists."""
    folder = tmp_path_factory.mktemp("elsewhere") / "outside_model"
    shutil.copytree(tiny_model, folder)
    return folder


def test_a_model_outside_the_catalog_is_one_404_whether_or_not_the_path_exists(service, hourly_csv, outside_model):
    base, _, tokens = service
    refs = [str(outside_model), os.path.relpath(outside_model), "/root", "~/.ssh", "/no/such/model",
            "someone/some-hub-model"]
    with client(base, tokens["a"]) as c:
        answers = {ref: c.post("/v1/forecast", json=forecast_body(hourly_csv.read_text(), ref)) for ref in refs}
        batch = c.post("/v1/batch", json={"series": [{"bars_csv": hourly_csv.read_text()}], "model": str(outside_model),
                                          "horizon": 3, "paths": 2})
        evaluate = c.post("/v1/evaluate", json=forecast_body(hourly_csv.read_text(), str(outside_model), cutoffs=2))
    for ref, r in answers.items():
        assert r.status_code == 404, (ref, r.text)
    # the same words for a model folder, a folder that is no model, a path that does not exist, a Hub id
    worded = {r.json()["detail"].replace(ref, "REF") for ref, r in answers.items()}
    assert len(worded) == 1 and "is not a model of the catalog" in worded.pop()
    assert batch.status_code == 404 and evaluate.status_code == 404


def test_an_mcp_tool_names_catalog_models_only(tiny_model, outside_model, tmp_path):
    random_bars(120, seed=5, freq="1h").to_csv(tmp_path / "bars.csv", index=False)
    server = create_server([tmp_path], ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", models_dirs=(tiny_model,))
    asked = {"file": str(tmp_path / "bars.csv"), "horizon": 3, "paths": 2, "record": False}

    async def session():
        async with Client(server) as client:
            return [await client.call_tool("forecast", {**asked, "model": ref})
                    for ref in (str(outside_model), "~/.ssh", tiny_model, Path(tiny_model).name)]

    outside, ssh, by_path, by_name = anyio.run(session)
    assert outside.is_error and ssh.is_error
    assert "is not a model of the catalog" in outside.content[0].text
    assert outside.content[0].text.replace(str(outside_model), "REF") == ssh.content[0].text.replace("~/.ssh", "REF")
    assert not by_path.is_error and not by_name.is_error, (by_path.content, by_name.content)


def test_spellings_of_one_model_folder_load_it_once(service, hourly_csv, tiny_model):
    """Issue 53 item 9: the registry keyed on the raw string, so each spelling loaded another copy."""
    base, svc, tokens = service
    folder = Path(tiny_model)
    spellings = [tiny_model, tiny_model + "/", f"{folder.parent}/./{folder.name}", f"{folder.parent}//{folder.name}",
                 os.path.relpath(folder), folder.name]
    with client(base, tokens["a"]) as c:
        for i, ref in enumerate(spellings):
            r = c.post("/v1/forecast", json=forecast_body(hourly_csv.read_text(), ref, seed=100 + i, record=False))
            assert r.status_code == 200, (ref, r.text)
    assert [key for key in svc.registry.loaded() if folder.name in key] == [str(folder.resolve())]


NON_FINITE = ['"temperature": 1e309', '"temperature": Infinity', '"clip": Infinity', '"top_p": NaN',
              '"temperature": -Infinity', '"quantiles": [0.5, Infinity]']


@pytest.mark.parametrize("field", NON_FINITE)
def test_a_non_finite_number_is_a_422_and_records_nothing(service, hourly_csv, tiny_model, field):
    base, svc, tokens = service
    symbol = "NONFINITE"
    raw = (f'{{"bars_csv": {json.dumps(hourly_csv.read_text())}, "symbol": "{symbol}", "model": '
           f'{json.dumps(tiny_model)}, "horizon": 3, "paths": 2, {field}}}')
    ledger = svc.ledger.scoped("team-a")
    before = len(ledger.predictions_frame(symbol=symbol))
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", content=raw, headers={"content-type": "application/json"})
        again = c.post("/v1/forecast", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and again.status_code == 422, r.text
    assert "finite" in r.json()["detail"]
    assert len(ledger.predictions_frame(symbol=symbol)) == before  # no phantom row for a request refused


def test_an_mcp_tool_refuses_non_finite_settings_and_records_nothing(tiny_model, tmp_path):
    from kronos_studio.ledger import Ledger

    random_bars(120, seed=6, freq="1h").to_csv(tmp_path / "bars.csv", index=False)
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    server = create_server([tmp_path], ledger_url=url, models_dirs=(tiny_model,))

    async def session():  # JSON has no infinity: a client's text reaches the tool's schema, which reads it as one
        async with Client(server) as client:
            return [await client.call_tool("forecast", {"file": str(tmp_path / "bars.csv"), "model": tiny_model,
                                                        "horizon": 3, "paths": 2, name: value})
                    for name, value in (("temperature", "1e309"), ("clip", "Infinity"), ("top_p", "NaN"))]

    for made in anyio.run(session):
        assert made.is_error and "finite" in made.content[0].text, made.content
    ledger = Ledger.open(url)
    try:
        assert ledger.predictions_frame().empty
    finally:
        ledger.close()


@pytest.mark.parametrize(("row_id", "status"), [(99999999999999999999, 422), (2**63, 422), (0, 422),
                                                 ("0123456789abcdef", 404), ("0123456789ABCDEF", 422)])
def test_a_forecast_id_that_is_not_one_is_a_4xx(service, row_id, status):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        r = c.delete(f"/v1/ledger/predictions/{row_id}")
    assert r.status_code == status, r.text


def test_quantile_levels_are_capped(service, hourly_csv, tiny_model):
    base, _, tokens = service
    many = [round((i + 1) / (TEST_LIMITS.quantiles + 2), 6) for i in range(TEST_LIMITS.quantiles + 1)]
    with client(base, tokens["a"]) as c:
        too_many = c.post("/v1/forecast", json=forecast_body(hourly_csv.read_text(), tiny_model, quantiles=many))
        long = c.post("/v1/forecast", json=forecast_body(hourly_csv.read_text(), tiny_model, paths=1, horizon=100,
                                                         quantiles=many[:5]))
        fine = c.post("/v1/forecast", json=forecast_body(hourly_csv.read_text(), tiny_model, record=False,
                                                         quantiles=many[:TEST_LIMITS.quantiles]))
    assert too_many.status_code == 413 and "max_quantiles" in too_many.json()["detail"]
    assert long.status_code == 413 and "quantile levels x horizon = 5 x 100" in long.json()["detail"]
    assert fine.status_code == 200 and len(fine.json()["quantiles"][0]) == 2 + 6 * TEST_LIMITS.quantiles  # + volume_floored_share


def test_an_evaluation_is_bounded_in_cut_offs_and_sampling(service, hourly_csv, tiny_model):
    base, _, tokens = service
    with client(base, tokens["a"]) as c:
        cutoffs = c.post("/v1/evaluate", json=forecast_body(hourly_csv.read_text(), tiny_model,
                                                            cutoffs=TEST_LIMITS.cutoffs + 1, paths=1, horizon=1))
        work = c.post("/v1/evaluate", json=forecast_body(hourly_csv.read_text(), tiny_model, cutoffs=30, paths=20,
                                                         horizon=4))
    assert cutoffs.status_code == 413 and "max_cutoffs" in cutoffs.json()["detail"]
    assert work.status_code == 413 and "cut-offs x paths x horizon = 30 x 20 x 4" in work.json()["detail"]
    assert "max_evaluation_steps" in work.json()["detail"]


def test_too_many_csv_lines_are_refused_before_the_text_is_parsed(service):
    """Junk that would be a 422 'cannot read' once parsed is a 413 instead: the count came first."""
    base, _, tokens = service
    junk = "x\n" * (TEST_LIMITS.bars + 2)
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", json={"bars_csv": junk, "horizon": 3})
        score = c.post("/v1/ledger/score", json={"bars_csv": junk})
    for answer in (r, score):
        assert answer.status_code == 413 and "max_bars" in answer.json()["detail"], answer.text


def test_a_batch_bounds_its_series_their_bars_and_its_work(service, tiny_model):
    base, _, tokens = service
    small = random_bars(60, freq="1h").to_csv(index=False)
    many = [{"name": f"s{i}", "bars_csv": small} for i in range(TEST_LIMITS.series + 1)]
    long = random_bars(TEST_LIMITS.bars + 1, freq="1min").to_csv(index=False)
    with client(base, tokens["b"]) as c:
        too_many = c.post("/v1/batch", json={"series": many, "model": tiny_model, "horizon": 3, "paths": 2})
        too_long = c.post("/v1/batch", json={"series": [{"name": "ok", "bars_csv": small},
                                                        {"name": "huge", "bars_csv": long}],
                                             "model": tiny_model, "horizon": 3, "paths": 2})
        work = c.post("/v1/batch", json={"series": many[:TEST_LIMITS.series], "model": tiny_model, "horizon": 10,
                                         "paths": 40})
        ranked = c.post("/v1/batch", json={"series": many[:4], "model": tiny_model, "horizon": 10,
                                           "evaluate": {"cutoffs": 20, "paths": [40]}})
    assert too_many.status_code == 413 and "max_series" in too_many.json()["detail"]
    assert too_long.status_code == 413 and "series 'huge'" in too_long.json()["detail"]
    assert "max_bars" in too_long.json()["detail"]
    assert work.status_code == 413 and "max_job_steps" in work.json()["detail"]
    assert ranked.status_code == 413 and "series x cut-offs x paths x horizon = 4 x 20 x 40 x 10" in ranked.json()["detail"]


def test_a_retrain_bounds_its_training_steps_and_held_out_sampling(service, tiny_model):
    base, _, tokens = service
    body = {"bars_csv": random_bars(400, seed=3, freq="1h").to_csv(index=False), "model": tiny_model, "horizon": 4,
            "window": 120, "lookback": 24, "cutoffs": 5, "paths": 10}
    with client(base, tokens["b"]) as c:
        steps = c.post("/v1/retrain", json={**body, "steps": TEST_LIMITS.train_steps + 1})
        paths = c.post("/v1/retrain", json={**body, "steps": 4, "paths": 5_000_000})
        decisions = c.post("/v1/retrain", json={**body, "steps": 4, "every": 20})
    assert steps.status_code == 413 and "max_train_steps" in steps.json()["detail"]
    assert paths.status_code == 413 and "max_path_steps" in paths.json()["detail"]
    assert decisions.status_code == 413 and "max_decisions" in decisions.json()["detail"]


def test_a_body_of_too_many_csv_lines_is_refused_as_it_streams_before_it_is_parsed(service):
    """Not even JSON: answered 413 for its lines, so they were counted before the body was parsed."""
    base, _, tokens = service
    lines = b'{"horizon": 3, "bars_csv": "' + b"1,2\\n" * (TEST_LIMITS.bars + 2) + b'" !!! not json'
    chunks = (lines[i:i + 4096] for i in range(0, len(lines), 4096))
    with client(base, tokens["a"]) as c:
        r = c.post("/v1/forecast", content=chunks, headers={"content-type": "application/json"})
        fewer = c.post("/v1/forecast", content=lines[:200] + b" !!! not json", headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_bars" in r.json()["detail"], r.text
    assert fewer.status_code == 422  # a body within the count is parsed, and its JSON refused


@pytest.mark.parametrize("cut", [1, 2, 3, 5, 7])
def test_line_breaks_are_counted_across_chunks_and_escaped_backslashes(cut):
    from kronos_studio.service.body_limit import LineCount

    text = json.dumps({"bars_csv": "a\nb\\nc\\\nd\r\n\\\\n" + "\\" * 5 + "\n"}).encode()
    assert json.loads(text)["bars_csv"].count("\n") == 4
    count = LineCount(most=100)
    for i in range(0, len(text), cut):
        count.add(text[i:i + cut])
    assert count.seen == 4


def test_every_limit_is_a_serve_option_and_a_row_of_the_docs_limits_table():
    import dataclasses

    from kronos_studio.cli.main import build_parser
    from kronos_studio.desk import Limits

    docs = (Path(__file__).parents[3] / "docs" / "service.md").read_text()
    table = docs[docs.index("## Limits"):docs.index("## Warm models")]
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    options = {o for action in serve._actions for o in action.option_strings}
    for f in dataclasses.fields(Limits):
        option = f"--max-{f.name.replace('_', '-')}"
        assert option in options and f"`{option}`" in table, option
