"""Issue 43: the ensemble's meta-learner through the champion/challenger gate. ``kronos train ensemble
--from-ledger`` holds out the newest scored ensemble forecasts, fits a challenger on the older ones and
promotes it only when it beats the serving meta-learner there beyond noise; the ensemble then serves the
workspace's champion meta-learner, and ``kronos adapters`` lists, promotes and rolls it back."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from ledger_helpers import cut, forecast, series

from kronos.settings import ForecastSettings
from kronos_studio.cli.main import main
from kronos_studio.ensemble.ensemble import EnsembleForecast, mix
from kronos_studio.ensemble.from_ledger import ledger_evaluations
from kronos_studio.ensemble.gated import LEDGER_WIDE, MetaGateSettings, gate_from_ledger, window_hash
from kronos_studio.ensemble.series import series_fits
from kronos_studio.ledger.registry import META_LEARNER, Registry

KEYS = ("kronos", "har", "gjr_garch", "garch", "random_walk", "bootstrap")  # the ensemble's default members
TWIN = {"bootstrap": "garch", "garch": "bootstrap"}
HORIZON, SPACING, PATHS, FIRST = 4, 5, 30, 100
P1, P2, P3 = 44, 24, 8  # forecasts where bootstrap, then garch, then bootstrap again saw what came


def candles(close: np.ndarray) -> np.ndarray:
    return np.stack([close, close * 1.001, close * 0.999, close, np.full_like(close, 1e3),
                     np.full_like(close, 5e4)], axis=2).astype(np.float32)


def gated_forecast(bars, at: int, good: str) -> EnsembleForecast:
    """An ensemble forecast from ``bars[:at]`` whose ``good`` member is centred on the closes that came (the
    actual is a draw from its distribution), its twin on their mirror image around the last close (as far off,
    as narrow: only the member's name tells them apart), the other members random walks from the last close."""
    rng = np.random.default_rng(at)
    close = bars.frame["close"].to_numpy()
    last, actual = close[at - 1], close[at:at + HORIZON]
    members = {}
    for k in KEYS:
        if k in TWIN:
            centre = actual if k == good else last ** 2 / actual
            paths = centre * np.exp(rng.normal(0, 0.001, HORIZON)) * np.exp(rng.normal(0, 0.001, (PATHS, HORIZON)))
        else:
            paths = last * np.exp(np.cumsum(rng.normal(0, 0.004, (PATHS, HORIZON)), axis=1))
        members[k] = candles(paths)
    weights = {k: 1 / len(KEYS) for k in KEYS}
    base = forecast(bars, at, HORIZON, PATHS, seed=at, model="ensemble", weights=weights,
                    members={k: {"key": k, "name": k} for k in KEYS})
    mixed = mix(members, weights, PATHS, 1.0)
    return EnsembleForecast(base.timestamps, mixed, mixed.mean(axis=0), base.history, base.settings, base.provenance,
                            members=members)


def origin(i: int) -> int:
    return FIRST + SPACING * i


@pytest.fixture(scope="module")
def bars():
    return series(origin(P1 + P2 + P3) + HORIZON, seed=11)


def keep(ledger, bars, first: int, count: int, good: str) -> None:
    for i in range(first, first + count):
        ledger.record(gated_forecast(bars, origin(i), good), cut(bars, origin(i)))
    ledger.score(bars)


def since_after(bars, forecasts: int) -> str:
    """--since: the time of the bar after the last one the first ``forecasts`` forecasts were scored on."""
    return str(bars.frame["timestamp"].iloc[origin(forecasts - 1) + HORIZON])


@pytest.fixture
def cli(ledger, monkeypatch, tiny):
    monkeypatch.setenv("KRONOS_STUDIO_DB", ledger.url)

    def run(*args) -> int:
        return main(["train", "ensemble", "--from-ledger", "--model", str(tiny.folder), *args])

    return run


@pytest.fixture(scope="module")
def tiny(random_model):
    return random_model("tiny")


def served(bars, tiny, sample: bool = False) -> dict:
    """What the ensemble as the CLI and the app resolve it says of its meta-learner (``sample``: a forecast's
    whole provenance, weights included)."""
    from kronos.checkpoints import load_pair
    from kronos_studio.catalog import resolve
    from kronos_studio.forecasters import make_forecast

    settings = ForecastSettings(horizon=HORIZON, paths=8, seed=1)
    pair = load_pair(tiny.folder, device="cpu")
    ensemble = resolve("ensemble", bars, settings, load_pair=lambda _: pair, chronos2="off")
    return make_forecast(ensemble, bars, settings).provenance if sample else ensemble.describe()


def test_a_better_challenger_is_promoted_and_serves_a_worse_one_is_rejected(ledger, bars, tiny, cli, capsys):
    keep(ledger, bars, 0, P1, "bootstrap")
    before = served(bars, tiny, sample=True)
    fits = series_fits()  # what the app's and the service's stores of ensemble forecasts key on
    assert "registry_id" not in before["meta_learner"]  # no champion yet: the bundled meta-learner serves

    # 1. the first 44 forecasts: the newest 8 held out; learned from the 36 before them, it beats the bundled one
    assert cli("--since", since_after(bars, P1), "--holdout", "8", "--min-evaluations", "20") == 0
    line = capsys.readouterr().out
    registry = Registry(ledger)
    first, = registry.entries(LEDGER_WIDE, META_LEARNER)
    assert first.status == "champion" and first.parent_id is None, first.reason
    assert line.startswith(f"meta-learner {first.id} promoted: it serves the workspace's ensemble")
    assert first.scores["crps"]["challenger"] < first.scores["crps"]["champion"] and first.scores["diff_ci95"][1] < 0
    assert first.scores["cutoffs"] == 8 and first.window_bars == P1 - 8 and first.scores["champion"] == "bundled"
    held_from = pd.Timestamp(first.scores["held_out_from"])
    assert pd.Timestamp(first.last_bar_at) < held_from  # trained only on forecasts older than the held-out ones
    assert first.base_hash.startswith("local:") and first.settings["holdout"] == 8
    found = ledger_evaluations(ledger, pd.Timestamp("2030-01-01", tz="UTC"))
    older = found.known_before(held_from)  # what the challenger learned from: read once, cut at the held-out
    pd.testing.assert_frame_equal(older.evals.table, ledger_evaluations(ledger, held_from).evals.table)
    assert older.count == first.window_bars and first.window_hash == window_hash(older)
    assert series_fits() != fits  # a promotion changes every ensemble forecast: the stores see it
    provenance = served(bars, tiny, sample=True)
    assert provenance["meta_learner"]["registry_id"] == first.id
    assert f"champion meta-learner {first.id}" in provenance["meta_learner_champion"]
    assert provenance["weights"] != before["weights"]

    # 2. garch saw what came for 24 forecasts, then bootstrap again: a challenger learned mostly from the garch
    # period is worse than the champion on the newest 8: rejected, and the champion keeps serving
    keep(ledger, bars, P1, P2, "garch")
    keep(ledger, bars, P1 + P2, P3, "bootstrap")
    assert cli("--holdout", "8", "--min-evaluations", "20") == 0
    line = capsys.readouterr().out
    first_now, second = registry.entries(LEDGER_WIDE, META_LEARNER)
    assert second.status == "rejected" and second.parent_id == first.id and first_now.status == "champion"
    assert "rejected: the meta-learner" in line and f"the meta-learner {first.id} keeps serving" in line
    assert second.scores["crps"]["challenger"] > second.scores["crps"]["champion"]
    assert second.scores["champion"] == f"meta-learner {first.id}" and second.window_bars == P1 + P2
    assert served(bars, tiny)["meta_learner"]["registry_id"] == first.id

    # 3. the same window again: decided already, nothing refitted or registered
    assert cli("--holdout", "8", "--min-evaluations", "20") == 0
    assert "was trained on these forecasts already and is rejected" in capsys.readouterr().out
    assert len(registry.entries(LEDGER_WIDE, META_LEARNER)) == 2

    # 4. `kronos adapters` lists the meta-learners, promotes one by hand and rolls it back
    assert main(["adapters", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["id"], e["kind"], e["source"]) for e in listed] == [(first.id, META_LEARNER, "ledger"),
                                                                    (second.id, META_LEARNER, "ledger")]
    assert main(["adapters", "promote", str(second.id)]) == 0
    assert served(bars, tiny)["meta_learner"]["registry_id"] == second.id
    assert main(["adapters", "rollback", str(second.id)]) == 0
    assert served(bars, tiny)["meta_learner"]["registry_id"] == first.id
    assert main(["adapters", "rollback", str(first.id)]) == 0
    assert "registry_id" not in served(bars, tiny)["meta_learner"]  # the bundled one again


def test_too_few_held_out_forecasts_are_refused_and_nothing_is_registered(ledger, bars, cli, capsys):
    keep(ledger, bars, 0, 12, "bootstrap")
    assert cli("--holdout", "3", "--min-evaluations", "4") == 2
    err = capsys.readouterr().err
    assert "12 scored ensemble forecasts are usable" in err and "3 would be held out" in err
    assert "hold out at least 5 (--holdout 5)" in err
    assert cli("--min-evaluations", "10") == 2  # the default share holds out 5: 7 are left to train on
    err = capsys.readouterr().err
    assert "only 7 scored ensemble forecasts were known before the 5 held-out ones" in err and "--min-evaluations" in err
    assert Registry(ledger).entries(kind=META_LEARNER) == []
    with pytest.raises(SystemExit):
        main(["train", "ensemble", "--from-ledger", "--holdout", "0"])
    assert "neither a count" in capsys.readouterr().err


def test_a_champion_trained_beside_another_kronos_does_not_serve(ledger, bars, tiny, cli, capsys):
    keep(ledger, bars, 0, P1, "bootstrap")
    settings = MetaGateSettings(pd.Timestamp(since_after(bars, P1)), 20, "other", "local:0123456789abcdef", 8)
    made = gate_from_ledger(ledger, settings)
    assert made.entry.status == "champion"
    provenance = served(bars, tiny)
    assert "registry_id" not in provenance["meta_learner"]
    assert f"champion meta-learner {made.entry.id} was trained over the Kronos other" in \
        provenance["meta_learner_champion"]
