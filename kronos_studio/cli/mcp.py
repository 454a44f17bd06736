"""``kronos mcp``: the studio's forecast, evaluate, screen and track-record as tools of an MCP server
(stdio), for agents and MCP clients."""
from __future__ import annotations

from .commands import add_command
from .common import CliError, add_threads_option
from .models import add_models_dir_option


def register(sub) -> None:
    p = add_command(sub, "mcp",
                    description="An MCP server (the official mcp SDK) with the tools forecast, evaluate, screen "
                                "and track_record. Bars come from files under --allow-dir directories or from a "
                                "data source (source + symbol + interval).")
    p.add_argument("--allow-dir", action="append", default=[], metavar="DIR",
                   help="a directory whose bar files the tools may read (repeatable; none: sources only)")
    p.add_argument("--workspace", default=None,
                   help="the ledger workspace forecasts are recorded in and the track record is read from "
                        "(default: the default workspace)")
    add_models_dir_option(p)
    add_threads_option(p)
    p.set_defaults(func=run_mcp)


def run_mcp(args) -> int:
    try:
        from kronos_studio.service.mcp_server import create_server
    except ModuleNotFoundError as e:
        raise CliError(f"{e.name} is not installed: pip install 'kronos-studio[serve]'") from None
    from kronos_studio.desk.ledger import DEFAULT_WORKSPACE
    from kronos_studio.service.keys import check_workspace

    workspace = check_workspace(args.workspace or DEFAULT_WORKSPACE)
    server = create_server(args.allow_dir, workspace=workspace, models_dirs=tuple(args.models_dir))
    # stdio only: the client starts this command, so only its user reaches the tools (an HTTP transport
    # would need the service's keys in front of the files it may read).
    server.run("stdio")
    return 0
