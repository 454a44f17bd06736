"""How a field of a use case's options is offered to a person and which values it accepts, without torch, numpy
or pandas: ``Knob`` (the CLI's option, the HTTP request's field, the MCP tool's argument, the app's widget are drawn
from it), ``Bounds`` (one check for every face, and the HTTP and MCP schemas' constraints) and the functions that read
them off an options dataclass. Like ``kronos.errors`` it imports nothing but that module, so every layer may use it:
``data_sources.requests.BarsRequest`` is knob'd as ``ForecastSettings`` is."""
from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields

from .errors import Fix, InputError


@dataclass(frozen=True)
class Knob:
    """How a field of a use case's options (``ForecastSettings``' sampling knobs, the retrain's
    ``RetrainSettings``, ...) is offered to a person, read by every entry point so that a new option is a field
    with its ``Knob`` and the code that uses it, nothing else: the CLI makes an option of it (a bool that
    defaults on becomes ``no-<name>``), the HTTP API a request field, the app a widget (a toggle for a bool, a
    slider for a float, a number box for an int; ``more``: folded away as rarely changed). ``low``/``high``
    bound the app's widget only. ``setting``: the name every face gives it where the field's own is not it (the
    flag, the request field, the setting a ``Fix`` names). The values it accepts are its field's ``Bounds``
    (``knob(default, Bounds(...), ...)``), which the options class checks (``check_bounds``)."""

    label: str
    help: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    more: bool = False
    setting: str | None = None

    def name(self, field_name: str) -> str:
        """The setting this knob of field ``field_name`` is offered as."""
        return self.setting or field_name


@dataclass(frozen=True)
class Bounds:
    """The values a field of a use case's options accepts (with its ``Knob``, or alone): one rule, checked by the
    options class for every caller (``check_bounds``), from which the HTTP API's and the MCP tools' schemas are
    generated, so that every face refuses the same values in the same words. Numbers (each item's, for a tuple):
    ``ge``/``gt``/``le``/``lt``; a word: one of ``choices`` (when given). A tuple: at least ``min_items``, at most ``max_items``, each among ``choices``
    (when given); ``unique``: a set, a member given twice refused, never silently dropped (numbers equal to
    ``SAME_DIGITS`` significant digits are one member: they would name one column). Checked in linear time,
    the length first, so that a huge list is refused before its items are looked at, and never echoed back.
    ``what``: the words a refusal names the values by (default: the setting); ``unit``: of a count ('bar')."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique: bool = False
    choices: tuple | None = None
    what: str | None = None
    unit: str | None = None

    def rule(self) -> str:
        """The numbers' rule in words: 'at least 1 bar', 'a whole number from 0 to 9', 'in (0, 1]'."""
        lo, hi = (self.ge, "[") if self.ge is not None else (self.gt, "(")
        top, end = (self.le, "]") if self.le is not None else (self.lt, ")")
        if lo is not None and top is not None:
            if self.ge is not None and self.le is not None and isinstance(lo, int) and isinstance(top, int):
                return f"a whole number from {lo} to {top}"
            if hi == "(" and end == ")":
                return f"between {lo} and {top} (exclusive)"
            return f"in {hi}{lo}, {top}{end}"
        if lo is not None:
            unit = f" {self.unit}{'' if lo == 1 else 's'}" if self.unit else ""
            return f"at least {lo}{unit}" if hi == "[" else f"above {lo}"
        if top is not None:
            return f"at most {top}" if end == "]" else f"below {top}"
        return ""

    def holds(self, x) -> bool:
        """Whether number ``x`` keeps the numbers' rule (NaN never does)."""
        try:
            return ((self.ge is None or x >= self.ge) and (self.gt is None or x > self.gt)
                    and (self.le is None or x <= self.le) and (self.lt is None or x < self.lt))
        except TypeError:
            return False


def _nearest_allowed(rule: Bounds, value):
    try:
        if rule.ge is not None and value < rule.ge:
            return rule.ge
        if rule.le is not None and value > rule.le:
            return rule.le
    except TypeError:
        pass
    return None


def _must(rule: Bounds) -> str:
    return ("lie " if rule.rule().startswith("between") else "be ") + rule.rule()


def knob(default, bounds: Bounds | None = None, **how):
    """A field with its ``Knob`` (``how``) and, when given, the ``Bounds`` of the values it accepts."""
    return field(default=default, metadata={"knob": Knob(**how), **({"bounds": bounds} if bounds else {})})


