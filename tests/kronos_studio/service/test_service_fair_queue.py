"""Issue 53 item 6: one workspace's long evaluation no longer holds the model until it ends: another
workspace's forecast of the same model is answered between two of its cut-offs. Shown by order, not by
time: the evaluation's next cut-off waits for the forecast's answer, which would deadlock (and fail at the
bound) if the forecast had to wait for the whole evaluation, as it did before."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
from service_helpers import bearer

from kronos_studio.catalog.resolve import STATISTICAL, Statistical
from kronos_studio.evaluation.baselines import RandomWalk

LONG_SEED = 1000  # the evaluation's cut-off i samples with seed LONG_SEED + i
WITHIN_S = 60  # bounds on waits that only turn a hang into a failure


class Script:
    """What the gate model does at the evaluation's cut-offs: at the third it sends the short forecast and
    returns once that forecast waits for the model; at the fourth it notes whether the forecast was answered."""

    def __init__(self, base, token, turns):
        self.base, self.token, self.turns = base, token, turns
        self.short = None
        self.answered = threading.Event()
        self.answered_before_next_cutoff = None

    def send_short(self):
        def send():
            self.short = httpx.post(f"{self.base}/v1/forecast", headers=bearer(self.token), timeout=WITHIN_S * 2,
                                    json={"bars_csv": BARS_CSV, "model": "gate", "horizon": 2, "paths": 5,
                                          "record": False})
            self.answered.set()
        threading.Thread(target=send, daemon=True).start()
        deadline = time.monotonic() + WITHIN_S
        while not self.turns().waiting("team-a") and not self.answered.is_set():
            assert time.monotonic() < deadline, "the short forecast never queued for the model"
            time.sleep(0.005)

    def at(self, seed):
        if seed == LONG_SEED + 2:
            self.send_short()
        elif seed == LONG_SEED + 3:
            self.answered_before_next_cutoff = self.answered.wait(WITHIN_S)


SCRIPT: list[Script] = []
BARS_CSV = ""


@dataclass
class Gate(RandomWalk):
    """The random walk, doing the script's steps as it samples: a model of the catalog (a statistical one)."""

    key = "gate"

    def sample(self, history, future, settings, progress=None):
        if SCRIPT:
            SCRIPT[0].at(settings.seed)
        return super().sample(history, future, settings, progress)


def test_a_short_forecast_is_answered_between_the_cut_offs_of_another_workspace_s_evaluation(
        service, hourly_csv, monkeypatch):
    global BARS_CSV
    base, svc, tokens = service
    monkeypatch.setitem(STATISTICAL, "gate", Statistical("gate", __name__, "Gate"))
    BARS_CSV = hourly_csv.read_text()
    script = Script(base, tokens["a"], lambda: svc.registry.sampling_turns("gate"))
    SCRIPT.append(script)
    try:
        long = httpx.post(f"{base}/v1/evaluate", headers=bearer(tokens["b"]), timeout=WITHIN_S * 4,
                          json={"bars_csv": BARS_CSV, "model": "gate", "horizon": 2, "paths": 5, "cutoffs": 30,
                                "lookback": 20, "seed": LONG_SEED})
    finally:
        SCRIPT.clear()
    assert long.status_code == 200, long.text
    assert long.json()["cutoffs"] == 30  # the evaluation went on past the cut-off that waited for the forecast
    assert script.answered_before_next_cutoff is True  # answered while the evaluation was still running
    assert script.short is not None and script.short.status_code == 200, script.short and script.short.text
