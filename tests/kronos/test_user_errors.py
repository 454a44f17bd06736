"""``kronos.errors``: a user error is data (problem, values, fixes naming settings), worded by whoever shows it."""
from __future__ import annotations

import pickle

import pytest

from kronos.errors import Fix, InputError, Notice, UserError, plain_name, said


def test_an_error_keeps_its_problem_values_and_fixes_and_reads_as_a_sentence():
    e = InputError("lookback is 500 bars but only 90 are available", {"lookback": 500, "bars": 90},
                   Fix("lower {setting} or load more history", "lookback"))
    assert isinstance(e, ValueError) and isinstance(e, UserError)
    assert e.problem == "lookback is 500 bars but only 90 are available" and e.values == {"lookback": 500, "bars": 90}
    assert e.fix == (Fix("lower {setting} or load more history", "lookback"),)
    assert str(e) == "lookback is 500 bars but only 90 are available: lower lookback or load more history"
    assert e.worded(lambda setting, value: f"<{setting}>") == (
        "lookback is 500 bars but only 90 are available: lower <lookback> or load more history")


def test_a_setting_is_named_as_a_python_caller_passes_it():
    assert plain_name("lookback") == "lookback"
    assert plain_name("calendar", "XNYS") == "calendar='XNYS'"
    assert plain_name("resume", False) == "resume=False"
    assert Fix("no setting here").worded(lambda *_: pytest.fail("not asked")) == "no setting here"


def test_an_error_of_one_message_is_all_problem():
    e = InputError("need at least 2 bars to forecast, got 1")
    assert str(e) == e.problem == "need at least 2 bars to forecast, got 1" and e.fix == () and e.values == {}


def test_an_error_crosses_a_process_whole():
    """A worker process's error is pickled: its fixes must survive, whatever a subclass's __init__ takes."""
    from data_sources.errors import CHOOSE_SYMBOL, MultipleSymbolsError

    e = MultipleSymbolsError("the file holds 2 instruments", ["AAA", "BBB"], CHOOSE_SYMBOL)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is MultipleSymbolsError and back.symbols == ["AAA", "BBB"] and back.fix == (CHOOSE_SYMBOL,)
    assert str(back) == str(e) == "the file holds 2 instruments: choose one with symbol"


def test_every_face_words_an_error_and_a_notice_from_one_home():
    """``said`` and ``Notice.line``: the command line, the HTTP API and the app start from the same sentence, each
    naming settings its own way; an exception that says nothing is named by its type."""
    name = lambda setting, value: f"--{setting}"  # noqa: E731
    e = InputError("  too few bars", fix=Fix("lower {setting}", "lookback"))
    assert said(e, name) == "too few bars: lower --lookback"
    assert said(ValueError(" bad\nsecond line ")) == "bad\nsecond line"
    assert said(KeyError()) == "KeyError"
    notice = Notice("cut-offs inside the training period", (Fix("turn on {setting}", "include"),), kind="note")
    assert notice.line(name) == "kronos: note: cut-offs inside the training period: turn on --include"
