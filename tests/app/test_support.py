"""UI-side helpers without a running app: download progress, the result cache, the lookback rule."""
from __future__ import annotations

from app_support.models import progress_tqdm
from app_support.sidebar import Inputs
from kronos_studio.desk import ModelRef
from kronos_studio.desk.cache import ResultCache


class Slot:
    def __init__(self):
        self.calls = []

    def progress(self, value, text=""):
        self.calls.append((value, text))


def test_download_progress_reaches_the_placeholder():
    slot = Slot()
    cls = progress_tqdm(slot, "Downloading Kronos-small")
    bar = cls(total=2_000_000, unit="B", name="huggingface_hub.snapshot_download", desc="x")
    bar.update(500_000)
    bar.update(1_500_000)
    bar.close()
    assert slot.calls[-1][0] == 1.0 and "2.0 of 2.0 MB" in slot.calls[-1][1]
    files = cls(total=2)  # the files-fetched bar
    files.update(1)
    assert slot.calls[-1] == (0.5, "Downloading Kronos-small: file 1 of 2")


def test_result_cache_is_lru():
    cache = ResultCache(entries=2)
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    assert cache.get("a", lambda: 0) == (1, True)  # a is now the most recent
    cache.get("c", lambda: 3)
    assert cache.peek("b") is None and cache.peek("a") == 1 and len(cache) == 2


def inputs(lookback, horizon):
    return Inputs("sample", "x", "", "", "1d", None, None, None, lookback, horizon, None, [], 30, 0,
                  {"temperature": 1.0, "top_p": 0.9, "top_k": 0})


def test_lookback_is_the_chosen_one_within_the_model_context():
    m = ModelRef("k", "m", "m", "bundled", context=256)
    assert inputs(196, 60).lookback_for(m) == 196 and inputs(196, 60).slides(m) == 0  # fits: all cached
    assert inputs(256, 60).lookback_for(m) == 256 and inputs(256, 60).slides(m) == 59  # slides, exactly
    assert inputs(512, 200).lookback_for(m) == 256  # never more than the model reads
    assert inputs(512, 60).lookback_for(None) == 512


def test_adapter_names_cannot_leave_the_adapters_folder(tmp_path, monkeypatch):
    import pytest

    from app_support.adapters import adapter_dir, adapter_folder

    monkeypatch.setenv("KRONOS_STUDIO_CACHE", str(tmp_path))
    assert adapter_dir() == tmp_path / "adapters"
    assert adapter_folder("AAPL-1d-events") == tmp_path / "adapters" / "AAPL-1d-events"
    for bad in ("../../x", "/etc/x", "a/b", "a\\b", "..", ".hidden", "", "x" * 65, "a..b"):
        with pytest.raises(ValueError, match="not a plain adapter name"):
            adapter_folder(bad)


def test_a_crash_while_saving_a_file_keeps_the_previous_one(tmp_path, monkeypatch):
    """Files under the storage root (cached bars) are written all-or-nothing."""
    import pathlib

    import pytest

    real_text = pathlib.Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        real_text(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_fail)
    with pytest.raises(OSError):
        from data_sources.storage import atomic_write_text

        atomic_write_text(tmp_path / "probe.json", "x" * 10)
    assert not (tmp_path / "probe.json").exists() and not list(tmp_path.glob(".probe.json.*"))


def test_identical_forecasts_from_several_sessions_run_once(monkeypatch):
    """Four sessions ask for the same forecast at once: it is sampled once and shared."""
    import threading
    import time
    from types import SimpleNamespace

    from app_support import forecasts
    from data_sources import load_sample
    from kronos.settings import ForecastSettings
    from kronos_studio.desk import Desk

    calls = []

    def make_forecast(forecaster, bars, settings, future, progress):
        calls.append(1)
        time.sleep(0.5)
        return SimpleNamespace(history=[])

    stub = type("Stub", (), {"name": "stub", "members": {}})()
    monkeypatch.setattr(forecasts, "load_model", lambda choice: None)  # no model is loaded: none samples
    monkeypatch.setattr(Desk, "forecaster", lambda *args: stub)
    monkeypatch.setattr("kronos_studio.forecasters.make_forecast", make_forecast)
    monkeypatch.setattr("kronos_studio.desk.desk.lookback_note", lambda *args: "")
    monkeypatch.setattr("kronos_studio.desk.desk.forecast_notices", lambda fc, bars: [])
    own = Desk(cache=ResultCache())  # a cache of this test's own: no earlier test's forecast is found in it
    monkeypatch.setattr(forecasts, "desk", lambda computing=True: own)
    bars = load_sample("MSFT daily 2000-2013 (bundled)")
    choice = ModelRef("k", "m", "m", "bundled", context=128)
    settings = ForecastSettings(horizon=5, paths=3)
    results = [None] * 4

    def session(i):
        results[i] = forecasts.run(bars, choice, settings)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(calls) == 1
    assert len({id(fc) for fc, _ in results}) == 1
    assert sorted(shared for _, shared in results) == [False, True, True, True]


