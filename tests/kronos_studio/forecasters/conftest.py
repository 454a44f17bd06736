"""The forecaster tests' series and model: 600 business days on the NYSE calendar, and the tiny random Kronos."""
from __future__ import annotations

import pytest
from testkit import random_bars


@pytest.fixture(scope="module")
def daily():
    from data_sources import Bars

    frame = random_bars(600, seed=5, freq="B", start="2019-01-02")
    return Bars.from_frame(frame, source="file", symbol="RND", interval="1d", timezone="UTC", calendar="XNYS")


@pytest.fixture(scope="module")
def tiny(random_model):
    return random_model("tiny")
