"""Issue 46: a fix naming any request field comes back with that field, the request schemas being the one
list of them (the retrain's ``window`` and the sampling knobs were missing from a hand-kept copy)."""
from __future__ import annotations

from kronos.errors import Fix
from kronos.settings import knobs
from kronos_studio.service import schemas
from kronos_studio.service.errors import ServiceError, request_fields


def test_every_request_field_and_knob_is_named_as_a_field():
    assert set(schemas.RetrainRequest.model_fields) | set(schemas.BatchEvaluate.model_fields) <= request_fields()
    assert set(knobs()) <= request_fields() and "window" in request_fields()
    assert not {"max_bars", "device"} & request_fields()  # the server's own settings are no request's


def test_a_fix_naming_a_retrain_or_sampling_setting_comes_back_with_its_field():
    body = ServiceError(422, problem="too few bars", values={"bars": 40},
                        fix=(Fix("lower {setting}", "window"), Fix("try {setting}", "top_p", 0.9),
                             Fix("raise {setting}", "max_bars"))).body()
    assert [(f["setting"], f["field"], f["value"]) for f in body["fix"]] == [
        ("window", "window", None), ("top_p", "top_p", 0.9), ("max_bars", None, None)]
    assert body["detail"] == ('too few bars: lower the field "window"; try "top_p": 0.9; '
                              "raise the server's max_bars")
