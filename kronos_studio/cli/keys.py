"""``kronos keys``: create, list and revoke the service's API keys (stored hashed in the ledger's database)."""
from __future__ import annotations

import sys

from .commands import add_command
from .ledger import open_ledger


def register(sub) -> None:
    p = add_command(sub, "keys",
                    description="API keys of the service, each scoped to a workspace: a key reads, scores and "
                                "deletes only its workspace's forecasts. Stored hashed in the ledger's database "
                                "($KRONOS_STUDIO_DB); a token is shown once, when it is created.")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    c = keys_sub.add_parser("create", help="create a key and print its token (once)")
    c.add_argument("--workspace", required=True, help="the workspace the key acts in")
    c.add_argument("--admin", action="store_true",
                   help="may act in any workspace (header X-Kronos-Workspace): to share a workspace's forecasts")
    c.add_argument("--label", default=None, help="who or what the key is for")
    c.set_defaults(func=run_create)
    ls = keys_sub.add_parser("list", help="list the keys (ids, workspaces, never tokens)")
    ls.set_defaults(func=run_list)
    r = keys_sub.add_parser("revoke", help="revoke a key by its id")
    r.add_argument("key_id", help="the id `kronos keys list` shows")
    r.set_defaults(func=run_revoke)


def run_create(args) -> int:
    from kronos_studio.service.keys import create_key

    ledger = open_ledger()
    try:
        key_id, token = create_key(ledger, args.workspace, admin=args.admin, label=args.label)
    finally:
        ledger.close()
    print(token)
    print(f"created key {key_id} of workspace {args.workspace}{' (admin)' if args.admin else ''}: the token above is "
          "shown only now; send it as 'Authorization: Bearer <token>'", file=sys.stderr)
    return 0


def run_list(args) -> int:
    from kronos_studio.service.keys import list_keys

    ledger = open_ledger()
    try:
        keys = list_keys(ledger)
    finally:
        ledger.close()
    if not keys:
        print("no API keys: create one with `kronos keys create --workspace NAME`", file=sys.stderr)
    for k in keys:
        state = f"revoked {k['revoked_at']:%Y-%m-%d %H:%M}" if k["revoked_at"] else "active"
        print(f"{k['key_id']}  {k['workspace']}  {'admin' if k['admin'] else 'user'}  {state}  "
              f"created {k['created_at']:%Y-%m-%d %H:%M}  {k['label'] or ''}".rstrip())
    return 0


def run_revoke(args) -> int:
    from kronos_studio.service.keys import revoke_key

    ledger = open_ledger()
    try:
        revoke_key(ledger, args.key_id)
    finally:
        ledger.close()
    print(f"revoked key {args.key_id}", file=sys.stderr)
    return 0
