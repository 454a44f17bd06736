"""Issue 53, item 16: ``kronos adapters --workspace W`` reads and moves workspace W's registry (without it:
the default workspace's, as before); another workspace's entries are not found from the default one."""
from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timezone

from testkit import ROOT, run_cli


def adapters(args, env) -> subprocess.CompletedProcess:
    return run_cli("adapters", *args, env=env, cwd=ROOT)


def test_kronos_adapters_reaches_the_workspace_it_is_given(tmp_path):
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.registry import Candidate, Registry, SeriesKey

    env = {**os.environ, "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "PYTHONPATH": str(ROOT)}
    t0 = datetime(2024, 6, 3, tzinfo=timezone.utc)
    with Ledger.open(env["KRONOS_STUDIO_DB"], workspace="desk-fx") as ledger:
        entry = Registry(ledger).register(Candidate(SeriesKey("file", "EURUSD", "1h"), "tiny", "local:abc", t0, t0,
                                                    10, "w1", str(tmp_path / "w1"), {}, "kronos retrain"))
    listed = adapters(["list", "--json", "--workspace", "desk-fx"], env)
    default = adapters(["list", "--json"], env)
    promoted = adapters(["promote", entry.id, "--workspace", "desk-fx"], env)
    shown = adapters(["show", entry.id, "--workspace", "desk-fx"], env)
    elsewhere = adapters(["rollback", entry.id], env)
    bad = adapters(["list", "--workspace", "no such"], env)
    assert listed.returncode == 0, listed.stderr
    assert [(e["id"], e["workspace"]) for e in json.loads(listed.stdout)] == [(entry.id, "desk-fx")]
    assert default.returncode == 0 and json.loads(default.stdout) == []
    assert promoted.returncode == 0 and f"adapter {entry.id} is the champion of file:EURUSD:1h" in promoted.stdout
    assert json.loads(shown.stdout)["status"] == "champion"
    assert elsewhere.returncode != 0 and f"no adapter {entry.id} in the registry of workspace 'default'" in elsewhere.stderr
    assert bad.returncode == 2 and bad.stderr.startswith("kronos: error: --workspace: workspace 'no such' is not a name")
