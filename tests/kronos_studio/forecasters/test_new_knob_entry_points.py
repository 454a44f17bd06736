"""Issue 46: a sampling knob is a field of ``ForecastSettings`` with its ``Knob`` and nothing else. A fresh
process whose ``ForecastSettings`` has one more knob (as if the class had been edited) offers it as a
command-line option, a sidebar control and an HTTP request field, and each hands it to the settings."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# Runs in a fresh interpreter: the knob is added before anything but kronos.settings is imported, which is
# what an edit of the class is to every module that reads it.
SCRIPT = textwrap.dedent('''
    import dataclasses
    import sys

    import kronos.settings as ks

    @dataclasses.dataclass(frozen=True)
    class ForecastSettings(ks.ForecastSettings):
        toy_knob: float = ks.knob(0.25, label="Toy knob", low=0.0, high=1.0, step=0.05, help="a test's knob")

    ks.ForecastSettings = ForecastSettings

    # the command line: an option with the knob's default, its value in the settings
    from kronos_studio.cli.common import sampling_settings
    from kronos_studio.cli.main import build_parser

    args = build_parser().parse_args(["forecast", "x.csv", "--out", "o.csv", "--horizon", "3", "--toy-knob", "0.5"])
    assert sampling_settings(args).toy_knob == 0.5, "cli"
    assert build_parser().parse_args(["forecast", "x.csv", "--out", "o.csv", "--horizon", "3"]).toy_knob == 0.25

    # the HTTP API: a request field, in the settings a request asks for and named as a field by errors
    from kronos_studio.service.errors import request_fields
    from kronos_studio.service.schemas import ForecastRequest, forecast_settings

    request = ForecastRequest(bars_csv="x", horizon=3, toy_knob=0.75)
    assert forecast_settings(request).toy_knob == 0.75, "http"
    assert "toy_knob" in request_fields()

    # the sidebar: a slider labelled from the Knob, its value in the page's settings
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest, app_test

    class NavigationPagesManager(PagesManager):  # as tests/app/conftest.py's pages_directory_fix
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    app_test.PagesManager = NavigationPagesManager
    at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
    assert not at.exception, at.exception
    slider = at.sidebar.slider(key="sb_toy_knob")
    assert slider.label == "Toy knob" and slider.value == 0.25, "sidebar"
    slider.set_value(0.4).run()
    assert at.session_state["studio_inputs"].settings().toy_knob == 0.4, "sidebar settings"
    print("all three entry points")
''')


def test_a_knob_with_its_metadata_reaches_every_entry_point_with_no_other_edit(tiny, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
           "KRONOS_STUDIO_MODELS": str(tiny.folder), "KRONOS_STUDIO_CACHE": str(tmp_path / "cache"),
           "KRONOS_STUDIO_DB": f"sqlite:///{tmp_path / 'ledger.sqlite'}", "KRONOS_DEVICE": "cpu",
           "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf")}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "app.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "all three entry points" in done.stdout
