"""The gated rolling fine-tune on the bundled studio-tiny: a challenger trained after a regime change is
promoted and forecasts the later bars better than the base; one trained on shuffled bars is rejected and the
champion keeps serving; a window already decided is not trained again; bars that no longer hold what the
champion learned from, and too few bars, are refused with the numbers. The gate's rule on its own, too."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from retrain_helpers import regime_bars, shuffled

from kronos_studio.training.gate import COVERAGE_TOLERANCE, NOMINAL_COVERAGE, PROMOTED, REJECTED, decide

# Small and fast, and enough for a rank-8 LoRA to learn a 12-bar cycle (measured: the base's CRPS about 1.3%,
# the challenger's about 0.75%).
FAST = {"horizon": 4, "window": 160, "lookback": 32, "n_cutoffs": 8, "paths": 30, "steps": 40, "lr": 1e-2}
DECIDE_AT = 560  # the bars after it (to 600) are never seen by the decision: they check it


# --- the gate's rule ---------------------------------------------------------------------------------------
@dataclass
class Scored:
    """What the gate reads of a walk-forward result."""

    crps_pct: np.ndarray
    covered: np.ndarray
    cutoffs: tuple = tuple(range(8))

    def crps_pct_by_cutoff(self):
        return self.crps_pct


def scored(crps, coverage=NOMINAL_COVERAGE):
    covered = np.zeros((8, 10), bool)
    covered.flat[:round(coverage * 80)] = True
    return Scored(np.asarray(crps, float), covered)


def test_the_gate_promotes_only_a_difference_beyond_noise_with_coverage_in_tolerance():
    rng = np.random.default_rng(0)
    champion = 1 + rng.uniform(0, 0.2, 8)
    assert decide(scored(champion - 0.3), scored(champion)).decision == PROMOTED
    noisy = champion + rng.normal(0, 0.3, 8)
    noisy -= noisy.mean() - champion.mean() + 0.01  # a hair better on average, well inside the noise
    verdict = decide(scored(noisy), scored(champion))
    assert verdict.decision == REJECTED and "does not exclude 0" in verdict.reason
    assert verdict.diff_ci95[0] < 0 < verdict.diff_ci95[1]
    worse = decide(scored(champion + 0.3), scored(champion))
    assert worse.decision == REJECTED and "worse" in worse.reason
    off = NOMINAL_COVERAGE - 2 * COVERAGE_TOLERANCE  # better CRPS, but a band much too narrow
    verdict = decide(scored(champion - 0.3, coverage=off), scored(champion))
    assert verdict.decision == REJECTED and "coverage" in verdict.reason


def test_a_challenger_that_changed_nothing_is_said_to_have_changed_nothing_not_to_be_worse():
    """Issue 51 item 4: CRPS equal to the champion's to every digit (the interval is the point 0) read "lies above
    0: the challenger is worse"."""
    champion = 1 + np.random.default_rng(0).uniform(0, 0.2, 8)
    same = decide(scored(champion.copy()), scored(champion))
    assert same.decision == REJECTED and same.unchanged and same.diff == 0 and same.diff_ci95 == (0.0, 0.0)
    assert "changed nothing" in same.reason and "worse" not in same.reason
    assert not decide(scored(champion + 0.3), scored(champion)).unchanged


def test_every_decision_says_the_smallest_difference_its_cut_offs_could_detect():
    """Issue 51: at 8 cut-offs the gate could not tell a 5% improvement from noise, and did not say so. Each
    decision quotes the minimum detectable effect of its paired differences (statsmodels' paired t-test power
    at the gate's level and GATE_POWER)."""
    from statsmodels.stats.power import TTestPower

    from kronos_studio.training.gate import GATE_LEVEL, GATE_POWER, detectable_difference

    rng = np.random.default_rng(1)
    champion = 2 + rng.uniform(0, 0.5, 8)
    challenger = champion + rng.normal(-0.01, 0.3, 8)
    verdict = decide(scored(challenger), scored(champion))
    diff = challenger - champion
    effect = TTestPower().solve_power(nobs=8, alpha=1 - GATE_LEVEL, power=GATE_POWER, alternative="two-sided")
    assert verdict.detectable == pytest.approx(effect * diff.std(ddof=1)) == detectable_difference(diff)
    share = verdict.detectable / champion.mean()
    assert f"these 8 cut-offs detect a difference of {verdict.detectable:.3f}% ({share:.0%} of the champion's CRPS) " \
           "at 80% power" in verdict.reason
    # four times the cut-offs with the same spread: about half the difference (1/sqrt(n), and t's tails thinner)
    wider = np.tile(diff, 4)
    assert detectable_difference(wider) < 0.5 * verdict.detectable
    assert np.isnan(detectable_difference(np.zeros(8)))


