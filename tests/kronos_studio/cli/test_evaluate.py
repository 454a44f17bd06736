"""``kronos evaluate`` and ``kronos forecast --model ensemble``, run as a user would (subprocess, offline)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import run_cli
from testkit import random_bars

from kronos_studio.ensemble.members import CHEAP_MEMBER_PATHS

MODEL_KEYS = {"name", "crps", "crps_pct", "mae", "coverage_p10_p90", "crps_skill_vs_random_walk", "crps_skill_ci95"}


@pytest.fixture(scope="module")
def daily_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "walk.csv"
    random_bars(700, seed=4, freq="B", start="2020-01-02").to_csv(path, index=False)
    return path


def test_evaluate_writes_every_model_with_skill_interval_and_calibration_check(random_model, daily_csv, tmp_path):
    folder = random_model("tiny").folder
    out = tmp_path / "eval.json"
    r = run_cli("evaluate", daily_csv, "--model", folder, "--horizon", 5, "--cutoffs", 6, "--paths", 8,
                "--lookback", 60, "--json", out, "--timezone", "UTC", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["cutoffs"] == 6 and d["horizon"] == 5 and d["symbol"] == "walk"
    assert set(d["models"]) == {"model", "random_walk", "bootstrap", "persistence"}
    for m in d["models"].values():
        assert MODEL_KEYS <= set(m)
        lo, hi = m["crps_skill_ci95"]
        assert lo <= m["crps_skill_vs_random_walk"] <= hi or m is d["models"]["random_walk"]
    assert d["models"]["random_walk"]["crps_skill_vs_random_walk"] == 0
    check = d["models"]["model"]["calibration_held_out"]
    assert {"coverage_before", "coverage_after", "crps_before", "crps_after"} <= set(check)


@pytest.mark.parametrize("args,message", [
    (["--horizon", "0"], "horizon must be at least 1 bar, got 0: use at least 1 (--horizon 1)"),
    (["--horizon", "5", "--lookback", "698"], "cannot hold"),
])
def test_evaluate_bad_input_is_one_line_and_exit_2(random_model, daily_csv, tmp_path, args, message):
    r = run_cli("evaluate", daily_csv, "--model", random_model("tiny").folder, "--json", tmp_path / "e.json",
                "--timezone", "UTC", *args)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and message in r.stderr, r.stderr


def test_evaluate_missing_file_exits_2(tmp_path):
    r = run_cli("evaluate", tmp_path / "nope.csv", "--horizon", 5, "--json", tmp_path / "e.json")
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_forecast_and_evaluate_with_the_bundled_ensemble(daily_csv, tmp_path):
    q, prov = tmp_path / "q.csv", tmp_path / "run.json"
    r = run_cli("forecast", daily_csv, "--model", "ensemble", "--horizon", 5, "--paths", 20, "--seed", 2,
                "--timezone", "UTC", "--calendar", "XNYS", "--out", q, "--provenance-out", prov, "--quiet")
    assert r.returncode == 0, r.stderr
    meta = json.loads(prov.read_text())
    assert set(meta["members"]) == {"kronos", "har", "gjr_garch", "garch", "random_walk", "bootstrap"}
    assert not meta["weighting"].startswith("equal")  # the bundled Kronos: the bundled meta-learner applies
    assert sum(meta["weights"].values()) == pytest.approx(1.0)
    assert "temperature" in meta["meta_learner"] and meta["members"]["kronos"]["predictor"]
    again = tmp_path / "q2.csv"
    run_cli("forecast", daily_csv, "--model", "ensemble", "--horizon", 5, "--paths", 20, "--seed", 2,
            "--timezone", "UTC", "--calendar", "XNYS", "--out", again, "--quiet")
    assert q.read_text() == again.read_text()  # same seed, same ensemble paths
    out = tmp_path / "e.json"
    args = ("evaluate", daily_csv, "--model", "ensemble", "--horizon", 5, "--cutoffs", 3, "--paths", 20,
            "--json", out, "--timezone", "UTC", "--calendar", "XNYS")
    # These bars end before the bundled model's data did: every cut-off would score memory.
    r = run_cli(*args)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert "fall inside the model's training period" in r.stderr and "--include-training-period" in r.stderr
    r = run_cli(*args, "--include-training-period")
    assert r.returncode == 0, r.stderr
    assert "3 cut-offs forecast bars inside the model's training period" in r.stderr
    report = json.loads(out.read_text())
    assert report["model"]["key"] == "ensemble" and report["crps_estimator"] == "fair"
    assert report["in_training_period"] == 3 and report["in_training_period_included"] is True
    roles = {key: m["role"] for key, m in report["models"].items()}
    members = ["member_kronos", "member_har", "member_gjr_garch", "member_garch", "member_random_walk",
               "member_bootstrap"]
    assert roles == {"model": "model", **dict.fromkeys(members, "member"),
                     **dict.fromkeys(["random_walk", "bootstrap", "persistence"], "baseline")}
    for key in members:
        member = report["models"][key]
        drawn = 20 if key == "member_kronos" else CHEAP_MEMBER_PATHS  # the cheap members draw more
        assert member["paths"] == drawn and member["crps"] > 0 and 0 <= member["coverage_p10_p90"] <= 1
        assert np.isfinite(member["crps_skill_vs_random_walk"])
    # The acceptance question asked directly: the mixture against its best member, paired on the cut-offs.
    best = min(members, key=lambda key: report["models"][key]["crps_pct"])
    vs_best = report["models"]["model"]["vs_best_member"]
    assert vs_best["member"] == best and vs_best["ci95"][0] <= vs_best["crps_skill"] <= vs_best["ci95"][1]
    assert vs_best["crps_skill"] == pytest.approx(1 - report["models"]["model"]["crps_pct"] / report["models"][best]["crps_pct"])
    assert f"vs its best member {best.removeprefix('member_')} {vs_best['crps_skill']:+.3f}" in r.stderr


def test_chronos2_joins_the_ensemble_when_named_and_the_output_says_how_members_are_weighed(daily_csv, tmp_path):
    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    prov = tmp_path / "run.json"
    r = run_cli("forecast", daily_csv, "--model", "ensemble", "--chronos2", BUNDLED_CHRONOS2, "--horizon", 5,
                "--paths", 14, "--timezone", "UTC", "--calendar", "XNYS", "--out", tmp_path / "q.csv",
                "--provenance-out", prov, "--quiet", "--no-ledger")
    assert r.returncode == 0, r.stderr
    meta = json.loads(prov.read_text())
    assert meta["members"]["chronos2"]["model"] == str(BUNDLED_CHRONOS2) and meta["weights"]["chronos2"] == pytest.approx(1 / 7)
    assert "note: ensemble weighting: equal weights: the bundled meta-learner was trained with" in r.stderr
    assert "; Chronos-2 joins: Chronos-2 (chronos2-small) (local:" in r.stderr
    r = run_cli("forecast", daily_csv, "--model", "ensemble", "--horizon", 5, "--paths", 14, "--timezone", "UTC",
                "--calendar", "XNYS", "--out", tmp_path / "q.csv", "--quiet", "--no-ledger")
    assert r.returncode == 0 and "; Chronos-2 left out (off)" in r.stderr, r.stderr  # the tests' default
    assert "note: ensemble weighting: equal" not in r.stderr


def test_evaluate_says_when_fewer_cut_offs_fit_than_asked(random_model, daily_csv, tmp_path):
    out = tmp_path / "e.json"
    r = run_cli("evaluate", daily_csv, "--model", random_model("tiny").folder, "--horizon", 5, "--cutoffs", 500,
                "--lookback", 600, "--paths", 4, "--json", out, "--timezone", "UTC")
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["cutoffs"] == 20
    assert "only 20 of the 500 cut-offs" in r.stderr


def test_train_ensemble_on_your_bars_then_forecast_with_it(daily_csv, tmp_path):
    out = tmp_path / "meta"
    r = run_cli("train", "ensemble", "--data", daily_csv, "--out", out, "--horizon", 5, "--cutoffs", 24,
                "--paths", 12, "--timezone", "UTC", "--calendar", "XNYS")
    assert r.returncode == 0, r.stderr
    assert (out / "meta_learner.txt").is_file() and "trained on 24 cut-offs" in r.stderr
    prov = tmp_path / "run.json"
    r = run_cli("forecast", daily_csv, "--model", "ensemble", "--meta", out, "--horizon", 5, "--paths", 12,
                "--timezone", "UTC", "--calendar", "XNYS", "--out", tmp_path / "q.csv", "--provenance-out", prov,
                "--quiet", "--no-ledger")
    assert r.returncode == 0, r.stderr
    assert json.loads(prov.read_text())["meta_learner"]["horizon"] == 5  # our meta-learner's provenance
    r = run_cli("forecast", daily_csv, "--model", "ensemble", "--meta", tmp_path, "--horizon", 5,
                "--timezone", "UTC", "--out", tmp_path / "q.csv", "--no-ledger")
    assert r.returncode == 2 and "no readable meta-learner" in r.stderr


def test_train_ensemble_for_one_series_stores_it_by_key_and_forecasts_with_it(daily_csv, tmp_path):
    env = {"KRONOS_STUDIO_CACHE": str(tmp_path / "cache")}
    # These bars end before the bundled Kronos' data did: fitted there, it would be flattered.
    r = run_cli("train", "ensemble", daily_csv, "--horizon", 5, "--timezone", "UTC", "--calendar", "XNYS", env=env)
    assert r.returncode == 2 and "learned from data up to" in r.stderr and "give bars after" in r.stderr
    recent = tmp_path / "walk.csv"
    random_bars(700, seed=4, freq="B", start="2023-09-01").to_csv(recent, index=False)  # ~100 bars in 2026
    r = run_cli("train", "ensemble", recent, "--horizon", 5, "--cutoffs", 30, "--paths", 12, "--timezone", "UTC",
                "--calendar", "XNYS", env=env)
    assert r.returncode == 0, r.stderr
    assert "ensemble fitted to 'walk.csv' (30 cut-offs, horizon 5)" in r.stderr and "stacking weights" in r.stderr
    (folder,) = (tmp_path / "cache" / "ensembles").iterdir()
    assert f"key {folder.name}" in r.stderr and (folder / "meta_learner.json").is_file()
    prov = tmp_path / "run.json"
    r = run_cli("forecast", recent, "--model", "ensemble", "--meta", folder, "--horizon", 5, "--paths", 12,
                "--timezone", "UTC", "--calendar", "XNYS", "--out", tmp_path / "q.csv", "--provenance-out", prov,
                "--quiet", "--no-ledger", env=env)
    assert r.returncode == 0, r.stderr
    meta = json.loads(prov.read_text())["meta_learner"]
    assert meta["fitted_to_series"] == "walk.csv" and meta["series_key"] == folder.name
    r = run_cli("train", "ensemble", daily_csv, "--data", daily_csv, "--horizon", 5, env=env)
    assert r.returncode == 2 and "not both" in r.stderr


def test_a_fit_to_one_series_with_chronos2_serves_the_ensemble_that_mixes_it(tmp_path):
    """`kronos train ensemble FILE` fits the members `kronos forecast --model ensemble` will mix: with
    Chronos-2 on the machine, both include it, so the forecast finds the fit (not the equal-weights rule)."""
    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    env = {"KRONOS_STUDIO_CACHE": str(tmp_path / "cache"), "KRONOS_STUDIO_CHRONOS2": str(BUNDLED_CHRONOS2)}
    recent = tmp_path / "walk.csv"
    random_bars(700, seed=4, freq="B", start="2023-09-01").to_csv(recent, index=False)
    common = ("--horizon", 5, "--paths", 12, "--timezone", "UTC", "--calendar", "XNYS")
    r = run_cli("train", "ensemble", recent, "--cutoffs", 30, *common, env=env)
    assert r.returncode == 0, r.stderr
    assert "note: Chronos-2 joins: Chronos-2 (chronos2-small)" in r.stderr
    assert "Loading weights" not in r.stderr  # transformers' own progress bar stays out of our output
    prov = tmp_path / "run.json"
    r = run_cli("forecast", recent, "--model", "ensemble", *common, "--out", tmp_path / "q.csv", "--provenance-out",
                prov, "--quiet", "--no-ledger", env=env)
    assert r.returncode == 0, r.stderr
    made = json.loads(prov.read_text())
    assert "chronos2" in made["members"] and made["meta_learner"]["fitted_to_series"] == "walk.csv"
    assert not made["weighting"].startswith("equal")


def test_ensemble_sampling_flags_reach_the_kronos_member_and_the_record(daily_csv, tmp_path, monkeypatch):
    """--temperature, --top-p, --top-k, --lookback and --no-anchor change the Kronos member's paths and are
    recorded as what it sampled with; the output line says what each member read."""
    import sqlite3

    monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{tmp_path / 'ledger.sqlite'}")

    def forecast(name, *flags):
        q, prov = tmp_path / f"{name}.csv", tmp_path / f"{name}.json"
        r = run_cli("forecast", daily_csv, "--model", "ensemble", "--horizon", 5, "--paths", 40, "--seed", 1,
                    "--timezone", "UTC", "--calendar", "XNYS", "--out", q, "--provenance-out", prov, "--quiet",
                    *flags)
        assert r.returncode == 0, r.stderr
        return q.read_text(), json.loads(prov.read_text()), r.stderr

    base, meta, line = forecast("base")
    assert meta["weights"]["kronos"] > 0.05  # the member matters in the mixture
    assert meta["members"]["kronos"]["settings"]["temperature"] == 1.0
    assert meta["members_read"]["kronos"] == 123 and meta["bars_used"] == 520  # context 128 - horizon 5
    assert "members read " in line and all(f"{k} {n}" in line for k, n in meta["members_read"].items())
    # each member's window of the ensemble's 520 bars: GARCH and HAR their 500 returns, a baseline the
    # statistical models' default (it uses its own last `window` of them)
    assert meta["members_read"]["garch"] == 501 and meta["members_read"]["random_walk"] == 520
    for name, flags, setting in (("cold", ("--temperature", "0.1"), ("temperature", 0.1)),
                                 ("top_p", ("--top-p", "0.3"), ("top_p", 0.3)),
                                 ("top_k", ("--top-k", "2"), ("top_k", 2)),
                                 ("short", ("--lookback", "64"), ("lookback", 64)),
                                 ("raw", ("--no-anchor",), ("anchor", False))):
        quantiles, meta, _ = forecast(name, *flags)
        assert quantiles != base, name  # the Kronos member's paths changed, so the mixture did
        assert meta["members"]["kronos"]["settings"][setting[0]] == setting[1], name
    assert meta["members_read"]["kronos"] == 123 and meta["settings"]["anchor"] is False
    short = json.loads((tmp_path / "short.json").read_text())
    assert short["bars_used"] == 64 and short["members_read"] == {
        "kronos": 64, "har": 64, "gjr_garch": 64, "garch": 64, "random_walk": 64,
        "bootstrap": short["members_read"]["bootstrap"]}
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:  # the ledger rows record what was sampled
        rows = db.execute("SELECT temperature, top_p, top_k, lookback FROM predictions WHERE parent_id IS NULL "
                          "ORDER BY id").fetchall()  # the ensemble forecasts, not their member rows
    assert rows[1][0] == 0.1 and rows[2][1] == 0.3 and rows[3][2] == 2 and rows[4][3] == 64
