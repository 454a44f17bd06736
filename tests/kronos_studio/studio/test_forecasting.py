"""The studio's pipeline: the core with exchange calendars for the future bar times."""
from __future__ import annotations

from testkit import random_bars

from data_sources import Bars
from kronos_studio.forecasting import studio_pipeline


def test_future_stamps_follow_the_exchange_calendar(random_model):
    frame = random_bars(80, freq="B", start="2024-04-10")
    frame = frame[frame["timestamp"] <= "2024-07-03"].copy()
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("America/New_York")
    frame["amount"] = frame["volume"] * frame["close"]
    bars = Bars.from_frame(frame, source="file", symbol="TEST", interval="1d", calendar="XNYS")
    fc = studio_pipeline(random_model("tiny").ours(64)).predict(bars, 3, paths=2)
    # 4 July is a holiday and 6-7 July a weekend
    assert [str(t.date()) for t in fc.timestamps] == ["2024-07-05", "2024-07-08", "2024-07-09"]
    assert str(fc.timestamps.tz) == "America/New_York"