# --- the retrain on a real model -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from kronos.checkpoints import load_pair
    from kronos_studio.bundled import bundled_models
    from kronos_studio.ledger import Ledger

    folder = tmp_path_factory.mktemp("retrain")
    mp = pytest.MonkeyPatch()
    mp.setenv("KRONOS_STUDIO_CACHE", str(folder / "cache"))
    pair = load_pair(bundled_models()["studio-tiny"], device="cpu")
    ledger = Ledger.open(f"sqlite:///{folder / 'ledger.sqlite'}")
    yield pair, ledger
    ledger.close()
    mp.undo()


@pytest.fixture(scope="module")
def promoted(world):
    from kronos_studio.training.retrain import Retrainer, RetrainSettings

    pair, ledger = world
    bars = regime_bars()
    retrainer = Retrainer(pair, bars, ledger, RetrainSettings(**FAST))
    return bars, retrainer, retrainer.run([DECIDE_AT], progress=lambda share, text: PROGRESS.append((share, text)))


PROGRESS: list[tuple[float, str]] = []  # what the promoted fixture's run reported as it went


def test_a_retrain_reports_its_progress_step_by_step(promoted):
    """"Retrain now"'s bar: every training step, then the scoring, then the decision; never backwards."""
    shares = [share for share, _ in PROGRESS]
    steps = [text for _, text in PROGRESS if "training the challenger: step" in text]
    assert len(steps) == FAST["steps"] and shares == sorted(shares) and shares[-1] == 1.0
    assert any("scoring" in text for _, text in PROGRESS) and 0 < shares[0] < 0.1
    assert all(text.startswith("decision 1 of 1: ") for _, text in PROGRESS)


def test_a_challenger_trained_after_the_regime_change_is_promoted_and_forecasts_later_bars_better(world, promoted):
    from kronos.settings import ForecastSettings
    from kronos_studio.evaluation.walk_forward import compare
    from kronos_studio.ledger.registry import Registry, SeriesKey
    from kronos_studio.training.adapters import apply_adapter
    from kronos_studio.training.retrain import adapter_events, cutoff_forecaster

    pair, ledger = world
    bars, _, report = promoted
    [decision] = report.decisions
    assert decision["decision"] == PROMOTED, decision["reason"]
    assert decision["diff_ci95"][1] < 0 and decision["champion"] is None  # it beat the base model
    assert report.champion == decision["challenger"]
    champion = Registry(ledger).champion(SeriesKey.of(bars))
    assert champion.id == report.champion and champion.scores["crps"] == decision["crps"]
    # the window it learned from lies after the change and before the held-out cut-offs
    stamps = bars.frame["timestamp"]
    assert stamps.iloc[300] <= champion.first_bar_at and champion.last_bar_at < stamps.iloc[DECIDE_AT - 32]
    # bars the decision never read: the champion still forecasts them better than the base
    later = list(range(DECIDE_AT, 600 - 4 + 1, 4))
    adapted = apply_adapter(pair, champion.path)
    results = compare({"champion": cutoff_forecaster(adapted, adapter_events("1h")), "base": cutoff_forecaster(pair)},
                      bars.frame, ForecastSettings(horizon=4, paths=30, lookback=32), cutoffs=later)
    assert results["champion"].summary()["crps_pct"] < 0.8 * results["base"].summary()["crps_pct"]


def test_a_challenger_trained_on_shuffled_bars_is_rejected_and_the_champion_keeps_serving(world, promoted):
    from kronos_studio.ledger.registry import Registry, SeriesKey

    _, ledger = world
    bars, retrainer, report = promoted
    foreign = shuffled(bars.frame.iloc[DECIDE_AT + 40 - 32 - 160:DECIDE_AT + 40 - 32])
    decision = retrainer.run([DECIDE_AT + 40], training_bars=foreign).decisions[0]
    assert decision["decision"] == REJECTED and decision["champion"] == report.champion
    assert decision["crps"]["challenger"] > decision["crps"]["champion"]
    registry = Registry(ledger)
    assert registry.champion(SeriesKey.of(bars)).id == report.champion
    rejected = registry.get(decision["challenger"])
    assert rejected.status == "rejected" and rejected.parent_id == report.champion
    assert rejected.scores["diff_ci95"] == decision["diff_ci95"]


