"""``kronos keys`` and ``kronos serve``'s refusals, as a user runs them."""
from __future__ import annotations

import hashlib

from service_helpers import run_cli
from sqlalchemy import create_engine, text


def test_keys_are_created_listed_and_revoked_and_stored_hashed(tmp_path):
    db = tmp_path / "ledger.sqlite"
    env = {"KRONOS_STUDIO_DB": f"sqlite:///{db}"}
    made = run_cli("keys", "create", "--workspace", "research", "--label", "notebooks", env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    key_id = token.split("_")[1]
    listed = run_cli("keys", "list", env=env).stdout
    assert key_id in listed and "research" in listed and "active" in listed and token not in listed
    with create_engine(f"sqlite:///{db}").connect() as conn:
        stored = conn.execute(text("SELECT token_sha256 FROM api_keys")).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert run_cli("keys", "revoke", key_id, env=env).returncode == 0
    assert "revoked" in run_cli("keys", "list", env=env).stdout
    missing = run_cli("keys", "revoke", "nope", env=env)
    assert missing.returncode == 2 and "kronos keys list" in missing.stderr
    bad = run_cli("keys", "create", "--workspace", "no spaces", env=env)
    assert bad.returncode == 2 and "is not a name" in bad.stderr


def test_serve_refuses_open_access_off_loopback():
    r = run_cli("serve", "--open", "--host", "0.0.0.0")
    assert r.returncode == 2 and "loopback" in r.stderr and "kronos keys create" in r.stderr


def test_serve_refuses_a_jobs_folder_another_server_uses(tmp_path):
    from kronos_studio.desk import Limits
    from kronos_studio.service.jobs import JobRunner

    running = JobRunner(Limits(), tmp_path / "jobs")  # the other server's hold on the folder
    try:
        env = {"KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}"}
        r = run_cli("serve", "--jobs-dir", str(tmp_path / "jobs"), "--port", "1", env=env)
    finally:
        running.shutdown()
    assert r.returncode == 2 and "used by another running server" in r.stderr and "--jobs-dir" in r.stderr
    assert "Traceback" not in r.stderr
