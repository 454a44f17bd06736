"""The forecaster seam: every kind of model behind ``Forecaster``, one ``make_forecast``, and a new
statistical model added by one module and one registry entry."""
from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pandas as pd
import pytest
from testkit import random_bars

from kronos.forecast import Forecast
from kronos.settings import ForecastSettings
from kronos_studio.catalog import STATISTICAL, resolve
from kronos_studio.catalog.resolve import Statistical
from kronos_studio.cli.errors import cli_line
from kronos_studio.forecasters import Forecaster, make_forecast, make_forecasts

SETTINGS = ForecastSettings(horizon=6, paths=8, seed=3)


def test_every_statistical_model_is_a_forecaster(daily):
    for key in STATISTICAL:
        forecaster = resolve(key)
        assert isinstance(forecaster, Forecaster)
        fc = make_forecast(forecaster, daily, SETTINGS)
        assert fc.paths.ndim == 3 and fc.paths.shape[1:] == (SETTINGS.horizon, 6), key
        assert np.isfinite(fc.paths).all(), key
        assert fc.provenance["forecaster"] == key
        assert len(fc.history) == forecaster.lookback(SETTINGS.horizon) == fc.provenance["bars_used"]
        assert fc.history["timestamp"].iloc[-1] == daily.frame["timestamp"].iloc[-1]
        # future bar times on the series' calendar: NYSE sessions after the last bar
        assert list(fc.timestamps) == list(daily.future_timestamps(SETTINGS.horizon)), key
        assert forecaster.training_period() is None  # fitted on the history it is given only


def test_the_decode_mode_reaches_the_pipeline_and_the_app_reads_it_from_the_environment(tiny, monkeypatch):
    """One-shot commands decode eagerly; ``kronos serve --decode`` and the app (``KRONOS_STUDIO_DECODE``)
    choose, and a bad value is refused with the allowed ones."""
    from app_support.models import DECODE_ENV, app_decode  # the app's decode mode: only the app reads it

    assert resolve(str(tiny.folder), device="cpu").pipeline.decode == "eager"
    assert resolve(str(tiny.folder), device="cpu", decode="static").pipeline.decode == "static"
    with pytest.raises(ValueError, match="decode must be one of"):
        resolve(str(tiny.folder), device="cpu", decode="fast")
    monkeypatch.delenv(DECODE_ENV, raising=False)
    assert app_decode() is None
    monkeypatch.setenv(DECODE_ENV, "compiled")
    assert app_decode() == "compiled"
    monkeypatch.setenv(DECODE_ENV, "turbo")
    with pytest.raises(ValueError, match="KRONOS_STUDIO_DECODE=turbo is not a decode mode: use one of eager"):
        app_decode()


def test_make_forecast_of_kronos_is_the_pipelines_forecast(daily, tiny):
    from kronos_studio.forecasters.bounds import bounded
    from kronos_studio.forecasting import studio_pipeline

    forecaster = resolve(str(tiny.folder), device="cpu")
    assert isinstance(forecaster, Forecaster) and forecaster.members == {}
    made = make_forecast(forecaster, daily, SETTINGS)
    raw = studio_pipeline(forecaster.pair).predict(daily, settings=SETTINGS)
    direct = bounded(raw)  # the core's numbers, candles, volume and amount read as the studio reads them
    np.testing.assert_array_equal(made.paths, direct.paths)
    np.testing.assert_array_equal(made.paths[..., [0, 3]], raw.paths[..., [0, 3]])  # open and close as sampled
    np.testing.assert_array_equal(made.paths[..., 1], raw.paths[..., :4].max(axis=-1))  # the high covers them all
    np.testing.assert_array_equal(made.paths[..., 2], raw.paths[..., :4].min(axis=-1))
    assert list(made.timestamps) == list(direct.timestamps)
    assert made.provenance["input_sha256"] == direct.provenance["input_sha256"]
    batch = make_forecasts(forecaster, [daily, daily.replace(frame=daily.frame.iloc[:-3])], SETTINGS)
    np.testing.assert_array_equal(batch[0].paths, direct.paths)  # each series on its own stream


def test_every_forecast_says_the_cpu_threads_it_sampled_with_and_why(daily, tiny, monkeypatch):
    """kronos.threads decides each forecast's threads (alone: every core this process may use; with a
    setting: that many); the provenance says how many, of how many cores, and what decided."""
    from kronos import threads as thread_settings
    from kronos.threads import ENV_THREADS, OMP_THREADS, usable_cores

    monkeypatch.setattr(thread_settings, "_configured", None)  # no --threads of this process: the share decides
    monkeypatch.delenv(ENV_THREADS, raising=False)
    monkeypatch.delenv(OMP_THREADS, raising=False)
    cores = usable_cores()
    kronos = resolve(str(tiny.folder), device="cpu")
    assert make_forecast(kronos, daily, SETTINGS).provenance["threads"] == {
        "threads": cores.count, "cores": cores.count, "limited_by": cores.limited_by, "setting": None,
        "asked_by": None, "shared": True, "computing": 1}
    monkeypatch.setenv(ENV_THREADS, "1")
    for fc in [make_forecast(resolve("har"), daily, SETTINGS), *make_forecasts(kronos, [daily, daily], SETTINGS)]:
        threads = fc.provenance["threads"]
        assert (threads["threads"], threads["setting"], threads["asked_by"], threads["shared"]) == (
            1, 1, ENV_THREADS, False)