def test_a_window_already_decided_is_not_trained_again(world, promoted):
    from kronos_studio.ledger.registry import Registry

    _, ledger = world
    bars, retrainer, report = promoted
    before = len(Registry(ledger).entries())
    again = retrainer.run([DECIDE_AT]).decisions[0]
    assert again["decision"] == "skipped" and again["challenger"] == report.champion
    assert len(Registry(ledger).entries()) == before


def test_bars_that_no_longer_hold_what_the_champion_learned_from_are_refused(world, promoted):
    from kronos_studio.training.retrain import Retrainer, RetrainError, RetrainSettings

    pair, ledger = world
    bars, _, report = promoted
    frame = bars.frame.copy()
    cols = ["open", "high", "low", "close"]
    frame.loc[:450, cols] = frame.loc[:450, cols] / 2  # a 2:1 split adjusted into the older bars
    split = bars.replace(frame=frame)
    with pytest.raises(RetrainError, match=f"champion adapter {report.champion} learned from.*mixed history"):
        Retrainer(pair, split, ledger, RetrainSettings(**FAST)).run([600])


def test_too_few_bars_are_refused_with_the_numbers_and_nothing_is_registered(world):
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.retrain import Retrainer, RetrainError, RetrainSettings

    pair, ledger = world
    short = regime_bars(symbol="SHORT", n=150, change=50)
    with pytest.raises(RetrainError, match=r"150 bars cannot hold a 160-bar training window .* at least 192"):
        Retrainer(pair, short, ledger, RetrainSettings(**FAST)).points()
    with pytest.raises(RetrainError, match="at least 5"):
        RetrainSettings(**{**FAST, "n_cutoffs": 3}).check()
    assert [e for e in Registry(ledger).entries() if e.symbol == "SHORT"] == []


def test_a_rolling_schedule_decides_every_k_bars_from_the_first_point_with_enough_bars(world):
    """``--every K [--since DATE]``: the retraining points, each deciding from the bars before it only."""
    from kronos_studio.training.retrain import Retrainer, RetrainError, RetrainSettings

    pair, ledger = world
    bars = regime_bars(symbol="ROLL")
    n, need = len(bars.frame), RetrainSettings(**FAST).needed()
    retrainer = Retrainer(pair, bars, ledger, RetrainSettings(**FAST))
    assert retrainer.points() == [n]
    assert retrainer.points(every=100) == list(range(need, n + 1, 100)) and need > 100
    since = bars.frame["timestamp"].iloc[400]
    assert n == 600 and retrainer.points(every=100, since=since) == [400, 500, 600]
    with pytest.raises(RetrainError, match="cannot hold"):  # a point needs its window and cut-offs before it
        Retrainer(pair, regime_bars(symbol="ROLL", n=need - 1, change=50), ledger, RetrainSettings(**FAST)).points(every=100)


def test_settings_that_cannot_judge_a_challenger_are_refused_with_their_fixes_as_data():
    from kronos_studio.training.gate import MIN_GATE_CUTOFFS
    from kronos_studio.training.retrain import RetrainError, RetrainSettings

    with pytest.raises(RetrainError) as few:
        RetrainSettings(**{**FAST, "n_cutoffs": 3}).check()
    assert few.value.values["cutoffs"] == 3 and [(f.setting, f.value) for f in few.value.fix] == [
        ("cutoffs", MIN_GATE_CUTOFFS)]
    with pytest.raises(RetrainError) as narrow:
        RetrainSettings(**{**FAST, "window": 40}).check()
    assert [f.setting for f in narrow.value.fix] == ["window", "lookback"] and narrow.value.fix[0].value > 40


@pytest.mark.parametrize(("field", "setting", "value", "least"), [
    ("window", "window", 0, 1), ("lookback", "lookback", -3, 1), ("n_cutoffs", "cutoffs", 0, 1),
    ("paths", "paths", 0, 1), ("steps", "steps", 0, 1), ("seed", "seed", -1, 0)])
