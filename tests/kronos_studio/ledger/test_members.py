"""An ensemble forecast keeps one row per member: the member's own paths, linked to the ensemble's row,
scored like any forecast, shown beside the ensemble without changing the ensemble's own record."""
from __future__ import annotations

import numpy as np
import pandas as pd
from ledger_helpers import MEMBER_KEYS, cut, ensemble_forecast, forecast, series

from kronos_studio.ensemble.ensemble import cutoff_rows
from kronos_studio.evaluation.metrics import score_paths
from kronos_studio.ledger import Recorded
from kronos_studio.ledger.frames import realized_by_model


def test_each_member_is_kept_linked_and_scored_as_its_own_paths(ledger):
    bars = series(300)
    fc = ensemble_forecast(bars, 250, horizon=6)
    recorded = ledger.record(fc, cut(bars, 250))
    assert ledger.record(fc, cut(bars, 250)) == Recorded(recorded.id, False)  # kept once, members too
    table = ledger.predictions_frame()
    assert len(table) == 1 + len(MEMBER_KEYS)
    members = table[table["parent_id"].notna()].set_index("model")
    assert sorted(members.index) == sorted(f"ensemble/{k}" for k in MEMBER_KEYS)
    assert (members["parent_id"] == recorded.id).all()
    assert dict(zip(members.index, members["weight"])) == member_weights(fc)
    seen = cutoff_rows(fc.history, fc.members, 6, "1h", "other").set_index("member")  # what the ensemble weighed by
    stored = ledger.features(members["prediction_id"])
    for model, pid in members["prediction_id"].items():
        assert stored[pid] == seen.loc[model.removeprefix("ensemble/")].to_dict()
    assert ledger.pending_series()["predictions"].tolist() == [1]  # one forecast waits, with its members
    report = ledger.score(bars)
    assert (report.predictions, report.steps, report.member_steps) == (1, 6, 6 * len(MEMBER_KEYS))
    table = ledger.predictions_frame().set_index("model")
    actual = bars.frame["close"].to_numpy()[250:256]
    last = float(bars.frame["close"].iloc[249])
    for key in MEMBER_KEYS:
        row = table.loc[f"ensemble/{key}"]
        fields, stored = ledger.paths(int(row["prediction_id"]))
        np.testing.assert_array_equal(stored[:, :, fields.index("close")], fc.members[key][:, :, 3])
        direct = score_paths(fc.members[key][:, :, 3], actual, last)
        assert row["scored_steps"] == 6
        np.testing.assert_allclose(row["crps"], direct["crps"].mean(), rtol=1e-9)
        assert row["coverage"] == np.mean(direct["covered"])
        assert (row["last_bar_at"], row["horizon"]) == (table.loc["ensemble", "last_bar_at"], 6)
    steps = ledger.steps_frame(ids=[int(table.loc["ensemble/garch", "prediction_id"])])
    assert (steps["timestamp"] == ledger.steps_frame(ids=[recorded.id])["timestamp"]).all()  # the same bar times


def member_weights(fc) -> dict:
    return {f"ensemble/{k}": float(w) for k, w in fc.provenance["weights"].items()}


def test_the_ensembles_own_record_is_unchanged_by_its_member_rows(ledger, tmp_path):
    from kronos.forecast import Forecast
    from kronos_studio.ledger import Ledger

    bars = series(300)
    plain = forecast(bars, 240, horizon=6, model="test-model")
    fc = ensemble_forecast(bars, 250, horizon=6)
    with Ledger.open(f"sqlite:///{tmp_path / 'without.sqlite'}") as without:  # the ensemble kept without members
        as_plain = Forecast(fc.timestamps, fc.paths, fc.mean, fc.history, fc.settings, fc.provenance)
        without.record(as_plain, cut(bars, 250))
        without.record(plain, cut(bars, 240))
        without.score(bars)
        before = realized_by_model(without.predictions_frame())
        series_before = without.series_frame()
    ledger.record(fc, cut(bars, 250))
    ledger.record(plain, cut(bars, 240))
    ledger.score(bars)
    after = realized_by_model(ledger.predictions_frame(member_rows=False))
    pd.testing.assert_frame_equal(after, before)
    assert ledger.series_frame()["predictions"].tolist() == series_before["predictions"].tolist() == [2]
    ensemble_id = int(ledger.predictions_frame(models=["ensemble"])["prediction_id"].iloc[0])
    members = ledger.realized_members([ensemble_id]).set_index("member")
    assert list(members.index) == ["ensemble", *sorted(MEMBER_KEYS)] and (members["steps"] == 6).all()
    mixture = after.set_index("model").loc["ensemble"]
    assert members.loc["ensemble", ["steps", "coverage", "crps_pct"]].tolist() == \
        mixture[["steps", "coverage", "crps_pct"]].tolist()  # the ensemble's own record, beside its members
    assert members.loc["garch", "weight"] == fc.provenance["weights"]["garch"]
    every = realized_by_model(ledger.predictions_frame()).set_index("model")
    assert members.loc["garch", "crps_pct"] == every.loc["ensemble/garch", "crps_pct"]
