"""Issue 56, the ensemble holding the conditioned Chronos-2: its Chronos-2 member reads the covariates, its
provenance names them, its result key holds their bars, and a request with no Chronos-2 to read them is refused."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from testkit import needs_bundled_chronos2

from data_sources.requests import BarsRequest
from data_sources.samples import load_sample
from kronos.errors import InputError
from kronos.settings import ForecastSettings
from kronos_studio.covariates.options import CovariateOptions
from kronos_studio.desk import Desk, ForecastRequest, ModelChoice, ResultCache

needs_bundled_chronos2()

SETTINGS = ForecastSettings(horizon=2, paths=8)
CHRONOS2 = "chronos2-small"


def _write(frame: pd.DataFrame, path) -> None:
    frame[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(path, index=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The NASDAQ's last 300 daily bars (the target), the S&P 500's last 400, and those with other last closes."""
    root = tmp_path_factory.mktemp("conditioned-ensemble")
    _write(load_sample("NASDAQ Composite daily 1999-2018 (arch)").frame.tail(300), root / "nasdaq.csv")
    spx = load_sample("S&P 500 index daily 1999-2018 (arch)").frame.tail(400)
    _write(spx, root / "spx.csv")
    other = spx.copy()
    other.loc[other.index[-5:], ["open", "high", "low", "close"]] *= 1.02
    _write(other, root / "spx_other.csv")
    return root


def test_the_ensemble_conditioned_on_a_covariate_reads_it_through_its_chronos2_member(files):
    desk = Desk(cache=ResultCache())
    target = BarsRequest(file=str(files / "nasdaq.csv"))

    def ensemble(*covariates):
        given = None if not covariates else CovariateOptions(tuple(str(files / c) for c in covariates))
        return desk.forecast(ForecastRequest(target, ModelChoice("ensemble", chronos2=CHRONOS2), SETTINGS,
                                             covariates=given))

    alone = ensemble()
    spx = ensemble("spx.csv")
    assert desk.cache.computed == 2
    fc = spx.forecast
    assert fc.provenance["model"] == "ensemble"
    assert [c["ref"] for c in fc.provenance["conditioned_on"]] == [str(files / "spx.csv")]
    assert [c["name"] for c in fc.provenance["members"]["chronos2"]["covariates"]] == ["spx"]
    assert "chronos2" not in alone.forecast.provenance["members"] or (
        "covariates" not in alone.forecast.provenance["members"]["chronos2"])
    # the same seed: only the Chronos-2 member's paths differ, so the mixture does
    assert not np.array_equal(fc.members["chronos2"], alone.forecast.members["chronos2"])
    assert np.array_equal(fc.members["kronos"], alone.forecast.members["kronos"])
    assert not np.array_equal(fc.paths, alone.forecast.paths)
    # the bundled meta-learner never weighed a Chronos-2: the members are weighed equally, as without covariates
    assert fc.provenance["weighting"] == alone.forecast.provenance["weighting"]
    assert fc.provenance["weighting_rule"]["replaced"]["chronos2"]["serving"]["covariates"][0]["name"] == "spx"

    other = ensemble("spx_other.csv")  # the same series, other bars: another key, computed
    assert (other.from_cache, desk.cache.computed, len(desk.cache)) == (False, 3, 3)
    assert not np.array_equal(other.forecast.members["chronos2"], fc.members["chronos2"])
    again = ensemble("spx.csv")
    assert again.from_cache and desk.cache.computed == 3


def test_an_ensemble_without_chronos2_refuses_covariates_naming_the_fix(files):
    with pytest.raises(InputError, match="only through its Chronos-2 member, and none joins it") as e:
        Desk().forecast(ForecastRequest(BarsRequest(file=str(files / "nasdaq.csv")),
                                        ModelChoice("ensemble", chronos2="off"), SETTINGS,
                                        covariates=CovariateOptions((str(files / "spx.csv"),))))
    assert e.value.fix[0].setting == "chronos2" and e.value.fix[0].value == CHRONOS2
