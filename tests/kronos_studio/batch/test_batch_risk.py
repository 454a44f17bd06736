"""The batch's risk columns (issue 55): VaR/ES of the horizon return and the paths' realized volatility on every
"ok" row, read by the risk library from the same paths, so a row equals ``Desk.risk`` of that series alone; other
risk settings are never kept on a rerun; ``kronos batch`` offers them and refuses a bad one in one line."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from testkit import random_bars

from kronos.settings import ForecastSettings
from kronos_studio.batch.engine import BatchRun, run_batch, settings_key
from kronos_studio.batch.forecaster import BatchSettings, ChunkForecaster
from kronos_studio.batch.summary import VOL_COLUMNS, risk_column
from kronos_studio.batch.watchlist import read_watchlist
from kronos_studio.cli import main as cli
from kronos_studio.desk import RiskRequest
from kronos_studio.risk.measures import RiskSettings

RISK = RiskSettings(levels=(0.9, 0.975), vol_interval=0.8)  # not the defaults: the settings reach the columns
SETTINGS = BatchSettings(ForecastSettings(horizon=4, paths=200, seed=3, lookback=48), risk=RISK)


@pytest.fixture(scope="module")
def watchlist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk-batch") / "watch"
    folder.mkdir()
    for i in range(3):
        frame = random_bars(90, seed=20 + i, freq="1h", start="2024-03-04 00:00")
        frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
        frame.to_csv(folder / f"R{i}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def batch(watchlist, tmp_path_factory):
    out = tmp_path_factory.mktemp("risk-out") / "rows.parquet"
    return run_batch(read_watchlist(watchlist), SETTINGS, BatchRun(out=out)), out


def test_a_rows_risk_equals_the_desks_risk_reading_of_that_series(batch, watchlist):
    """The batch forecasts each series as ``kronos forecast`` does: its VaR/ES and volatility columns are what
    ``Desk().risk`` reads for the same series, model, seed and settings."""
    from kronos_studio.bars_input import quality_gate, read_bars
    from kronos_studio.bundled import bundled_models
    from kronos_studio.desk import Desk

    result, _ = batch
    desk = Desk()
    lookback = ChunkForecaster(None, SETTINGS).forecast_settings
    for name in ("R0", "R2"):
        gated, _ = quality_gate(read_bars(str(watchlist / f"{name}.csv")), [])
        # the batch's model named: a risk request naming none is served by the series' risk champion
        reading = desk.risk(RiskRequest(gated, next(iter(bundled_models())), lookback, RISK)).reading
        row = result.rows.set_index("series").loc[name]
        assert len(reading.path.horizon) == len(RISK.levels) * len(RISK.positions)
        for t in reading.path.horizon:
            column = risk_column("var", t.position, t.level)
            assert row[column] == pytest.approx(t.var, rel=1e-6), column
            assert row[column + "_se"] == pytest.approx(t.var_se, rel=1e-6), column
            es = risk_column("es", t.position, t.level)
            assert row[es] == pytest.approx(t.es, rel=1e-6) and row[es + "_se"] == pytest.approx(t.es_se, rel=1e-6)
            assert row[es + "_tail_paths"] == t.tail_paths
        vol = reading.volatility.get("close_to_close", "paths")
        assert [row[c] for c in VOL_COLUMNS] == pytest.approx([vol.per_bar, vol.low, vol.high, vol.horizon], rel=1e-6)
        # 200 paths leave 5 beyond a 0.975 VaR: the row carries the desk's flag and the count it asks for
        flagged = [n for n in reading.path.notices if "needed" in n.values]
        assert flagged and row["risk_paths_needed"] == max(n.values["needed"] for n in flagged)
        assert all(n.problem in row["risk_notes"] for n in flagged)


def test_every_ok_row_has_its_risk_columns_and_a_loss_is_ordered(batch):
    result, _ = batch
    rows = result.rows
    assert (rows["status"] == "ok").all() and len(rows) == 3
    for position in RISK.positions:
        for level in RISK.levels:
            var, es = rows[risk_column("var", position, level)], rows[risk_column("es", position, level)]
            assert (es >= var - 1e-12).all()  # the tail's mean is at or beyond its edge
        high, low = (rows[risk_column("var", position, a)] for a in (0.975, 0.9))
        assert (high >= low - 1e-12).all()  # a higher level, a larger loss
    assert not any(c.startswith(("var_", "es_")) and "_99" in c for c in rows.columns)  # only the levels asked
    assert ((rows["vol_bar_low"] <= rows["vol_bar"]) & (rows["vol_bar"] <= rows["vol_bar_high"])).all()


def test_a_rerun_with_other_risk_settings_recomputes(batch, watchlist, tmp_path):
    _, first_out = batch
    out = tmp_path / "rows.parquet"
    out.write_bytes(first_out.read_bytes())
    again = run_batch(read_watchlist(watchlist), SETTINGS, BatchRun(out=out))
    assert (again.forecast, again.kept) == (0, 3)
    other = dataclasses.replace(SETTINGS, risk=dataclasses.replace(RISK, levels=(0.95,)))
    redone = run_batch(read_watchlist(watchlist), other, BatchRun(out=out))
    assert (redone.forecast, redone.kept) == (3, 0)  # rows read at other levels are never kept
    written = pd.read_parquet(out)
    assert risk_column("var", "long", 0.95) in written.columns and risk_column("var", "long", 0.9) not in written
    interval = dataclasses.replace(SETTINGS, risk=dataclasses.replace(RISK, vol_interval=0.5))
    assert settings_key(interval, {"model": "m"}) != settings_key(SETTINGS, {"model": "m"})
    # the per-step switch shapes no column: a batch's settings (and key) are the same either way
    per_step = dataclasses.replace(SETTINGS, risk=dataclasses.replace(RISK, per_step=True))
    assert per_step == SETTINGS and settings_key(per_step, {"model": "m"}) == settings_key(SETTINGS, {"model": "m"})


def test_kronos_batch_writes_the_risk_columns_it_is_asked_for(watchlist, tmp_path, capsys):
    out = tmp_path / "rows.parquet"
    code = cli.main(["batch", str(watchlist), "--horizon", "3", "--paths", "40", "--lookback", "48", "--quiet",
                     "--levels", "0.9", "--positions", "short", "--touch-levels=-0.1,0.05", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    rows = pd.read_parquet(out)
    risk = [c for c in rows.columns if c.startswith(("var_", "es_"))]
    assert risk == ["var_short_90", "var_short_90_se", "es_short_90", "es_short_90_se", "es_short_90_tail_paths"]
    assert {"p_touch_-10%", "p_touch_+5%", *VOL_COLUMNS} <= set(rows.columns)
    assert rows[risk + list(VOL_COLUMNS)].notna().all().all()
    # 40 paths leave 4 beyond a 0.9 VaR: one flag for the rows, the path count named as the flag it is
    assert "3 of 3 forecast rows have an ES read from fewer than 20 paths" in err
    assert "sample at least --paths 200" in err


@pytest.mark.parametrize("argv, problem, fix", [
    (["--levels", "0.95", "--levels", "1.5"], "VaR/ES levels must lie between 0.5 and 0.9999 (exclusive), got "
                                              "[0.95, 1.5]", "give each of --levels between 0.5 and 0.9999 (exclusive)"),
    (["--positions", "sideways"], "positions must be among long, short, got ['sideways']",
     "give --positions among long, short"),
])
def test_a_bad_risk_setting_is_refused_in_one_line(watchlist, tmp_path, capsys, argv, problem, fix):
    out = tmp_path / "rows.parquet"
    code = cli.main(["batch", str(watchlist), "--horizon", "3", "--paths", "40", "--quiet", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"kronos: error: {problem}: {fix}") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and not out.exists()
