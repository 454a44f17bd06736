"""``kronos.errors``: a user error is data (problem, values, fixes naming settings), worded by whoever shows it."""
from __future__ import annotations

import pickle

import pytest

from kronos.errors import (
    BAD_INPUT,
    NOT_FOUND,
    UNAVAILABLE,
    UNREACHABLE,
    Fix,
    InputError,
    Notice,
    UserError,
    finite_or_null,
    first_line,
    json_safe,
    plain_name,
    printable,
    refusal,
    said,
    with_type,
)


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


def test_every_face_tells_a_refusal_from_a_bug_by_one_rule():
    """``refusal``: each library error says its kind (the HTTP API answers each with its status); a plain bad-input
    exception is one too; anything else is a bug, which every face words with its type."""
    from data_sources.errors import SymbolNotFoundError
    from kronos.checkpoints import CheckpointError
    from kronos_studio.desk.ledger import LedgerError

    assert refusal(InputError("x")) == refusal(UserError("x")) == refusal(ValueError("x")) == BAD_INPUT
    assert refusal(OverflowError("x")) == BAD_INPUT
    assert refusal(CheckpointError("x")) == refusal(FileNotFoundError("x")) == NOT_FOUND
    assert refusal(SymbolNotFoundError("x")) == UNAVAILABLE and refusal(LedgerError("x")) == UNREACHABLE
    assert refusal(RuntimeError("x")) is refusal(KeyError("x")) is refusal(TypeError("x")) is None
    assert with_type(RuntimeError(" boom\nthen ")) == "RuntimeError: boom\nthen" and with_type(KeyError()) == "KeyError"
    name = lambda setting, value: f"--{setting}"  # noqa: E731
    assert first_line(InputError("too few\nbars", fix=Fix("lower {setting}", "lookback")), name) == "too few"
    assert first_line(ValueError("bad\nsecond")) == "bad"


def test_text_is_echoed_printable_and_values_as_json_carries_them():
    assert printable("A\nB\ud800\té") == "A\\nB\\ud800\\té"
    assert json_safe({1: (float("nan"), 2.5), "t": b"x", "s": {3}}) == {"1": ["nan", 2.5], "t": "b'x'", "s": [3]}
    assert finite_or_null({"a": [float("inf"), 1.0], "b": (float("nan"),), "c": "x"}) == {"a": [None, 1.0], "b": [None],
                                                                                       "c": "x"}
