"""The bars of ``kronos forecast`` read in a second process (``kronos_studio.cli.bars_process``): the same
bars, notes and one-line errors as reading them here, and a failed child never changes the outcome."""
from __future__ import annotations

import dataclasses
import sys

import pandas as pd
import pytest
from testkit import random_bars

from kronos_studio.bars_input import BarsInputError
from kronos_studio.cli.bars_process import GatedBars, worth_a_child
from kronos_studio.cli.common import quality_gate, read_bars


@pytest.fixture()
def split_daily_csv(tmp_path):
    """Daily bars with no time zone and a 2-for-1 split: the gate has a note, warnings and a fix to offer."""
    frame = random_bars(300, freq="B")
    frame.loc[200:, ["open", "high", "low", "close"]] /= 2
    path = tmp_path / "daily.csv"
    frame.to_csv(path, index=False)
    return path


def _here(path, fixes=()):
    return quality_gate(read_bars(str(path)), list(fixes))


def test_a_child_reads_the_same_bars_and_lines_as_this_process(split_daily_csv):
    with GatedBars(split_daily_csv, None, None, None, [], in_child=True) as gated:
        assert gated.in_child
        bars, lines = gated.result()
    here, here_lines = _here(split_daily_csv)
    assert lines == here_lines and any("split" in line for line in lines)
    for field in dataclasses.fields(here):  # every field the provenance, the ledger and the notes read
        if field.name == "fetched_at":  # when each read happened
            assert bars.fetched_at <= here.fetched_at
            continue
        mine, theirs = getattr(bars, field.name), getattr(here, field.name)
        if isinstance(theirs, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs)
        else:
            assert mine == theirs, field.name
    assert bars.calendar_inference is not None and bars.timezone_assumed  # inferred, and assumed: both kept
    assert gated.future is None  # not asked for
    with GatedBars(split_daily_csv, None, None, None, [], in_child=True, horizon=12) as gated:
        gated.result()
    pd.testing.assert_index_equal(gated.future, here.future_timestamps(12))  # where the forecast places them
    assert len(gated.future) == 12 and gated.future[0] > here.timestamps.max()
    with GatedBars(split_daily_csv, None, None, None, ["adjust_splits"], in_child=True) as gated:
        fixed, _ = gated.result()
    pd.testing.assert_frame_equal(fixed.frame, _here(split_daily_csv, ["adjust_splits"])[0].frame)
    assert not fixed.frame.equals(bars.frame)  # the fix reached the child


def test_a_childs_one_line_error_is_raised_here_unchanged(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(BarsInputError) as here:
        _here(bad)
    with GatedBars(bad, None, None, None, [], in_child=True) as gated, pytest.raises(BarsInputError) as there:
        gated.result()
    assert str(there.value) == str(here.value) and there.value.fix == here.value.fix


def test_a_child_that_fails_leaves_the_reading_to_this_process(split_daily_csv, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # starts, answers nothing, exits 1
    with GatedBars(split_daily_csv, None, None, None, [], in_child=True) as gated:
        assert gated.in_child
        bars, lines = gated.result()
    pd.testing.assert_frame_equal(bars.frame, _here(split_daily_csv)[0].frame)
    assert gated.future is None  # the forecast places them itself
    monkeypatch.setattr(sys, "executable", "/no/such/python")  # cannot start at all
    with GatedBars(split_daily_csv, None, None, None, [], in_child=True, horizon=5) as gated:
        assert not gated.in_child
        assert gated.result()[1] == lines
    assert gated.future is None


def test_only_a_fresh_process_with_a_small_file_and_two_cores_reads_in_a_child(split_daily_csv, monkeypatch):
    import torch  # noqa: F401  (the test process has it: nothing left to overlap the reading with)

    assert not worth_a_child(split_daily_csv)
    monkeypatch.delitem(sys.modules, "torch")  # as in a fresh `kronos forecast`
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert worth_a_child(split_daily_csv)
    assert not worth_a_child(split_daily_csv.parent / "missing.csv")
    monkeypatch.setattr("kronos_studio.cli.bars_process.MAX_CHILD_FILE_BYTES", 100)
    assert not worth_a_child(split_daily_csv)
    monkeypatch.undo()
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    monkeypatch.delitem(sys.modules, "torch")
    assert not worth_a_child(split_daily_csv)


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT as a terminal sends them: POSIX")
def test_ctrl_c_while_the_child_reads_is_one_line_and_no_traceback(random_model, split_daily_csv, tmp_path):
    """A terminal's Ctrl-C goes to the whole foreground group: the child, in a session of its own, is not
    in it, so only the command answers (and stops the child)."""
    import os
    import signal
    import subprocess
    import time

    folder = random_model("tiny").folder
    # A process started with SIGINT ignored keeps ignoring it (Python installs no handler then), and a suite
    # started in the background (`pytest &`) runs so: the command starts as from a terminal, with SIGINT
    # handled (a handled signal is reset to its default by exec, an ignored one is not).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        command = subprocess.Popen([sys.executable, "-m", "kronos_studio.cli.main", "forecast", str(split_daily_csv),
                                    "--model", str(folder), "--horizon", "3", "--paths", "2", "--no-ledger",
                                    "--out", str(tmp_path / "q.csv")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    finally:
        if inherited is not None:  # None: set outside Python, and not restorable from it
            signal.signal(signal.SIGINT, inherited)
    time.sleep(0.6)  # past the argument parsing, inside the imports (torch alone takes ~1 s)
    os.killpg(command.pid, signal.SIGINT)
    _, err = command.communicate(timeout=120)
    assert command.returncode == 130 and "kronos: interrupted" in err, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
