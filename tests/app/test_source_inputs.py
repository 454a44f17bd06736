"""A data source is one registry entry (data_sources.sources) away from the app: the sidebar and the Screener
draw its inputs by its kind, with no app code naming it."""
from __future__ import annotations

import sys
import textwrap

import pytest

TOY_MODULE = '''
import pandas as pd
from data_sources import Bars

CALLS = []

def fetch(symbol, interval, *, lookback=None, since=None, **_):
    CALLS.append((symbol, interval, lookback))
    times = pd.bdate_range("2023-01-02", periods=300, tz="UTC")[-lookback:]
    close = 100.0 + pd.Series(range(len(times)), dtype=float) % 7
    frame = pd.DataFrame({"timestamp": times, "open": close.to_numpy(), "high": close.to_numpy() + 1,
                          "low": close.to_numpy() - 1, "close": close.to_numpy(), "volume": 1000.0})
    return Bars.from_frame(frame, source="toy", symbol=symbol, interval=interval, timezone="UTC", calendar="24/7")
'''


@pytest.fixture
def toy_source(tmp_path, monkeypatch):
    """A made-up daily source 'toy', typed by symbol, in a module of its own: registered, nothing else edited."""
    from data_sources.sources import SOURCES, SYMBOL_TEXT, Source

    (tmp_path / "toy_app_source.py").write_text(textwrap.dedent(TOY_MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(SOURCES, "toy", Source("toy", "Toy prices", "toy_app_source", ("1d", "1h"), "a toy name",
                                                by_symbol=True, input=SYMBOL_TEXT, symbol_label="Toy name",
                                                examples=("TOYA", "TOYB"), list_label="Toy names"))
    yield
    sys.modules.pop("toy_app_source", None)


def test_a_registered_source_is_offered_by_the_sidebar_and_its_bars_load(new_app, toy_source):
    at = new_app().run()
    box = at.sidebar.selectbox(key="sb_source")
    assert box.options[-1] == "Toy prices"  # as the registry labels it
    box.set_value("toy").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    name = next(t for t in at.sidebar.text_input if t.label == "Toy name")
    assert name.value == "TOYA" and at.sidebar.selectbox(key="sb_interval_toy").options == ["1d", "1h"]
    # never the bars uploader of another kind (the sidebar's other uploader is "Condition on a file")
    assert [u.proto.label for u in at.sidebar.get("file_uploader")] == ["Condition on a file"]
    name.input("TOYZ").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    calls = sys.modules["toy_app_source"].CALLS
    assert calls and calls[-1][:2] == ("TOYZ", "1d")
    assert at.markdown[0].value.startswith("**TOYZ** · 1d · 300 bars")  # all the toy module has


def test_the_screener_screens_a_registered_source_and_opens_a_row_of_it(new_app, toy_source):
    from app_support import screener, sidebar

    at = new_app().run()
    at.sidebar.number_input(key="sb_horizon").set_value(5).run()
    at.number_input(key="sb_paths").set_value(4).run()
    at.switch_page("pages/screener.py").run()
    at.segmented_control(key="scr_kind").set_value("tickers").run()
    at.selectbox(key="scr_source").set_value("toy").run()
    assert at.text_area(key="scr_symbols_toy").value == "TOYA, TOYB"
    at.button(key="run_screener").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    run = at.session_state[screener.RESULT_KEY]
    assert list(run.rows["series"]) == ["TOYA", "TOYB"] and (run.rows["status"] == "ok").all()
    handed, why = screener.forecast_request(run, "TOYB")
    state = sidebar.widget_state(handed)[0]
    assert why is None and state["sb_source"] == "toy" and state["sb_symbol_toy"] == "TOYB"
