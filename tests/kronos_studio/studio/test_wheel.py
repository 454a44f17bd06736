"""The package as a user installs it: a wheel built from this tree, installed (not editable) into a
fresh virtual environment, forecasts offline with the bundled model and sample from any folder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from testkit import ROOT

APP_FILES = ("app.py", "pages", "app_support", ".streamlit")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with only our wheel installed, the wheel). The dependencies come from
    the test environment through a path entry, so nothing is downloaded; our packages do not."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building must not leave build/ or egg-info in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info",
                                                               "__pycache__", "test-artifacts", ".cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "--disable-pip-version-check", "-w", str(tmp / "dist"), str(src)], check=True, timeout=300)
    wheel = next((tmp / "dist").glob("kronos_studio-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # Only the dependencies' folder, not its .pth files: the test env's editable finder stays out.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    "--disable-pip-version-check", str(wheel)], check=True, timeout=300)
    return python, wheel, site


def test_wheel_ships_the_models_samples_and_calendar(installed):
    _, wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("kronos/pipeline.py", "kronos_studio/cli/main.py", "data_sources/files.py",
                   "kronos_studio/assets/models/studio-tiny/predictor/model.safetensors",
                   "kronos_studio/assets/models/studio-small/tokenizer/config.json",
                   "kronos_studio/assets/models/studio-tiny/bundle.json",
                   "kronos_studio/assets/events/us_macro_calendar.csv",
                   "kronos_studio/assets/ensemble/meta_learner.txt", "kronos_studio/assets/ensemble/meta_learner.json",
                   "data_sources/sample_data/MSFT_1d_bokeh.csv", "data_sources/sample_data/origin.json",
                   "kronos_studio/ledger/migrations/env.py", "kronos_studio/ledger/migrations/script.py.mako",
                   "kronos_studio/ledger/migrations/versions/0001_initial.py",
                   "kronos_studio/ledger/migrations/versions/0002_track_records.py"):
        assert needed in names, needed
    assert not any(n.startswith(("tests/", "app_support/", "pages/")) for n in names)


def test_installed_cli_forecasts_offline_from_outside_the_source_tree(installed, tmp_path):
    python, _, site = installed
    # No KRONOS_STUDIO_DB: the forecast ledger is created under the cache by the wheel's own migrations.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KRONOS_STUDIO_DB")}
    env.update(HF_HUB_OFFLINE="1", KRONOS_STUDIO_CACHE=str(tmp_path / "cache"), KRONOS_DEVICE="cpu")
    where = subprocess.run([str(python), "-c", "import kronos, kronos_studio, data_sources; "
                            "print(kronos.__file__, kronos_studio.__file__, data_sources.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, check=True).stdout.split()
    assert all(Path(p).is_relative_to(site) for p in where), where
    bars = tmp_path / "msft.csv"
    code = ("from data_sources import load_sample; "
            "load_sample('MSFT daily 2000-2013 (bundled)').frame.to_csv('msft.csv', index=False)")
    subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, check=True, timeout=120)
    kronos = python.parent / "kronos"
    assert kronos.is_file()  # the console script of the wheel
    r = subprocess.run([str(kronos), "forecast", str(bars), "--horizon", "5", "--paths", "8", "--seed", "1",
                        "--fix", "adjust_splits", "--out", "q.csv", "--provenance-out", "run.json", "--quiet"],
                       capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "studio-tiny" in r.stderr  # the default bundled model, found inside the installed package
    assert "recorded in the ledger as forecast 1 of msft 1d" in r.stderr  # the file's name is the series'
    assert (tmp_path / "cache" / "ledger.sqlite").is_file()
    prov = json.loads((tmp_path / "run.json").read_text())
    assert Path(prov["predictor"]).is_relative_to(site)
    assert len((tmp_path / "q.csv").read_text().splitlines()) == 6


def test_app_runs_on_the_installed_package(installed, tmp_path):
    """app.py and its pages from a checkout, everything else from the wheel: the forecast page offers
    the bundled models and draws a fan offline."""
    python, _, site = installed
    for name in APP_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    script = """
import sys
from streamlit.testing.v1 import AppTest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import app_test

class NavigationPagesManager(PagesManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False

app_test.PagesManager = NavigationPagesManager
at = AppTest.from_file("app.py", default_timeout=120).run()
assert not at.exception, at.exception
options = at.sidebar.selectbox(key="sb_model").options
assert any("studio-tiny" in o for o in options), options
at.button(key="run_forecast").click().run()
assert not at.exception, at.exception
assert not at.error, [e.value for e in at.error]
import json
fig = json.loads(at.get("plotly_chart")[0].proto.spec)
assert any(t.get("fill") == "tonexty" for t in fig["data"])  # the fan's band
import kronos_studio
print(kronos_studio.__file__)
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", KRONOS_STUDIO_CACHE=str(tmp_path / "cache"), KRONOS_DEVICE="cpu")
    r = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert Path(r.stdout.strip().splitlines()[-1]).is_relative_to(site)
