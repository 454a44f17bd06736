"""Issue 56: what a conditioned forecast refuses and how it is kept apart (the same forecast and the same refusal
through every face are rows of the parity matrix, ``tests/kronos_studio/desk/test_parity_matrix.py``): the target
itself is no covariate, a model that cannot read covariates is refused naming Chronos-2, a conditioned forecast is
never served for an unconditioned one, and an uploaded covariate is named as the user gave it."""
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
from kronos_studio.desk import Desk, ForecastRequest, ResultCache

needs_bundled_chronos2()

SPX = "S&P 500 index daily 1999-2018 (arch)"
MODEL = "chronos2-small"
LEVELS = [0.1, 0.5, 0.9]
HORIZON, PATHS = 3, 20


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """NASDAQ's last 300 daily bars as a file (the target); its own S&P 500 covers them, AAPL's bars end in 2013."""
    out = tmp_path_factory.mktemp("covariate-faces")
    frame = load_sample("NASDAQ Composite daily 1999-2018 (arch)").frame.tail(300)
    frame[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(out / "nasdaq.csv", index=False)
    return out


def desk_close(folder, covariate: str) -> pd.DataFrame:
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                           ForecastSettings(horizon=HORIZON, paths=PATHS),
                                           covariates=CovariateOptions((covariate,))))
    assert done.forecast.provenance["conditioned_on"][0]["ref"] == covariate
    return done.forecast.quantiles(LEVELS)


def test_the_target_itself_read_from_elsewhere_is_refused(folder):
    """The target's file is the NASDAQ sample's last bars: the sample, read whole, holds the same closes."""
    with pytest.raises(InputError, match="is the target itself") as e:
        desk_close(folder, "NASDAQ Composite daily 1999-2018 (arch)")
    assert e.value.fix[0].setting == "covariates"


def test_a_model_that_cannot_read_covariates_is_refused_naming_chronos2(folder, tmp_path, capsys):
    from kronos_studio.cli.main import main

    code = main(["forecast", str(folder / "nasdaq.csv"), "--with", SPX, "--horizon", "3", "--out",
                 str(tmp_path / "q.csv"), "--no-ledger", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read covariates" in err and "--model chronos2-small" in err


def test_a_conditioned_forecast_is_never_served_for_an_unconditioned_one(folder):
    """The key holds the covariates' content: with, without (Chronos-2 alone) and with other bars are three
    results; the same request again is the cached one."""
    desk = Desk(cache=ResultCache())
    target = BarsRequest(file=str(folder / "nasdaq.csv"))
    settings = ForecastSettings(horizon=HORIZON, paths=PATHS)
    with_spx = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions((SPX,))))
    alone = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions()))
    assert not with_spx.from_cache and not alone.from_cache and desk.cache.computed == 2
    assert alone.forecast.provenance["conditioned_on"] == []
    assert not np.array_equal(with_spx.forecast.paths, alone.forecast.paths)
    spx = load_sample(SPX).frame
    shifted = folder / "spx_other.csv"  # the same series, other bars: another content hash, another key
    spx.assign(close=spx["close"] * 1.01)[["timestamp", "open", "high", "low", "close", "volume"]].to_csv(
        shifted, index=False)
    other = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions((str(shifted),))))
    assert not other.from_cache and desk.cache.computed == 3
    again = desk.forecast(ForecastRequest(target, MODEL, settings, covariates=CovariateOptions((SPX,))))
    assert again.from_cache and desk.cache.computed == 3


def test_an_uploaded_covariate_is_named_as_the_user_gave_it_and_its_ignored_columns_said(folder, tmp_path):
    """Issue 62, item 10: a covariate's caption showed the server's cache path and the content hash the app keeps
    an upload under, its notes said "pass Calendar" (the target's), its turnover column ``value`` was dropped
    without a word, and its dates were bar end times. Said of the file the user gave, by its name."""
    from kronos_studio.desk.covariates import conditioned_note

    spx = load_sample(SPX).frame.tail(400)
    kept = tmp_path / "cache" / "covariates" / "0123456789abcdef"  # as the app keeps an upload (conditioned.py)
    kept.mkdir(parents=True)
    frame = spx[["timestamp", "open", "high", "low", "close", "volume"]].assign(value=spx["volume"] * spx["close"])
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(kept / "spx_turnover.csv", index=False)
    done = Desk().forecast(ForecastRequest(BarsRequest(file=str(folder / "nasdaq.csv")), MODEL,
                                           ForecastSettings(horizon=HORIZON, paths=PATHS),
                                           covariates=CovariateOptions((str(kept / "spx_turnover.csv"),))))
    caption = conditioned_note(done.forecast.provenance)
    assert caption.startswith("Chronos-2 conditioned on spx_turnover.csv (spx_turnover 1d)")
    said = [n.worded() for n in done.notices if n.problem.startswith("covariate ")]
    assert said and not [s for s in said if str(tmp_path) in s or "0123456789abcdef" in s]
    assert any("amount (turnover) columns are ignored" in s for s in said)
    calendar = next(s for s in said if "inferred from the bar times" in s)
    assert "pass calendar to choose another" not in calendar
    assert "the covariate's own, which no setting chooses (calendar sets the target's)" in calendar
