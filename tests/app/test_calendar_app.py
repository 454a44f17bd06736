"""Issue 21 on the Forecast page (AppTest): an index export's calendar is inferred, said in the header
and the provenance, and its forecast skips the holidays; the calendar select overrides it; where no
calendar can be inferred the page warns beside the chart, not in a collapsed note."""
from __future__ import annotations

import json

import pandas as pd
from testkit import nyse_daily_export


def messages(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def upload(at, name: str, data: bytes):
    at.sidebar.selectbox(key="sb_source").set_value("file").run()
    at.sidebar.file_uploader(key="sb_upload").set_value((name, data, "text/csv")).run()
    return at


def index_export(tmp_path) -> bytes:
    return nyse_daily_export(tmp_path / "GSPC.csv", start="2016-01-04", end="2018-12-31").read_bytes()


def test_index_export_gets_xnys_inferred_said_and_recorded(new_app, tmp_path):
    at = upload(new_app().run(), "GSPC.csv", index_export(tmp_path))
    at.sidebar.number_input(key="sb_horizon").set_value(20).run()
    at.sidebar.number_input(key="sb_paths").set_value(4).run()
    assert not at.exception and not at.error, messages(at.error)
    assert "calendar XNYS (inferred)" in at.markdown[0].value
    assert "Calendar **XNYS** inferred from the bar times" in messages(at.caption)
    assert "weekday NYSE holidays in the history have no bar" in messages(at.caption)
    at.button(key="run_forecast").click().run()
    assert not at.exception and not at.error, messages(at.error)
    stamps = pd.to_datetime(at.dataframe[0].value["timestamp"])
    days = set(stamps.dt.strftime("%Y-%m-%d"))
    assert "2019-01-01" not in days and "2019-01-21" not in days and "2019-01-02" in days
    prov = at.json[0].value
    prov = json.loads(prov) if isinstance(prov, str) else prov
    assert prov["data"]["calendar"] == "XNYS" and prov["data"]["calendar_inferred"] is True
    assert "holidays" in prov["data"]["calendar_evidence"]
    # nothing ambiguous here (the Risk panel's flags of 4 paths too few for an ES are not about the calendar)
    assert not [w.value for w in at.warning if "ES rests on" not in w.value]

    at.sidebar.selectbox(key="sb_file_cal").set_value("24/7").run()  # the override
    assert "calendar 24/7" in at.markdown[0].value and "(inferred)" not in at.markdown[0].value


def test_a_history_whose_calendar_cannot_be_told_warns_beside_the_chart(new_app, tmp_path):
    frame = pd.read_csv(nyse_daily_export(tmp_path / "X.csv", start="2016-01-04", end="2018-12-31"))
    days = pd.DatetimeIndex(frame["Date"])
    holidays = pd.bdate_range(days[0], days[-1]).difference(days)[::2]  # bars on half the holidays
    extra = frame.iloc[days.searchsorted(holidays) - 1].copy()  # the day before's prices: no jumps
    extra["Date"] = holidays.strftime("%Y-%m-%d")
    data = pd.concat([frame, extra]).sort_values("Date").to_csv(index=False).encode()
    at = upload(new_app().run(), "X.csv", data)
    assert not at.exception
    assert "no calendar" in at.markdown[0].value
    warning = messages(at.warning)
    assert "Future bar times are a guess" in warning and "choose the trading calendar" in warning
    at.sidebar.number_input(key="sb_paths").set_value(4).run()
    at.button(key="run_forecast").click().run()
    assert not at.exception
    assert "Future bar times are a guess" in messages(at.warning)  # beside the fan too
