"""The user-facing errors' one shape (no dependencies, so any module can raise them): the problem, the
values involved and the fixes as data. The library never writes an entry point's wording; the command line
names a setting as its flag, the app as its control, the HTTP API as its request field (each from its own
table), and ``str(e)`` is the sentence as a Python caller reads it
(a setting named as its keyword argument)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

SETTING = "{setting}"  # where a fix's text names its setting


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
    ``fix`` (the remedies). Raised with one message, it is all problem."""

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
