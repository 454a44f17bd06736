"""``kronos serve --decode compiled``: the service compiles the usual shape's decode steps at start-up, in
the background, and requests then run the compiled steps."""
from __future__ import annotations

import pytest
from service_helpers import run_cli

from kronos.accel.static_decode import decoder_pool
from kronos.checkpoints import load_pair
from kronos.settings import DEFAULT_HORIZON, ForecastSettings
from kronos_studio.catalog.registry import ModelRegistry
from kronos_studio.desk import ForecastRequest
from kronos_studio.service.app import Service, ServiceConfig

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's inductor on torch.jit


def test_the_service_compiles_the_usual_shape_at_start(tiny_model, tmp_path):
    from data_sources import list_samples, load_sample

    # every ref: the tiny model
    registry = ModelRegistry(load=lambda ref: load_pair(tiny_model, device="cpu"), decode="compiled")
    service = Service(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", registry=registry,
                                    jobs_dir=str(tmp_path / "jobs")))
    try:
        assert service.warm_up is not None
        service.warm_up.join(timeout=600)
        assert registry.loaded()  # the warm-up loaded the default model
        pair = registry.pair(registry.loaded()[0])
        pool = decoder_pool(pair.predictor)  # the one every pipeline on this model uses
        pool.wait_for_builds(timeout=600)
        assert pool.failed == {}
        bars = load_sample(list_samples()[0].name)
        fc = service.desk.forecast(ForecastRequest(bars, None, ForecastSettings(horizon=DEFAULT_HORIZON))).forecast
        assert fc.provenance["decode"] == "compiled"  # the request found the steps compiled at start-up
        other = service.desk.forecast(ForecastRequest(bars, None,
                                                      ForecastSettings(horizon=DEFAULT_HORIZON + 40))).forecast
        assert other.provenance["decode"] == "eager" and other.provenance["compile_pending"]  # another shape
        pool.wait_for_builds(timeout=600)  # not left compiling beside the next tests
    finally:
        service.close()


def test_without_the_setting_there_is_no_warm_up(tmp_path):
    service = Service(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'ledger.sqlite'}", jobs_dir=str(tmp_path / "jobs")))
    try:
        assert service.warm_up is None and service.registry.loaded() == []
    finally:
        service.close()


def test_serve_refuses_an_unknown_decode_mode():
    out = run_cli("serve", "--decode", "jit", "--open")
    assert out.returncode != 0
    assert "--decode: decode must be one of" in out.stderr and "compiled" in out.stderr
    assert "Traceback" not in out.stderr
