"""The planted lead: a target that follows a covariate one bar later is forecast measurably better by Chronos-2
with the covariate than without, over a walk-forward (fair CRPS, paired 95% bootstrap interval)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_sources.schema import Bars
from kronos.settings import ForecastSettings
from kronos_studio.covariates.chronos2 import CovariateChronos2, fit_with_covariates
from kronos_studio.ensemble.chronos2 import BUNDLED_CHRONOS2, Chronos2Member, load_chronos2
from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward
from kronos_studio.training.gate import crps_difference_interval

pytest.importorskip("chronos.chronos2")
CONTEXT = 64


def lead_pair(seed: int, n: int, lag_noise: float = 0.002) -> tuple[Bars, Bars]:
    """Daily 24/7 bars: the leader's log returns N(0, 1%); the target's return at t is the leader's at t-1 plus
    a little noise of its own."""
    rng = np.random.default_rng(seed)
    c = rng.normal(0, 0.01, n)
    r = np.concatenate([[0.0], c[:-1] + rng.normal(0, lag_noise, n - 1)])
    times = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")

    def bars(log_close, symbol):
        close = 100 * np.exp(log_close)
        frame = pd.DataFrame({"timestamp": times, "open": close, "high": close * 1.002, "low": close * 0.998,
                              "close": close, "volume": np.full(n, 1.0)})
        return Bars.from_frame(frame, source="file", symbol=symbol, interval="1d", calendar="24/7")

    return bars(np.cumsum(r), "TARGET"), bars(np.cumsum(c), "LEADER")


@pytest.fixture
def one_thread():
    """The fine-tune on one thread: on a shared 2-core machine more threads only wait on each other (16 s, not 200)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_planted_one_bar_lead_is_forecast_better_with_the_covariate(one_thread):
    bundled = load_chronos2(BUNDLED_CHRONOS2, device="cpu")[0]
    # The bundled checkpoint learnt from single series: taught to read a covariate on other seeds' pairs first.
    taught = fit_with_covariates(bundled, [(t, [c]) for t, c in (lead_pair(s, 600) for s in range(1, 9))],
                                 prediction_length=1, num_steps=150, context_length=CONTEXT)
    target, leader = lead_pair(0, 700)
    settings = ForecastSettings(horizon=1, paths=200, seed=0)
    cutoffs = list(range(120, 700, 12))
    options = WalkForward(min_history=CONTEXT)
    with_cov = walk_forward(CovariateChronos2(taught, [leader], target=target, context_length=CONTEXT, paths=200),
                            target, settings, cutoffs, options)
    alone = walk_forward(Chronos2Member(taught, context_length=CONTEXT, paths=200), target, settings, cutoffs, options)
    bundled_alone = walk_forward(Chronos2Member(bundled, context_length=CONTEXT, paths=200), target, settings, cutoffs,
                                 options)
    for without in (alone, bundled_alone):
        low, high = crps_difference_interval(with_cov.crps_pct_by_cutoff(), without.crps_pct_by_cutoff())
        assert high < 0, (low, high, with_cov.summary(), without.summary())
    assert with_cov.summary()["crps_pct"] < 0.8 * bundled_alone.summary()["crps_pct"]
