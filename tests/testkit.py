"""Helpers shared by every test folder (a unique module name: pytest puts tests/ on sys.path through
tests/conftest.py, and several folders have a conftest of their own)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from kronos.checkpoints import save_checkpoint
from kronos.synthetic import MODEL_CONFIGS, random_bars  # noqa: F401 (the tests import them from here)

ROOT = Path(__file__).resolve().parents[1]  # the repository
DATA_FIXTURES = ROOT / "tests" / "data_sources" / "fixtures"  # recorded exports and odd files

CONFIGS = MODEL_CONFIGS
IN_CI = bool(os.environ.get("CI"))


def run_cli(*args, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """``kronos ARGS`` run by ``kronos_studio.cli.main.main`` in this process, with ``env`` added to the environment
    and ``cwd`` as the working folder for the call: its exit code and what it wrote to stdout and stderr, as
    ``subprocess.run`` gives them. A new Python process per call cost 2-3 s of start-up (torch) on the 2-core CI
    machine, more than most commands themselves; the tests about the process itself (a kill, a lock held by another,
    a fresh interpreter) start one of their own."""
    from huggingface_hub import constants

    from kronos_studio.cli.main import main

    argv = [str(a) for a in args]
    env = {"HF_HUB_OFFLINE": "1", **{k: str(v) for k, v in (env or {}).items()}}
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2))
    # huggingface_hub reads its cache and offline mode from the environment once, at import: a new process
    # would see the call's, so its constants are set for the call too.
    hub = {"HF_HUB_OFFLINE": env["HF_HUB_OFFLINE"].lower() in ("1", "true", "yes", "on")}
    if "HF_HUB_CACHE" in env:
        hub["HF_HUB_CACHE"] = env["HF_HUB_CACHE"]
    with mock.patch.dict(os.environ, env), mock.patch.multiple(constants, **hub), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(), \
            contextlib.chdir(cwd or os.getcwd()):
        # warnings as a new process shows them (Python's default filters), on its stderr: pytest's capture of
        # them would hide a warning line the user sees
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's usage errors exit 2, as the real command does
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, int) and e.code is not None:
                print(e.code, file=sys.stderr)
    return subprocess.CompletedProcess(argv, code, *(s.buffer.getvalue().decode() for s in (out, err)))


@dataclass
class ModelFolder:
    """A tokenizer/ + predictor/ folder in the official checkpoint layout."""

    folder: Path

    def ours(self, context: int):
        from kronos.checkpoints import load_pair

        (self.folder / "bundle.json").write_text(json.dumps({"context": context, "name": self.folder.name}))
        return load_pair(self.folder, device="cpu")


def save_official_layout(module, config, folder: Path) -> None:
    """config.json + model.safetensors, as the official checkpoints are published."""
    save_checkpoint(module, folder, config)


def random_model_folder(folder: Path, name: str, seed: int = 1234) -> ModelFolder:
    """Our own modules with random weights at config ``name`` (no oracle needed)."""
    import torch

    from kronos.model import Kronos
    from kronos.tokenizer import KronosTokenizer

    pcfg, tcfg = CONFIGS[name]
    torch.manual_seed(seed)
    save_official_layout(KronosTokenizer(tcfg).eval(), tcfg, folder / "tokenizer")
    save_official_layout(Kronos(pcfg).eval(), pcfg, folder / "predictor")
    return ModelFolder(folder)


def require_oracle():
    """The official Kronos package (``kronos-model-arch``, test-only). Missing: a skip on a developer's
    machine, a failure in CI, where the equivalence tests must run."""
    try:
        import model
    except ImportError:
        why = "the official oracle (kronos-model-arch) is not installed: bash scripts/test.sh installs it"
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return model


def official_greedy(o, frame: pd.DataFrame, future: pd.DatetimeIndex, context: int) -> np.ndarray:
    """The official KronosPredictor's greedy forecast (one path, [horizon, 6]) of ``frame`` with the oracle
    pair ``o`` (the ``oracle`` fixture's), on the CPU."""
    import torch

    predictor = require_oracle().KronosPredictor(o.official_predictor, o.official_tokenizer, device="cpu",
                                                 max_context=context)
    torch.manual_seed(123)
    out = predictor.predict(frame.drop(columns="timestamp"), pd.Series(frame["timestamp"]),
                            pd.Series(future), pred_len=len(future), T=1.0, top_k=1, top_p=1.0,
                            sample_count=1, verbose=False)
    return out.to_numpy(np.float32)


def needs_bundled_chronos2() -> None:
    """Skip the calling test module (at its import) where the chronos package or the bundled Chronos-2 is missing."""
    pytest.importorskip("chronos")
    from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2

    if not BUNDLED_CHRONOS2.is_dir():
        pytest.skip("the bundled Chronos-2 is not present", allow_module_level=True)


def downloads_tried(monkeypatch) -> list[str]:
    """The Hub downloads asked of huggingface_hub from now on (a lookup in the local cache alone is not one):
    the repo ids, in order. A download is made as asked; the list only records it."""
    import huggingface_hub

    tried, download = [], huggingface_hub.snapshot_download

    def recorded(repo_id, *args, **kwargs):
        if not kwargs.get("local_files_only"):
            tried.append(repo_id)
        return download(repo_id, *args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", recorded)
    return tried


def fill_hub_cache(cache: Path, repo_id: str, revision: str, folder: Path) -> None:
    """The layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<commit>/...}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    shutil.copytree(folder, repo / "snapshots" / revision)


# --- exports as analysts download them (issue 21): an index or stock from Yahoo, hourly EURUSD from a broker ---

def nyse_daily_export(path: Path, start: str = "2010-01-04", end: str = "2018-12-31", seed: int = 7,
                      price: float = 1100.0) -> Path:
    """A Yahoo-style daily CSV (Date,Open,High,Low,Close,Adj Close,Volume) with one bar per NYSE session
    from ``start`` to ``end``: weekday holidays (New Year, MLK day, Labor Day ...) have no bar."""
    import exchange_calendars as xcals

    sessions = xcals.get_calendar("XNYS", start=start, end=end).sessions_in_range(start, end)
    n = len(sessions)
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0003, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.006, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.006, n))
    frame = pd.DataFrame({"Date": pd.DatetimeIndex(sessions).strftime("%Y-%m-%d"), "Open": open_.round(2),
                          "High": high.round(2), "Low": low.round(2), "Close": close.round(2),
                          "Adj Close": close.round(2), "Volume": rng.integers(2_000_000, 6_000_000, n)})
    frame.to_csv(path, index=False)
    return path


def fx_hourly_export(path: Path, start: str = "2019-01-06", end: str = "2019-03-22 21:00", seed: int = 3,
                     price: float = 1.1450) -> Path:
    """An hourly EURUSD CSV as brokers export it ("Gmt time" like 06.01.2019 22:00:00.000, UTC): the 24/5
    currency week, from Sunday 17:00 to Friday 17:00 New York time, nothing on the weekend."""
    hours = pd.date_range(start, end, freq="h", tz="UTC")
    ny = hours.tz_convert("America/New_York").tz_localize(None)
    since_open = (ny - ny.normalize()) + pd.to_timedelta((ny.day_of_week + 1) % 7, unit="D") - pd.Timedelta(hours=17)
    hours = hours[(since_open % pd.Timedelta(days=7)) < pd.Timedelta(days=5)]
    n = len(hours)
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0, 0.0012, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 0.0008, n)
    low = np.minimum(open_, close) - rng.uniform(0, 0.0008, n)
    frame = pd.DataFrame({"Gmt time": hours.strftime("%d.%m.%Y %H:%M:%S.000"), "Open": open_.round(5),
                          "High": high.round(5), "Low": low.round(5), "Close": close.round(5),
                          "Volume": rng.uniform(2000, 9000, n).round(2)})
    frame.to_csv(path, index=False)
    return path


def assert_threads_match_sequential_runs(pipeline, jobs, horizon: int = 15, paths: int = 8) -> None:
    """Four (len(jobs)) threads forecasting at once through one pipeline get what sequential runs get:
    ``jobs`` are (bars, seed) pairs."""
    import threading

    import numpy as np

    sequential = [pipeline.predict(b, horizon, paths=paths, seed=s).paths for b, s in jobs]
    results: dict[int, np.ndarray] = {}
    barrier = threading.Barrier(len(jobs))

    def work(i):
        barrier.wait()
        results[i] = pipeline.predict(jobs[i][0], horizon, paths=paths, seed=jobs[i][1]).paths

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(len(jobs)):
        np.testing.assert_array_equal(results[i], sequential[i])


def sampled(forecaster, history: pd.DataFrame, future, horizon: int, seed: int) -> np.ndarray:
    """The paths ``forecaster`` samples from ``history`` (its own path count, else 30) with that horizon and
    seed: what a walk-forward's cut-off gets."""
    from kronos.settings import ForecastSettings

    return forecaster.sample(history, future, ForecastSettings(horizon=horizon, paths=30, seed=seed)).paths


BITFINEX, BITSTAMP = "bitfinex_(BTC,ETH)USD_d.csv", "bitstamp_(BTC,ETH,LTC)USD_d.csv"  # CryptoDataDownload's names


def exchange_files(folder: Path, n: int = 200) -> dict[str, Path]:
    """Two exchanges' daily files of several instruments in a symbol column, named as CryptoDataDownload names
    them: both hold a BTC, each with its own prices (``BITFINEX``, ``BITSTAMP`` -> path)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for seed, (name, symbols) in enumerate(((BITFINEX, ("BTC", "ETH")), (BITSTAMP, ("BTC", "ETH", "LTC")))):
        parts = [random_bars(n, seed=10 * seed + i, freq="1D", start="2026-01-01").assign(symbol=s)
                 for i, s in enumerate(symbols)]
        out[name] = folder / name
        pd.concat(parts).to_csv(out[name], index=False)
    return out
