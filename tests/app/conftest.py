"""Fixtures for the app tests: tiny random-weight model folders (tests only: the shipped app offers
the bundled models), AppTest set up for a multipage app, and a network guard."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
ARTIFACTS = ROOT / "test-artifacts"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app_helpers import make_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> list[Path]:
    """Two random-weight models (names test-tiny-a and test-tiny-b), context 128."""
    base = tmp_path_factory.mktemp("models")
    return [make_model(base / n, n, seed) for n, seed in (("test-tiny-a", 1), ("test-tiny-b", 2))]


@pytest.fixture
def app_env(monkeypatch, tiny_models, tmp_path):
    """Environment for an in-process app run: test models listed first, an empty bars cache and
    forecast ledger, the Hugging Face Hub offline with an empty cache."""
    monkeypatch.setenv("KRONOS_STUDIO_MODELS", os.pathsep.join(map(str, tiny_models)))
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KRONOS_STUDIO_DB", f"sqlite:///{tmp_path / 'ledger.sqlite'}")  # a forecast ledger per test
    monkeypatch.setenv("KRONOS_DEVICE", "cpu")
    import huggingface_hub.constants as hfc

    monkeypatch.setattr(hfc, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hfc, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tiny_models


@pytest.fixture(autouse=True)
def pages_directory_fix(monkeypatch):
    """AppTest resets PagesManager.uses_pages_directory before every run, so with a pages/ folder it
    reruns the page alone (multipage v1) instead of app.py. A live server clears the flag for good on
    the first st.navigation call; do the same here."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    class NavigationPagesManager(PagesManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", NavigationPagesManager)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def new_app(app_env):
    from streamlit.testing.v1 import AppTest

    def make():
        return AppTest.from_file(str(APP), default_timeout=90)

    return make


@pytest.fixture(autouse=True)
def own_result_stores():
    """The app's process-wide result cache (forecasts, reports, Compare and risk backtests, risk readings), emptied
    around every test:
    what it holds is then this test's own (another test's forecast of the same second once stood in for a test's
    own, and a full cache evicts as it adds, so counts of it depended on the tests before)."""
    from app_support import models

    models.results.clear()
    models.app_desk.clear()  # the desk holds the cache it was built with
    yield
    models.results.clear()
    models.app_desk.clear()


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """The app sets one thread per computation on small machines (app_support.models.configure_torch);
    keep that from leaking into the other test folders that share this pytest process."""
    import torch

    from kronos.threads import configure

    n = torch.get_num_threads()
    setting = configure(None)
    configure(setting)
    yield
    configure(setting)
    torch.set_num_threads(n)
