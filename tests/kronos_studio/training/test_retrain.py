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