def test_each_retrain_setting_below_its_least_is_refused_naming_the_setting_its_faces_offer(field, setting, value,
                                                                                          least):
    """Issue 52: the settings check themselves, one rule for the command line, the HTTP API and the app (each
    of which offers them from their Knobs): named as the setting the faces know (``n_cutoffs``: cutoffs)."""
    from kronos_studio.training.retrain import RetrainError, RetrainSettings

    with pytest.raises(RetrainError) as low:
        RetrainSettings(**{**FAST, field: value})
    assert low.value.values == {setting: value}
    assert [(f.setting, f.value) for f in low.value.fix] == [(setting, least)]
    RetrainSettings(**{**FAST, field: least})  # the least is accepted


def test_a_challenger_whose_training_never_beat_the_base_says_so(world):
    """Issue 51 item 4, the daily case: the training diverges (a learning rate far too high), so the best
    validation step is the untrained one and the challenger is the base model to every digit. The decision says
    that it changed nothing, and why."""
    from kronos_studio.training.adapters import adapter_metadata
    from kronos_studio.training.retrain import Retrainer, RetrainSettings

    pair, ledger = world
    bars = regime_bars(symbol="UNTRAINED")
    retrainer = Retrainer(pair, bars, ledger, RetrainSettings(**{**FAST, "steps": 4, "lr": 50.0}))
    [decision] = retrainer.run([DECIDE_AT]).decisions
    entry = retrainer.registry.get(decision["challenger"])
    assert adapter_metadata(entry.path)["training"]["best_step"] == 0
    assert decision["crps"]["challenger"] == decision["crps"]["base"] and decision["diff_ci95"] == [0.0, 0.0]
    assert decision["decision"] == REJECTED and "worse" not in decision["reason"]
    assert "changed nothing" in decision["reason"] and "best validation step was the untrained one" in decision["reason"]
    assert entry.reason == decision["reason"]


def in_training_period(bars, start: str):
    """``bars`` moved to start at ``start``: inside the bundled models' training period (to 2025-12-31)."""
    import pandas as pd

    frame = bars.frame.assign(timestamp=pd.date_range(start, periods=len(bars.frame), freq="1h", tz="UTC"))
    return bars.replace(frame=frame)


def test_a_retrain_inside_the_base_models_training_period_is_refused_before_it_trains(world):
    """Issue 51 item 5: Retrain now and kronos retrain decided on cut-offs of 2017-2018 with no notice, while
    evaluate, Fine-tune and the Screener refuse or flag them. The same guard and switch: refused before anything
    is trained, the fix naming the switch (and, for a walk, the first point after the period); with the switch
    the cut-offs are kept and flagged."""
    from kronos_studio.cli.errors import cli_line
    from kronos_studio.evaluation.trust import TrainingPeriodError
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.gate import MIN_GATE_CUTOFFS
    from kronos_studio.training.retrain import Retrainer, RetrainSettings

    pair, ledger = world
    inside = in_training_period(regime_bars(symbol="MEMORY"), "2025-11-01")  # 600 hourly bars, all in 2025
    with pytest.raises(TrainingPeriodError) as refused:
        Retrainer(pair, inside, ledger, RetrainSettings(**FAST)).points()
    e = refused.value
    assert "8 of the 8 held-out cut-offs" in str(e) and "data up to 2025-12-31" in str(e)
    assert e.values["in_training_period"] == 8 and "(--include-training-period)" in cli_line(e)
    assert [e for e in Registry(ledger).entries() if e.symbol == "MEMORY"] == []  # nothing trained

    # a walk through the period's end: refused, naming the first point with enough cut-offs after it
    straddles = in_training_period(regime_bars(symbol="MEMORY"), "2025-12-20")
    retrainer = Retrainer(pair, straddles, ledger, RetrainSettings(**FAST))
    with pytest.raises(TrainingPeriodError) as walk:
        retrainer.points(every=100)
    [later] = [f for f in walk.value.fix if f.setting == "since"]
    stamps = straddles.frame["timestamp"]
    first_after = int((stamps >= pd_timestamp("2026-01-01", tz="UTC")).to_numpy().argmax())
    assert later.value == str(stamps.iloc[first_after + MIN_GATE_CUTOFFS * FAST["horizon"]])
    points = retrainer.points(every=100, since=later.value)
    assert points[0] == first_after + MIN_GATE_CUTOFFS * FAST["horizon"]
    kept, guard = retrainer.gate_cutoffs(points[0])  # partly inside: those left out, as evaluate does
    assert len(kept) == MIN_GATE_CUTOFFS and guard["in_training_period"] == FAST["n_cutoffs"] - MIN_GATE_CUTOFFS
    assert all(stamps.iloc[c] > stamps.iloc[first_after - 1] for c in kept)

    # switched on: kept and flagged
    knowingly = Retrainer(pair, inside, ledger, RetrainSettings(**FAST, include_training_period=True))
    assert knowingly.points() == [len(inside.frame)]
    kept, guard = knowingly.gate_cutoffs(len(inside.frame))
    assert len(kept) == 8 and guard["in_training_period"] == 8 and guard["in_training_period_included"]


