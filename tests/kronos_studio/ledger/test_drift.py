"""Drift read from the ledger: a forecaster calibrated on a calm regime is flagged once the series turns
volatile and not before; too few scored forecasts say how many more; the p-values are scipy's;
``kronos ledger drift`` prints and writes it."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from ledger_helpers import CHANGE, HORIZON, calm_forecast, cut, forecast, record_and_score, regime_series, series
from scipy import stats

from kronos_studio.ledger import drift
from kronos_studio.ledger.drift import ALPHA, DRIFTING, MIN_SCORED, NOMINAL, OK, TOO_FEW, accepted_coverage


def only(report, model: str = "calm"):
    [one] = [d for d in report if d.model == model]
    return one


def test_a_calm_forecaster_is_ok_before_the_volatility_quadruples_and_drifting_after(ledger):
    bars = regime_series()
    record_and_score(ledger, bars, range(60, CHANGE - HORIZON, 2), CHANGE)
    before = only(drift.drift_report(ledger))
    assert before.state == OK, before.detail
    assert before.scored == 30 and before.coverage_p_value >= ALPHA and before.pit_p_value >= ALPHA
    assert before.skill_forecasts == 30 and before.skill_ci95[0] < 0 < before.skill_ci95[1]  # no better nor worse
    assert (before.workspace, before.symbol, before.interval) == ("default", "REGIME", "1h")

    record_and_score(ledger, bars, range(CHANGE - HORIZON, 400 - HORIZON, 2), 400)
    after = only(drift.drift_report(ledger))
    assert after.state == DRIFTING and after.scored == 30
    assert after.coverage < 0.6 and after.coverage_p_value < ALPHA and after.pit_p_value < ALPHA
    assert "coverage" in after.detail and "binomial" in after.detail and "Kolmogorov-Smirnov" in after.detail
    # The random walk, rebuilt from the bars the ledger saw, follows the new volatility; the forecast does not.
    assert after.skill_ci95[1] < 0 and "worse than the random walk" in after.detail

    rolling = after.rolling  # the chart's series: inside the accepted band before the change, below it after
    assert rolling["last_bar_at"].is_monotonic_increasing
    calm = rolling[(rolling["last_bar_at"] < bars.frame["timestamp"].iloc[CHANGE - HORIZON]) & rolling["coverage"].notna()]
    wild = rolling[rolling["last_bar_at"] >= bars.frame["timestamp"].iloc[CHANGE + 60]]
    assert len(calm) and ((calm["coverage"] >= calm["coverage_low"]) & (calm["coverage"] <= calm["coverage_high"])).all()
    assert len(wild) and (wild["coverage"] < wild["coverage_low"]).all() and (wild["skill"] < 0).all()


def test_too_few_scored_forecasts_say_how_many_more(ledger):
    bars = regime_series()
    record_and_score(ledger, bars, range(60, 60 + 2 * 12, 2), 100)
    few = only(drift.drift_report(ledger))
    assert few.state == TOO_FEW and few.scored == 12 and few.more_needed == MIN_SCORED - 12
    assert f"{MIN_SCORED - 12} more" in few.detail and np.isnan(few.coverage_p_value)
    with pytest.raises(ValueError, match=f"judge {MIN_SCORED} or more"):
        drift.drift_report(ledger, last=MIN_SCORED - 1)


def test_one_forecast_per_last_bar_and_per_workspace(ledger):
    """A fan recorded twice at one last bar (another path count) counts once; workspaces are judged apart."""
    bars = regime_series()
    record_and_score(ledger, bars, range(60, 60 + 2 * 12, 2), 100)
    for at in range(60, 60 + 2 * 12, 2):
        ledger.record(calm_forecast(bars, at, paths=50), cut(bars, at))
    ledger.scoped("team").record(calm_forecast(bars, 60), cut(bars, 60))
    ledger.score(cut(bars, 100))
    report = drift.drift_report(ledger)
    by_workspace = {d.workspace: d for d in report}
    assert set(by_workspace) == {"default", "team"}
    assert by_workspace["default"].scored == 12 and by_workspace["team"].scored == 1
    assert [d.workspace for d in drift.drift_report(ledger.scoped("team"))] == ["team"]


def test_the_p_values_are_scipys_on_known_inputs():
    rng = np.random.default_rng(0)
    n, hits = 30, 19
    covered = np.r_[np.ones(hits, bool), np.zeros(n - hits, bool)]
    rng.shuffle(covered)
    pit = rng.beta(0.5, 0.5, n)  # U-shaped: a fan too narrow
    per = pd.DataFrame({"last_bar_at": pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC"),
                        "prediction_id": range(n), "covered": covered, "pit": pit,
                        "crps_pct": rng.uniform(1, 2, n), "rw_crps_pct": rng.uniform(1, 2, n)})
    got = drift.judge(per, 30, "default", "file", "X", "1d", "m")
    assert got.coverage == hits / n
    assert got.coverage_p_value == stats.binomtest(hits, n, 0.8).pvalue
    assert got.pit_p_value == stats.kstest(pit, "uniform").pvalue
    assert got.skill == pytest.approx(1 - per["crps_pct"].mean() / per["rw_crps_pct"].mean())
    low, high = accepted_coverage(n)  # the chart's lines: the coverages the same test accepts
    assert stats.binomtest(round(low * n), n, NOMINAL).pvalue >= ALPHA > stats.binomtest(round(low * n) - 1, n, NOMINAL).pvalue
    assert stats.binomtest(round(high * n), n, NOMINAL).pvalue >= ALPHA
    assert high == 1.0 or stats.binomtest(round(high * n) + 1, n, NOMINAL).pvalue < ALPHA


def test_kronos_ledger_drift_writes_one_entry_per_series_and_model(ledger, ledger_url, monkeypatch, tmp_path, capsys):
    from kronos_studio.cli.main import main

    bars = regime_series()
    record_and_score(ledger, bars, range(CHANGE - HORIZON, 400 - HORIZON, 2), 400)
    record_and_score(ledger.scoped("team"), bars, range(60, 60 + 2 * 5, 2), 100)
    monkeypatch.setenv("KRONOS_STUDIO_DB", ledger_url)
    out = tmp_path / "drift.json"
    assert main(["ledger", "drift", "--json", str(out), "--last", "25"]) == 0
    entries = {e["workspace"]: e for e in json.loads(out.read_text())}
    assert set(entries) == {"default", "team"}
    wild, few = entries["default"], entries["team"]
    assert {"state", "coverage", "coverage_p_value", "pit_p_value", "skill", "skill_ci95", "scored"} <= set(wild)
    expected = drift.drift_report(ledger.scoped("default"), 25)[0].to_dict()
    assert wild == expected and wild["state"] == DRIFTING and wild["scored"] == 25
    assert few["state"] == TOO_FEW and few["scored"] == 5 and few["more_needed"] == MIN_SCORED - 5
    printed = capsys.readouterr()
    # the desk's drift table (``ledger_tables.drift_table``, as the Track record page shows it): a row per
    # workspace, series and model, its state, why and numbers in the cells' words
    [row] = [line.split() for line in printed.out.splitlines() if line.startswith("default ")]
    assert row[:5] == ["default", "REGIME", "1h", "(file)", "calm"] and "drifting" in row
    assert f"{wild['coverage']:.0%}" in row and str(wild["skill_forecasts"]) in row
    assert f"{wild['skill']:+.0%}" in row and "binomial" in " ".join(row)
    [few_row] = [line for line in printed.out.splitlines() if line.startswith("team ")]
    assert "too few scored forecasts" in few_row and f"{MIN_SCORED - 5} more" in few_row
    assert "wrote" in printed.err

    assert main(["ledger", "drift", "--workspace", "team", "--json", str(out)]) == 0
    assert [e["workspace"] for e in json.loads(out.read_text())] == ["team"]
    assert main(["ledger", "drift", "--last", "5"]) == 2
    # the request's bound (the knob's, which every face states: the HTTP schema's minimum too), the flag named the
    # command line's way
    assert (f"kronos: error: last must be at least {MIN_SCORED}, got 5: use at least {MIN_SCORED} "
            f"(--last {MIN_SCORED})") in capsys.readouterr().err


def test_skill_is_not_judged_from_fewer_forecasts_with_a_reference_than_the_minimum(ledger):
    """Issue 51: 25 forecasts a bar apart, only a few of them with a random-walk reference: coverage and PIT are
    judged from the 25, the skill not at all (it said +61% from 5 overlapping forecasts), and each number says
    how many forecasts it rests on."""
    bars = series(n=400, seed=5)
    for at in range(60, 100, 6):  # another model's forecasts: the ledger knows the returns from bar 60 on
        ledger.record(forecast(bars, at, horizon=6, seed=at, model="earlier"), cut(bars, at))
    for at in range(100, 125):  # the forecasts from bar 120 on know the walk's 60 returns
        ledger.record(forecast(bars, at, horizon=6, seed=at), cut(bars, at))
    ledger.score(bars)
    [got] = drift.drift_report(ledger, models=["test-model"])
    assert got.scored == 25 and np.isfinite(got.coverage) and got.skill_forecasts == 5
    assert np.isnan(got.skill) and np.isnan(got.skill_ci95).all()
    assert f"skill not judged: {got.skill_forecasts} of the {MIN_SCORED} forecasts it needs" in got.detail
    assert got.numbers().endswith(f"skill not judged ({got.skill_forecasts} of {MIN_SCORED})")
    assert "coverage" in got.numbers() and "of 25 (binomial p" in got.numbers() and "PIT p" in got.numbers()
    entry = got.to_dict()
    assert entry["skill"] is None and entry["skill_ci95"] == [None, None] and entry["skill_forecasts"] == got.skill_forecasts

    per = pd.DataFrame({"last_bar_at": pd.date_range("2024-01-01", periods=25, freq="h", tz="UTC"),
                        "prediction_id": range(25), "covered": True, "pit": np.linspace(0.02, 0.98, 25),
                        "crps_pct": 0.4, "rw_crps_pct": [np.nan] * 20 + [1.0] * 5})
    assert np.isnan(drift.judge(per, 30, "default", "file", "X", "1h", "m").skill)  # it was +0.60


def test_the_random_walk_reference_is_the_walk_forwards_random_walk(ledger):
    """The reference rebuilt from the ledger's bars is the walk-forward's random walk on the same cut-off, not a
    noisier one: a random walk recorded in the ledger (its own 60-return volatility, its seed) scores exactly as
    its reference wherever it has one, so its skill is 0; a reference from fewer returns than the walk's window
    (which made an hourly series' skill +61% where the walk-forward said +13%) is no reference."""
    from kronos.settings import ForecastSettings
    from kronos_studio.evaluation.baselines import RandomWalk
    from kronos_studio.forecasters import make_forecast

    bars = series(n=420, seed=7)
    horizon = 4
    for at in range(70, 400, horizon):
        made = make_forecast(RandomWalk(paths=drift.RW_PATHS), cut(bars, at),
                             ForecastSettings(horizon=horizon, paths=drift.RW_PATHS, seed=at, lookback=70))
        ledger.record(made, cut(bars, at))
    ledger.score(bars)
    steps = ledger.steps_frame(scored_only=True)
    per = drift.forecast_scores(ledger.predictions_frame(member_rows=False), steps, drift.known_returns(steps))
    referenced = per.dropna(subset=["rw_crps_pct"])
    # the first forecasts know fewer than the walk's 60 returns: no reference, rather than another one
    assert len(referenced) == len(per) - int(np.ceil(RandomWalk.window / horizon))
    np.testing.assert_allclose(referenced["rw_crps_pct"], referenced["crps_pct"], rtol=1e-4)
    [got] = drift.drift_report(ledger, last=30)
    assert got.skill_forecasts == 30 and abs(got.skill) < 1e-4


def test_the_state_alone_on_the_window_it_reads_is_the_whole_reports_state(ledger):
    """What a watch's tick judges (``rolling=False`` on the forecasts from DRIFT_LAST + RW_MIN_RETURNS + a margin bars
    back, a forecast a bar as a watch makes them) is the state the whole report gives, on both sides of a regime
    change: the window holds every forecast the state and its random-walk references read."""
    bars = regime_series()
    first = 60
    for upto in (CHANGE, 330):
        record_and_score(ledger, bars, range(first, upto - HORIZON), upto)  # one forecast a bar, no gap
        first = upto - HORIZON
        whole = only(drift.drift_report(ledger))
        stamps = cut(bars, upto).timestamps
        since = stamps[len(stamps) - (drift.DRIFT_LAST + drift.RW_MIN_RETURNS + 2 * HORIZON + 5)]
        window = only(drift.drift_report(ledger, rolling=False, symbol="REGIME", last_bar_from=since))
        numbers = ("state", "scored", "coverage", "coverage_p_value", "pit_p_value", "skill", "skill_forecasts")
        assert [getattr(window, k) for k in numbers] == [getattr(whole, k) for k in numbers], upto
        assert window.rolling.empty is False and len(window.rolling) <= len(whole.rolling)
