"""``kronos train ensemble --from-ledger``: the meta-learner learns from the ensemble forecasts the ledger
scored, each member on its own paths, using only what was known before ``--since``."""
from __future__ import annotations

import pandas as pd
import pytest
from ledger_helpers import MEMBER_KEYS, cut, ensemble_forecast, series

from kronos_studio.cli.main import main
from kronos_studio.ensemble.from_ledger import ledger_evaluations
from kronos_studio.ensemble.meta import MetaLearner

HORIZON = 4
SINCE = pd.Timestamp("2024-06-13 00:00", tz="UTC")  # bar 240 of the hourly series


def keep(ledger, bars, origins, **kw) -> None:
    for at in origins:
        ledger.record(ensemble_forecast(bars, at, horizon=HORIZON, seed=at, **kw), cut(bars, at))


@pytest.fixture
def scored(ledger):
    """24 ensemble forecasts whose origin and bars all lie before SINCE, scored."""
    bars = series(400)
    keep(ledger, bars, range(94, 237, 6))
    ledger.score(bars)
    return ledger, bars


def test_only_forecasts_known_before_since_are_learned_from(scored):
    ledger, bars = scored
    found = ledger_evaluations(ledger, SINCE)
    assert found.count == 24 and len(found.evals.table) == 24 * len(MEMBER_KEYS)
    times = pd.to_datetime(found.evals.table["cutoff_time"], utc=True)
    assert times.is_monotonic_increasing and (times < SINCE).all()
    reference = found.evals.table[found.evals.table["member"] == "random_walk"]
    assert (reference["target"] == 0).all()
    keep(ledger, bars, [238])  # its origin is before --since, its last bars after
    keep(ledger, bars, [250, 300])  # made after --since
    keep(ledger, bars, [397])  # made after --since, and the bars end before its last step
    keep(ledger, series(400, symbol="OTHER"), [200])  # before --since, but its series' bars never came back
    ledger.score(bars)
    again = ledger_evaluations(ledger, SINCE)
    pd.testing.assert_frame_equal(again.evals.table, found.evals.table)
    assert again.skipped == {"bars scored at or after the since time": 1, "made at or after the since time": 3,
                             "not scored on every step yet": 1}
    later = ledger_evaluations(ledger, pd.Timestamp("2030-01-01", tz="UTC"))
    assert later.count == 24 + 3  # without the cut, all scored ones count


def test_the_cli_refuses_below_the_minimum_and_never_overwrites(scored, tmp_path, monkeypatch, capsys):
    ledger, _ = scored
    monkeypatch.setenv("KRONOS_STUDIO_DB", ledger.url)
    out = tmp_path / "meta"
    args = ["train", "ensemble", "--from-ledger", "--since", "2024-06-13", "--out", str(out)]
    assert main(args) == 2  # the newest 5 held out for the gate, 19 to learn from: < the default minimum
    err = capsys.readouterr().err
    assert "only 19 scored ensemble forecasts were known before the 5 held-out ones" in err and not out.exists()
    assert main([*args, "--min-evaluations", "19"]) == 0
    learned = MetaLearner.load(out)  # a copy of the registered challenger
    assert sorted(learned.members) == sorted(MEMBER_KEYS) and learned.info["provenance"]["evaluations"] == 19
    saved = (out / "meta_learner.json").read_bytes()
    capsys.readouterr()
    assert main([*args, "--min-evaluations", "19"]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert (out / "meta_learner.json").read_bytes() == saved
    assert main(["train", "ensemble", "--from-ledger", "--data", "x.csv", "--out", str(tmp_path / "new")]) == 2
