"""Chronos-2 conditioned on other series (kronos_studio.covariates.chronos2), on the bundled small Chronos-2."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources.schema import Bars
from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.covariates.chronos2 import CovariateChronos2, joint_quantiles
from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2, Chronos2Member, load_chronos2

pytest.importorskip("chronos.chronos2")


@pytest.fixture(scope="module")
def pipeline():
    return load_chronos2(BUNDLED_CHRONOS2, device="cpu")[0]


def daily(close, symbol, start="2024-01-01") -> Bars:
    close = np.asarray(close, dtype=float)
    times = pd.date_range(start, periods=len(close), freq="D", tz="UTC")
    frame = pd.DataFrame({"timestamp": times, "open": close, "high": close * 1.005, "low": close * 0.995,
                          "close": close, "volume": np.full(len(close), 10.0)})
    return Bars.from_frame(frame, source="file", symbol=symbol, interval="1d", calendar="24/7")


def walk(seed, n):
    return 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n)))


@pytest.fixture(scope="module")
def pair():
    return daily(walk(1, 300), "BTC"), daily(walk(2, 300), "ETH")


def test_covariate_reaches_the_model_aligned_and_named(pipeline, pair):
    target, eth = pair
    member = CovariateChronos2(pipeline, [eth], target=target, paths=50)
    history = target.frame.iloc[:200]
    item = member.covariate_inputs(history)
    np.testing.assert_allclose(item["past_covariates"]["with:ETH"], np.log(eth.frame["close"].to_numpy()[:200]))
    assert item["target"].shape == (200,)
    plain = Chronos2Member(pipeline, paths=50)
    settings = ForecastSettings(horizon=5, paths=50, seed=3)
    future = target.timestamps[200:205]
    with_cov, without = member.sample(history, future, settings), plain.sample(history, future, settings)
    assert with_cov.paths.shape == without.paths.shape == (50, 5, 6)
    assert not np.allclose(with_cov.paths, without.paths)  # the covariate changed what the model said
    assert with_cov.provenance["covariates"][0]["name"] == "ETH"
    assert any("dropped" in n for n in with_cov.provenance["covariate_notes"])  # ETH's bars after the cut-off
    assert "given ETH" in member.name


def test_two_forecasts_differing_only_in_covariates_have_different_identities(pipeline, pair):
    target, eth = pair
    ltc = daily(walk(3, 300), "LTC")
    a = CovariateChronos2(pipeline, [eth], target=target).identity()
    b = CovariateChronos2(pipeline, [ltc], target=target).identity()
    c = CovariateChronos2(pipeline, [eth.replace(frame=eth.frame.assign(close=eth.frame["close"] * 1.01))],
                          target=target).identity()  # same name, other bars
    plain = Chronos2Member(pipeline).identity()
    assert len({repr(x) for x in (a, b, c, plain)}) == 4
    assert a == CovariateChronos2(pipeline, [eth], target=target).identity()


def test_leaked_future_in_a_covariate_never_reaches_the_model(pipeline):
    """A covariate whose bars after the cut-off copy the target's future: the forecast equals the one from a
    covariate whose post-cut-off bars are something else entirely."""
    target = daily(walk(5, 260), "BTC")
    base = walk(6, 260)
    leaky = daily(np.concatenate([base[:200], target.frame["close"].to_numpy()[200:]]), "ETH")
    other = daily(np.concatenate([base[:200], base[200:] * 5.0]), "ETH")
    history, future = target.frame.iloc[:200], target.timestamps[200:210]
    settings = ForecastSettings(horizon=10, paths=40, seed=0)
    a = CovariateChronos2(pipeline, [leaky], target=target).sample(history, future, settings)
    b = CovariateChronos2(pipeline, [other], target=target).sample(history, future, settings)
    np.testing.assert_array_equal(a.paths, b.paths)


def test_scheduled_events_go_in_as_known_future_covariates(pipeline):
    from kronos_studio.events import calendar_from_frame

    target = daily(walk(7, 120), "BTC")
    releases = pd.DataFrame({"time": ["2024-03-10 08:30", "2024-04-15 08:30"], "type": ["cpi", "cpi"]})
    cal = calendar_from_frame(releases, "test")
    member = CovariateChronos2(pipeline, target=target, known_future=["cpi"], event_calendar=cal)
    history, future = target.frame.iloc[:100], target.timestamps[100:110]
    item = member.covariate_inputs(history, future)
    assert item["future_covariates"]["event:cpi"].shape == (10,)
    assert item["past_covariates"]["event:cpi"].sum() == 1  # 2024-03-10: in the history
    assert item["future_covariates"]["event:cpi"].sum() == 1  # 2024-04-15: ahead
    assert member.sample(history, future, ForecastSettings(horizon=10, paths=20)).paths.shape == (20, 10, 6)
    with pytest.raises(InputError, match="future bar times"):
        member.covariate_inputs(history, None)


def test_refusals_come_before_any_forecast(pipeline, pair):
    target, eth = pair
    with pytest.raises(InputError, match="the target itself"):
        CovariateChronos2(pipeline, [target], target=target)


def test_several_targets_forecast_as_one_group(pipeline, pair):
    btc, eth = pair
    out = joint_quantiles(Chronos2Member(pipeline), [btc, eth], horizon=4)
    assert set(out) == {"BTC", "ETH"}
    assert out["BTC"].shape == out["ETH"].shape == (4, 21)
    for name, bars in (("BTC", btc), ("ETH", eth)):  # each series' own level, not the other's
        assert abs(np.log(out[name][0, 10] / bars.frame["close"].iloc[-1])) < 0.05


def test_a_target_forecast_jointly_is_the_target_given_the_other_as_covariate(pipeline, pair):
    """Why no face offers ``--jointly`` (docs/covariates.md): Chronos-2 reads a past-only covariate as a member of
    the group whose future it does not output, so the target's quantiles are the same whether the other series is
    its covariate or a co-target; what a joint forecast adds is the other series' own forecast."""
    btc, eth = pair
    joint = joint_quantiles(Chronos2Member(pipeline), [btc, eth], horizon=4)["BTC"]
    _, (given,) = CovariateChronos2(pipeline, [eth], target=btc).quantiles_batch([btc.frame], 4)
    np.testing.assert_allclose(joint, given, rtol=1e-6)
    _, (alone,) = Chronos2Member(pipeline).quantiles_batch([btc.frame], 4)
    assert not np.allclose(joint, alone)  # the other series did reach the model


