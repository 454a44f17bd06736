"""The user-facing errors' one shape (no dependencies, so any module can raise them): the problem, the
values involved and the fixes as data. The library never writes an entry point's wording; the command line
names a setting as its flag, the app as its control, the HTTP API as its request field (each from its own
table), and ``str(e)`` is the sentence as a Python caller reads it
(a setting named as its keyword argument). The pieces every face words an error with are here too: its sentence
(``said``), its first line, a bug's words with its type, text made printable, values made JSON."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

SETTING = "{setting}"  # where a fix's text names its setting

# What kind of refusal an error is (``UserError.refusal``): each face answers each kind its own way (the HTTP API
# as a status: 422, 404, 400, 503, 413).
BAD_INPUT = "bad input"  # bars or settings that cannot be used as given
NOT_FOUND = "not found"  # a model, a checkpoint or a file that is not there
UNAVAILABLE = "unavailable"  # a data source that cannot deliver
UNREACHABLE = "unreachable"  # a store (the ledger) that cannot be reached
TOO_LARGE = "too large"  # a request past one of the desk's limits (kronos_studio.desk.limits)


@dataclass(frozen=True)
class Fix:
    """One remedy: ``text`` in words, with ``{setting}`` where the setting is named (e.g. "lower {setting} or
    load more bars"); ``value`` is what to set it to, when one is known (a calendar code, ``False`` for a
    switch to turn off)."""

    text: str
    setting: str | None = None
    value: object = None

    def worded(self, name: Callable[[str, object], str] | None = None) -> str:
        """The text with the setting named by ``name(setting, value)`` (as keyword arguments by default)."""
        if self.setting is None:
            return self.text
        return self.text.replace(SETTING, (name or plain_name)(self.setting, self.value))


def plain_name(setting: str, value: object = None) -> str:
    """A setting as the library's own callers name it, a keyword argument: 'lookback', "calendar='XNYS'",
    'resume=False'."""
    return setting if value is None else f"{setting}={value!r}"


def worded(problem: str, fixes: tuple[Fix, ...], name: Callable[[str, object], str] | None = None) -> str:
    """'problem: fix; other fix', each fix naming its setting by ``name``."""
    remedies = "; ".join(f.worded(name) for f in fixes)
    return f"{problem}: {remedies}" if remedies else problem


@dataclass(frozen=True)
class Notice:
    """A warning or a note as data (what the user should know, not a refusal): ``kind`` 'warning' or 'note'."""

    problem: str
    fix: tuple[Fix, ...] = ()
    kind: str = "warning"
    values: dict = field(default_factory=dict)

    def worded(self, name: Callable[[str, object], str] | None = None) -> str:
        return worded(self.problem, self.fix, name)

    def line(self, name: Callable[[str, object], str] | None = None) -> str:
        """'kronos: warning: ...', as the command line prints a notice and the HTTP API and MCP tools list it, each
        fix naming its setting by ``name`` (a flag, a request field)."""
        return f"kronos: {self.kind}: {self.worded(name)}"


class UserError(Exception):
    """A problem the user can fix: ``problem`` (what is wrong), ``values`` (the numbers and names involved),
    ``fix`` (the remedies). Raised with one message, it is all problem. ``refusal``: its kind (``BAD_INPUT``...)."""

    refusal = BAD_INPUT

    def __init__(self, problem: str, values: dict | None = None, fix: Fix | tuple[Fix, ...] | list[Fix] = ()):
        self.problem = problem
        self.values = dict(values or {})
        self.fix = (fix,) if isinstance(fix, Fix) else tuple(fix)
        super().__init__(self.worded())

    def worded(self, name: Callable[[str, object], str] | None = None) -> str:
        """The sentence, each fix naming its setting by ``name(setting, value)`` (as keyword arguments by default)."""
        return worded(self.problem, self.fix, name)

    def __reduce__(self):  # pickled whole (a worker process's error), whatever a subclass's __init__ takes
        return _restore, (type(self), self.__dict__)


def _restore(cls, state):
    e = cls.__new__(cls)
    e.__dict__.update(state)
    Exception.__init__(e, e.worded())
    return e


def said(e: BaseException, name: Callable[[str, object], str] | None = None) -> str:
    """``e``'s sentence, stripped: a library error's with each fix naming its setting by ``name``, anything else as
    it reads, its type's name when it says nothing. Every face's one line starts here (the command line keeps its
    first line, the HTTP API escapes its line breaks)."""
    text = (e.worded(name) if isinstance(e, UserError) else str(e)).strip()
    return text or type(e).__name__


class InputError(UserError, ValueError):
    """Bars or settings that cannot be forecast, with what is wrong and how to fix it."""


# The exceptions a library call raises for a refusal rather than a bug: the library's own and the plain ones it
# raises for bad input (a file not there, a value out of range, a date past what pandas keeps).
REFUSED = (UserError, FileNotFoundError, ValueError, OverflowError)


def refusal(e: BaseException) -> str | None:
    """The kind of refusal ``e`` is (``BAD_INPUT``, ``NOT_FOUND``, ...), None for anything else: a bug. Every face
    tells the two apart by this."""
    if isinstance(e, UserError):
        return e.refusal
    if isinstance(e, FileNotFoundError):
        return NOT_FOUND
    return BAD_INPUT if isinstance(e, REFUSED) else None


def first_line(e: BaseException, name: Callable[[str, object], str] | None = None) -> str:
    """``said(e, name)``'s first line: one line for a face that prints a refusal (the command line, the app)."""
    return said(e, name).splitlines()[0]


def with_type(e: BaseException, name: Callable[[str, object], str] | None = None) -> str:
    """'RuntimeError: boom': an exception that is no refusal (a bug) said with its type's name, as every face words
    one (the command line and the HTTP API after 'internal error: ')."""
    text = said(e, name)
    return text if text == type(e).__name__ else f"{type(e).__name__}: {text}"


def printable(text: str) -> str:
    """``text`` with its control characters and unpaired surrogates written as escapes ('\\n', '\\ud800'): what a
    client sent (a field name, an id), echoed in one line."""
    return "".join(ch if ch.isprintable() and not "\ud800" <= ch <= "\udfff" else ascii(ch)[1:-1] for ch in text)


def json_safe(value):
    """``value`` (an error's values) as JSON can carry it: containers as lists and dicts, non-finite floats and
    anything else not JSON (a timestamp, a numpy number) as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    try:
        number = float(value)  # a numpy scalar
    except (TypeError, ValueError):
        return str(value)
    return json_safe(number) if not isinstance(value, (bytes, bytearray)) else str(value)


def finite_or_null(value):
    """``value`` with every NaN or infinity as None (JSON's null: a number that could not be computed), else as is."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value