def bounded(default=MISSING, **bounds):
    """A field without a ``Knob`` whose values are bounded (``Bounds(**bounds)``): a forecast's horizon, its seed."""
    return field(default=default, metadata={"bounds": Bounds(**bounds)})


def bounds(cls) -> dict[str, tuple[str, Bounds]]:
    """field name -> (its setting, its ``Bounds``) of every bounded field of the options dataclass ``cls``."""
    return {f.name: (f.metadata["knob"].name(f.name) if "knob" in f.metadata else f.name, f.metadata["bounds"])
            for f in fields(cls) if "bounds" in f.metadata}


def check_bounds(options, error=InputError) -> None:
    """Refuse (``error``, an ``InputError`` by default) a field of ``options`` outside its ``Bounds``: the one rule
    its class's ``__post_init__`` applies, and the HTTP and MCP schemas validate with (``check_value``)."""
    for name, (setting, rule) in bounds(type(options)).items():
        check_value(setting, rule, getattr(options, name), error)


def check_value(setting: str, rule: Bounds, value, error=InputError):
    """``value`` of ``setting`` when it keeps ``rule``; ``error`` naming the problem and the fix otherwise (a tuple's
    length first, then its items, then repeats: linear time, and a list is echoed only once within its bound).
    None is a setting left to its default, and passes."""
    if value is None or isinstance(value, bool):
        return value
    what = rule.what or setting
    if not isinstance(value, (tuple, list)):
        if rule.choices is not None and value not in rule.choices:  # one word of a few (an engine, a proxy)
            choices = ", ".join(map(str, rule.choices))
            raise error(f"{what} must be one of {choices}, got {value!r}", {setting: value},
                        Fix(f"use one of {choices} ({{setting}})", setting))
        if rule.holds(value):
            return value
        words = rule.rule()
        nearest = _nearest_allowed(rule, value)  # the fix's value: the closed bound the value fell past, if any
        fix = Fix(f"use at least {rule.ge} ({{setting}})", setting, rule.ge) if words.startswith("at least") else \
            Fix(f"use {words if words.startswith('a ') else 'a value ' + words} ({{setting}})", setting, nearest)
        raise error(f"{what} must {_must(rule)}, got {value}", {setting: value}, fix)
    n = len(value)
    if rule.max_items is not None and n > rule.max_items:
        raise error(f"{n} {what} given, at most {rule.max_items}", {setting: n, "most": rule.max_items},
                    Fix(f"give at most {rule.max_items} in {{setting}}", setting))
    if rule.min_items is not None and n < rule.min_items:
        raise error(f"{what}: {n} given, at least {rule.min_items} needed", {setting: n},
                    Fix(f"give at least {rule.min_items} in {{setting}}", setting))
    if rule.choices is not None and any(v not in rule.choices for v in value):
        choices = ", ".join(map(str, rule.choices))
        raise error(f"{what} must be among {choices}, got {list(value)}", {setting: list(value)},
                    Fix(f"give {{setting}} among {choices}", setting))
    if rule.rule() and not all(rule.holds(v) for v in value):
        raise error(f"{what} must {_must(rule)}, got {list(value)}", {setting: list(value)},
                    Fix(f"give each of {{setting}} {rule.rule()}", setting))
    if rule.unique:
        seen = {}
        for v in value:
            key = same_key(v)
            if key in seen:
                again = "" if seen[key] == v else f" (as {seen[key]!r}: the same to {SAME_DIGITS} significant digits)"
                raise error(f"{v!r} is named twice in {setting}{again}", {setting: n, "repeated": v},
                            Fix("name each once in {setting}", setting))
            seen[key] = v
    return value


SAME_DIGITS = 6  # two numbers of a set that agree to this many significant digits are one (they name one column)


def same_key(value):
    """What makes two members of a set the same: a number to ``SAME_DIGITS`` significant digits (a level names its
    column so: 0.95 and 0.9500001 would be one column), anything else itself."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, f".{SAME_DIGITS}g")
    return value


def knob_kind(cls, name: str) -> type:
    """The type of the values field ``name`` of options dataclass ``cls`` takes, ``None`` left out: ``int`` for
    ``int | None``, the item type of ``tuple[int, ...]``. What a face's generated option parses and its widget
    shows where the default (None: left to the use case) says nothing."""
    hint = typing.get_type_hints(cls)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0]
    return hint
