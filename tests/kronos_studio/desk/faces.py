"""The parity matrix's world and the ways each face is asked (``test_parity_matrix.py``).

One ``World`` per test module: one ledger, one cache, one HTTP service with its key, one MCP server, and the bars
every row reads, each part made the first time a row needs it. A use case that writes the ledger (scoring, recording,
the registry's moves, the retrains) acts on a ledger of each face's own, built alike in the test's folder."""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import anyio
import pandas as pd
import pytest
from champion_kit import promote_champion
from fastapi.testclient import TestClient
from mcp import Client
from testkit import ROOT, random_bars

from data_sources import list_samples, load_sample
from kronos.settings import ForecastSettings
from kronos_studio.bars_input import quality_gate, read_bars
from kronos_studio.bundled import default_model_path
from kronos_studio.catalog import catalog
from kronos_studio.cli.main import main
from kronos_studio.desk import Desk, ForecastRequest
from kronos_studio.desk.ledger import open_ledger
from kronos_studio.ledger import Ledger
from kronos_studio.service.app import ServiceConfig, create_app
from kronos_studio.service.keys import create_key
from kronos_studio.service.mcp_server import create_server

sys.path.insert(0, str(ROOT / "tests" / "kronos_studio" / "ledger"))
from ledger_helpers import CHANGE, HORIZON, calm_forecast, cut, forecast, regime_series  # noqa: E402

WATCHLIST = ("AAA", "BBB", "CCC", "DDD")
ORIGINS = range(CHANGE - HORIZON, 400 - HORIZON, 2)  # the calm model's forecasts of the regime series, 2 bars apart
EARLIER = range(300, 390, 6)  # another model's
SCORE_AT = 400
AAPL = "AAPL daily 2000-2013 (bundled)"


@dataclasses.dataclass(frozen=True)
class NotOffered:
    """A face that does not offer a use case, and why (so the matrix shows it)."""

    why: str


@dataclasses.dataclass(frozen=True)
class NotAsked:
    """A face that offers a use case the matrix does not ask it for, and where it is tested instead."""

    why: str


@dataclasses.dataclass(frozen=True)
class Only:
    """A face that offers a use case for some model kinds (or asks) alone."""

    kinds: tuple
    ask: object
    why: str


@dataclasses.dataclass
class Asked:
    """What a face caller may need besides the world: the test's own folder, its captured output, its monkeypatch."""

    tmp_path: Path
    capsys: pytest.CaptureFixture
    monkeypatch: pytest.MonkeyPatch


def populate_regime(url: str, scored: bool = True, workspace: str | None = None) -> None:
    """The regime series' forecasts: the calm model's (drifting once the regime changes), another model's, and one
    experiment (temperature 2.0); scored on the bars up to ``SCORE_AT`` when ``scored``."""
    bars = regime_series()
    with open_ledger(url, workspace) as ledger:
        for at in ORIGINS:
            ledger.record(calm_forecast(bars, at), cut(bars, at))
        for at in EARLIER:
            ledger.record(forecast(bars, at, horizon=HORIZON, seed=at, model="earlier"), cut(bars, at))
        experiment = forecast(bars, 350, horizon=HORIZON, seed=7, model="calm")
        experiment.settings = dataclasses.replace(experiment.settings, temperature=2.0)
        ledger.record(experiment, cut(bars, 350))
        if scored:
            ledger.score(cut(bars, SCORE_AT))


