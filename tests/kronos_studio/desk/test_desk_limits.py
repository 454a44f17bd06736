"""The desk's own limits (``Desk(limits=...)``): a request past one is refused by the desk, before any work, with the
limit named by its setting, whichever face (or none) asked; without limits the same request is served."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from data_sources.requests import BarsRequest
from kronos.errors import TOO_LARGE, refusal
from kronos.settings import ForecastSettings
from kronos_studio.desk import Desk, ForecastRequest, Limits, TooLarge, limit_settings

SAMPLE = Path(__file__).resolve().parents[3] / "data_sources" / "sample_data" / "AAPL_1d_bokeh.csv"


def csv_of(bars: int) -> str:
    """CSV text of ``bars`` daily bars: a header and one line each."""
    lines = [f"2024-01-{day:02d},{100 + day},{101 + day},{99 + day},{100 + day},1000" for day in range(1, bars + 1)]
    return "timestamp,open,high,low,close,volume\n" + "\n".join(lines) + "\n"


def test_eleven_bars_past_a_limit_of_ten_are_refused_by_the_desk_naming_the_limit():
    with pytest.raises(TooLarge) as e:
        Desk(limits=Limits(bars=10)).bars(BarsRequest(csv_text=csv_of(11)))
    assert refusal(e.value) == TOO_LARGE  # each face answers this kind its own way (the HTTP API: 413)
    assert str(e.value) == "11 lines of CSV after its header is over the limit of 10: send fewer bars, or raise max_bars"
    assert e.value.values == {"lines": 11, "max_bars": 10}
    assert [f.setting for f in e.value.fix] == ["max_bars"]


def test_ten_bars_within_the_limit_are_read():
    assert len(Desk(limits=Limits(bars=10)).bars(BarsRequest(csv_text=csv_of(10))).bars.frame) == 10


def test_a_files_bars_are_counted_once_read():
    with pytest.raises(TooLarge) as e:
        Desk(limits=Limits(bars=10)).bars(BarsRequest(file=str(SAMPLE)))
    assert e.value.problem.endswith("bars is over the limit of 10") and "max_bars" in e.value.values
    assert len(Desk().bars(BarsRequest(file=str(SAMPLE))).bars.frame) > 10  # no limits: the command line, the app


def test_a_forecast_past_paths_x_horizon_is_refused_before_its_bars_are_read(tmp_path):
    request = ForecastRequest(BarsRequest(file=str(tmp_path / "never-read.csv")), None,
                              ForecastSettings(horizon=20, paths=100))
    with pytest.raises(TooLarge) as e:
        Desk(limits=Limits(path_steps=1_000)).forecast(request)
    assert str(e.value) == ("paths x horizon = 100 x 20 = 2000 is over the limit of 1000: ask for fewer paths or a "
                            "shorter horizon, or raise max_path_steps")


def test_a_refusal_past_a_limit_survives_a_worker_process():
    with pytest.raises(TooLarge) as e:
        Limits(series=2).check_series(3)
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is TooLarge and refusal(again) == TOO_LARGE and str(again) == str(e.value)


def test_every_limit_is_a_setting_with_its_help():
    settings = limit_settings()
    assert "max_bars" in settings and "max_job_seconds" in settings
    assert all(name.startswith("max_") and help for name, help in settings.items())
