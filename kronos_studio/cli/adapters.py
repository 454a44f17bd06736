"""``kronos adapters``: the adapter registry ``kronos retrain`` keeps (list, show, promote by hand, roll back), each
the desk's use case (``Desk.adapters``, ``adapter``, ``promote``, ``rollback``) on the workspace's ledger."""
from __future__ import annotations

import json
import sys

from kronos.settings import knob_values
from kronos_studio.desk import AdaptersRequest, EntryRequest

from .commands import add_command
from .common import CliError, add_knob_options
from .ledger import open_ledger
from .models import process_desk


def register(sub) -> None:
    a = add_command(sub, "adapters",
                    description="Every adapter `kronos retrain` trained, with its lineage, scores and status.")
    a_sub = a.add_subparsers(dest="adapters_command", required=True)
    ls = a_sub.add_parser("list", help="the registry's entries (one line each)")
    add_knob_options(ls.add_argument_group("which series"), AdaptersRequest)
    ls.add_argument("--json", action="store_true", help="JSON instead of lines")
    ls.set_defaults(func=run_list)
    show = a_sub.add_parser("show", help="one entry, whole, as JSON, with its events (every move, in order)")
    show.add_argument("id", type=int)
    show.set_defaults(func=run_show)
    promote = a_sub.add_parser("promote", help="make an entry its series' champion by hand (bypasses the gate)")
    promote.add_argument("id", type=int)
    promote.set_defaults(func=run_promote)
    rollback = a_sub.add_parser("rollback", help="retire a series' champion; the one it replaced serves again")
    rollback.add_argument("id", type=int, help="the champion's id (or any entry of the series)")
    rollback.set_defaults(func=run_rollback)
    for command in (ls, show, promote, rollback):
        command.add_argument("--workspace", default=None, metavar="NAME",
                             help="the workspace whose registry to use (default: the default workspace, the one "
                                  "the command line and the app record in)")


def _registry(workspace: str | None):
    """The ledger of ``workspace``'s registry (None: the default workspace's)."""
    from kronos_studio.service.keys import KeyProblem, check_workspace

    if workspace is not None:
        try:
            check_workspace(workspace)
        except KeyProblem as e:
            raise CliError(f"--workspace: {e}") from None
    return open_ledger(workspace=workspace)


def _line(e) -> str:
    crps = (e.scores or {}).get("crps", {})
    scores = ", ".join(f"{k} {v:.3f}%" for k, v in crps.items())
    # the registry keeps bar times in UTC and not the series' clock: said so, never passed off as local times
    return (f"{e.id:>4}  {e.status:<10} {e.source}:{e.symbol}:{e.interval}  {e.first_bar_at:%Y-%m-%d %H:%M} to "
            f"{e.last_bar_at:%Y-%m-%d %H:%M} UTC  parent {e.parent_id or '-'}  {scores}  {e.reason or ''}")


def run_list(args) -> int:
    request = AdaptersRequest(**knob_values(args, AdaptersRequest))
    with _registry(args.workspace) as ledger:
        entries = process_desk().adapters(request, ledger=ledger).entries
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2, default=str))
    else:
        for e in entries:
            print(_line(e))
        if not entries:
            print("the registry is empty: `kronos retrain FILE --horizon H` trains the first challenger",
                  file=sys.stderr)
    return 0


def run_show(args) -> int:
    with _registry(args.workspace) as ledger:
        shown = process_desk().adapter(EntryRequest(args.id), ledger=ledger)
    events = [e.to_dict() for e in shown.events]
    print(json.dumps({**shown.entry.to_dict(), "events": events}, indent=2, default=str))
    return 0


def run_promote(args) -> int:
    with _registry(args.workspace) as ledger:
        promoted = process_desk().promote(EntryRequest(args.id), ledger=ledger).entry
    print(f"adapter {promoted.id} is the champion of {promoted.series}: promoted by hand, it bypassed the gate "
          "(recorded as such)")
    return 0


def run_rollback(args) -> int:
    with _registry(args.workspace) as ledger:
        done = process_desk().rollback(EntryRequest(args.id), ledger=ledger)
    now = f"adapter {done.restored.id} serves again" if done.restored else "the base model serves"
    print(f"rolled back adapter {done.retired.id} of {done.retired.series}: {now}")
    return 0
