"""Reading and gating a bars file in a second process while this one imports torch.

A fresh ``kronos forecast`` spends about 1.5 s importing torch, pandas and the model code before it can use
the bars, and about 0.9 s reading and gating them and placing the future bar times (pandas, the exchange
calendar of the whole history). Neither needs the other, so a command started in a fresh process has the
bars read by a child Python of the same interpreter, started first, which hands ``(bars, warning lines,
future bar times)`` back pickled on its stdout (our own child running our own code; nothing from outside is
unpickled). On two cores the reading then costs no wall time.

The child is only an accelerator: when it cannot start, crashes or answers anything unexpected, the bars are
read in this process as they would have been, so every error surfaces exactly as without it. Bad input
found by the child (a ``CliError`` or the library's error, its fixes whole) is raised here unchanged.

    python -m kronos_studio.cli.bars_process '{"file": ..., "timezone": ..., ...}'   (the child's side)
"""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

from kronos.errors import UserError
from kronos.threads import usable_cores

from .common import CliError, quality_gate, read_bars


def _read_and_gate(request: dict):
    bars = read_bars(request["file"], request["timezone"], request["calendar"], request["symbol"],
                     request.get("exchange"))
    return quality_gate(bars, request["fixes"])


def _future(bars, horizon: int | None):
    """``bars.future_timestamps(horizon)``, the times a forecast of the bars' last bar is placed at
    (``kronos_studio.forecasting.calendar_future_timestamps``), or None: the parent then places them
    itself and reports any problem as always."""
    if not horizon:
        return None
    try:
        return bars.future_timestamps(horizon)
    except Exception:
        return None


# Past this size the bars' trip through the pipe (pickled, then unpickled: two more copies in memory)
# costs a sizeable part of the ~1.5 s it hides, so such a file is read here.
MAX_CHILD_FILE_BYTES = 256 * 2**20


def worth_a_child(file) -> bool:
    """A second process pays only while this one still has torch to import, a second core to do it on,
    and a file small enough to hand back cheaply."""
    try:
        small = os.path.getsize(file) <= MAX_CHILD_FILE_BYTES
    except OSError:  # no such file: read here, where the error is reported as always
        return False
    return small and "torch" not in sys.modules and usable_cores().count >= 2


class GatedBars:
    """``(bars, warning lines)`` of one file, read by a child process when ``in_child`` and in this process
    otherwise (or when the child fails). ``result()`` waits for them; ``close()`` stops an unread child.
    After ``result()``, ``future`` holds the ``horizon`` bar times after the last bar when the child placed
    them, else None."""

    def __init__(self, file: str, timezone: str | None, calendar: str | None, symbol: str | None,
                 fixes: list[str], in_child: bool | None = None, horizon: int | None = None,
                 exchange: str | None = None):
        self._request = {"file": str(file), "timezone": timezone, "calendar": calendar, "symbol": symbol,
                         "exchange": exchange, "fixes": list(fixes), "horizon": horizon}
        self._child = None
        self.future = None
        if worth_a_child(file) if in_child is None else in_child:
            try:
                # A session of its own: a Ctrl-C reaches this process only, which then stops the child
                # (close) instead of both printing an interruption.
                self._child = subprocess.Popen([sys.executable, "-m", __name__, json.dumps(self._request)],
                                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                               start_new_session=True)
            except OSError:
                self._child = None

    @property
    def in_child(self) -> bool:
        return self._child is not None

    def result(self, *modules: str):
        """``(bars, warning lines)``; while a child reads them, this process imports torch and the model code
        (``kronos_studio.forecasting``) and ``modules`` (what the command needs next, e.g. ``arch``)."""
        if self._child is not None:
            import importlib

            for name in ("kronos_studio.forecasting", *modules):
                importlib.import_module(name)
        answer = self._collect()
        if answer is not None:
            kind, value = answer
            if kind == "ok":
                bars, lines, self.future = value
                return bars, lines
            if kind == "error":
                raise value
        return _read_and_gate(self._request)  # no child, or one that failed: read here, errors as usual

    def _collect(self):
        child = self._child
        if child is None:
            return None
        try:
            with child.stdout:
                out = child.stdout.read()  # the child leaves right after its answer (see _child_main)
            return pickle.loads(out) if child.wait() == 0 else None
        except Exception:  # a child that answered something else: read the bars here instead
            return None
        finally:
            self.close()  # a child still running after a failed read is stopped, not left behind

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _child_main(request_json: str) -> int:
    answer_to = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed while reading must not mix into the answer
    try:
        request = json.loads(request_json)
        bars, lines = _read_and_gate(request)
        answer = ("ok", (bars, lines, _future(bars, request["horizon"])))
    except (CliError, UserError) as e:  # bad input: raised in the parent as it is (its fixes travel whole)
        answer = ("error", e.with_traceback(None))
    except Exception:  # the parent reads the file itself and reports what goes wrong as it always does
        return 1
    try:
        answer_to.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
        answer_to.flush()
    except (BrokenPipeError, OSError):  # the parent stopped waiting
        return 1
    return 0


if __name__ == "__main__":
    code = _child_main(sys.argv[1])
    sys.stderr.flush()
    os._exit(code)  # the parent waits for the end of the answer; unloading pandas would only delay it
