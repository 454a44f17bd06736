"""Covariates as the leader channels of Kronos's event encoder (kronos_studio.covariates.kronos)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from data_sources.schema import Bars
from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.covariates.kronos import covariate_events, kronos_with_covariates
from kronos_studio.events import CHANNEL_NAMES, CHANNELS
from kronos_studio.forecasting import studio_pipeline

LEADER_INDEX = CHANNEL_NAMES.index("leader_index")


def daily(close, symbol, calendar="24/7", tz="UTC", times=None) -> Bars:
    close = np.asarray(close, dtype=float)
    times = pd.date_range("2024-01-01", periods=len(close), freq="D", tz=tz) if times is None else times
    frame = pd.DataFrame({"timestamp": times, "open": close, "high": close * 1.01, "low": close * 0.99,
                          "close": close, "volume": np.full(len(close), 5.0)})
    return Bars.from_frame(frame, source="file", symbol=symbol, interval="1d", calendar=calendar)


def walk(seed, n):
    return 100 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.01, n)))


def test_leader_channel_reads_the_covariate_s_return_up_to_the_cut_off_only():
    target, spx = daily(walk(1, 120), "BTC"), daily(walk(2, 120), "SPX")
    events = covariate_events(target, {"index": spx}, with_calendar=False)
    hist, fut = target.timestamps[:100], target.timestamps[100:110]
    m = events(hist, fut)
    assert m.shape == (110, CHANNELS)
    close = spx.frame["close"].to_numpy()
    np.testing.assert_allclose(m[50, LEADER_INDEX], 100 * np.log(close[50] / close[49]), rtol=1e-5)
    assert np.all(m[100:, LEADER_INDEX] == 0)  # the future bars: nothing read past the cut-off
    # bars after the cut-off that copy the target's future change nothing
    leaky = daily(np.concatenate([close[:100], target.frame["close"].to_numpy()[100:]]), "SPX")
    np.testing.assert_array_equal(covariate_events(target, {"index": leaky}, with_calendar=False)(hist, fut), m)


def test_an_index_daily_bar_counts_from_its_session_close():
    """A crypto day that ends at 00:00 UTC reads the index bar of the day before (closed 21:00 UTC), which
    the bar-time-plus-a-day convention would only count from midnight New York, after the crypto day ended."""
    from data_sources.calendars import exchange_calendar

    sessions = exchange_calendar("XNYS", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-01")).sessions_in_range(
        "2024-01-02", "2024-03-01").tz_localize("America/New_York")
    spx = daily(walk(3, len(sessions)), "SPX", "XNYS", "America/New_York", times=sessions)
    target = daily(walk(4, 60), "BTC", times=pd.date_range("2024-01-02", periods=60, freq="D", tz="UTC"))
    m = covariate_events(target, {"index": spx}, with_calendar=False)(target.timestamps[:50], target.timestamps[50:52])
    # crypto day 2024-01-03 (ends 01-04 00:00 UTC) reads the index's 01-03 close (21:00 UTC) against 01-02's
    i = list(target.timestamps).index(pd.Timestamp("2024-01-03", tz="UTC"))
    c = spx.frame["close"].to_numpy()
    np.testing.assert_allclose(m[i, LEADER_INDEX], 100 * np.log(c[1] / c[0]), rtol=1e-5)


def test_refusals():
    target = daily(walk(1, 120), "BTC")
    with pytest.raises(InputError, match="not a leader channel"):
        covariate_events(target, {"gold": daily(walk(2, 120), "XAU")})
    with pytest.raises(InputError, match="the target itself"):
        covariate_events(target, {"crypto": target.replace(symbol="BTC2")})


def test_a_kronos_with_an_event_encoder_forecasts_with_leaders_and_one_without_is_refused(random_model):
    pair = random_model("tiny").ours(64)
    target, spx = daily(walk(1, 120), "BTC"), daily(walk(2, 120), "SPX")
    pipeline = studio_pipeline(pair)
    with pytest.raises(InputError, match="no event encoder"):
        kronos_with_covariates(pipeline, target, {"index": spx})
    emb = pair.predictor.attach_event_embedding(CHANNELS)
    try:
        with torch.no_grad():
            emb.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
        settings = ForecastSettings(horizon=5, paths=4, seed=1)
        hist, fut = target.frame.iloc[:100], target.timestamps[100:105]
        close = spx.frame["close"].to_numpy()
        a = kronos_with_covariates(pipeline, target, {"index": spx}, with_calendar=False).sample(hist, fut, settings)
        leaky = daily(np.concatenate([close[:100], close[100:] * 3.0]), "SPX")
        b = kronos_with_covariates(pipeline, target, {"index": leaky}, with_calendar=False).sample(hist, fut, settings)
        other = daily(walk(9, 120), "SPX")
        c = kronos_with_covariates(pipeline, target, {"index": other}, with_calendar=False).sample(hist, fut, settings)
        np.testing.assert_array_equal(a.paths, b.paths)  # bars after the cut-off never reach the model
        assert not np.array_equal(a.paths, c.paths)  # the leader's history does
    finally:
        pair.predictor.event_emb = None
