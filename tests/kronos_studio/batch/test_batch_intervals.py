"""Issue 62 item 8: a watchlist of hourly and daily series put a 5-hour and a 5-day VaR in one column with nothing
said. Each row's horizon in time (``data_sources.intervals.span_text``), and one flag when the rows are of more than
one bar interval (``batch.engine.interval_notices``), which ``kronos batch`` prints and the Screener shows."""
from __future__ import annotations

import pandas as pd
from testkit import random_bars

from data_sources.intervals import span_text
from kronos_studio.batch.engine import interval_notices
from kronos_studio.cli import main as cli


def test_a_horizon_of_bars_is_said_in_the_intervals_unit():
    assert [span_text(i, 5) for i in ("1h", "1d", "15m", "1wk", "1mo", "4h")] == [
        "5 h", "5 d", "75 min", "5 wk", "5 mo", "20 h"]
    assert span_text("tick", 5) == "5 bars of tick"  # not an interval the studio reads: said as bars


def rows(*intervals: str) -> pd.DataFrame:
    return pd.DataFrame({"series": [f"S{i}" for i in range(len(intervals))] + ["gone"], "status": ["ok"] *
                         len(intervals) + ["no bars"], "interval": [*intervals, None],
                         "horizon": [5] * len(intervals) + [None]})


def test_rows_of_more_than_one_interval_are_flagged_with_each_ones_horizon_in_time():
    [flag] = interval_notices(rows("1h", "1d", "1d"))
    assert flag.problem.startswith("the watchlist mixes bar intervals (1h: S0; 1d: S1, S2)")
    assert "over its own horizon of 5 bars (5 h against 5 d)" in flag.problem
    assert flag.values == {"intervals": {"1h": 1, "1d": 2}}
    assert interval_notices(rows("1d", "1d")) == []  # one interval: nothing to say
    assert interval_notices(pd.DataFrame({"series": ["x"], "status": ["no bars"]})) == []  # no forecast row


def test_kronos_batch_says_a_watchlist_mixes_intervals(tmp_path, capsys):
    folder = tmp_path / "watch"
    folder.mkdir()
    for name, freq in (("hourly", "1h"), ("daily", "1d")):
        frame = random_bars(90, seed=3, freq=freq, start="2024-03-04 00:00")
        frame["timestamp"] = frame["timestamp"].dt.tz_localize("UTC")
        frame.to_csv(folder / f"{name}.csv", index=False)
    code = cli.main(["batch", str(folder), "--horizon", "3", "--paths", "20", "--lookback", "48", "--quiet",
                     "--out", str(tmp_path / "rows.parquet")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "kronos: warning: the watchlist mixes bar intervals" in err
    assert "(3 d against 3 h)" in err or "(3 h against 3 d)" in err
