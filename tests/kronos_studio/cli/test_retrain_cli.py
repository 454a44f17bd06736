"""``kronos retrain`` and ``kronos adapters`` on one SQLite ledger, as real processes where the process matters (a
lock held by another, a kill) and in this process elsewhere (``testkit.run_cli``): a second run on a
locked series says so and exits 3 while another series retrains beside it (both recorded); a run killed
with SIGKILL mid-training leaves no entry and no champion, and the next run cleans up and decides; a manual
promote says it bypassed the gate, a rollback restores the base; ``--model champion`` forecasts record the
adapter id."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testkit import ROOT, run_cli

sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "training"))
from retrain_helpers import regime_frame  # noqa: E402

# As small as the gate allows: these tests check the process behaviour, not the learning.
TINY = ["--horizon", "4", "--window", "120", "--lookback", "24", "--cutoffs", "5", "--paths", "10",
        "--model", "studio-tiny"]
DEADLINE_S = 400


@pytest.fixture
def env(tmp_path):
    out = {**os.environ, "KRONOS_STUDIO_CACHE": str(tmp_path / "cache"),
           "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "PYTHONPATH": str(ROOT)}
    out.pop("KRONOS_DEBUG", None)
    return out


def bars_file(tmp_path: Path, name: str, n: int = 200) -> Path:
    path = tmp_path / f"{name}.csv"
    regime_frame(n=n, change=60).to_csv(path, index=False)
    return path


def kronos(args, env, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", *map(str, args)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the process ended before {what}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} in {DEADLINE_S} s")
        time.sleep(0.05)


def training_folders(env, symbol: str) -> list[Path]:
    return list((Path(env["KRONOS_STUDIO_CACHE"]) / "adapters" / "registry").glob(f"*{symbol}*/.tmp-*"))


def registry_entries(env) -> list[dict]:
    done = run_cli("adapters", "list", "--json", env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_locked_series_is_refused_with_exit_3_while_another_series_retrains_beside_it(tmp_path, env):
    a, b = bars_file(tmp_path, "AAA"), bars_file(tmp_path, "BBB")
    first = kronos(["retrain", a, *TINY, "--steps", "60", "--json", tmp_path / "a.json"], env)
    wait_for(lambda: training_folders(env, "AAA"), first, "training of AAA")  # it holds AAA's lock now
    other = kronos(["retrain", b, *TINY, "--steps", "4"], env)
    second = kronos(["retrain", a, *TINY, "--steps", "4"], env)
    assert second.wait(DEADLINE_S) == 3
    assert "another retrain of file:AAA:1h" in second.stderr.read()
    assert first.wait(DEADLINE_S) == 0 and other.wait(DEADLINE_S) == 0, other.stderr.read()[-2000:]
    entries = registry_entries(env)
    assert sorted(e["symbol"] for e in entries) == ["AAA", "BBB"]  # one ledger, both recorded, no duplicate
    assert all(e["status"] in ("champion", "rejected") for e in entries)
    report = json.loads((tmp_path / "a.json").read_text())
    [decision] = report["decisions"]
    assert set(decision) >= {"at", "challenger", "champion", "base", "crps", "diff_ci95", "coverage", "decision",
                             "reason"}
    assert set(decision["crps"]) == {"challenger", "champion", "base"}
    assert "champion" in report


def test_a_retrain_killed_mid_training_leaves_the_registry_consistent_and_the_next_run_decides(tmp_path, env):
    path = bars_file(tmp_path, "KILL")
    run = kronos(["retrain", path, *TINY, "--steps", "2000"], env)
    wait_for(lambda: training_folders(env, "KILL"), run, "training")
    time.sleep(1.0)  # some steps in: the temporary folder holds a half-trained adapter
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    assert training_folders(env, "KILL") and registry_entries(env) == []  # nothing registered, no champion
    again = kronos(["retrain", path, *TINY, "--steps", "4"], env)
    out, err = again.communicate(timeout=DEADLINE_S)
    assert again.returncode == 0, err[-2000:]
    assert training_folders(env, "KILL") == []  # the leftovers are gone
    [entry] = registry_entries(env)
    assert entry["status"] in ("champion", "rejected") and Path(entry["path"], "kronos_adapter.json").is_file()


def test_a_manual_promote_bypasses_the_gate_says_so_and_a_champion_forecast_records_its_adapter(tmp_path, env):
    path = bars_file(tmp_path, "MAN")
    done = run_cli("retrain", path, *TINY, "--steps", "4", env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    [entry] = registry_entries(env)
    if entry["status"] != "champion":
        promote = run_cli("adapters", "promote", entry["id"], env=env, cwd=ROOT)
        assert promote.returncode == 0 and "bypassed the gate" in promote.stdout
        assert registry_entries(env)[0]["reason"] == "manual promote (bypassed the gate)"
    prov = tmp_path / "prov.json"
    fc = run_cli("forecast", path, "--horizon", "4", "--paths", "10", "--model", "champion", "--out", tmp_path / "q.csv",
                 "--provenance-out", prov, env=env, cwd=ROOT)
    assert fc.returncode == 0, fc.stderr
    assert json.loads(prov.read_text())["adapter_id"] == entry["id"]
    from kronos_studio.ledger import Ledger

    with Ledger.open(env["KRONOS_STUDIO_DB"]) as ledger:
        rows = ledger.read(lambda conn: conn.exec_driver_sql("SELECT adapter_id FROM predictions").all())
    assert [r.adapter_id for r in rows] == [entry["id"]]
    back = run_cli("adapters", "rollback", entry["id"], env=env, cwd=ROOT)
    assert back.returncode == 0 and "the base model serves" in back.stdout
    assert registry_entries(env)[0]["status"] == "retired"


def test_too_few_bars_exit_2_with_the_numbers(tmp_path, env):
    path = bars_file(tmp_path, "FEW", n=100)
    done = run_cli("retrain", path, *TINY, env=env, cwd=ROOT)
    err = done.stderr
    assert done.returncode == 2
    assert "100 bars cannot hold a 120-bar training window" in err and "at least 140" in err and "lower --window" in err
    assert registry_entries(env) == []


def test_adapters_show_lists_the_entrys_events_with_what_made_each(tmp_path, env):
    from datetime import datetime, timezone

    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import MANUAL, Candidate, Registry, SeriesKey

    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    with Ledger.open(env["KRONOS_STUDIO_DB"]) as ledger:
        registry = Registry(ledger)
        made = [registry.register(Candidate(SeriesKey("file", "EV", "1h"), "tiny", "local:abc", t0, t0, 10, window,
                                            f"/a/{window}", {}, "kronos retrain")) for window in ("w1", "w2")]
        registry.promote(made[0].id, {"crps": {"challenger": 1.0}}, "beat the base")
        registry.promote(made[1].id)  # by hand: the first is retired
    show = run_cli("adapters", "show", made[0].id, env=env, cwd=ROOT)
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)
    assert shown["status"] == "retired" and shown["reason"] == f"replaced by adapter {made[1].id}"
    assert [(e["event"], e["by"], e["reason"], e["scores"]) for e in shown["events"]] == [
        ("registered", "kronos retrain", None, None),
        ("promoted", "gate", "beat the base", {"crps": {"challenger": 1.0}}),
        ("retired", "manual", f"replaced by adapter {made[1].id}", None)]
    other = json.loads(run_cli("adapters", "show", made[1].id, env=env, cwd=ROOT).stdout)
    assert [(e["event"], e["by"], e["reason"]) for e in other["events"]][-1] == ("promoted", "manual", MANUAL)


def test_a_retrain_that_cannot_run_as_asked_says_what_to_change_in_flags(tmp_path, env, monkeypatch, capsys):
    """Issue 51 item 16 on the command line: 'champion' is no base to train on (one series or a watchlist);
    a horizon too long is said as such."""
    from kronos_studio.cli.main import main

    for name in ("KRONOS_STUDIO_CACHE", "KRONOS_STUDIO_DB"):
        monkeypatch.setenv(name, env[name])
    path = bars_file(tmp_path, "ASKED")
    small = [a for a in TINY if a not in ("--model", "studio-tiny")]
    assert main(["retrain", str(path), *small, "--model", "champion"]) == 2
    assert main(["retrain", str(tmp_path), *small, "--model", "champion"]) == 2  # a folder: a watchlist
    err = [e for e in capsys.readouterr().err.splitlines() if e.startswith("kronos: error:")]
    assert len(err) == 2 and all("'champion' is the adapter each series is served by, not a base model" in e and
                                 "leave --model out: a series is retrained on its champion's base by default" in e
                                 for e in err), err
    long = [*small[:small.index("--horizon")], "--horizon", "100000", *small[small.index("--horizon") + 2:]]
    assert main(["retrain", str(path), *long]) == 2
    err = capsys.readouterr().err
    assert "the 100000-bar horizon is too long: studio-tiny" in err and "reads 128 bars" in err
    assert "use a horizon of at most 104 bars (--horizon 104)" in err  # 128 minus the 24-bar lookback
    assert registry_entries(env) == []


def test_a_retrain_setting_below_its_least_is_refused_naming_its_flag(capsys):
    """Issue 52: the retrain's settings check themselves (``RetrainSettings``), and the command line words the
    refusal with the option generated from the setting's Knob, before any bars are read."""
    from kronos_studio.cli.main import main

    assert main(["retrain", "never-read.csv", "--horizon", "4", "--cutoffs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "kronos: error: cutoffs must be at least 1, got 0: use at least 1 (--cutoffs 1)"


def test_a_challenger_judged_only_inside_the_training_period_serves_only_on_a_second_confirmation(tmp_path, env,
                                                                                                  monkeypatch, capsys):
    """Issue 62 item 6 on the command line: with --include-training-period and every held-out cut-off inside the
    base model's training period, a challenger the gate would promote is decided and recorded, not promoted, and the
    decision says why; --promote-in-sample (the second confirmation) lets it serve. The gate's verdict is stood in
    for: the library's test (test_retrain.py) trains a challenger the gate promotes for real."""
    import pandas as pd

    from kronos_studio.cli.main import main
    from kronos_studio.training import gate, retrain

    for name in ("KRONOS_STUDIO_CACHE", "KRONOS_STUDIO_DB"):
        monkeypatch.setenv(name, env[name])
    verdict = gate.Decision(gate.PROMOTED, "CRPS difference -0.500% (95% interval -0.700% to -0.300%) over 5 cut-offs "
                                           "excludes 0", -0.5, (-0.7, -0.3), {"challenger": 0.8, "champion": 0.8})
    monkeypatch.setattr(retrain, "decide", lambda challenger, champion: verdict)
    inside = pd.date_range("2025-11-01", periods=200, freq="1h", tz="UTC")  # the bundled models saw 2025
    for name in ("MEMORY", "CONFIRMED"):
        regime_frame(n=200, change=60).assign(timestamp=inside).to_csv(tmp_path / f"{name}.csv", index=False)
    common = [*TINY, "--steps", "2", "--include-training-period"]
    assert main(["retrain", str(tmp_path / "MEMORY.csv"), *common]) == 0
    out = capsys.readouterr()
    assert "1 decisions on MEMORY: 0 promoted; champion none (the base model serves)" in out.out
    assert "rejected adapter 1 (champion base): CRPS difference -0.500%" in out.err
    assert "not promoted: none of these 5 cut-offs lie after the base model's training period" in out.err
    assert main(["retrain", str(tmp_path / "CONFIRMED.csv"), *common, "--promote-in-sample"]) == 0
    out = capsys.readouterr()
    assert "1 decisions on CONFIRMED: 1 promoted; champion 2" in out.out and "not promoted" not in out.err
    assert "5 of these 5 cut-offs forecast bars inside the base model's training period" in out.err  # still flagged
    assert {e["symbol"]: e["status"] for e in registry_entries(env)} == {"MEMORY": "rejected", "CONFIRMED": "champion"}
