"""The watch lives through time as a user does: a replay records one forecast per series per session and scores
what arrived; run again it adds nothing; cut off half-way (an error, or kill -9) and run again it records nothing
twice and loses nothing; live, a new download between two ticks scores the first tick's forecasts."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from watch_kit import FAST, real_folder, request, rows, synthetic_folder

from kronos_studio.desk import Desk, Engine
from kronos_studio.desk.watch import Replay
from kronos_studio.ledger import Ledger

HERE = Path(__file__).resolve().parent


@pytest.fixture
def storage(tmp_path, monkeypatch):
    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path / "storage"))
    return tmp_path


@pytest.fixture
def ledger(storage):
    with Ledger.open(f"sqlite:///{storage / 'ledger.sqlite'}") as opened:
        yield opened


def sessions(start: str, end: str) -> pd.DatetimeIndex:
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS").sessions_in_range(start, end)


def test_a_replay_records_one_forecast_per_series_per_session_scores_what_arrived_and_runs_once(ledger, storage):
    folder = synthetic_folder(storage / "watchlist")
    asked = request(folder, replay=Replay("2026-05-01", "2026-05-12"))
    done = Desk().watch(asked, ledger)
    days = sessions("2026-05-01", "2026-05-12")  # 8 sessions
    assert [t.tick_at for t in done.ticks] == [pd.Timestamp(f"{d.date()} 20:00", tz="UTC") for d in days]
    assert all(t.status == "done" for t in done.ticks) and done.replay == asked.name
    made = rows(ledger)
    assert set(made["replay"]) == {asked.name} and ledger.predictions_frame().empty  # nothing live
    for symbol in ("AAA", "BBB"):
        own = made[made["symbol"] == symbol]
        assert [t.date() for t in own["last_bar_at"]] == [d.date() for d in days]  # one per session, its last bar
        # every forecast whose bars arrived by the end is scored on them: all 3 steps, but the last 3 forecasts
        assert list(own["scored_steps"]) == [3] * 5 + [2, 1, 0]
    again = Desk().watch(asked, ledger)  # the same replay again: every tick done, not one row more
    assert [t.status for t in again.ticks] == ["already"] * 8
    pd.testing.assert_frame_equal(rows(ledger), made)


def test_a_replay_inside_the_training_period_is_refused_or_run_flagged(ledger, storage):
    from kronos_studio.evaluation.trust import TrainingPeriodError
    from kronos_studio.ledger.store import replay_notices

    folder = real_folder(storage / "real")
    asked = request(folder, name="indices", replay=Replay("2018-05-01", "2018-05-02"))
    with pytest.raises(TrainingPeriodError, match="training period") as refused:
        Desk().watch(asked, ledger)
    assert [f.setting for f in refused.value.fix] == ["replay_from", "include_training_period"]
    assert rows(ledger).empty
    import dataclasses

    done = Desk().watch(dataclasses.replace(asked, include_training_period=True), ledger)
    assert done.replay == "indices [in training period]" and "training period" in done.notices[0].problem
    assert replay_notices(done.replay) and set(rows(ledger)["replay"]) == {done.replay}


def test_a_tick_cut_off_half_way_runs_again_recording_nothing_twice_and_losing_nothing(ledger, storage):
    folder = synthetic_folder(storage / "watchlist")
    asked = request(folder, replay=Replay("2026-05-01", "2026-05-05"))
    recorded = []

    def crash_once(series):
        recorded.append(series)
        if len(recorded) == 3:  # the second tick, after its first series was recorded: as a crash there would
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        Desk().watch(asked, ledger, after_record=crash_once)
    cut = rows(ledger)
    assert len(cut) == 3  # the first tick's two forecasts and the second tick's first
    done = Desk().watch(asked, ledger)
    assert [(t.status, t.attempt) for t in done.ticks] == [("already", 1), ("done", 2), ("done", 1)]
    second = {s.series: s.status for s in done.ticks[1].series}
    assert sorted(second.values()) == ["forecast", "kept"]  # the one recorded before the cut is found, not redone
    made = rows(ledger)
    assert len(made) == 6 and not made.duplicated(["symbol", "last_bar_at"]).any()
    assert set(cut["prediction_id"]) <= set(made["prediction_id"])


def test_a_watch_killed_with_sigkill_and_started_again_records_nothing_twice(ledger, storage):
    """A real ``kill -9`` between two series' records: the process signals where it is by a file and waits there
    (no sleep stands for synchronisation); the next run takes the tick over from its dead holder."""
    folder = synthetic_folder(storage / "watchlist")
    reached = storage / "reached"
    child = subprocess.Popen([sys.executable, str(HERE / "watch_child.py"), str(folder), ledger.url, str(reached)],
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while not reached.exists():  # the child says when it has recorded three forecasts
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the child never reached its third record"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert len(rows(ledger)) == 3
    done = Desk().watch(request(folder, replay=Replay("2026-05-01", "2026-05-05")), ledger)
    assert [(t.status, t.attempt) for t in done.ticks] == [("already", 1), ("done", 2), ("done", 1)]
    made = rows(ledger)
    assert len(made) == 6 and not made.duplicated(["symbol", "last_bar_at"]).any()


def _download(folder: Path, name: str, bars: pd.DataFrame, until: str) -> None:
    """The day's download of a series: its bars up to ``until``, in a file of that name."""
    bars[bars["Date"] <= until].to_csv(folder / name, index=False)


