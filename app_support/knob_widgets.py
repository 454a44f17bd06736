"""The app's widgets for a use case's options: one per field with a ``kronos.settings.Knob`` of its options
dataclass (the sidebar's sampling knobs of ``ForecastSettings``, the Fine-tune page's retrain settings of
``RetrainSettings``), so a field added with its ``Knob`` is a widget with no edit here."""
from __future__ import annotations

from kronos.settings import knobs

from .source_inputs import first_value


def knob_widget(where, key: str, value, knob):
    """The widget a knob's type asks for, keyed ``key`` and starting at ``value``: a toggle (bool), a slider
    (float), a number box (int)."""
    key = first_value(key, value)
    if isinstance(value, bool):
        return bool(where.toggle(knob.label, key=key, help=knob.help))
    if isinstance(value, float):
        return float(where.slider(knob.label, float(knob.low), float(knob.high), step=knob.step, key=key, help=knob.help))
    low, high = (None if bound is None else int(bound) for bound in (knob.low, knob.high))
    return int(where.number_input(knob.label, low, high, key=key, help=knob.help))


def knob_controls(where, cls, prefix: str, more: str | None = None) -> dict:
    """A widget per field with a ``Knob`` of the options dataclass ``cls`` (None: ``ForecastSettings``' sampling
    knobs), keyed ``prefix`` + the knob's setting, in ``where``; with ``more``, the knobs marked ``more`` folded
    away in an expander of that title. Field name -> value: ``cls``' keyword arguments."""
    shown = knobs(cls)
    folded = {name for name, (_, knob) in shown.items() if knob.more and more}
    values = {name: knob_widget(where, f"{prefix}{knob.name(name)}", value, knob)
              for name, (value, knob) in shown.items() if name not in folded}
    if folded:
        box = where.expander(more, expanded=False)
        values |= {name: knob_widget(box, f"{prefix}{knob.name(name)}", value, knob)
                   for name, (value, knob) in shown.items() if name in folded}
    return {name: values[name] for name in shown}  # field order
