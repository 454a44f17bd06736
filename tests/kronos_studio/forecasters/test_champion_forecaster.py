"""A champion's walk-forward counts the bars its adapter learned from as seen: cut-offs inside its training
window score memory, as those inside its base model's training period do."""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from kronos_studio.catalog.champion import ChampionForecaster
from kronos_studio.evaluation.training_period import trained_on
from kronos_studio.forecasters.period import period_until


class Base:
    name = "base"

    def training_period(self):
        return period_until("2025-12-31", "bundle.json")


def test_a_champion_has_seen_its_training_window_and_the_base_its_own_period():
    champion = ChampionForecaster(Base(), 7, "champion adapter 7", 24, datetime(2026, 3, 20, 15))
    seen = champion.training_period()
    assert seen.seen_until.date() == pd.Timestamp("2026-03-20").date() and "adapter 7" in seen.source
    cutoffs = pd.DatetimeIndex(["2026-03-10", "2026-03-21"], tz="UTC")
    assert trained_on(seen, cutoffs).tolist() == [True, False]
    base = ChampionForecaster(Base(), None, "no champion")
    assert base.training_period() == Base().training_period()
    older = ChampionForecaster(Base(), 3, "champion adapter 3", 24, datetime(2025, 6, 1))
    assert older.training_period() == Base().training_period()  # the later of the two
