"""A neural model kind besides Kronos lands in one module and one registration line: the toy kind below (its
forecaster class with its own weights file) is registered here and nowhere else, and is offered by name, listed,
loaded once per process and forecast through the desk."""
from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from data_sources import load_sample
from kronos.settings import ForecastSettings
from kronos_studio.catalog.kinds import NEURAL, NeuralKind, kind_of, register
from kronos_studio.catalog.registry import ModelRegistry
from kronos_studio.catalog.resolve import UnknownModel, catalog, offered, resolve
from kronos_studio.desk import Desk, ForecastRequest
from kronos_studio.forecasters.base import PathModel


class DriftModel(PathModel):
    """A toy neural forecaster: a log-return drift and scale read from its weights file."""

    name = "toy drift"
    key = "toy_drift"
    min_history = 2

    def __init__(self, weights: dict):
        self.drift, self.scale = weights["drift"], weights["scale"]

    def draw(self, history, future, settings):
        last = float(history["close"].iloc[-1])
        rng = np.random.default_rng(settings.seed)
        steps = self.drift + self.scale * rng.standard_normal((self.draws(settings), settings.horizon))
        close = last * np.exp(np.cumsum(steps, axis=1))
        paths = np.repeat(close[:, :, None], 6, axis=2)
        paths[:, :, 4:] = 1.0  # volume, amount
        return paths


@pytest.fixture
def toy(tmp_path):
    """The toy kind registered under a name of its own (a process's warm weights outlive a test), with a count
    of its weights' loads."""
    weights = tmp_path / "toy.json"
    weights.write_text(json.dumps({"drift": 0.001, "scale": 0.01}))
    loads = []

    def load():
        loads.append(weights)
        return json.loads(weights.read_text())

    name = f"toy-{uuid.uuid4().hex[:8]}"
    kind = register(NeuralKind(name, f"{name} (toy neural kind)", load, DriftModel, context=64))
    yield kind, loads
    NEURAL.pop(name)


def test_a_neural_kind_is_offered_by_name_and_listed(toy):
    kind, _ = toy
    assert offered(kind.name) == kind.name
    listed = {m.ref: m for m in catalog()}
    assert listed[kind.name].label == kind.label and listed[kind.name].context == 64
    assert not listed[kind.name].takes_adapter and not kind_of(kind.name).mixes
    NEURAL.pop(kind.name)
    try:
        with pytest.raises(UnknownModel):
            offered(kind.name)
    finally:
        register(kind)


def test_a_neural_kind_loads_once_and_forecasts_through_the_desk(toy):
    kind, loads = toy
    bars = load_sample("AAPL daily 2000-2013 (bundled)")
    desk = Desk()
    first = desk.forecast(ForecastRequest(bars, kind.name, ForecastSettings(horizon=5, paths=50, seed=1)))
    second = desk.forecast(ForecastRequest(bars, kind.name, ForecastSettings(horizon=5, paths=50, seed=2)))
    assert len(loads) == 1  # the second forecast found the weights warm in the process's registry
    assert first.forecast.paths.shape == (50, 5, 6)
    assert first.forecast.provenance["model"] == DriftModel.key
    assert not np.array_equal(first.forecast.paths, second.forecast.paths)
    assert f"{kind.name}:weights" in desk.registry.loaded()


def test_a_registry_keeps_a_neural_kind_within_its_models(toy):
    """A registry's own store holds every kind's weights and drops the least recently used past ``max_models``."""
    kind, loads = toy
    registry = ModelRegistry(load=lambda ref, **_: object(), max_models=1)
    resolve(kind.name, load_pair=registry.loader(kind.name))
    resolve(kind.name, load_pair=registry.loader(kind.name))
    assert len(loads) == 1
    registry.pair("some-kronos-folder")  # a second model: the toy's weights are dropped
    resolve(kind.name, load_pair=registry.loader(kind.name))
    assert len(loads) == 2


def test_a_neural_kind_is_not_mixed_into_the_ensemble(toy):
    kind, _ = toy
    with pytest.raises(ValueError, match="not a Kronos model"):
        resolve(kind.name, ensemble=True)
