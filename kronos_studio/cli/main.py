"""The ``kronos`` command. Bad input exits non-zero with a one-line message, never a traceback.

Each subcommand lives in its own module (``forecast``, ``train``, ``lora``), imported only when the command
line names it (``commands.COMMANDS`` lists them), and imports torch and the model only when it runs, so
``kronos --help`` answers at once."""
from __future__ import annotations

import argparse
import atexit
import os
import platform
import signal
import sys
import threading
import time
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

from kronos.errors import refusal, with_type
from kronos.threads import configure, thread_budget, thread_setting

from .commands import COMMANDS, named_command
from .common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, CliError
from .errors import cli_line

ALL = "all"  # build_parser's default: every subcommand whole


def build_parser(whole: str | None = ALL) -> argparse.ArgumentParser:
    """The ``kronos`` parser. ``whole``: the subcommand built with all its options (``ALL``: every one, as the
    tests and the docs read it); the others are listed by their name and help alone (``commands.COMMANDS``),
    so ``kronos --help`` and ``kronos forecast ...`` import no other subcommand's modules and libraries."""
    parser = argparse.ArgumentParser(prog="kronos", description="Kronos Studio command line")
    parser.add_argument("--version", action=VersionAction,
                        help="the versions, and the CPU threads a computation gets on this machine, then exit")
    sub = parser.add_subparsers(dest="command", required=True)
    wanted = None if whole == ALL else COMMANDS[whole].modules[0] if whole in COMMANDS else ""
    built: set[str] = set()
    for name, command in COMMANDS.items():
        if wanted not in (None, command.modules[0]):
            sub.add_parser(name, help=command.help)
        elif command.modules[0] not in built:  # a module adds its subcommand once
            built.add(command.modules[0])
            # Imported here, not at the top: a Ctrl-C while they load is then one of main's, answered in one
            # line, not a traceback.
            first, *rest = (import_module(f"{__package__}.{m}") for m in command.modules)
            nested = first.register(sub)
            for module in rest:  # ``kronos train lora``, ``kronos train ensemble``
                module.register(nested)
    return parser


class VersionAction(argparse.Action):
    """``kronos --version``: ``version_text()``, worked out only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text() -> str:
    """The studio's, torch's and Python's versions, and the thread budget (``kronos.threads``), without
    importing torch."""
    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    budget = thread_budget()
    why = f"{budget.cores} core{'' if budget.cores == 1 else 's'}, limited by {budget.limited_by}"
    if budget.setting is None:
        threads = f"{budget.threads()} per computation alone ({why}), shared with the other kronos computations " \
                  "running on this machine"
    else:
        asked = "--threads" if budget.asked_by == "threads" else budget.asked_by
        threads = f"{budget.threads()} per computation ({asked} {budget.setting}; {why})"
    return (f"kronos-studio {installed('kronos-studio')} (torch {installed('torch')}, Python "
            f"{platform.python_version()})\nthreads: {threads}")


def main(argv: list[str] | None = None) -> int:
    previous = None
    handler = held_while_torch_loads()
    try:
        argv = sys.argv[1:] if argv is None else argv
        args = build_parser(named_command(argv)).parse_args(argv)
        previous = configure(getattr(args, "threads", None))
        thread_setting()  # a bad KRONOS_STUDIO_THREADS is refused now, not after the model loads
        return args.func(args)
    except KeyboardInterrupt:
        return interrupted()
    except Exception as e:
        if isinstance(e, CliError) or refusal(e):  # bad input, said in one line: a library error's fixes as flags
            print(f"kronos: error: {cli_line(e)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if os.environ.get("KRONOS_DEBUG"):  # a bug, not bad input: still one line, with a way to get the details
            raise
        print(f"kronos: internal error: {with_type(e).splitlines()[0]} (set KRONOS_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        configure(previous)  # main called again in this process (tests) starts from the same setting
        if handler is not None:
            signal.signal(signal.SIGINT, handler)


def held_while_torch_loads():
    """Make Ctrl-C wait while torch is being imported. A KeyboardInterrupt raised inside torch's C++
    start-up (a Python callback under pybind11) aborts the whole process ("terminate called ...", a core
    dump). Held until the import is done, it is then an ordinary interrupt: one line, exit 130. Returns the
    handler it replaced (None: nothing installed, outside the main thread or where SIGINT is not Python's)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return None
    return signal.signal(signal.SIGINT, _interrupt_unless_torch_loads)


def _torch_loading() -> bool:
    # importlib marks a module's spec ``_initializing`` while its code runs
    return any(getattr(getattr(m, "__spec__", None), "_initializing", False)
               for name, m in list(sys.modules.items()) if name.split(".")[0] == "torch")


def _interrupt_unless_torch_loads(signum, frame):
    if not _torch_loading():
        raise KeyboardInterrupt

    def again_once_loaded():
        while _torch_loading():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=again_once_loaded, name="interrupt after torch loads", daemon=True).start()


def interrupted() -> int:
    print("kronos: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def run() -> None:
    """The ``kronos`` console script: ``main()``, then leave without tearing the interpreter down.

    Unloading torch's thousands of modules and objects at exit costs about 0.5 s, a sixth of a whole
    ``kronos forecast``, and does nothing for the user: the exit handlers still run (temporary folders,
    Ray, logging), then the standard streams are flushed and the process ends. Every file a command
    writes is closed by then. Threads of ours still working are waited for first; where the handlers
    cannot be run, the process exits the ordinary way.

    A Ctrl-C after the command's work is done (while the exit handlers run) ends the process at once with
    the command's own code: what it wrote is complete, and the signal must not surface as a traceback from
    a handler."""
    try:
        code = main()
    except KeyboardInterrupt:  # in the instant between main's handler and here
        code = interrupted()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *_: _leave(code))
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    working = _working_threads()
    if compiling(working):  # a process ending mid-compile waits for it (kronos.accel.static_decode): say so, not hang
        print("kronos: waiting for the decode steps compiling in the background to finish (up to a minute); "
              "Ctrl-C again quits now", file=sys.stderr, flush=True)
    while working:
        # Joined here in short slices rather than by the interpreter at exit: its join blocks on a lock, and a
        # Ctrl-C landing just before it blocks is then not seen until the thread ends (a minute of compile).
        for thread in working:
            thread.join(0.1)
        working = _working_threads()
    if run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()
    _leave(code)


def _working_threads() -> list[threading.Thread]:
    """Our threads the process must not end under: alive, not daemon, not the main thread."""
    return [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]


def compiling(threads: list[threading.Thread]) -> bool:
    """Whether any of ``threads`` is a background build of compiled decode steps. Only a process that
    imported the decoders can have one, so this imports nothing (torch stays unloaded where it was)."""
    static_decode = sys.modules.get("kronos.accel.static_decode")
    return static_decode is not None and static_decode.building(threads)


def _leave(code: int) -> None:
    """End the process now with ``code``, after flushing what the command printed (``os._exit`` does not)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``kronos ... | head``): nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