class Recording:
    """The real pipeline, keeping every input a model call receives."""

    def __init__(self, pipeline):
        self.pipeline, self.received = pipeline, []

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def predict_quantiles(self, inputs, **kwargs):
        self.received.extend(inputs)
        return self.pipeline.predict_quantiles(inputs, **kwargs)


def test_walk_forward_cut_offs_never_receive_a_covariate_bar_after_their_own_close(pipeline):
    """A twin of the target (same closes, other volumes) as the covariate: every bar after each cut-off is a copy of
    the target's future. What each cut-off's model call receives is the twin as of that cut-off, bar for bar the
    target's own history, never one bar later."""
    from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward

    target = daily(walk(11, 400), "BTC")
    twin = target.replace(symbol="TWIN", frame=target.frame.assign(volume=7.0))
    spy = Recording(pipeline)
    member = CovariateChronos2(spy, [twin], target=target, context_length=64, paths=20)
    cutoffs = list(range(100, 390, 29))
    walk_forward(member, target, ForecastSettings(horizon=5, paths=20), cutoffs, WalkForward(min_history=64))
    assert len(spy.received) == len(cutoffs)
    for item, c in zip(spy.received, cutoffs):
        np.testing.assert_array_equal(item["past_covariates"]["with:TWIN"], item["target"])
        np.testing.assert_array_equal(item["target"], np.log(target.frame["close"].to_numpy()[c - 64:c]))


def test_options_name_the_member(pipeline):
    from data_sources import load_sample
    from kronos_studio.covariates.chronos2 import from_options
    from kronos_studio.covariates.options import CovariateOptions

    spx = "S&P 500 index daily 1999-2018 (arch)"
    target = load_sample("NASDAQ Composite daily 1999-2018 (arch)")
    plain = from_options(pipeline, target, CovariateOptions())
    assert type(plain) is Chronos2Member
    member = from_options(pipeline, target, CovariateOptions(covariates=[spx], known_future=["fomc"]))
    assert [c["name"] for c in member.covariates_read()] == ["^GSPC"] and member.known_future == ("fomc",)
    assert member.identity() != plain.identity()
