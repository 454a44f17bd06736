"""Which models a batch (a screen, a rank evaluation) forecasts every series with: a statistical model as well as
Kronos, and the ensemble refused by name before any series is read, since it is weighed for one series."""
from __future__ import annotations

import pytest
from testkit import random_bars

from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.desk import BatchSettings, Desk, RankPlan, RankRequest, ScreenRequest

SETTINGS = ForecastSettings(horizon=3, paths=20, seed=0)


@pytest.fixture(scope="module")
def watchlist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("watchlist")
    for i in range(2):
        random_bars(700, seed=30 + i, freq="1h", start="2026-03-02").to_csv(folder / f"S{i}.csv", index=False)
    return Desk.watchlist(folder)


def test_a_statistical_model_screens_every_series_and_names_itself_in_the_rows(watchlist):
    done = Desk().screen(ScreenRequest(watchlist, BatchSettings(SETTINGS), model="random_walk"))
    assert (done.rows["status"] == "ok").all()
    assert (done.rows["model"] == "random_walk").all()  # as the request names it (the rows had no model: KeyError)
    assert done.rows["close_p50"].notna().all()


@pytest.mark.parametrize("ask", ["screen", "rank"])
def test_the_ensemble_is_refused_by_a_batch_with_the_fix(watchlist, ask):
    desk = Desk()
    with pytest.raises(InputError) as refused:
        if ask == "screen":
            desk.screen(ScreenRequest(watchlist, BatchSettings(SETTINGS), model="ensemble"))
        else:
            desk.rank(RankRequest(watchlist, SETTINGS, RankPlan(), model="ensemble"))
    assert "a batch of several series cannot share it" in refused.value.problem
    assert refused.value.fix[0].setting == "model"
