"""Issue 46: the settings of a forecast reach the sampler whole, whatever path the forecast takes (a
forecast, its walk-forward, the ensemble), and a forecast and its walk-forward read the same bars."""
from __future__ import annotations

import dataclasses

import pytest

from kronos.pipeline import KronosPipeline
from kronos.settings import ForecastSettings
from kronos_studio.catalog import resolve
from kronos_studio.forecasters import make_forecast

SETTINGS = ForecastSettings(horizon=6, paths=8, seed=3)


def _load(model_folder):
    from kronos.checkpoints import load_pair

    return load_pair(model_folder.folder, device="cpu")


@pytest.fixture
def sampled(monkeypatch) -> list:
    """Every Forecast the Kronos pipeline made (its settings and the history it read), however it was called."""
    made = []
    where = "sample" if hasattr(KronosPipeline, "sample") else "predict_batch"  # the lowest entry point
    original = getattr(KronosPipeline, where)

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        made.extend(out)
        return out

    monkeypatch.setattr(KronosPipeline, where, spy)
    return made


def test_the_ensemble_samples_its_kronos_member_with_the_forecasts_clip(daily, tiny, sampled):
    """The ensemble dropped ``clip``: its Kronos member normalised with the default while the provenance
    recorded the one asked for."""
    settings = dataclasses.replace(SETTINGS, clip=2.5)
    forecaster = resolve("ensemble", daily, settings, load_pair=lambda ref: _load(tiny))
    fc = make_forecast(forecaster, daily, settings)
    assert sampled and {s.settings.clip for s in sampled} == {2.5}
    assert fc.provenance["settings"]["clip"] == 2.5


def test_a_forecast_and_its_walk_forward_read_the_same_bars(daily, tiny, sampled):
    """A lookback past context - horizon: the forecast read ``lookback`` bars, its walk-forward (whose
    calibration the forecast page applies to it) context - horizon, the pipeline trimming again."""
    from kronos_studio.evaluation.report import evaluation_report
    from kronos_studio.evaluation.trust import TrustPlan

    forecaster = resolve(str(tiny.folder), device="cpu")
    settings = dataclasses.replace(SETTINGS, lookback=forecaster.pair.context - SETTINGS.horizon + 40)
    fc = make_forecast(forecaster, daily, settings)
    assert fc.provenance["bars_used"] == settings.lookback
    sampled.clear()
    evaluation_report(forecaster, daily, settings, TrustPlan(n_cutoffs=2, include_trained=True))
    assert sampled and {len(s.history) for s in sampled} == {settings.lookback}


@dataclasses.dataclass(frozen=True)
class WithToyKnob(ForecastSettings):
    """A sampling knob added to the settings and nowhere else: it must reach the sampler on every path."""

    toy_knob: float = 0.0


def test_a_new_sampling_knob_reaches_the_sampler_by_every_path_with_no_other_edit(daily, tiny, sampled):
    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.evaluation.report import evaluation_report
    from kronos_studio.evaluation.trust import TrustPlan
    from kronos_studio.forecasters import make_forecasts

    settings = WithToyKnob(horizon=6, paths=8, seed=3, toy_knob=0.25)
    kronos = resolve(str(tiny.folder), device="cpu")
    paths = {
        "make_forecast": lambda: make_forecast(kronos, daily, settings),
        "the walk-forward": lambda: evaluation_report(kronos, daily, settings, TrustPlan(n_cutoffs=2, include_trained=True)),
        "kronos batch": lambda: make_forecasts(kronos, [daily, daily], BatchSettings(settings).forecast_settings(kronos)),
        "the ensemble": lambda: make_forecast(resolve("ensemble", daily, settings, load_pair=lambda ref: _load(tiny)),
                                              daily, settings),
    }
    for name, run in paths.items():
        sampled.clear()
        run()
        assert sampled, name
        assert {getattr(fc.settings, "toy_knob", None) for fc in sampled} == {0.25}, name
