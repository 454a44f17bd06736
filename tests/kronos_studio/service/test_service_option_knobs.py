"""The service's option models generated from the desk requests' knobs (issue 64): a knob's default and help reach
the request field with no edit in ``kronos_studio/service``."""
from __future__ import annotations

from data_sources.requests import BarsRequest
from kronos.settings import knobs
from kronos_studio.desk import BatchSettings, Replay, WatchRequest
from kronos_studio.service.routes.watches import WatchBody
from kronos_studio.service.schemas import BatchRequest, BatchSeries


def described(model, field: str, cls, name: str) -> bool:
    default, knob = knobs(cls)[name]
    found = model.model_fields[field]
    return found.default == default and knob.help in (found.description or "")


def test_a_watchs_replay_and_learning_fields_are_the_desks_knobs():
    for field, name in (("replay_from", "start"), ("to", "end"), ("replay_name", "label")):
        assert described(WatchBody, field, Replay, name), field
    assert described(WatchBody, "learn", WatchRequest, "learn")
    assert described(WatchBody, "include_training_period", WatchRequest, "include_training_period")


def test_a_batchs_series_and_touch_levels_are_the_desks_knobs():
    assert list(BatchSeries.model_fields) == ["name", "bars_csv", "source", "symbol", "interval", "exchange"]
    for field, name in (("bars_csv", "csv_text"), ("source", "source"), ("symbol", "symbol"),
                        ("interval", "interval"), ("exchange", "exchange")):
        assert described(BatchSeries, field, BarsRequest, name), field
    assert described(BatchRequest, "touch_levels", BatchSettings, "touch_levels")