def test_loaded_bars_hash_once_per_object_and_afresh_for_new_data(monkeypatch):
    import pickle

    from app_support.data import loaded
    from data_sources import load_sample
    from data_sources.schema import Bars

    plain = load_sample("MSFT daily 2000-2013 (bundled)")
    expected = plain.content_hash()
    computed, real = [], Bars.content_hash
    monkeypatch.setattr(Bars, "content_hash", lambda self: computed.append(len(self)) or real(self))
    bars = loaded(plain)
    assert bars.frame is plain.frame and bars.identity() == plain.identity()  # the same data, not a copy
    for _ in range(3):
        assert bars.content_hash() == expected and bars.identity()[0] == expected
    assert computed == [len(plain)] * 2  # plain.identity() above, then this object once
    tail = bars.tail(100)  # a new object with other data: its own hash
    assert tail.content_hash() != expected and tail.content_hash() == real(plain.tail(100))
    again = pickle.loads(pickle.dumps(bars))  # what st.cache_data hands out: the hash comes along, still true
    assert again.content_hash() == expected and computed.count(len(plain)) == 2
    bars.frame = plain.frame.iloc[::-1].reset_index(drop=True)  # a frame put in place of the hashed one
    assert bars.content_hash() == real(bars) != expected


def test_describe_spans_earliest_to_latest_whatever_the_row_order():
    import pandas as pd

    from app_support.data import describe
    from data_sources import Bars

    stamps = ["2024-03-05", "2024-01-02", "2024-02-01", "2024-01-03"]
    frame = pd.DataFrame({"timestamp": pd.to_datetime(stamps), "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                          "volume": 1.0})
    line = describe(Bars.from_frame(frame, source="file", symbol="X", interval="1d"))
    assert "4 bars · 2024-01-02 00:00 → 2024-03-05 00:00 ·" in line
    assert "no bars" in describe(Bars.from_frame(frame.iloc[:0], source="file", symbol="X", interval="1d"))


def test_provenance_lists_only_the_events_in_the_forecasts_window():
    """Issue 21 item 14: a 2013 forecast's provenance listed the bundled calendar's 220 macro events of
    2022-2026; only those from its first history bar to its last forecast bar belong there."""
    import pandas as pd

    from app_support.adapters import markers
    from app_support.events import in_window
    from data_sources import load_sample
    from kronos_studio.events import bundled_calendar

    bars = load_sample("AAPL daily 2000-2013 (bundled)", adjusted=False)
    every = markers(bundled_calendar(), bars)
    assert len(every) > 200
    ts = bars.frame["timestamp"]
    assert in_window(every, ts.iloc[-100], ts.iloc[-1] + pd.Timedelta(days=30)) == []
    start, end = pd.Timestamp("2024-03-01", tz=ts.dt.tz), pd.Timestamp("2024-03-31", tz=ts.dt.tz)
    march = in_window(every, start, end)
    assert march and all(start <= t <= end for t, _ in march) and len(march) < 10
    typed = [(pd.Timestamp("2024-03-20 14:00"), "FOMC"), (pd.Timestamp("2013-01-01"), "old")]  # naive, as typed
    assert in_window(typed, start, end) == typed[:1]


def test_future_bar_times_read_from_too_short_a_history_are_said_to_be_a_guess():
    """Issue 45 item 2: beside the fan, the app says the future bar times follow a rhythm read from too few
    bars to tell the market's calendar (3 daily bars put two on a weekend)."""
    import pandas as pd

    from app_support.data import calendar_warning
    from data_sources import Bars
    from data_sources.calendar_inference import with_inferred_calendar

    frame = pd.DataFrame({"timestamp": pd.bdate_range("2024-03-06", periods=3, tz="UTC"), "open": 1.0, "high": 1.0,
                          "low": 1.0, "close": 1.0, "volume": 1.0})
    bars = with_inferred_calendar(Bars.from_frame(frame, source="file", symbol="X", interval="1d"))
    warning = calendar_warning(bars)
    assert warning is not None and "too few to tell a trading calendar" in warning


def test_a_library_error_names_the_control_that_fixes_it():
    """Issue 46 item 3: the library names the setting; the app says which control sets it (no flag)."""
    import pandas as pd

    from app_support.errors import app_message
    from app_support.trust import INCLUDE_TRAINED_LABEL
    from kronos.errors import Fix, InputError
    from kronos_studio.evaluation.trust import guard_cutoffs
    from kronos_studio.forecasters.period import TrainingPeriod

    e = InputError("lookback is 500 bars but only 90 are available", {"lookback": 500},
                   Fix("lower {setting} or load more history", "lookback"))
    assert app_message(e) == "lookback is 500 bars but only 90 are available: lower *Lookback (bars)* or load more history"
    frame = pd.DataFrame({"timestamp": pd.date_range("2020-01-01", periods=10, freq="D", tz="UTC")})
    period = TrainingPeriod(pd.Timestamp("2021-01-01", tz="UTC"), "a test")
    try:
        guard_cutoffs(frame, [5, 6], period, include_trained=False)
    except ValueError as refused:
        said = app_message(refused)
    assert f"include them knowingly (*{INCLUDE_TRAINED_LABEL}*)" in said and "--" not in said
    assert app_message(RuntimeError("boom")) == "RuntimeError: boom"


def test_each_control_an_error_names_is_on_screen():
    """The labels errors name are the labels the app's controls show (a renamed control fails here)."""
    import ast
    from pathlib import Path

    from app_support.errors import CONTROLS
    from kronos.settings import knobs

    root = Path(__file__).resolve().parents[2]
    shown = {node.value for folder in ("app_support", "pages") for p in (root / folder).rglob("*.py")
             if p.name != "errors.py" for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    # a sampling knob's label is its Knob's, the one the sidebar's widget shows (checked widget by widget in
    # test_app.py::test_every_sampling_knob_has_a_sidebar_control_that_reaches_the_settings), and so is a retrain
    # setting's, the one the Fine-tune page's Retrain settings show (test_fine_tune.py)
    from kronos_studio.desk import FineTunePlan, RankPlan, TrustPlan  # the Evaluate, Fine-tune pages'
    from kronos_studio.risk.measures import RiskSettings  # the Risk panel's (test_risk_panel.py)
    from kronos_studio.training.retrain import RetrainSettings

    drawn = {knob.name(name): knob for cls in (FineTunePlan, TrustPlan, None, RetrainSettings, RiskSettings)
             for name, (_, knob) in knobs(cls).items()}
    assert all(CONTROLS[setting] == knob.label for setting, knob in drawn.items())
    # the Screener's "Does the ranking work?" draws the rank plan's widgets from its knobs (test_rank_skill_app.py)
    shown |= {knob.label for _, knob in knobs(RankPlan).values()}
    missing = [label for setting, label in CONTROLS.items() if setting not in ("include_training_period", *drawn)
               and not any(text.startswith(label) for text in shown)]
    assert not missing, missing


def test_plain_verdicts_say_when_coverage_or_skill_is_poor():
    from app_support.trust import plain_verdicts
    from kronos_studio.desk import TrustTrackRecord as TrackRecord

    good = {"coverage": 0.78, "nominal": 0.8, "crps_skill": 0.05, "crps_skill_ci": [0.01, 0.09]}
    assert plain_verdicts(TrackRecord(good, {}, None)) == []
    narrow = plain_verdicts(TrackRecord({**good, "coverage": 0.46}, {}, None))
    assert len(narrow) == 1 and "too narrow" in narrow[0] and "46%" in narrow[0] and "80%" in narrow[0]
    assert "too wide" in plain_verdicts(TrackRecord({**good, "coverage": 0.97}, {}, None))[0]
    worse = plain_verdicts(TrackRecord({**good, "crps_skill": -0.17, "crps_skill_ci": [-0.36, -0.01]}, {}, None))
    assert worse == ["Worse than a plain random walk on these cut-offs (CRPS skill -17%, 95% interval -36% to -1%)."]
    tie = plain_verdicts(TrackRecord({**good, "crps_skill": -0.04, "crps_skill_ci": [-0.18, 0.07]}, {}, None))
    assert len(tie) == 1 and tie[0].startswith("Not distinguishable from a plain random walk")


def test_skills_read_without_a_minus_zero():
    from kronos_studio.desk.metrics import signed_percent

    assert [signed_percent(x) for x in (0.123, -0.004, 0.0003, 0.0, -0.0, float("nan"))] == \
        ["+12%", "-0.4%", "+0.03%", "0%", "0%", "n/a"]
