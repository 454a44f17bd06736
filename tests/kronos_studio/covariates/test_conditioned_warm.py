"""A conditioned forecast's Chronos-2 is kept warm where the desk keeps its models: in its registry's store, within
its ``max_models`` (``kronos serve --max-models``), not in a store of the process's beside it."""
from __future__ import annotations

from testkit import needs_bundled_chronos2

from data_sources.requests import BarsRequest
from data_sources.samples import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.catalog.registry import ModelRegistry
from kronos_studio.covariates.options import CovariateOptions
from kronos_studio.desk import Desk, ForecastRequest

needs_bundled_chronos2()

SETTINGS = ForecastSettings(horizon=3, paths=20)


def test_a_conditioned_forecasts_chronos2_is_one_of_the_registrys_models(tmp_path):
    frame = load_sample("NASDAQ Composite daily 1999-2018 (arch)").frame.tail(300)
    frame[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(tmp_path / "nasdaq.csv", index=False)
    registry = ModelRegistry(max_models=1)
    desk = Desk(registry)
    bars = BarsRequest(file=str(tmp_path / "nasdaq.csv"))
    desk.forecast(ForecastRequest(bars, "chronos2-small", SETTINGS,
                                  covariates=CovariateOptions(("S&P 500 index daily 1999-2018 (arch)",))))
    assert [k.split(":")[0] for k in registry.weights.loaded] == ["chronos2"]
    desk.forecast(ForecastRequest(bars, None, SETTINGS))  # the bundled Kronos: past max_models, Chronos-2 goes
    assert len(registry.weights.loaded) == 1 and not any(k.startswith("chronos2:") for k in registry.weights.loaded)