def test_a_lookback_longer_than_the_history_is_refused(daily):
    import dataclasses

    from kronos.errors import InputError

    with pytest.raises(InputError, match="lookback is 5000 bars but only 600"):
        make_forecast(resolve("random_walk"), daily, dataclasses.replace(SETTINGS, lookback=5000))


@pytest.mark.parametrize("model", ["kronos", "ensemble", *[k for k in STATISTICAL if k != "persistence"]])
def test_a_history_too_short_for_the_model_is_refused_with_the_numbers(daily, tiny, model):
    """Issue 45 item 2: 3 daily bars were forecast (by the library, so by the CLI, the service, the app,
    batch and the walk-forward), their scale read from 3 numbers. Refused with the bars given, the bars
    needed and the fix; so is a lookback that cuts the history that short. MIN_HISTORY bars are enough."""
    import dataclasses

    from kronos.config import MIN_HISTORY
    from kronos.errors import InputError
    from kronos_studio.evaluation.report import evaluation_report
    from kronos_studio.evaluation.trust import TrustPlan

    ref = str(tiny.folder) if model == "kronos" else model
    forecaster = resolve(ref, daily, SETTINGS, load_pair=lambda _: _load(tiny))
    assert forecaster.min_history == MIN_HISTORY
    three = daily.replace(frame=daily.frame.iloc[:3])
    with pytest.raises(InputError, match=f"the history has 3 bars but .* needs at least {MIN_HISTORY} .*: load at "
                                         f"least {MIN_HISTORY} bars"):
        make_forecast(forecaster, three, SETTINGS)
    with pytest.raises(InputError, match=f"needs at least {MIN_HISTORY}"):
        make_forecasts(forecaster, [daily, three], SETTINGS)  # kronos batch
    short = dataclasses.replace(SETTINGS, lookback=5)
    with pytest.raises(InputError, match=f"lookback is 5 bars but .* needs at least {MIN_HISTORY} .*: raise the "
                                         f"lookback to {MIN_HISTORY}"):
        make_forecast(forecaster, daily, short)
    with pytest.raises(InputError, match="lookback is 5 bars"):
        evaluation_report(forecaster, daily, short, TrustPlan(n_cutoffs=2, include_trained=True))  # the walk-forward
    if model != "ensemble":  # whose Kronos member reads its own, longer lookback
        enough = make_forecast(forecaster, daily.replace(frame=daily.frame.iloc[:MIN_HISTORY]), SETTINGS)
        assert enough.provenance["bars_used"] == MIN_HISTORY


def test_persistence_estimates_nothing_and_needs_no_long_history(daily):
    """The last bar repeated: no scale is read from the history, so a short one is no reason to refuse."""
    fc = make_forecast(resolve("persistence"), daily.replace(frame=daily.frame.iloc[:3]), SETTINGS)
    assert (fc.paths == daily.frame[list(fc.columns)].to_numpy(np.float32)[2]).all()


def test_the_ensemble_is_a_forecaster_with_members(daily, tiny):
    forecaster = resolve("ensemble", daily, SETTINGS, load_pair=lambda ref: _load(tiny))
    assert isinstance(forecaster, Forecaster)
    assert set(forecaster.members) >= {"kronos", "garch", "random_walk", "bootstrap"}
    fc = make_forecast(forecaster, daily, SETTINGS)
    assert fc.paths.shape == (SETTINGS.paths, SETTINGS.horizon, 6)
    assert set(fc.members) == set(forecaster.members)
    assert sum(fc.provenance["weights"].values()) == pytest.approx(1.0)
    assert fc.provenance["meta_learner"]["files_sha256"]  # which meta-learner mixed them
    # A walk-forward keeps what each member gave the mixture, to score each on those paths.
    from kronos_studio.evaluation.walk_forward import member_results, walk_forward

    cutoffs = [len(daily.frame) - 2 * SETTINGS.horizon, len(daily.frame) - SETTINGS.horizon]
    result = walk_forward(forecaster, daily.frame, SETTINGS, cutoffs)
    assert len(result.weights) == 2 and set(result.members) == set(forecaster.members)
    members = member_results(result, {key: m.name for key, m in forecaster.members.items()})
    assert members["garch"].cutoffs == result.cutoffs and members["garch"].seeds == result.seeds
    at_last = make_forecast(forecaster, daily.replace(frame=daily.frame.iloc[:cutoffs[1]]),
                            dataclasses.replace(SETTINGS, seed=SETTINGS.seed + 1))  # the cut-off as a forecast
    np.testing.assert_array_equal(result.members["garch"][1], at_last.members["garch"])


