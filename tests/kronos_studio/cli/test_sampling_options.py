"""Every sampling knob of ``ForecastSettings`` is a CLI option that reaches the settings, with no code of
its own in the CLI: the options are drawn from ``kronos.settings.knobs``."""
import argparse

import pytest

from kronos.settings import ForecastSettings, knobs
from kronos_studio.cli.common import CliError, add_sampling_options, sampling_settings

OTHER = {bool: lambda v: not v, float: lambda v: v / 2 if v else 0.5, int: lambda v: v + 3}


def parser():
    p = argparse.ArgumentParser()
    add_sampling_options(p, "lookback")
    return p


@pytest.mark.parametrize("name", list(knobs()))
def test_each_knob_is_an_option_whose_value_reaches_the_settings(name):
    default = knobs()[name][0]
    other = OTHER[type(default)](default)
    flag = "--" + ("no-" if default is True else "") + name.replace("_", "-")
    args = parser().parse_args(["--horizon", "5", flag] + ([] if isinstance(default, bool) else [str(other)]))
    settings = sampling_settings(args)
    assert getattr(settings, name) == other
    untouched = {n: getattr(settings, n) for n in knobs() if n != name}
    assert untouched == {n: v for n, (v, _) in knobs().items() if n != name}


def test_without_options_the_settings_are_the_defaults():
    assert sampling_settings(parser().parse_args(["--horizon", "5"])) == ForecastSettings(horizon=5)


def test_a_bad_knob_value_is_refused_in_one_line_naming_it():
    with pytest.raises(CliError, match="clip must be above 0"):
        sampling_settings(parser().parse_args(["--horizon", "5", "--clip", "0"]))


def test_a_fix_naming_a_sampling_knob_names_the_option_drawn_for_it():
    from kronos_studio.cli.errors import flag

    options = parser()._option_string_actions
    for name, (default, _) in knobs().items():
        said = flag(name, (not default) if isinstance(default, bool) else None)
        assert said in options and options[said].dest == name, (name, said)