def pd_timestamp(text: str, tz: str):
    import pandas as pd

    return pd.Timestamp(text, tz=tz)


def test_workspaces_and_series_whose_names_run_together_keep_their_own_adapters_and_locks(world):
    """Issue 53 item 2: the folder was workspace-source-symbol-interval joined by '-', legal inside both names:
    workspace 'A-file-Y' retraining GOOG and workspace 'A' retraining the same bars as 'Y-file-GOOG' shared one,
    so the second registered the first's adapter untrained, and either could lock the other out."""
    from pathlib import Path

    from kronos_studio.ledger.registry import Registry, SeriesKey
    from kronos_studio.training.retrain import Retrainer, RetrainSettings, adapters_folder, series_lock

    pair, ledger = world
    named = {"A-file-Y": SeriesKey("file", "GOOG", "1h"), "A": SeriesKey("file", "Y-file-GOOG", "1h")}
    with series_lock(named["A-file-Y"], "A-file-Y"), series_lock(named["A"], "A"):  # neither locks the other out
        pass
    safe = [adapters_folder(SeriesKey("file", s, "1d"), "w") for s in ("BTC/USD", "BTC_USD")]  # one once made safe
    assert safe[0] != safe[1]
    tiny = RetrainSettings(horizon=2, window=88, lookback=20, n_cutoffs=5, paths=4, steps=2)
    entries = {}
    for workspace, series in named.items():  # the same bars in both
        scoped = ledger.scoped(workspace)
        report = Retrainer(pair, regime_bars(symbol=series.symbol, n=100, change=50), scoped, tiny).run([100])
        assert report.decisions[0]["decision"] != "skipped"
        entries[workspace] = Registry(scoped).get(report.decisions[0]["challenger"])
    for workspace, entry in entries.items():  # each trained into its own workspace's folder
        assert Path(entry.path).parent == adapters_folder(named[workspace], workspace)
        assert (Path(entry.path) / "kronos_adapter.json").is_file()
    assert entries["A"].path != entries["A-file-Y"].path


def test_a_challenger_judged_only_inside_the_training_period_is_decided_and_recorded_not_promoted(world):
    """Issue 62 item 6: with the cut-offs inside the base model's training period included, every one of them
    inside it, the gate would promote (the challenger learned the cycle) on the model's memory of the bars: the
    decision is recorded with the gate's verdict and why it was not promoted, and no champion serves. A second
    confirmation (``promote_in_sample``) is what lets such a challenger serve (its face: test_retrain_cli)."""
    from kronos_studio.ledger.registry import Registry, SeriesKey
    from kronos_studio.training.retrain import Retrainer, RetrainSettings

    pair, ledger = world
    inside = in_training_period(regime_bars(symbol="INSAMPLE"), "2025-11-01")  # every cut-off in the period
    settings = RetrainSettings(**FAST, include_training_period=True)
    assert not settings.promote_in_sample  # off unless confirmed
    [decision] = Retrainer(pair, inside, ledger, settings).run([len(inside.frame)]).decisions
    assert decision["gate"] == PROMOTED and decision["diff_ci95"][1] < 0, decision["reason"]  # what the gate said
    assert decision["decision"] == REJECTED and decision["in_sample_only"] and decision["in_training_period"] == 8
    assert (f"; not promoted: none of these {FAST['n_cutoffs']} cut-offs lie after the base model's training period"
            in decision["reason"]) and 'confirm "promote on in-sample evidence"' in decision["reason"]
    registry = Registry(ledger)
    assert registry.champion(SeriesKey.of(inside)) is None  # the base model still serves
    entry = registry.get(decision["challenger"])
    assert entry.status == "rejected" and entry.reason == decision["reason"] and entry.scores["gate"] == PROMOTED