@pytest.mark.parametrize("new_name", [
    "AAA.csv",  # the day's download replaces the file
    "AAA_2026-06-30.csv",  # the day's download beside yesterday's, its date in its name: one series
])
def test_two_live_ticks_where_a_new_download_lands_between_them_score_the_first_ticks_forecast(ledger, storage,
                                                                                                new_name):
    full = storage / "full"
    synthetic_folder(full, end="2026-06-30", names=("AAA",))
    bars = pd.read_csv(full / "AAA.csv")
    folder = storage / "downloads"
    folder.mkdir()
    first_name = "AAA.csv" if new_name == "AAA.csv" else "AAA_2026-06-29.csv"
    _download(folder, first_name, bars, "2026-06-29")
    asked = request(folder, settings=FAST)
    monday = pd.Timestamp("2026-06-29 20:30", tz="UTC")
    first = Desk().watch(asked, ledger, once=True, now=lambda: monday)
    assert [t.tick_at for t in first.ticks] == [pd.Timestamp("2026-06-29 20:00", tz="UTC")]
    _download(folder, new_name, bars, "2026-06-30")
    tuesday = pd.Timestamp("2026-06-30 20:30", tz="UTC")
    second = Desk().watch(request(folder, settings=FAST), ledger, once=True, now=lambda: tuesday)
    [tick] = second.ticks
    assert tick.tick_at == pd.Timestamp("2026-06-30 20:00", tz="UTC") and tick.status == "done"
    [series] = tick.series
    assert series.scored_steps == 1  # the first tick's forecast, scored on the bar that arrived
    made = rows(ledger)
    assert list(made["scored_steps"]) == [1, 0]


def test_the_live_loop_ticks_at_each_bar_close_on_an_injected_clock(ledger, storage):
    folder = synthetic_folder(storage / "watchlist", end="2026-06-26")  # the downloads of Friday
    now = [pd.Timestamp("2026-06-26 21:00", tz="UTC")]  # a Friday after the close
    waited = []

    def wait(seconds):  # the clock moves; nothing sleeps
        waited.append(seconds)
        now[0] += pd.Timedelta(seconds=seconds)

    done = Desk().watch(request(folder), ledger, now=lambda: now[0], wait=wait,
                        stop=lambda: len(done_ticks) >= 3, on_tick=lambda t: done_ticks.append(t),
                        delay=pd.Timedelta(minutes=5))
    assert [t.tick_at for t in done.ticks] == [pd.Timestamp(d, tz="UTC") for d in
                                               ("2026-06-29 20:00", "2026-06-30 20:00", "2026-07-01 20:00")]
    assert waited[0] == pd.Timedelta("2 days 23:05:00").total_seconds()  # the weekend, to Monday's close + 5 min


