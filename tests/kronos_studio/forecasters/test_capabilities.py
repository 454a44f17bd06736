"""The optional capabilities of a forecaster are ``Forecaster`` methods with defaults: a forecaster that
writes only ``sample`` is batched, walked forward, weighed by a meta-learner and told apart by its key and
name without a caller probing it for anything; the registry's in-turn wrapper hands on every part of the
seam by name."""
from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

from kronos.forecast import Forecast
from kronos.settings import ForecastSettings
from kronos_studio.catalog.registry import InTurn
from kronos_studio.ensemble.members import member_identity
from kronos_studio.evaluation.baselines import RandomWalk
from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward
from kronos_studio.forecasters import Forecaster, make_forecast, make_forecasts
from kronos_studio.forecasters.bounds import bounded
from kronos_studio.forecasters.window import history_window

SETTINGS = ForecastSettings(horizon=4, paths=6, seed=11)


class LastClose(Forecaster):
    """Writes only what every forecaster must: its names, its lookback and ``sample`` (the last close, with
    noise from the seed)."""

    key, name = "last_close", "last close"

    def lookback(self, horizon):
        return 40

    def lookback_reason(self, horizon):
        return "forty bars"

    def sample(self, history, future, settings, progress=None):
        close = float(history["close"].iloc[-1])
        noise = np.random.default_rng(settings.seed).standard_normal((settings.paths, settings.horizon, 6))
        paths = (close * (1 + 0.01 * noise)).astype(np.float32)
        return Forecast(pd.DatetimeIndex(future), paths, paths.mean(0), history, settings, {"model": self.key})


def test_the_defaults_answer_for_a_forecaster_that_writes_only_sample(daily):
    model = LastClose()
    assert model.batch_size == 1 and model.members == {} and model.training_period() is None
    assert model.device() == "cpu"
    assert model.describe() == model.identity() == {"key": "last_close", "name": "last close"}
    assert member_identity(model)["key"] == "last_close" and len(member_identity(model)["digest"]) == 16

    # sample_batch without a batched run: each series on its own stream, as a forecast of it alone
    one = make_forecast(model, daily, SETTINGS)
    history = history_window(model, daily, SETTINGS)
    batch = model.sample_batch([history, history], [one.timestamps, one.timestamps], SETTINGS)
    for fc in batch:  # make_forecast bounds volume and amount; the sampler's own paths are the same
        np.testing.assert_array_equal(bounded(fc).paths, one.paths)
    with pytest.raises(NotImplementedError, match="no batched run"):
        model.sample_batch([history, history], [one.timestamps, one.timestamps], SETTINGS, per_series_stream=False)

    many = make_forecasts(model, [daily, daily], SETTINGS)
    assert [fc.provenance["forecaster"] for fc in many] == ["last_close"] * 2
    np.testing.assert_array_equal(many[1].paths, one.paths)
    assert one.members == {}  # a single model's forecast mixes nothing

    result = walk_forward(model, daily, SETTINGS, options=WalkForward(n_cutoffs=3))
    assert len(result.cutoffs) == 3 and result.members == {}


def test_the_forecaster_the_registry_hands_on_in_turns_answers_as_its_model(daily):
    inner = RandomWalk(window=30)
    turns = []

    @contextlib.contextmanager
    def turn():
        turns.append("held")
        yield

    served = InTurn(inner, turn)
    assert (served.key, served.name, served.min_history, served.batch_size, served.members) == \
        (inner.key, inner.name, inner.min_history, inner.batch_size, inner.members)
    assert served.describe() == inner.describe() and served.identity() == inner.identity()
    assert served.training_period() is None and served.device() == "cpu"
    assert (served.lookback(5), served.lookback_reason(5)) == (inner.lookback(5), inner.lookback_reason(5))
    assert "__getattr__" not in vars(InTurn)

    fc = make_forecast(served, daily, SETTINGS)
    assert turns == ["held"]
    np.testing.assert_array_equal(fc.paths, make_forecast(inner, daily, SETTINGS).paths)
    history = history_window(inner, daily, SETTINGS)
    served.sample_batch([history], [fc.timestamps], SETTINGS)
    assert turns == ["held", "held"]
