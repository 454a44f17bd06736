"""One desk per process: each face builds its ``Desk`` in one place (the command line's ``process_desk``, the
service's state, the MCP server when it runs alone, the app's cached ``app_desk``), never a throwaway one."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[3]
FACES = [*ROOT.glob("kronos_studio/cli/*.py"), *ROOT.glob("kronos_studio/service/**/*.py"),
         *ROOT.glob("app_support/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
HOMES = {"kronos_studio/cli/common.py": 1, "kronos_studio/service/state.py": 1,
         "kronos_studio/service/mcp_server.py": 1, "app_support/models.py": 1}


def test_each_face_builds_its_desk_in_one_place():
    built = {}
    for path in FACES:
        calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Name) and n.func.id == "Desk"]
        if calls:
            built[str(path.relative_to(ROOT))] = len(calls)
    assert built == HOMES


def test_the_command_line_has_one_desk_per_process():
    import argparse

    from kronos_studio.catalog.registry import shared_registry
    from kronos_studio.cli.models import cli_desk, process_desk

    desk = process_desk()
    assert process_desk() is desk and desk.registry is shared_registry() and desk.cache is None
    loading, loaded = cli_desk(argparse.Namespace(model=None))
    # a command's loading options get a registry of their own over the same desk (no cache, no limits)
    assert loading.registry is not desk.registry and loaded == []
    assert (loading.cache, loading.limits, loading.models_dirs) == (desk.cache, desk.limits, desk.models_dirs)
    assert process_desk() is desk and desk.registry is shared_registry()


def test_mcp_serves_from_the_service_desk_when_both_run(tmp_path):
    import anyio
    from mcp import Client
    from testkit import random_bars

    from kronos_studio.service.mcp_server import create_server
    from kronos_studio.service.state import Service, ServiceConfig

    random_bars(120, seed=5, freq="1h").to_csv(tmp_path / "aapl.csv", index=False)
    service = Service(ServiceConfig(ledger_url=f"sqlite:///{tmp_path / 'l.sqlite'}"))
    server = create_server([tmp_path], ledger_url=f"sqlite:///{tmp_path / 'm.sqlite'}", desk=service.desk)

    async def session():
        async with Client(server) as client:
            return await client.call_tool("forecast", {"file": str(tmp_path / "aapl.csv"), "model": "random_walk",
                                                       "horizon": 3, "paths": 5})

    assert not anyio.run(session).is_error
    assert service.desk.cache.computed == 1  # the tool's forecast was computed in the service's cache
