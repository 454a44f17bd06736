"""``kronos retrain WATCHLIST`` as a real process: every series of a folder is retrained under its own lock, a
locked one and a refused one are reported while the others are decided (exit 2 when any was refused, 3 when
one was locked and none refused); and a retrain without ``--model`` uses the base model the series' champion
was trained on, while another ``--model`` is still refused."""
from __future__ import annotations

import json
import subprocess

import pytest
import test_retrain_cli as single
from test_retrain_cli import TINY, bars_file, registry_entries
from testkit import ROOT, run_cli

from kronos_studio.ledger.registry import SeriesKey
from kronos_studio.ledger.schema import DEFAULT_WORKSPACE
from kronos_studio.training.retrain import series_lock

SMALL = [*TINY, "--steps", "4"]
NOT_DEFAULT = "studio-small"  # a bundled model other than the default (studio-tiny)
env = single.env  # the fixture: a cache and a SQLite ledger of the test's own


def kronos(args, env) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env, cwd=ROOT)


def test_a_watchlist_decides_each_series_and_reports_the_locked_and_the_refused_ones(tmp_path, env, monkeypatch):
    folder = tmp_path / "watchlist"
    folder.mkdir()
    bars_file(folder, "AAA")
    bars_file(folder, "BBB")
    bars_file(folder, "FEW", n=100)
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", env["KRONOS_STUDIO_CACHE"])  # the lock this test holds is theirs
    with series_lock(SeriesKey("file", "BBB", "1h"), DEFAULT_WORKSPACE):
        done = kronos(["retrain", folder, *SMALL, "--json", tmp_path / "out.json"], env)
        assert done.returncode == 2, done.stderr[-2000:]  # FEW was refused
        only_locked = tmp_path / "locked"
        only_locked.mkdir()
        bars_file(only_locked, "BBB")
        locked = kronos(["retrain", only_locked, *SMALL], env)
    assert locked.returncode == 3, locked.stderr[-2000:]
    assert "BBB: locked: another retrain of file:BBB:1h" in locked.stdout
    report = {r["series"]: r for r in json.loads((tmp_path / "out.json").read_text())["series"]}
    assert {s: r["status"] for s, r in report.items()} == {"AAA": "decided", "BBB": "locked", "FEW": "refused"}
    [decision] = report["AAA"]["decisions"]
    assert set(decision) >= {"at", "challenger", "champion", "base", "crps", "diff_ci95", "coverage", "decision",
                             "reason"}
    [entry] = registry_entries(env)
    assert entry["symbol"] == "AAA" and entry["id"] == decision["challenger"]
    assert report["AAA"]["champion"] == (entry["id"] if entry["status"] == "champion" else None)
    assert "another retrain of file:BBB:1h" in report["BBB"]["message"] and report["BBB"]["decisions"] == []
    refusal = report["FEW"]["message"]
    assert "100 bars cannot hold a 120-bar training window" in refusal and "lower --window" in refusal
    assert f"kronos retrain: AAA: {decision['at'][:10]}" in done.stderr  # one line per decision, by series
    assert "FEW: refused: 100 bars" in done.stdout


def test_without_model_a_retrain_uses_the_champions_base_and_another_model_is_refused(tmp_path, env):
    from retrain_helpers import regime_frame

    frame = regime_frame(n=220, change=60)
    path = tmp_path / "BASE.csv"
    frame.iloc[:200].to_csv(path, index=False)
    no_model = [a for a in SMALL if a != "--model" and a != "studio-tiny"]
    first = kronos(["retrain", path, *no_model, "--model", NOT_DEFAULT], env)
    assert first.returncode == 0, first.stderr[-2000:]
    [entry] = registry_entries(env)
    if entry["status"] != "champion":
        assert kronos(["adapters", "promote", entry["id"]], env).returncode == 0
    frame.to_csv(path, index=False)  # 20 bars more: a new training window
    again = kronos(["retrain", path, *no_model, "--json", tmp_path / "again.json"], env)
    assert again.returncode == 0, again.stderr[-2000:]
    [decision] = json.loads((tmp_path / "again.json").read_text())["decisions"]
    assert decision["base"].startswith(NOT_DEFAULT) and decision["champion"] == entry["id"]
    newer = [e for e in registry_entries(env) if e["id"] == decision["challenger"]]
    assert [e["base_model"].split()[0] for e in newer] == [NOT_DEFAULT]
    other = kronos(["retrain", path, *no_model, "--model", "studio-tiny"], env)
    assert other.returncode == 2 and f"was trained on {NOT_DEFAULT}" in other.stderr


@pytest.mark.ray
@pytest.mark.slow
def test_on_ray_a_refused_and_a_locked_series_come_back_from_the_actors_with_their_messages(tmp_path, env,
                                                                                            monkeypatch):
    """No training (under a minute): the outcomes, their errors and the exit code cross from the actors."""
    folder = tmp_path / "watchlist"
    folder.mkdir()
    bars_file(folder, "FEW", n=100)
    bars_file(folder, "HELD")
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", env["KRONOS_STUDIO_CACHE"])
    with series_lock(SeriesKey("file", "HELD", "1h"), DEFAULT_WORKSPACE):
        done = kronos(["retrain", folder, *SMALL, "--engine", "ray", "--workers", "1", "--json",
                       tmp_path / "out.json"], env)
    assert done.returncode == 2, done.stderr[-2000:]
    report = json.loads((tmp_path / "out.json").read_text())["series"]
    assert [(r["series"], r["status"]) for r in report] == [("FEW", "refused"), ("HELD", "locked")]
    assert "100 bars cannot hold a 120-bar training window" in report[0]["message"]
    assert "another retrain of file:HELD:1h" in report[1]["message"]
    assert "(ray engine)" in done.stderr and registry_entries(env) == []