class World:
    """Every face on one ledger (``url``) and cache under ``root``, acting in the default workspace."""

    def __init__(self, root: Path, http: TestClient, token: str):
        self.root, self.http = root, http
        self.url = f"sqlite:///{root / 'ledger.sqlite'}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.mcp = create_server([root], ledger_url=self.url)

    # -- the bars each row reads -------------------------------------------------------------------------------
    @cached_property
    def par(self) -> Path:
        """700 hourly bars whose series has a promoted champion (learnt on its first 200) in the default workspace."""
        file = self.root / "PAR.csv"
        bars = random_bars(700, seed=8, freq="1h", start="2026-03-02")
        bars.to_csv(file, index=False)
        (self.root / "earlier").mkdir()
        bars.head(200).to_csv(self.root / "earlier" / "PAR.csv", index=False)
        with Ledger.open(self.url) as ledger:
            promote_champion(read_bars(self.root / "earlier" / "PAR.csv"), ledger, self.root / "adapter")
        return file

    @cached_property
    def watchlist(self) -> Path:
        """A folder of four hourly series."""
        folder = self.root / "watch"
        folder.mkdir()
        for i, name in enumerate(WATCHLIST):
            random_bars(160, seed=20 + i, freq="1h", start="2026-03-02").to_csv(folder / f"{name}.csv", index=False)
        return folder

    @cached_property
    def daily(self) -> Path:
        """560 daily bars: the risk rows' series."""
        file = self.root / "RISK.csv"
        random_bars(560, seed=11, freq="1d").to_csv(file, index=False)
        return file

    @cached_property
    def walk(self) -> Path:
        """700 business days (about 100 bars in 2026): the ensemble fit's series."""
        file = self.root / "walk.csv"
        random_bars(700, seed=4, freq="B", start="2023-09-01").to_csv(file, index=False)
        return file

    @cached_property
    def nasdaq(self) -> Path:
        """NASDAQ's last 300 daily bars (the covariates' target); its own S&P 500 covers them, AAPL's end in 2013."""
        frame = load_sample("NASDAQ Composite daily 1999-2018 (arch)").frame.tail(300)
        frame[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(self.root / "nasdaq.csv", index=False)
        return self.root / "nasdaq.csv"

    @cached_property
    def retrain_file(self) -> Path:
        """260 hourly bars: one series' retrain."""
        file = self.root / "RT.csv"
        random_bars(260, seed=3, freq="1h", start="2026-03-02").to_csv(file, index=False)
        return file

    @cached_property
    def retrain_watchlist(self) -> Path:
        """Two hourly series of 260 bars: a watchlist's retrain."""
        folder = self.root / "retrain-watch"
        folder.mkdir()
        for i, name in enumerate(("RA", "RB")):
            random_bars(260, seed=3 + i, freq="1h", start="2026-03-02").to_csv(folder / f"{name}.csv", index=False)
        return folder

    # -- what the ledger keeps ---------------------------------------------------------------------------------
    @cached_property
    def regime(self) -> Path:
        """The regime series' forecasts kept and scored in the world's ledger; its bars up to ``SCORE_AT`` as a file."""
        populate_regime(self.url)
        file = self.root / "REGIME.csv"
        cut(regime_series(), SCORE_AT).frame.to_csv(file, index=False)
        return file

    @cached_property
    def aapl(self) -> str:
        """The bundled Kronos model's forecasts of the AAPL sample kept in the world's ledger, a 2-bar horizon every
        bar (each overlaps the one before), scored on the bars that followed; the series' symbol."""
        bars = load_sample(next(s.name for s in list_samples() if s.name.startswith("AAPL daily 2000")))
        desk = Desk()
        with open_ledger(self.url) as ledger:
            for at in range(300, 330):
                made = desk.forecast(ForecastRequest(cut(bars, at), None,
                                                     ForecastSettings(horizon=2, paths=30, seed=at))).forecast
                ledger.record(made, cut(bars, at))
            ledger.score(cut(bars, 340))
        return bars.symbol

    # -- asking the faces --------------------------------------------------------------------------------------
    def desk(self, use_case: str, request, workspace: str | None = "default", url: str | None = None):
        """``Desk.<use_case>(request)`` on the world's ledger (or ``url``'s), scoped to ``workspace``."""
        with open_ledger(url or self.url, workspace) as ledger:
            return getattr(Desk(), use_case)(request, ledger=ledger)

    def post(self, path: str, body: dict) -> dict:
        answer = self.http.post(path, json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def get(self, path: str, params: dict):
        return self.http.get(path, params=params, headers=self.headers)

    def job(self, path: str, body: dict, seconds: float = 600) -> tuple[dict, dict]:
        """A job's status and result once ``POST path`` with ``body`` has finished."""
        return job_result(self.http, self.headers, path, body, seconds)

    def tool(self, tool: str, arguments: dict, server=None) -> tuple[bool, str]:
        """The MCP tool's answer: (is it an error, its text)."""
        return call_tool(server or self.mcp, tool, arguments)

    def tool_json(self, tool: str, arguments: dict, server=None) -> dict:
        failed, text = self.tool(tool, arguments, server)
        assert not failed, text
        return json.loads(text)


def call_tool(server, tool: str, arguments: dict) -> tuple[bool, str]:
    async def call():
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    done = anyio.run(call)
    return done.is_error, done.content[0].text


def job_result(http, headers: dict, path: str, body: dict, seconds: float = 600) -> tuple[dict, dict]:
    submitted = http.post(path, json=body, headers=headers)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["id"]
    deadline = time.monotonic() + seconds
    while (status := http.get(f"/v1/jobs/{job}", headers=headers).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert status["status"] == "done", status
    return status, http.get(f"/v1/jobs/{job}/result", headers=headers).json()


@contextmanager
def own_service(url: str, jobs: Path):
    """An HTTP service of its own on ``url`` (a face's own ledger): (its test client, its key's header)."""
    app = create_app(ServiceConfig(ledger_url=url, jobs_dir=str(jobs)))
    with TestClient(app) as http:
        yield http, {"Authorization": f"Bearer {create_key(app.state.service.ledger, 'default')[1]}"}


def flags(settings: dict) -> list[str]:
    """``{"horizon": 3}`` as the command line's ``--horizon 3``."""
    return [x for k, v in settings.items() for x in (f"--{k}", str(v))]


def cli(argv: list[str]) -> None:
    """``kronos ARGV`` in this process, which must succeed."""
    assert main(argv) == 0, argv


def gated(file, **options):
    """The file's bars as the app's sidebar hands them over (through the quality gate)."""
    return quality_gate(read_bars(file, **options))[0]


def bundled_choice():
    """The sidebar's entry of the bundled default model."""
    return next(c for c in catalog() if c.ref == str(default_model_path()))


def app_choice(model):
    """The sidebar's entry for ``model`` (None: the bundled default), None for a model the app does not offer."""
    offered = catalog()
    default = bundled_choice()
    return {None: default, "champion": next(c for c in offered if c.per_series),
            "ensemble": default.ensemble_of()}.get(model)


def quantile_rows(body) -> pd.DataFrame:
    """The quantiles of a forecast's JSON answer, without their times."""
    return pd.DataFrame(body["quantiles"]).drop(columns="timestamp")
