"""Bars.identity: what the quality gate's findings depend on."""
from __future__ import annotations

import pandas as pd

from data_sources import Bars


def frame(n=5):
    ts = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame({"timestamp": ts, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0})


def test_same_values_other_notes_are_other_identities():
    a = Bars.from_frame(frame(), source="file", symbol="x", interval="1d")
    b = a.replace(notes=["column 'Adj Close' ignored"])
    assert a.content_hash() == b.content_hash()
    assert a.identity() != b.identity()
    assert a.identity() == Bars.from_frame(frame(), source="file", symbol="x", interval="1d").identity()
    assert a.identity() != a.replace(symbol="y").identity()
