"""The app's widgets for a use case's options: one per field with a ``kronos.settings.Knob`` of its options
dataclass (the sidebar's sampling knobs of ``ForecastSettings``, the Fine-tune page's retrain settings of
``RetrainSettings``, the Risk panel's and the risk backtest's ``RiskSettings``), so a field added with its ``Knob``
is a widget with no edit here."""
from __future__ import annotations

from kronos.errors import Fix, InputError
from kronos.settings import ForecastSettings, bounds, knob_kind, knobs

from .source_inputs import first_value


def knob_widget(where, key: str, value, knob, setting: str | None = None, handed: bool = True, kind=None,
                choices: tuple | None = None):
    """The widget a knob's type asks for, keyed ``key`` and starting at ``value``: a toggle (bool), a slider
    (float), a number box (int); several words (a tuple of text, the choices its default holds) a multiselect,
    several numbers (a tuple of them) a text box of comma-separated numbers (``setting``: what a message about
    one names). ``handed``: another page may set the widget's value (the Screener opening a row sets the
    sidebar's), so its first value is put in session state (``first_value``); otherwise it is the widget's own
    default, which the browser also starts from when the page above the widget changes and the browser draws it
    anew (a first value kept only in session state came back from it empty then). A default of None (left to the use
    case) is an empty box of the field's ``kind``, which gives None while left empty; a word among ``choices`` (its
    ``Bounds``') a select box of them."""
    def start(v):
        return {"key": first_value(key, v)} if handed else {"key": key, "value": v}

    if isinstance(value, tuple) and value and isinstance(value[0], str):
        chosen = start(list(value))
        if not handed:
            chosen["default"] = chosen.pop("value")
        return tuple(where.multiselect(knob.label, list(value), help=knob.help, **chosen))
    if isinstance(value, tuple) and value:
        text = where.text_input(knob.label, help=f"{knob.help} (comma-separated)",
                                **start(", ".join(f"{v:g}" for v in value)))
        return numbers(text, type(value[0]), knob.label, setting)
    if isinstance(value, str) and choices:
        chosen = start(value)
        if not handed:
            chosen["index"] = list(choices).index(chosen.pop("value"))
        return where.selectbox(knob.label, list(choices), help=knob.help, **chosen)
    if isinstance(value, bool):
        return bool(where.toggle(knob.label, help=knob.help, **start(value)))
    if isinstance(value, float):
        return float(where.slider(knob.label, float(knob.low), float(knob.high), step=knob.step, help=knob.help,
                                  **start(value)))
    if value is None and kind is str:
        return where.text_input(knob.label, help=knob.help, **start(None)) or None
    low, high = (None if bound is None else (kind or int)(bound) for bound in (knob.low, knob.high))
    given = where.number_input(knob.label, low, high, help=knob.help, **start(value))
    return None if given is None else (kind or int)(given)


def numbers(text: str, kind, label: str, setting: str | None) -> tuple:
    """The comma-separated numbers of ``text``; an ``InputError`` naming ``setting`` when one is not a number."""
    try:
        return tuple(kind(x.strip()) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"{label}: '{text}' is not a list of numbers", {setting or label: text},
                         Fix("give {setting} as comma-separated numbers such as 0.95, 0.99", setting)) from None


def knob_controls(where, cls, prefix: str, more: str | None = None, only: tuple[str, ...] | None = None,
                  handed: bool = True) -> dict:
    """A widget per field with a ``Knob`` of the options dataclass ``cls`` (None: ``ForecastSettings``' sampling
    knobs; ``only``: of these fields alone), keyed ``prefix`` + the knob's setting, in ``where``; with ``more``, the
    knobs marked ``more`` folded away in an expander of that title; ``handed``: as ``knob_widget``'s. Field name
    -> value: ``cls``' keyword arguments."""
    cls = cls or ForecastSettings
    shown = {name: spec for name, spec in knobs(cls).items() if only is None or name in only}
    folded = {name for name, (_, knob) in shown.items() if knob.more and more}
    rules = bounds(cls)

    def widget(box, name, value, knob):
        return knob_widget(box, f"{prefix}{knob.name(name)}", value, knob, knob.name(name), handed,
                           knob_kind(cls, name) if value is None else None,
                           rules[name][1].choices if name in rules else None)

    values = {name: widget(where, name, value, knob) for name, (value, knob) in shown.items() if name not in folded}
    if folded:
        box = where.expander(more, expanded=False)
        values |= {name: widget(box, name, value, knob) for name, (value, knob) in shown.items() if name in folded}
    return {name: values[name] for name in shown}  # field order
