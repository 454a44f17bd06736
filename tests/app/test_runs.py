"""The progress bars' ETA (issue 62 item 7): "Read the risk from 2,000 paths" said 6–23 s for a run of 124–164 s,
because its ETA foretold every step from the first ones, which the cache serves, while the steps past the model's
context run their window again. The arithmetic only: a fake clock, no timing."""
from __future__ import annotations

import pytest

from app_support import runs
from app_support.runs import Eta
from kronos.generate import cached_steps, step_work

# The app's bundled model (context 128) at the lookback the sidebar starts from (98), horizon 72: 31 cached steps
LOOKBACK, HORIZON, CONTEXT = 98, 72, 128


def test_after_the_cached_steps_the_eta_prices_the_sliding_ones_at_their_work():
    work = step_work([LOOKBACK], HORIZON, CONTEXT)
    cached = cached_steps([LOOKBACK], HORIZON, CONTEXT)
    eta = Eta(work)
    for step in range(1, cached + 1):  # each cached step took 0.04 s
        eta.record(step, 0.04, HORIZON)
    linear = 0.04 * (HORIZON - cached)  # what the ETA said before: every step left as long as the first ones
    assert eta.left(HORIZON) == pytest.approx(0.04 * sum(work[cached:]))
    assert eta.left(HORIZON) > 20 * linear  # about 1,400 cached steps' work is left, not 41


def test_once_a_sliding_step_has_run_its_own_rate_prices_the_ones_left():
    """A machine where sliding costs other than the model says (a GPU, another load): the sliding steps left are
    priced at what the sliding steps done took per unit of their work, the cached ones at theirs."""
    work = step_work([LOOKBACK], HORIZON, CONTEXT)
    cached = cached_steps([LOOKBACK], HORIZON, CONTEXT)
    eta = Eta(work)
    eta.record(cached, 0.04 * cached, HORIZON)  # the cached steps, in one report
    eta.record(cached + 1, 3.0, HORIZON)  # the first sliding step took 3 s
    per_work = 3.0 / work[cached]
    assert eta.left(HORIZON) == pytest.approx(per_work * sum(work[cached + 1:]))


def test_without_work_every_step_costs_the_same_as_before():
    eta = Eta()
    eta.record(3, 1.5, 10)
    assert eta.left(10) == pytest.approx(0.5 * 7)
    eta.record(1, 0.2, 10)  # a new pass (steps counted from 1 again): the count starts again
    assert eta.left(10) == pytest.approx(0.2 * 9)


def test_the_progress_bar_says_the_eta_of_the_work_left(monkeypatch):
    """The text the page shows, after the cached steps of a forecast whose later steps slide."""
    shown = []

    class Bar:
        def progress(self, share, text):
            shown.append(text)

    clock = iter(float(t) for t in range(1000))
    monkeypatch.setattr(runs.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(runs.st, "progress", lambda share, text: Bar())
    work = step_work([LOOKBACK], HORIZON, CONTEXT)
    cached = cached_steps([LOOKBACK], HORIZON, CONTEXT)
    bar = runs.ProgressBar("Sampling 2,000 paths", work=work)
    for step in range(1, cached + 1):  # one second a step
        bar(step, HORIZON)
    assert shown[-1] == (f"Sampling 2,000 paths: step {cached} of {HORIZON} · {cached:.1f} s elapsed · "
                         f"ETA {sum(work[cached:]):.1f} s")


def test_the_app_gives_a_kronos_forecast_the_work_of_its_steps(app_env):
    """``forecasts.run``'s bar is given the steps' work for the model's context and the lookback it reads."""
    from app_support.forecasts import step_work as app_work
    from data_sources import load_sample
    from kronos.settings import ForecastSettings

    bars = load_sample("AAPL daily 2000-2013 (bundled)")
    settings = ForecastSettings(horizon=HORIZON, paths=2000, lookback=LOOKBACK)
    assert app_work(bars, settings, CONTEXT) == step_work([LOOKBACK], HORIZON, CONTEXT)
    short = bars.replace(frame=bars.frame.iloc[:60])  # fewer bars than the lookback: it reads what there is
    assert app_work(short, settings, CONTEXT) == step_work([60], HORIZON, CONTEXT)
