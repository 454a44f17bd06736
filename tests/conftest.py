"""Fixtures for every test folder: random-weight models in the official layout (ours, no oracle
needed) and the official implementation on the same weights (only for the tests that compare)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
from testkit import CONFIGS, ModelFolder, random_bars, random_model_folder, require_oracle, save_official_layout


@pytest.fixture(scope="session", autouse=True)
def private_ledger(tmp_path_factory):
    """Forecasts the tests make (command line, app) are recorded in a ledger of the test session's
    own, never in the developer's (or a team's, through KRONOS_STUDIO_DB)."""
    before = os.environ.get("KRONOS_STUDIO_DB")
    os.environ["KRONOS_STUDIO_DB"] = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
    yield
    if before is None:
        os.environ.pop("KRONOS_STUDIO_DB", None)
    else:
        os.environ["KRONOS_STUDIO_DB"] = before


@pytest.fixture(scope="session", autouse=True)
def no_machine_chronos2():
    """The ensemble mixes Chronos-2 in when its weights are on the machine: a developer's Hugging Face cache
    must not change what the tests see, so it is off unless a test names one."""
    before = os.environ.get("KRONOS_STUDIO_CHRONOS2")
    os.environ["KRONOS_STUDIO_CHRONOS2"] = "off"
    yield
    if before is None:
        os.environ.pop("KRONOS_STUDIO_CHRONOS2", None)
    else:
        os.environ["KRONOS_STUDIO_CHRONOS2"] = before


@pytest.fixture(autouse=True)
def no_thread_setting_left(request):
    """A thread setting (``kronos.threads.configure``: the CLI's ``--threads``, applied by ``main``) never outlives
    the test that made it: a later test's forecast would report the setting's threads, not the machine's share.
    One that is left is undone, and named in a warning so that its test can be found."""
    from kronos import threads

    yield
    if threads._configured is not None:
        import warnings

        warnings.warn(f"{request.node.nodeid} left a thread setting of {threads._configured}; undone", stacklevel=2)
        threads.configure(None)


@pytest.fixture(scope="session", autouse=True)
def private_thread_share(tmp_path_factory):
    """The tests' computations share the cores among themselves (kronos.threads), not with whatever else
    of the user's runs on the machine, so the threads a test sees do not depend on it."""
    before = os.environ.get("KRONOS_STUDIO_THREAD_SHARE")
    os.environ["KRONOS_STUDIO_THREAD_SHARE"] = str(tmp_path_factory.mktemp("thread-share"))
    yield
    if before is None:
        os.environ.pop("KRONOS_STUDIO_THREAD_SHARE", None)
    else:
        os.environ["KRONOS_STUDIO_THREAD_SHARE"] = before


@pytest.fixture(scope="session")
def random_model(tmp_path_factory):
    """name ('tiny', 'mini', 'small') -> ModelFolder of our modules with random weights."""
    made: dict[str, ModelFolder] = {}

    def make(name: str) -> ModelFolder:
        if name not in made:
            made[name] = random_model_folder(tmp_path_factory.mktemp(f"random-{name}"), name)
        return made[name]

    return make


@dataclass
class OraclePair(ModelFolder):
    """The same random weights as the official modules (eval mode) and as a checkpoint folder."""

    official_tokenizer: torch.nn.Module = None
    official_predictor: torch.nn.Module = None


@pytest.fixture(scope="session")
def oracle(tmp_path_factory):
    """name -> OraclePair built by the official code; skips (fails in CI) without the oracle."""
    made: dict[str, OraclePair] = {}

    def make(name: str) -> OraclePair:
        official = require_oracle()
        if name not in made:
            pcfg, tcfg = CONFIGS[name]
            torch.manual_seed(1234)
            tok = official.KronosTokenizer(**tcfg.to_dict()).eval()
            pred = official.Kronos(**pcfg.to_dict()).eval()
            folder = tmp_path_factory.mktemp(f"oracle-{name}")
            save_official_layout(tok, tcfg, folder / "tokenizer")
            save_official_layout(pred, pcfg, folder / "predictor")
            made[name] = OraclePair(folder, tok, pred)
        return made[name]

    return make


@pytest.fixture
def bars():
    return random_bars