done_ticks: list = []


@pytest.fixture(autouse=True)
def _fresh_ticks():
    done_ticks.clear()


def test_a_replay_retrains_when_due_and_keeps_its_registry_to_its_label(ledger, storage):
    """A retrain every 2 ticks: the gated retrain runs at the 2nd and 4th tick on the bars closed by then, its
    adapters registered under the replay's label (never serving live), its decision said in the tick."""
    from kronos_studio.desk.watch import RetrainPolicy
    from kronos_studio.ledger.registry import Registry
    from kronos_studio.training.retrain_settings import RetrainSettings

    folder = synthetic_folder(storage / "watchlist", names=("AAA",))
    small = RetrainSettings(horizon=3, window=120, lookback=24, n_cutoffs=5, steps=2, paths=8)
    asked = request(folder, model="champion", replay=Replay("2026-05-01", "2026-05-06"),
                    retrain=RetrainPolicy(every=2), retrain_settings=small)
    done = Desk().watch(asked, ledger)
    said = [t.series[0].retrain for t in done.ticks]
    assert said[0] is None and said[2] is None and said[1] in ("promoted", "rejected")
    assert said[3] in ("promoted", "rejected", "skipped")
    replayed = Registry(ledger.replaying(done.replay)).entries()
    assert replayed and {e.made_by for e in replayed} == {f"kronos watch ({asked.name})"}
    assert Registry(ledger).entries() == []  # nothing live
    last_bars = {e.last_bar_at.date() for e in replayed}
    assert max(last_bars) < pd.Timestamp("2026-05-06").date()  # trained on bars closed by its tick, never later
    from kronos_studio.training.retrain import adapters_folder

    live_folder = adapters_folder(replayed[0].series, "default")
    assert Path(replayed[0].path).parent == adapters_folder(replayed[0].series, "default", done.replay) != live_folder


@pytest.mark.ray
def test_a_replay_ticked_on_ray_records_the_rows_the_local_engine_records(storage):
    """Issue 65 item 1: a tick's screen runs through ``kronos batch``'s engine, so Ray (two actors on a local
    instance, as on a cluster) and the local pool record the same forecasts and scores, tick by tick."""
    from kronos_studio.ledger.frames import IDENTITY
    from kronos_studio.ledger.schema import EVERY_REPLAY

    folder = synthetic_folder(storage / "watchlist")
    made, steps = {}, {}
    for engine in ("local", "ray"):
        with Ledger.open(f"sqlite:///{storage / f'{engine}.sqlite'}") as opened:
            asked = request(folder, replay=Replay("2026-05-07", "2026-05-08"), engine=Engine(engine, workers=2 if engine == "ray" else None))
            done = Desk().watch(asked, opened)
            assert [t.status for t in done.ticks] == ["done"] * 2, engine
            made[engine] = rows(opened)
            steps[engine] = opened.steps_frame(replay=EVERY_REPLAY).sort_values(
                ["symbol", "last_bar_at", "step"]).reset_index(drop=True)
    kept = [c for c in IDENTITY if c not in ("created_at", "parent_id")] + ["scored_steps"]
    assert len(made["local"]) == 4 and made["local"]["scored_steps"].sum() > 0  # 2 series x 2 sessions, scored
    pd.testing.assert_frame_equal(made["ray"][kept], made["local"][kept])
    numbers = [c for c in steps["local"].columns if c not in ("id", "prediction_id", "created_at", "parent_id",
                                                              "scored_at")]
    pd.testing.assert_frame_equal(steps["ray"][numbers], steps["local"][numbers])  # the same paths, the same scores
