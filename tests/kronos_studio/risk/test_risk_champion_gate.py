"""The risk champion's gate (issue 66, item 2): the forecast gate's paired bootstrap interval on any per-cut-off loss
(FZ0), with a second loss (QLIKE) that may not be worse beyond noise; and a risk model's label, settings and state
identity."""
from __future__ import annotations

import numpy as np

from kronos_studio.risk.champion import RiskModel
from kronos_studio.risk.recalibrate import Recalibration
from kronos_studio.training.gate import PROMOTED, REJECTED, crps_difference_interval, decide_losses


def test_a_challenger_clearly_lower_on_fz0_is_promoted_with_its_interval_said():
    rng = np.random.default_rng(1)
    champion = rng.normal(-3.0, 0.5, 250)
    challenger = champion - 0.2 + rng.normal(0, 0.1, 250)
    d = decide_losses(challenger, champion, "FZ0")
    lo, hi = crps_difference_interval(challenger, champion)
    assert d.decision == PROMOTED and d.diff_ci95 == (lo, hi) and hi < 0
    assert "FZ0 difference" in d.reason and "excludes 0" in d.reason and f"{lo:+.4f}" in d.reason


def test_noise_and_a_worse_variance_are_rejected_and_an_identical_model_changed_nothing():
    rng = np.random.default_rng(2)
    champion = rng.normal(-3.0, 0.5, 250)
    noise = champion + rng.normal(0, 0.5, 250)
    assert decide_losses(noise, champion, "FZ0").decision == REJECTED
    better = champion - 0.2
    worse_qlike = (rng.gamma(2, 1, 250) + 1.0, rng.gamma(2, 1, 250))
    d = decide_losses(better + rng.normal(0, 0.01, 250), champion, "FZ0", worse_qlike, "QLIKE")
    assert d.decision == REJECTED and "QLIKE is worse beyond noise" in d.reason
    same = decide_losses(champion, champion, "FZ0")
    assert same.decision == REJECTED and same.unchanged and "changed nothing" in same.reason


def test_a_risk_model_is_named_kept_and_read_back_by_its_settings():
    plain, recal = RiskModel("log_har"), RiskModel("gjr_garch", Recalibration(step=0.25, scale=True))
    assert plain.label == "log_har" and recal.label == "gjr_garch+recal"
    assert RiskModel.from_settings(recal.to_settings()) == recal and RiskModel.from_settings(plain.to_settings()) == plain
    assert RiskModel.of_label("gjr_garch+recal", recal.recalibration) == recal
    assert plain.standard and not RiskModel("studio-tiny").standard
    # the learnt state is the model's as it is now and its recalibration's: another of either starts afresh
    assert recal.state_identity({"window": 500}) != recal.state_identity({"window": 250})
    assert recal.state_identity({}) != RiskModel("gjr_garch", Recalibration()).state_identity({})
