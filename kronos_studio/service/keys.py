"""API keys: each belongs to one workspace, is stored in the ledger's database as the sha256 of the token
(the token is shown once, when it is made), and is listed and revoked by its public id.

A token is ``kst_<key id>_<secret>``: the id finds the row, the hash of the whole token must match it.
The secret has 256 random bits, so a fast hash is as safe as a slow one and costs a request nothing."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from kronos.errors import UserError
from kronos_studio.desk.ledger import api_keys

TOKEN_PREFIX = "kst"
WORKSPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class KeyProblem(UserError, ValueError):
    """A key operation that cannot be done; the message names the fix."""


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: the key's id, its workspace, whether it is an admin key."""

    key_id: str
    workspace: str
    admin: bool = False


def check_workspace(name: str) -> str:
    if not WORKSPACE_NAME.fullmatch(name or ""):
        raise KeyProblem(f"workspace '{name}' is not a name: use letters, digits, '_', '.' and '-' (at most 64), "
                        "starting with a letter or digit")
    return name


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(ledger, workspace: str, *, admin: bool = False, label: str | None = None) -> tuple[str, str]:
    """(key id, token) of a new key of ``workspace``; only the token's hash is kept."""
    check_workspace(workspace)
    key_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = {"key_id": key_id, "token_sha256": digest(token), "workspace": workspace, "admin": admin,
           "label": label, "created_at": datetime.now(timezone.utc)}
    ledger.write(lambda conn: conn.execute(api_keys.insert().values(**row)))
    return key_id, token


def list_keys(ledger) -> list[dict]:
    """Every key, oldest first: key_id, workspace, admin, label, created_at, revoked_at (no hashes)."""
    k = api_keys.c
    rows = ledger.read(lambda conn: conn.execute(
        select(k.key_id, k.workspace, k.admin, k.label, k.created_at, k.revoked_at).order_by(k.created_at)).all())
    return [dict(r._mapping) for r in rows]


def revoke_key(ledger, key_id: str) -> None:
    """Revoke ``key_id`` from now on (the row stays, to say when)."""
    def work(conn):
        found = conn.execute(select(api_keys.c.revoked_at).where(api_keys.c.key_id == key_id)).first()
        if found is None:
            raise KeyProblem(f"no API key '{key_id}': `kronos keys list` shows the ids")
        if found.revoked_at is None:
            conn.execute(api_keys.update().where(api_keys.c.key_id == key_id)
                         .values(revoked_at=datetime.now(timezone.utc)))

    ledger.write(work)


def identify(ledger, token: str) -> Identity | None:
    """The identity of a valid, unrevoked token; None for anything else."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    k = api_keys.c
    row = ledger.read(lambda conn: conn.execute(
        select(k.token_sha256, k.workspace, k.admin, k.revoked_at).where(k.key_id == parts[1])).first())
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, digest(token)):
        return None
    return Identity(parts[1], row.workspace, bool(row.admin))
