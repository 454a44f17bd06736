"""Issue 46: a refusal of the user's input is a ``kronos.errors.InputError`` with the values involved and a
fix naming the setting, which each entry point words its own way (not a plain ValueError with the fix in text)."""
from __future__ import annotations

import numpy as np
import pytest

from app_support.errors import app_message
from kronos.errors import InputError
from kronos_studio.cli.errors import cli_line
from kronos_studio.service.errors import refused


def test_too_few_bars_for_the_cut_offs_names_the_horizon_everywhere():
    from kronos_studio.evaluation.walk_forward import choose_cutoffs, last_cutoffs

    for cut in (lambda: choose_cutoffs(50, 10, 3, 45), lambda: last_cutoffs(50, 10, 3, 5, 45)):
        with pytest.raises(InputError) as e:
            cut()
        assert e.value.values == {"bars": 50, "min_history": 45, "horizon": 10}
        assert [f.setting for f in e.value.fix] == [None, "horizon"]
        assert cli_line(e.value).endswith("load more bars; lower --horizon")
        assert app_message(e.value).endswith("load more bars; lower *Horizon (bars)*")
        assert refused(422, e.value).body()["fix"][1]["field"] == "horizon"


def test_a_calibration_shorter_than_the_forecast_asks_for_that_horizon():
    from kronos_studio.evaluation.calibration import FanCalibration

    paths, actual = np.exp(np.random.default_rng(0).normal(0, 0.01, (8, 20, 3))), np.ones((8, 3))
    calibration = FanCalibration.fit(paths, actual)  # 8 cut-offs, 20 paths, 3 steps
    with pytest.raises(InputError) as e:
        calibration.apply_values(np.ones((20, 5)))
    assert e.value.values == {"calibrated_steps": 3, "steps": 5}
    assert cli_line(e.value).endswith("re-run the evaluation with --horizon at least 5")


def test_touch_levels_name_their_option():
    from kronos.settings import ForecastSettings
    from kronos_studio.batch.forecaster import BatchSettings

    with pytest.raises(InputError) as e:
        BatchSettings(ForecastSettings(horizon=3), touch_levels=(0.0, 0.05))
    assert e.value.values == {"touch_levels": [0.0]} and "change those in --touch-levels" in cli_line(e.value)


def test_the_meta_learner_fix_is_worded_by_each_entry_point(tmp_path):
    from kronos_studio.ensemble.meta import MetaLearner

    with pytest.raises(InputError) as e:
        MetaLearner.load(tmp_path)
    assert e.value.values == {"folder": str(tmp_path)} and [f.setting for f in e.value.fix] == ["meta"]
    assert "as --meta DIR (kronos train ensemble writes one)" in cli_line(e.value)
    assert "kronos train" not in str(e.value)  # the library names no command
