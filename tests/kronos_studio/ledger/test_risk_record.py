"""The ledger's recorded forecasts judged as VaR forecasts once their horizon's bar has arrived (issue 55,
``kronos_studio.risk.record``), on SQLite and PostgreSQL: exceptions equal a hand count from the stored paths and
the bars, a planted case fails Kupiec, overlapping forecasts are left out of the tests and counted, too few for
a test is said with the numbers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ledger_helpers import cut, forecast, series

from kronos.settings import ForecastSettings
from kronos_studio.desk import ForecastRequest
from kronos_studio.risk.measures import RiskSettings
from kronos_studio.risk.record import non_overlapping, risk_record

HORIZON = 3
ORIGINS = range(400, 440, 2)  # a forecast every 2 bars with a 3-bar horizon: every other one overlaps
LATE = (456, 457)  # recorded, their horizon's last bar not among the bars that score them
SCORED_UPTO = 458


@pytest.fixture(scope="module")
def sample_forecasts():
    """(the bundled AAPL daily sample, the bundled Kronos model's forecast at each origin): real forecasts."""
    from data_sources import list_samples, load_sample
    from kronos_studio.desk import Desk

    bars = load_sample(next(s.name for s in list_samples() if s.name.startswith("AAPL daily 2000")))
    desk = Desk()
    made = {at: desk.forecast(ForecastRequest(cut(bars, at), None,
                                              ForecastSettings(horizon=HORIZON, paths=40, seed=at))).forecast
            for at in (*ORIGINS, *LATE)}
    return bars, made


def hand_exception(ledger, pid: int, close: np.ndarray, at: int, position: str, level: float) -> tuple[float, bool]:
    """(VaR, exception) of one forecast counted by hand: its stored paths' close at the last step, the bars'
    realized close there."""
    fields, paths = ledger.paths(pid)
    ret = paths[:, -1, fields.index("close")].astype(np.float64) / close[at - 1] - 1
    realized = close[at + HORIZON - 1] / close[at - 1] - 1
    sign = -1 if position == "long" else 1
    var = float(np.quantile(sign * ret, level, method="weibull"))
    return var, bool(sign * realized > var)


def test_exceptions_of_recorded_forecasts_equal_a_hand_count(ledger, sample_forecasts):
    bars, made = sample_forecasts
    for at, fc in made.items():
        ledger.record(fc, cut(bars, at))
    ledger.score(cut(bars, SCORED_UPTO))
    risk = RiskSettings(levels=(0.8, 0.95))
    record = risk_record(ledger, risk)

    close = bars.frame["close"].to_numpy()
    stamps = pd.DatetimeIndex(bars.frame["timestamp"]).tz_convert("UTC")
    ids = ledger.predictions_frame().set_index("last_bar_at")["prediction_id"]
    origin_of = {int(ids[stamps[at - 1]]): at for at in made}
    f = record.forecasts.set_index("prediction_id")
    assert sorted(origin_of[p] for p in f.index) == list(ORIGINS)  # the late ones wait for their horizon's bar
    # each starts at or after the horizon end of the one before: 400, 404, ... (402's last bar is inside 400's horizon)
    assert sorted(origin_of[p] for p in f.index[f["used"]]) == list(range(400, 440, 4))
    [[_, group]] = list(record.tests.groupby("model"))
    assert (group["scored"] == 20).all() and (group["used"] == 10).all() and (group["overlapping"] == 10).all()
    assert (group["pending"] == len(LATE)).all()
    for position in risk.positions:
        for level in risk.levels:
            hand = {p: hand_exception(ledger, p, close, origin_of[p], position, level) for p in f.index}
            tag = f"{position}_{level:g}"
            np.testing.assert_allclose(f[f"var_{tag}"], [hand[p][0] for p in f.index], rtol=1e-12)
            assert f[f"exception_{tag}"].tolist() == [hand[p][1] for p in f.index]
            row = group[(group["position"] == position) & (group["level"] == level)].iloc[0]
            assert row["exceptions_all"] == sum(x for _, x in hand.values())
            assert row["exceptions"] == sum(hand[p][1] for p in f.index[f["used"]])
            assert row["expected"] == pytest.approx(10 * (1 - level))
            # 10 non-overlapping forecasts: fewer than a VaR test needs, said with the numbers instead of a p-value
            need = 20  # a VaR test's floor (and 1 / (1 - level) observations: 5 at 0.8, 20 at 0.95)
            assert pd.isna(row["kupiec_p"]) and row["needed"] == need
            assert f"needs at least {need} observations, there are 10" in row["untested"]
    np.testing.assert_allclose(f["realized_return"], [close[origin_of[p] + HORIZON - 1] / close[origin_of[p] - 1] - 1
                                                      for p in f.index], rtol=1e-12)


def planted(bars, at: int, horizon: int, rise: float, paths: int = 50):
    """A forecast of ``bars[:at]`` whose every path ends ``rise`` above the last close (a spread of 0.1%): a
    realized return far below that is a long position's exception at any level."""
    last = float(bars.frame["close"].iloc[at - 1])
    rng = np.random.default_rng(at)
    close = last * (1 + rise) * (1 + rng.normal(0, 0.001, (paths, horizon)))
    values = np.stack([close, close * 1.001, close * 0.999, close, np.full_like(close, 1e3),
                       np.full_like(close, 5e4)], axis=2)
    return forecast(bars, at, horizon=horizon, paths=paths, seed=at, model="planted", values=values)


def test_realized_returns_far_below_the_paths_var_are_exceptions_and_fail_kupiec(ledger):
    bars = series(200)
    origins = range(100, 150, 2)  # 2-bar horizons end where the next forecast starts: none overlaps
    for at in origins:
        ledger.record(planted(bars, at, 2, rise=0.2), cut(bars, at))
    ledger.score(bars)
    record = risk_record(ledger, RiskSettings(levels=(0.95, 0.99)))
    t = record.tests.set_index(["position", "level"])
    n = len(origins)
    assert (t["used"] == n).all() and (t["overlapping"] == 0).all()
    assert t.loc[("long", 0.95), "exceptions"] == n and t.loc[("long", 0.95), "kupiec_p"] < 1e-10
    assert t.loc[("long", 0.95), "christoffersen_cc_p"] < 1e-10
    assert t.loc[("short", 0.95), "exceptions"] == 0  # a short position gains what the long one lost
    assert pd.isna(t.loc[("long", 0.99), "kupiec_p"]) and t.loc[("long", 0.99), "needed"] == 100
    assert f"needs at least 100 observations, there are {n}" in t.loc[("long", 0.99), "untested"]
    assert any("ES rests on" in n.problem for n in record.notices)  # 50 paths leave under 20 beyond a 0.99 VaR


def test_filters_and_experiments(ledger):
    bars = series(120)
    for at in (60, 62):
        ledger.record(planted(bars, at, 2, rise=0.2), cut(bars, at))
    ledger.scoped("other").record(planted(bars, 64, 2, rise=0.2), cut(bars, 64))
    hot = planted(bars, 66, 2, rise=0.2)
    hot.provenance["settings"] = {"temperature": 2.0}
    ledger.record(hot, cut(bars, 66))
    ledger.score(bars)
    ledger.scoped("other").score(bars)
    assert risk_record(ledger.scoped("default"), RiskSettings()).tests["scored"].unique().tolist() == [2]
    assert risk_record(ledger.scoped("other"), RiskSettings()).tests["scored"].unique().tolist() == [1]
    every = risk_record(ledger, RiskSettings(), experiments=True)  # each workspace judged apart: its own copies
    assert every.tests.groupby("workspace")["scored"].max().to_dict() == {"default": 3, "other": 1}
    assert every.experiments_left_out == 0
    assert risk_record(ledger, RiskSettings()).experiments_left_out == 1
    assert risk_record(ledger, RiskSettings(), models=["none"]).tests.empty


def test_the_overlap_rule_keeps_the_most_forecasts_that_do_not_overlap():
    t = pd.to_datetime
    starts = pd.Series(t(["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-03", "2024-01-06"]))
    ends = pd.Series(t(["2024-01-10", "2024-01-04", "2024-01-06", "2024-01-05", "2024-01-08"]))
    # by end: 01-02..04 kept; 01-03 starts before 04: left out; 01-05..06 kept; 01-06..08 starts at 06: kept;
    # 01-01..10 starts before: left out
    assert non_overlapping(starts, ends).tolist() == [False, True, True, False, True]
