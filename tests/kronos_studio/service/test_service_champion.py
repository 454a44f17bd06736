"""The model ``champion`` through the service: what serves is read from the service's own ledger in the
caller's workspace, per request, so a promote or a rollback is never answered from the cache with the
adapter before it; a batch serves each series by its own champion."""
from __future__ import annotations

import io

import httpx
import pandas as pd
from champion_kit import LOOKBACK, promote_champion
from service_helpers import bearer, finished_job
from testkit import random_bars

from kronos_studio.bars_input import read_bars
from kronos_studio.ledger.registry import Registry, SeriesKey
from kronos_studio.service.public_ids import AdapterNumbers


def number(ledger, entry) -> int:
    """The adapter's number as the service answers it: its place among its workspace's adapters (the session's
    service holds other tests' adapters too, in any order)."""
    return AdapterNumbers(ledger).number(entry.id)


def series_csv(seed: int) -> str:
    return random_bars(200, seed=seed, freq="1h", start="2026-03-02").to_csv(index=False)


def test_a_promote_and_a_rollback_change_what_an_identical_request_is_answered_with(service, tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    base, svc, tokens = service
    text = series_csv(11)
    body = {"bars_csv": text, "symbol": "SVCHAMP", "model": "champion", "horizon": 4, "paths": 4, "record": False}
    ledger = svc.ledger.scoped("team-a")

    def served() -> tuple[int | None, str]:
        with httpx.Client(base_url=base, headers=bearer(tokens["a"]), timeout=300) as c:
            answer = c.post("/v1/forecast", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()["provenance"]["adapter_id"], answer.json()["provenance"]["champion"]

    assert served()[0] is None  # no champion yet: the base model
    entry = promote_champion(read_bars(text.encode(), "SVCHAMP.csv", symbol="SVCHAMP"), ledger, tmp_path / "adapter")
    adapter, note = served()
    assert adapter == number(ledger, entry) and note.startswith(f"champion adapter {adapter} of file:SVCHAMP:1h")
    Registry(ledger).rollback(entry.series)
    assert served()[0] is None
    # another workspace's champions are not this one's
    assert Registry(svc.ledger.scoped("team-b")).champion(entry.series) is None


def test_a_batch_serves_each_series_by_its_champion_in_the_callers_workspace(service, tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    base, svc, tokens = service
    texts = {"SVBA": series_csv(12), "SVBB": series_csv(13)}
    # team-b's champion registered first: the ledger's registry id of team-a's adapter is then not its number in
    # team-a, which is all a caller may see of it (its id would count the other workspaces' adapters)
    other = promote_champion(read_bars(texts["SVBB"].encode(), "SVBB.csv", symbol="SVBB"), svc.ledger.scoped("team-b"),
                             tmp_path / "adapter-b")
    entry = promote_champion(read_bars(texts["SVBA"].encode(), "SVBA.csv", symbol="SVBA"), svc.ledger.scoped("team-a"),
                             tmp_path / "adapter")
    assert number(svc.ledger.scoped("team-a"), entry) != entry.id
    body = {"series": [{"name": n, "bars_csv": t} for n, t in texts.items()], "model": "champion", "horizon": 4,
            "paths": 4}
    adapters = {}
    for who in ("a", "b"):
        with httpx.Client(base_url=base, headers=bearer(tokens[who]), timeout=300) as c:
            submitted = c.post("/v1/batch", json=body)
            assert submitted.status_code == 202, submitted.text
            status = finished_job(c, submitted.json()["id"], 300, poll_s=0.5)
            assert status["status"] == "done", status
            rows = c.get(f"/v1/jobs/{submitted.json()['id']}/result").json()["rows"]
            table = pd.read_parquet(io.BytesIO(c.get(f"/v1/jobs/{submitted.json()['id']}/result",
                                                     params={"format": "parquet"}).content))
        assert [r["status"] for r in rows] == ["ok", "ok"], rows
        adapters[who] = {r["series"]: r["adapter_id"] for r in rows}
        assert [None if pd.isna(v) else v for v in table["adapter_id"]] == [r["adapter_id"] for r in rows]
        for r in rows:  # the champion's words name it by the same number ("champion adapter 1 of ...")
            assert r["adapter_id"] is None or f"adapter {r['adapter_id']} " in r["champion"], r
        assert SeriesKey(rows[0]["source"], rows[0]["symbol"], rows[0]["interval"]) == entry.series
    assert adapters == {"a": {"SVBA": number(svc.ledger.scoped("team-a"), entry), "SVBB": None},
                        "b": {"SVBA": None, "SVBB": number(svc.ledger.scoped("team-b"), other)}}


def test_evaluate_walks_the_series_champion_forward_and_names_it(service, tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    base, svc, tokens = service
    later = random_bars(300, seed=14, freq="1h", start="2026-03-02")
    entry = promote_champion(read_bars(later.iloc[:200].to_csv(index=False).encode(), "SVEVAL.csv", symbol="SVEVAL"),
                             svc.ledger.scoped("team-a"), tmp_path / "adapter")
    # the series with bars after those its champion learned from (the same 200 and 100 more): cut-offs it has not
    # seen (a champion serves only bars that hold the window it learned from)
    text = later.to_csv(index=False)
    body = {"bars_csv": text, "symbol": "SVEVAL", "model": "champion", "horizon": 4, "paths": 4, "cutoffs": 3}
    answers = {}
    for who in ("a", "b"):
        with httpx.Client(base_url=base, headers=bearer(tokens[who]), timeout=300) as c:
            answer = c.post("/v1/evaluate", json=body)
        assert answer.status_code == 200, answer.text
        answers[who] = answer.json()
    served = number(svc.ledger.scoped("team-a"), entry)
    assert answers["a"]["model"]["adapter_id"] == served
    assert answers["a"]["model"]["champion"].startswith(f"champion adapter {served} of file:SVEVAL:1h")
    assert answers["a"]["lookback"] == LOOKBACK  # the history its gate scored it with
    assert answers["b"]["model"]["adapter_id"] is None  # another workspace: the base model
    assert answers["b"]["model"]["champion"].startswith("no champion for file:SVEVAL:1h: the base model")