def _load(model_folder):
    from kronos.checkpoints import load_pair

    return load_pair(model_folder.folder, device="cpu")


def test_a_new_statistical_model_is_one_module_and_one_entry(daily, tmp_path, monkeypatch, capsys):
    """The newcomer check: a made-up model in a module of its own, registered; the resolver, the
    walk-forward and `kronos forecast --model` take it with nothing else changed."""
    (tmp_path / "toy_model.py").write_text(textwrap.dedent('''
        import numpy as np

        from kronos_studio.forecasters import PathModel

        class DriftUp(PathModel):
            """Every path rises 1% a bar from the last close."""
            key, name = "drift_up", "Drift up 1%"

            def draw(self, history, future, settings):
                last = float(history["close"].iloc[-1])
                close = last * 1.01 ** np.arange(1, settings.horizon + 1)
                bar = np.stack([close, close, close, close, np.ones(settings.horizon), close], axis=-1)
                return np.repeat(bar[None], self.draws(settings), axis=0)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(STATISTICAL, "drift_up", Statistical("drift_up", "toy_model", "DriftUp"))
    fc = make_forecast(resolve("drift_up"), daily, SETTINGS)
    assert isinstance(fc, Forecast)
    last = float(daily.frame["close"].iloc[-1])
    assert fc.quantiles([0.5])["close_p50"].iloc[0] == pytest.approx(last * 1.01)

    from kronos_studio.cli.main import main

    csv = tmp_path / "bars.csv"
    daily.frame.to_csv(csv, index=False)
    out = tmp_path / "q.csv"
    assert main(["forecast", str(csv), "--model", "drift_up", "--horizon", "6", "--paths", "8", "--out", str(out),
                 "--calendar", "XNYS", "--timezone", "UTC", "--no-ledger", "--quiet"]) == 0
    assert pd.read_csv(out)["close_p50"].iloc[-1] == pytest.approx(last * 1.01 ** 6)


def test_an_unknown_member_is_refused_by_the_ensemble(daily, tiny):
    """A member the meta-learner was not trained with would be ignored silently: refused with the fix."""
    from kronos_studio.ensemble.ensemble import Ensemble

    ensemble = resolve("ensemble", daily, SETTINGS, load_pair=lambda ref: _load(tiny))
    members = dict(ensemble.members, drift_up=STATISTICAL["random_walk"].make())
    with pytest.raises(ValueError, match="cannot weigh.*drift_up") as refused:
        Ensemble(members, ensemble.meta)
    # the library names the setting; the command line words it as the option and the command that trains one
    assert [f.setting for f in refused.value.fix] == ["meta", None]
    assert "give it as --meta DIR (kronos train ensemble writes one); leave them out" in cli_line(refused.value)
    del members["drift_up"], members["garch"]
    with pytest.raises(ValueError, match="missing.*garch"):
        Ensemble(members, ensemble.meta)


def test_an_ensemble_fitted_to_a_series_is_used_for_its_later_forecasts(tiny, tmp_path, monkeypatch):
    """`kronos train ensemble FILE` stores weights fitted on the series' past; the resolver uses them for that
    series' forecasts from then on (new bars too), and the provenance names the fit."""
    from data_sources import Bars
    from kronos_studio.ensemble.series import SeriesFit, fit_to_series

    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path))
    frame = random_bars(900, seed=6, freq="B", start="2019-01-02")
    daily = Bars.from_frame(frame, source="file", symbol="RND", interval="1d", timezone="UTC", calendar="XNYS")
    older = daily.replace(frame=daily.frame.iloc[:-20].reset_index(drop=True))
    members = resolve(str(tiny.folder), older, SETTINGS, ensemble=True, device="cpu").members
    fitted = fit_to_series(older, members, SETTINGS, SeriesFit(cutoffs=30))
    forecaster = resolve(str(tiny.folder), daily, SETTINGS, ensemble=True, device="cpu")  # 20 bars later
    assert forecaster.meta.folder == fitted.folder  # the series' own weights, not the bundled ones
    fc = make_forecast(forecaster, daily, SETTINGS)
    assert fc.provenance["meta_learner"]["fitted_to_series"] == "RND 1d"
    other = daily.replace(symbol="OTHER")  # another series: the bundled meta-learner's rule
    assert "fitted_to_series" not in make_forecast(resolve(str(tiny.folder), other, SETTINGS, ensemble=True,
                                                           device="cpu"), other, SETTINGS).provenance["meta_learner"]
    # Another file of the same name (other bars under the same series key): not the series it was fitted to.
    revised = daily.replace(frame=daily.frame.assign(close=daily.frame["close"] * 1.01))
    assert resolve(str(tiny.folder), revised, SETTINGS, ensemble=True, device="cpu").meta.folder != fitted.folder
