"""The volatility members' time-of-day profile (``ensemble.intraday``): it recovers a known intraday
pattern, the members' fans follow it, and daily bars are left as they were."""
from __future__ import annotations

import numpy as np
import pandas as pd
from testkit import sampled

from kronos_studio.ensemble.intraday import time_of_day
from kronos_studio.ensemble.members import GarchMember, member_identity
from kronos_studio.ensemble.volatility import GjrGarchMember, HarMember

BARS_A_SESSION = 13  # 30-minute bars 09:30 ... 15:30
# Known variance shares of the 13 slots (a U shape), and of the gap before each session's first bar.
SHAPE = np.array([3.0, 1.6, 1.2, 1.0, 0.8, 0.7, 0.6, 0.6, 0.7, 0.8, 1.0, 1.3, 1.8])
GAP = 4.0  # the overnight gap's variance, in the same units


def intraday_bars(sessions: int, sigma: float = 0.002, seed: int = 0) -> pd.DataFrame:
    """30-minute bars of a driftless Brownian log price whose bar variances follow SHAPE, with a GAP
    overnight before each session's first bar (``steps`` intrabar points give high and low)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2025-01-06", periods=sessions)
    times = [d + pd.Timedelta(hours=9, minutes=30 + 30 * k) for d in days for k in range(BARS_A_SESSION)]
    var = np.tile(SHAPE, sessions) * sigma ** 2
    gap = np.where(np.arange(len(var)) % BARS_A_SESSION == 0, rng.normal(0, np.sqrt(GAP) * sigma, len(var)), 0.0)
    steps = 60
    inside = np.cumsum(rng.normal(0, 1, (len(var), steps)) * np.sqrt(var / steps)[:, None], axis=1)
    opens = np.cumsum(gap + np.r_[0.0, inside[:-1, -1]])
    path = opens[:, None] + inside
    frame = pd.DataFrame({"timestamp": pd.DatetimeIndex(times).tz_localize("America/New_York"),
                          "open": np.exp(opens), "high": np.exp(np.maximum(opens, path.max(1))),
                          "low": np.exp(np.minimum(opens, path.min(1))), "close": np.exp(path[:, -1]),
                          "volume": 1e5, "amount": 0.0})
    frame[["open", "high", "low", "close"]] *= 100
    return frame


def future_of(frame: pd.DataFrame, bars: int) -> pd.DatetimeIndex:
    """The next ``bars`` bar times after the frame (the next sessions of the same 13 slots)."""
    more = intraday_bars(len(frame) // BARS_A_SESSION + bars // BARS_A_SESSION + 2)
    ts = pd.DatetimeIndex(more["timestamp"])
    return ts[ts > frame["timestamp"].iloc[-1]][:bars]


def expected_factors() -> np.ndarray:
    """Each slot's close-to-close variance over the mean bar's: the first slot carries the gap."""
    per_slot = SHAPE + GAP * (np.arange(BARS_A_SESSION) == 0)
    return per_slot / per_slot.mean()


def test_the_profile_recovers_a_known_intraday_pattern():
    frame = intraday_bars(60)
    history, future = frame.iloc[:-BARS_A_SESSION], pd.DatetimeIndex(frame["timestamp"].iloc[-BARS_A_SESSION:])
    seen, ahead = time_of_day(history, future)
    np.testing.assert_allclose(ahead, expected_factors(), rtol=0.25)  # 59 sessions of each slot
    # the history's own bars take their slots' factors (its first bar has no break before it: read as in-session)
    np.testing.assert_allclose(seen[BARS_A_SESSION:2 * BARS_A_SESSION], ahead)
    assert ahead[0] > 3 * ahead[1:].max()  # the gap bar stands apart from every in-session slot


def test_no_profile_for_daily_bars_unknown_futures_or_an_unseen_gap():
    daily = intraday_bars(5).iloc[::BARS_A_SESSION].reset_index(drop=True)  # one bar a day
    daily_future = pd.DatetimeIndex([daily["timestamp"].iloc[-1] + pd.Timedelta(days=1)])
    assert time_of_day(daily, daily_future) is None
    frame = intraday_bars(3)
    assert time_of_day(frame, None) is None
    within = frame.iloc[BARS_A_SESSION + 1:2 * BARS_A_SESSION]  # part of one session: no break seen
    assert time_of_day(within, future_of(within, 4)) is None  # the next open's gap cannot be sized


def step_variances(member, frame, future) -> np.ndarray:
    paths = sampled(member, frame, future, len(future), 3)
    r = np.log(paths[:, :, 3] / frame["close"].iloc[-1])
    return np.diff(np.r_[0.0, r.var(axis=0)])


def test_member_fans_follow_the_slots_of_the_bars_they_forecast():
    frame = intraday_bars(60, seed=1)
    history = frame.iloc[:-5]  # the cut-off is mid-session: the fan crosses the next open
    future = future_of(history, 2 * BARS_A_SESSION)
    slots = (np.arange(len(frame) - 5, len(frame) - 5 + len(future))) % BARS_A_SESSION
    truth = SHAPE[slots] + GAP * (slots == 0)  # each future bar's true variance, in SHAPE's units
    for kind in (HarMember, GjrGarchMember, GarchMember):
        with_profile = step_variances(kind(paths=4000), history, future)
        ratio = with_profile / truth
        assert ratio.std() / ratio.mean() < 0.35, (kind.key, np.round(ratio, 2))  # proportional to the truth
        plain = step_variances(kind(paths=4000, time_of_day=False), history, future)
        # without the profile the open is not told apart: its step is never near the truth's 7 times the mean step
        assert plain[slots == 0].mean() / plain.mean() < 0.5 * (truth[slots == 0].mean() / truth.mean())


def test_the_profile_is_part_of_a_members_identity():
    for kind in (HarMember, GjrGarchMember, GarchMember):
        assert member_identity(kind()) != member_identity(kind(time_of_day=False))
        assert "time_of_day" not in kind(time_of_day=False).identity()
