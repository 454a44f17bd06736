"""Event schema and builders: layout, calendar parsing, and no look-ahead."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kronos_studio.events import (
    CHANNEL_NAMES,
    CHANNELS,
    KINDS,
    EventBuilder,
    EventError,
    bundled_calendar,
    calendar_from_frame,
    event_matrix,
    load_calendar,
)

FLAG = {k: i for i, k in enumerate(KINDS)}


def hourly(start="2024-01-29 09:30", days=10):
    idx = pd.bdate_range(start[:10], periods=days, tz="America/New_York")
    return pd.DatetimeIndex([d + pd.Timedelta(hours=9.5 + h) for d in idx for h in range(7)])


def cal(rows):
    return calendar_from_frame(pd.DataFrame(rows, columns=["datetime", "type", "actual", "consensus"]))


def test_layout():
    assert CHANNELS == 20 and len(set(CHANNEL_NAMES)) == 20
    assert CHANNEL_NAMES[:5] == tuple(f"flag_{k}" for k in KINDS) and CHANNEL_NAMES[-1] == "leader_mask"


def test_bundled_calendar_is_sane():
    c = bundled_calendar()
    f = c.frame
    assert set(f["type"]) == set(KINDS) and len(f) > 200
    assert (f["time"].dt.tz_convert("America/New_York").dt.day_of_week < 5).all()
    fomc = f.loc[f["type"] == "fomc", "time"].dt.tz_convert("America/New_York")
    assert (fomc.dt.hour == 14).all() and len(fomc) == 40
    assert (f.loc[f["type"] != "fomc", "time"].dt.tz_convert("America/New_York").dt.strftime("%H:%M") == "08:30").all()
    assert set(f["basis"]) <= {"schedule", "rule", "schedule-uncertain"}


def test_flags_start_at_release_and_last_24h():
    ts = hourly()
    m = event_matrix(ts, cal([["2024-01-31 14:00", "FOMC decision", None, None]]), interval="1h")
    on = ts[m[:, FLAG["fomc"]] == 1]
    # the 13:30 bar holds 14:00; the flag stays on for bars ending within 24 h of the release
    assert on[0] == pd.Timestamp("2024-01-31 13:30", tz="America/New_York")
    assert on[-1] == pd.Timestamp("2024-02-01 12:30", tz="America/New_York")
    assert m[ts < pd.Timestamp("2024-01-31 13:30", tz="America/New_York"), FLAG["fomc"]].sum() == 0
    until = m[:, 10 + FLAG["fomc"]]
    before = ts < on[0]
    assert np.all(np.diff(until[before]) >= 0) and until[before][-1] > 0.8  # rises towards the release


def test_daily_bars_flag_the_release_day():
    days = pd.bdate_range("2024-01-22", periods=10)  # naive: New York trading days
    m = event_matrix(days, cal([["2024-01-25 08:30", "gdp", None, None]]))
    assert list(days[m[:, FLAG["gdp"]] == 1]) == [pd.Timestamp("2024-01-25")]


def test_surprise_z_uses_only_earlier_surprises_and_the_asof_time():
    rows = [[f"2024-{m:02d}-10 08:30", "cpi", a, 0.2] for m, a in zip(range(1, 9), [.3, .1, .2, .4, 0, .2, .5, .2])]
    c = cal(rows)
    z = c.frame["surprise_z"].to_numpy()
    assert (z[:5] == 0).all() and z[5] == 0 and z[6] != 0  # needs 5 earlier surprises; z[5] is a 0 surprise
    s = np.array([.1, -.1, 0, .2, -.2])
    assert z[6] == pytest.approx(0.3 / np.r_[s, 0].std(ddof=1))
    ts = pd.DatetimeIndex([pd.Timestamp("2024-07-10 09:30", tz="America/New_York")])
    m = event_matrix(ts, c, interval="1h")
    assert m[0, 5 + FLAG["cpi"]] == pytest.approx(z[6])
    m = event_matrix(ts, c, interval="1h", asof="2024-07-10 08:00")  # cut-off before the release
    assert m[0, 5 + FLAG["cpi"]] == 0 and m[0, FLAG["cpi"]] == 1  # the schedule is known, the value is not


def leaders(seed=0):
    rng = np.random.default_rng(seed)
    t = pd.date_range("2024-01-20", "2024-02-20", freq="1h", tz="America/New_York")
    return pd.DataFrame({"timestamp": t, "close": 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(t))))})


def test_no_look_ahead():
    """Changing anything after time T (calendar values, new releases, leader bars) leaves every row
    of a bar ending by T unchanged (the schedule-reading 'until' channels aside for added releases)."""
    ts = hourly()
    T = pd.Timestamp("2024-02-05 12:00", tz="America/New_York")
    rows = [[f"2024-01-{d:02d} 08:30", "nfp", 1.0 + d / 10, 1.0] for d in range(2, 31, 4)]
    rows += [["2024-02-02 08:30", "nfp", 2.0, 1.0], ["2024-02-06 08:30", "nfp", 3.0, 1.0]]
    lead = leaders()
    base = event_matrix(ts, cal(rows), {"index": lead}, interval="1h")
    rows2 = [r if pd.Timestamp(r[0]).tz_localize("America/New_York") < T else [r[0], r[1], -9.0, 4.0] for r in rows]
    rows2 += [["2024-02-07 14:00", "fomc", 0.5, 0.25]]
    lead2 = lead.copy()
    lead2.loc[lead2["timestamp"] >= T, "close"] *= 1.5
    pert = event_matrix(ts, cal(rows2), {"index": lead2}, interval="1h")
    past = ts + pd.Timedelta(hours=1) <= T
    keep = [i for i, n in enumerate(CHANNEL_NAMES) if n != "until_fomc"]
    assert past.sum() > 20
    np.testing.assert_array_equal(base[past][:, keep], pert[past][:, keep])
    assert not np.array_equal(base[~past], pert[~past])  # the perturbation is visible later


def test_builder_history_and_horizon():
    ts = hourly()
    hist, fut = ts[:40], ts[40:50]
    rows = [["2024-02-07 08:30", "cpi", 0.5, 0.2]] + [[f"2023-{m:02d}-12 08:30", "cpi", 0.2 + m / 100, 0.2]
                                                       for m in range(1, 13)]
    b = EventBuilder(cal(rows), {"index": leaders(), "crypto": leaders(1)})
    m = b(hist, fut)
    assert m.shape == (50, 20) and m.dtype == np.float32
    assert (m[40:, 15:] == 0).all()  # leader returns unknown beyond the cut-off
    assert (m[40:, 5:10] == 0).all()  # a release after the cut-off has no surprise yet
    assert m[:40, 19].max() == 0.5  # two of four leaders
    full = event_matrix(ts[:50], b.calendar, b.leaders, interval="1h")
    assert full[40:, 5:10].any()  # ... which a full-knowledge matrix would show
    np.testing.assert_array_equal(m[:, :5], full[:, :5])


def test_user_calendar_upload(tmp_path):
    p = tmp_path / "cal.csv"
    p.write_text("datetime,type,actual,consensus\n2024-03-12T08:30:00-04:00,CPI,0.4,0.3\n"
                 "2024-03-20 14:00,Rate decision,,\n2024-03-21,earnings,,\n")
    c = load_calendar(p)
    assert list(c.frame["type"]) == ["cpi", "fomc", "earnings"]
    assert c.frame["time"].iloc[0] == pd.Timestamp("2024-03-12 12:30", tz="UTC")
    assert len(c.markers()) == 3
    with pytest.raises(EventError):
        load_calendar(b"when,what\n2024-01-01,x\n")
