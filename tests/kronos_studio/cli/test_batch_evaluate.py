"""``kronos batch WATCHLIST --evaluate``, run as a user would (in this process: ``testkit.run_cli``), offline: the
bundled model on the bundled daily samples, the JSON keys, the panel that recomputes the ICs, and the refusals."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from testkit import run_cli

SAMPLES = ("AAPL daily 2000-2013 (bundled)", "MSFT daily 2000-2013 (bundled)", "IBM daily 2000-2013 (bundled)",
           "GOOG daily 2004-2013 (bundled)")
KEYS = {"ic_mean", "ic_std", "ic_ir", "ic_ci95", "rank_ic_mean", "rank_ic_ir", "rank_ic_nw_t", "rank_ic_ci95",
        "hit_rate", "spread_mean", "spread_after_costs_mean", "turnover", "dates", "series"}


@pytest.fixture(scope="module")
def watchlist(tmp_path_factory):
    path = tmp_path_factory.mktemp("rank") / "daily.csv"
    path.write_text("source,symbol,interval\n" + "".join(f"sample,{name},1d\n" for name in SAMPLES))
    return path


def test_evaluate_writes_the_report_and_a_panel_that_recomputes_it(watchlist, tmp_path):
    out, panel_file = tmp_path / "rank.json", tmp_path / "panel.parquet"
    r = run_cli("batch", watchlist, "--evaluate", "--horizon", 5, "--cutoffs", 5, "--paths", "3,1", "--costs", 10,
                "--include-training-period", "--json", out, "--panel", panel_file)
    assert r.returncode == 0, r.stderr
    assert "cut-off dates" in r.stderr  # its progress bar (a tqdm without a total was taken as no bar: a crash)
    assert "inside the model's training period" in r.stdout  # the bundled model saw these years: said so
    assert "Expected return (mean of paths)" in r.stdout and "Momentum (past H bars) — naive" in r.stdout
    report = json.loads(out.read_text())
    assert report["paths"] == [1, 3] and report["dates"] == 5 and report["series"] == 4
    for count in ("1", "3"):
        for signal in ("expected_log_return", "median_log_return", "p_up", "mean_over_sd"):
            assert KEYS <= set(report["signals"][count][signal])
    assert set(report["baselines"]) == {"momentum", "reversal", "random"}
    assert all(KEYS <= set(s) for s in report["baselines"].values())
    panel = pd.DataFrame(report["panel"])
    assert len(panel) == 2 * 5 * 4 and panel.equals(panel.drop_duplicates())
    three = panel[panel["paths"] == 3]
    rank_ics = [stats.spearmanr(g["expected_log_return"], g["realised"]).statistic for _, g in three.groupby("date")]
    assert report["signals"]["3"]["expected_log_return"]["rank_ic_mean"] == pytest.approx(np.nanmean(rank_ics))
    parquet = pd.read_parquet(panel_file)
    assert len(parquet) == len(panel) and {"date", "series", "realised", "momentum", "p_up"} <= set(parquet.columns)


def test_evaluate_refuses_dates_inside_the_training_period_by_default(watchlist):
    r = run_cli("batch", watchlist, "--evaluate", "--horizon", 5, "--cutoffs", 5, "--paths", 2, "--quiet")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "all 5 cut-off dates fall inside the model's training period" in r.stderr
    assert "(--include-training-period)" in r.stderr


def test_several_path_counts_need_evaluate(watchlist, tmp_path):
    r = run_cli("batch", watchlist, "--horizon", 5, "--paths", "1,5", "--out", tmp_path / "rows.parquet")
    assert r.returncode != 0 and "--paths takes one count without --evaluate, got 1,5" in r.stderr


@pytest.mark.parametrize("given, said", [
    (["--evaluate", "--levels", "0.9", "--out", "rows.parquet"],
     "--out, --levels are screen options: --evaluate scores the ranking and writes no rows; drop them"),
    (["--evaluate", "--touch-levels=-0.1,0.1"], "--touch-levels is a screen option"),
    (["--evaluate", "--vol-interval", "0.5", "--positions", "short"], "--positions, --vol-interval are screen options"),
    (["--cutoffs", "5", "--out", "rows.parquet"],
     "--cutoffs is an --evaluate option: a screen does not read it; add --evaluate, or drop it"),
    (["--include-trained", "--json", "r.json", "--out", "rows.parquet"],
     "--include-training-period, --json are --evaluate options"),
])
def test_an_option_of_the_other_mode_is_refused_not_silently_unread(watchlist, capsys, given, said):
    """A screen's risk columns asked of --evaluate (which writes no rows), or --cutoffs asked of a screen (which
    has no cut-offs), were dropped without a word."""
    from kronos_studio.cli.main import main

    assert main(["batch", str(watchlist), "--horizon", "5", *given]) != 0
    assert said in capsys.readouterr().err


def test_the_throughput_line_counts_forecasts_and_series_x_cut_offs_apart():
    """960 forecasts = 6 series x 40 cut-offs x 4 path counts in 591 s: 97 forecasts per minute, and the 240
    series x cut-offs scored at all four path counts at 24 per minute (not "97 series x cut-offs")."""
    from kronos_studio.desk.rank_tables import throughput

    line = throughput({"forecasts": 960, "elapsed_s": 591.0, "paths": [1, 5, 10, 30]})
    assert "960 forecasts (240 series x cut-offs at each of 4 path counts) in 591.0 s" in line
    assert "97 forecasts per minute" in line and "24 series x cut-offs per minute at 4 path counts" in line
    assert "120 series x cut-offs per minute at 1 path count" in throughput(
        {"forecasts": 120, "elapsed_s": 60.0, "paths": [30]})


def test_the_report_names_each_series_in_no_cross_section_with_the_reason():
    from kronos_studio.cli.batch_evaluate import report_text

    why = "its bars (2000-03-01 → 2013-03-01) lie outside the 5 cut-off dates (2018-10-05 → 2018-12-21)"
    report = {"dates": 5, "series": 3, "horizon": 5, "step": 5, "nw_lag": 1, "costs_bps": 0.0, "dates_left_out": {},
              "series_ending_early": [], "series_unused": {"GOOG daily 2004-2013 (bundled)": why}, "signals": {},
              "baselines": {}, "paths": [1], "versus_baselines": {"1": {"expected_log_return": {}}}, "forecasts": 15,
              "elapsed_s": 1.0}
    assert f"GOOG daily 2004-2013 (bundled) not ranked: {why}" in report_text(report).splitlines()


@pytest.mark.ray
@pytest.mark.slow
def test_evaluate_on_the_ray_engine_gives_the_local_panel(watchlist, tmp_path):
    """``--engine ray``: every cut-off date forecast by the batch engine's Ray actors, the same panel."""
    panels = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.json"
        r = run_cli("batch", watchlist, "--evaluate", "--horizon", 5, "--cutoffs", 5, "--paths", 2,
                    "--include-trained", "--engine", engine, *(["--workers", 2] if engine == "ray" else []),
                    "--json", out, "--quiet")
        assert r.returncode == 0, r.stderr
        panels[engine] = pd.DataFrame(json.loads(out.read_text())["panel"])
    pd.testing.assert_frame_equal(panels["local"], panels["ray"])
