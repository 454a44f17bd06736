"""One model registry (``kronos_studio.catalog.registry``) for the app and the service: a model loaded
by one is the same loaded pair for the other, and it is loaded once."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.catalog import ModelRef
from kronos_studio.catalog.registry import ModelRegistry, shared_registry
from kronos_studio.desk import ForecastRequest
from kronos_studio.service.app import Service, ServiceConfig


def test_the_app_and_the_service_load_a_model_through_one_registry(tiny_model, tmp_path, monkeypatch):
    from app_support import models

    assert models.registry() is shared_registry()
    ready = threading.Event()
    ready.set()
    monkeypatch.setattr(models, "warm_up", lambda: SimpleNamespace(torch_ready=ready))  # no app warm-up thread
    service = Service(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", registry=models.registry(),
                                    jobs_dir=str(tmp_path / "jobs")))
    try:
        bars = random_bars(100, seed=3, freq="1h")
        served = service.registry.forecaster(tiny_model, bars, ForecastSettings(horizon=3, paths=2))
        app_pair = models.load_model(ModelRef("folder:tiny", "tiny", tiny_model, "folder", 64))
        assert app_pair is served.pair  # the app found the pair the service loaded
        assert tiny_model in shared_registry().loaded()
    finally:
        service.close()


def test_concurrent_first_callers_wait_on_one_load_and_precisions_load_apart():
    calls = []
    started = threading.Event()

    def load(ref, **options):
        calls.append((ref, options))
        started.wait(timeout=5)
        return object()

    registry = ModelRegistry(load=load)
    got = []
    threads = [threading.Thread(target=lambda: got.append(registry.pair("m"))) for _ in range(4)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join(timeout=10)
    assert calls == [("m", {})] and len(got) == 4 and all(p is got[0] for p in got)
    assert registry.pair("m", precision="fp32") is got[0]  # the default precision is the same model
    assert registry.pair("m", precision="bf16") is not got[0] and calls[-1] == ("m", {"precision": "bf16"})
    assert registry.loaded() == ["m", "m@bf16"]
    assert registry.decoding("compiled").pair("m") is got[0]  # another decode mode shares the loaded pairs


def test_spellings_of_a_folder_load_one_copy_and_the_least_recently_used_model_is_dropped(tmp_path, monkeypatch):
    """Issue 53 item 9: keyed on the raw string and never dropping one, ten spellings of a folder were ten
    loaded copies, and every model ever named stayed loaded."""
    folders = []
    for name in ("m1", "m2", "m3"):
        (tmp_path / name / "predictor").mkdir(parents=True)
        folders.append(tmp_path / name)
    calls = []
    registry = ModelRegistry(load=lambda ref, **options: calls.append(ref) or object(), max_models=2)
    monkeypatch.chdir(tmp_path)
    m1 = folders[0]
    first = registry.pair(str(m1))
    for spelling in (f"{m1}/", f"{tmp_path}/./m1", f"{tmp_path}//m1", "m1", "./m1", f"{tmp_path}/m2/../m1"):
        assert registry.pair(spelling) is first
    assert calls == [str(m1.resolve())]
    registry.pair(str(folders[1]))
    registry.pair(str(m1))  # used again: m2 is now the least recently used
    registry.pair(str(folders[2]))
    assert registry.loaded() == [str(m1.resolve()), str(folders[2].resolve())]
    assert registry.pair(str(folders[1])) is not None and calls[-1] == str(folders[1].resolve())  # loaded anew


def test_forecasts_sample_up_to_the_concurrency_at_once_each_on_its_share_of_the_cores(monkeypatch):
    """``sampling``: at most ``concurrency`` forecasts at once, and the ones running share the cores
    (kronos.threads): alone, all of them; two at once, half each."""
    from kronos.errors import InputError
    from kronos.threads import ENV_THREADS, OMP_THREADS, thread_budget

    monkeypatch.delenv(ENV_THREADS, raising=False)
    monkeypatch.delenv(OMP_THREADS, raising=False)
    budget = thread_budget()
    registry = ModelRegistry(load=lambda ref, **options: object(), concurrency=2)
    inside, leave = threading.Event(), threading.Event()

    def first():
        with registry.sampling("a"):
            inside.set()
            leave.wait(timeout=60)

    worker = threading.Thread(target=first)
    worker.start()
    assert inside.wait(timeout=60)
    try:
        with registry.sampling("b") as beside:
            assert beside.computing == 2 and beside.threads == budget.threads(1, 2)
            assert registry.slots.free() == 0  # both taken: a third forecast waits
    finally:
        leave.set()
        worker.join(timeout=60)
    with registry.sampling("b") as alone:
        assert (alone.computing, alone.threads) == (1, budget.threads())
    one = ModelRegistry(load=lambda ref, **options: object())
    with one.sampling("a"):
        assert one.slots.free() == 0  # the default: one forecast at a time
    with pytest.raises(InputError, match="concurrency must be 1 or more"):
        ModelRegistry(concurrency=0)


def test_after_a_forecast_the_screener_and_a_batch_job_reuse_the_warm_model(tiny_model, tmp_path, monkeypatch):
    """Issue 52: the Screener and ``POST /v1/batch`` loaded the model again beside the process's warm registry;
    they forecast with its pairs now: one load in all."""
    import httpx
    from service_helpers import bearer, finished_job, running_server

    from app_support import models, screener
    from data_sources.requests import BarsRequest
    from kronos import checkpoints
    from kronos.checkpoints import load_pair
    from kronos_studio.batch.watchlist import Entry
    from kronos_studio.desk import Desk
    from kronos_studio.service.keys import create_key

    loads = []  # every model load of the process, the registry's or any other
    monkeypatch.setattr(checkpoints, "load_pair", lambda ref, **options: loads.append(ref) or load_pair(ref, **options))
    registry = ModelRegistry()
    settings = ForecastSettings(horizon=3, paths=2)
    entries = []
    for i in range(2):
        path = tmp_path / f"s{i}.csv"
        random_bars(100, seed=i, freq="1h").to_csv(path, index=False)
        entries.append(Entry(series=f"s{i}", file=str(path)))
    Desk(registry).forecast(ForecastRequest(BarsRequest(file=entries[0].file), tiny_model, settings))
    assert len(loads) == 1

    ready = threading.Event()
    ready.set()
    monkeypatch.setattr(models, "warm_up", lambda: SimpleNamespace(torch_ready=ready))  # no app warm-up thread
    monkeypatch.setattr(models, "registry", lambda: registry)
    ran = screener.run(entries, screener.RunSettings("folder:tiny", "tiny", tiny_model, 64, settings), "two files")
    assert list(ran.rows["status"]) == ["ok", "ok"]

    config = ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", registry=registry,
                           jobs_dir=str(tmp_path / "jobs"), models_dirs=(tiny_model,))
    with running_server(config) as (base, app):
        token = create_key(app.state.service.ledger, "team-a")[1]
        series = [{"name": e.series, "bars_csv": open(e.file).read()} for e in entries]
        with httpx.Client(base_url=base, headers=bearer(token), timeout=120) as c:
            submitted = c.post("/v1/batch", json={"series": series, "model": tiny_model, "horizon": 3, "paths": 2})
            assert submitted.status_code == 202, submitted.text
            assert finished_job(c, submitted.json()["id"], 120)["status"] == "done"
            rows = c.get(f"/v1/jobs/{submitted.json()['id']}/result").json()["rows"]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert len(loads) == 1  # the forecast's load, and no other
