"""``kronos.settings.from_knobs``: every face makes an options dataclass from its knobs' settings the same way."""
from __future__ import annotations

import argparse

import pytest

from kronos.errors import UserError
from kronos.settings import from_knobs
from kronos_studio.desk import RiskSettings


def test_a_face_makes_its_options_from_the_knobs_settings_whatever_holds_them():
    """A parsed command line, a request body's attributes and an MCP tool's arguments (a dict) give the same
    settings; a list comes as a list and is kept as the tuple; a repeated option not given (None) and a setting
    not there keep their defaults; ``only`` reads those fields alone; a value out of bounds is the library's
    refusal."""
    default = RiskSettings()
    as_tuple = RiskSettings(levels=(0.9,), positions=("long",))
    assert from_knobs(RiskSettings, {"levels": [0.9], "positions": ["long"]}) == as_tuple
    assert from_knobs(RiskSettings, argparse.Namespace(levels=[0.9], positions=["long"])) == as_tuple
    assert from_knobs(RiskSettings, argparse.Namespace(levels=None, positions=None)) == default
    assert from_knobs(RiskSettings, {}) == default
    only = from_knobs(RiskSettings, {"levels": [0.9], "positions": ["long"]}, ("levels",), per_step=False)
    assert only == RiskSettings(levels=(0.9,), per_step=False)
    with pytest.raises(UserError, match="levels"):
        from_knobs(RiskSettings, {"levels": [1.5]})
