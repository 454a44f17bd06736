"""What each face loads before it is used (issue 57): ``kronos --help`` and each ``kronos <sub> --help``, the
app's first page (AppTest) and the service's ``create_app``, each in a fresh interpreter, against an allow-list
of heavy libraries per face. A heavy import that creeps back to the top of a module these reach fails here;
move it to where its feature is used (see docs/speed.md, "Start-up budgets")."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kronos_studio.cli.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[1]

# The libraries that cost a start-up time worth guarding (each 0.1-5 s to import on a 2-core machine).
HEAVY = ("torch", "chronos", "transformers", "peft", "arch", "statsmodels", "lightgbm", "ray", "scipy",
         "scipy.stats", "sklearn", "sqlalchemy", "alembic", "pandas", "numpy", "pyarrow", "plotly", "streamlit",
         "fastapi", "uvicorn", "mcp", "exchange_calendars")

# What each face may have loaded. A new entry needs a reason: the face uses it before anything is asked.
HELP_ALLOWED: set[str] = set()  # ``kronos --help``: the subcommand table alone
SUB_HELP_ALLOWED = {"numpy", "pandas", "pyarrow"}  # option defaults and help drawn from the library's settings
SUB_HELP_EXTRA = {
    "adapters": {"sqlalchemy"},  # its options name the registry's statuses (kronos_studio.ledger.schema)
}
APP_ALLOWED = {
    "streamlit", "plotly", "numpy", "pandas", "pyarrow",  # the page, its chart and the bars
    "exchange_calendars",  # the bars' trading calendar (the future bar times, the calendar note)
    "sqlalchemy",  # the workspace's ledger (auth, the forecasts scored when bars load)
}
SERVICE_ALLOWED = {
    "fastapi", "numpy", "pandas", "pyarrow",
    "sqlalchemy", "alembic",  # the ledger, opened (and made) at start
}


def loaded_after(code: str, tmp_path: Path) -> dict:
    """Run ``code`` in a fresh interpreter (this checkout first on the path, a cache and ledger of its own);
    it ends by printing ``loaded()``: the heavy modules then in ``sys.modules``, and what it adds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "KRONOS_STUDIO_CACHE": str(tmp_path / "cache"),
           "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "HF_HUB_OFFLINE": "1"}
    prelude = ("import json, sys\n"
               f"HEAVY = {HEAVY!r}\n"
               "def loaded(**more):\n"
               "    print(json.dumps({'heavy': [m for m in HEAVY if m in sys.modules], **more}), flush=True)\n")
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def unexpected(found: dict, allowed: set[str]) -> set[str]:
    """The heavy modules loaded that ``allowed`` does not name (``scipy`` allows scipy, not scipy.stats)."""
    return set(found["heavy"]) - allowed


def test_kronos_help_loads_no_heavy_library(tmp_path):
    found = loaded_after(
        "from kronos_studio.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "loaded(code=code)\n", tmp_path)
    assert found["code"] == 0
    assert unexpected(found, HELP_ALLOWED) == set()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_subcommands_help_loads_only_what_its_options_need(name, tmp_path):
    found = loaded_after(
        "from kronos_studio.cli.main import main\n"
        "try:\n"
        f"    main([{name!r}, '--help'])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "loaded(code=code)\n", tmp_path)
    assert found["code"] == 0
    assert unexpected(found, SUB_HELP_ALLOWED | SUB_HELP_EXTRA.get(name, set())) == set()


def test_the_apps_first_page_loads_no_model_library(tmp_path):
    """The Forecast page on the bundled sample, as a new user opens it: the data, the sidebar and the quality
    check drawn, torch and the model left to the warm-up that starts once the page is drawn (here held back,
    so that what is loaded is the page's own)."""
    found = loaded_after(
        "from streamlit.runtime.pages_manager import PagesManager\n"
        "from streamlit.testing.v1 import AppTest, app_test\n"
        "class NavigationPagesManager(PagesManager):  # app.py runs, as on a server (tests/app/conftest.py)\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        PagesManager.uses_pages_directory = False\n"
        "app_test.PagesManager = NavigationPagesManager\n"
        "from app_support import models\n"
        "started = []\n"
        "models.WarmUp.start = lambda self: started.append(True)\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=300).run()\n"
        "loaded(errors=[str(e.value) for e in at.exception], started=bool(started),\n"
        "       titles=[t.value for t in at.title], info=[i.value for i in at.info],\n"
        "       markdown=[m.value for m in at.markdown],\n"
        "       captions=[c.value for c in at.sidebar.caption])\n", tmp_path)
    assert found["errors"] == []
    assert "Forecast" in found["titles"]
    assert any("bars" in m for m in found["markdown"])  # the data's description
    assert any("Press **Run forecast**" in i for i in found["info"])
    assert any("Device: **detecting" in c for c in found["captions"])  # torch not loaded: it says so
    assert found["started"]  # the warm-up is asked for once the page is drawn
    assert unexpected(found, APP_ALLOWED) == set()


def test_the_services_app_loads_no_member_or_app_library(tmp_path):
    found = loaded_after(
        "from kronos_studio.service.app import create_app\n"
        "app = create_app()\n"
        "app.state.service.close()\n"
        "loaded()\n", tmp_path)
    assert unexpected(found, SERVICE_ALLOWED) == set()
